import pytest

from paperlib.params import PROFILES, ParameterError, parse_override, resolve, schema


@pytest.mark.parametrize("study", ["nacl_selection", "gradients", "hessian_training", "flexible_pes",
                                   "transferability"])
@pytest.mark.parametrize("profile", PROFILES)
def test_every_profile_validates(profile, study):
    p = resolve(study, profile)
    assert p.profile == profile
    assert set(p) == set(schema(study).names)


def test_override_applies_and_coerces():
    p = resolve("nacl_selection", "smoke", {"n_train": 8, "learning_rate": 1})
    assert p.n_train == 8
    assert isinstance(p.learning_rate, float) and p.learning_rate == 1.0


@pytest.mark.parametrize("overrides, fragment", [
    ({"n_trian": 5}, "unknown parameter 'n_trian'"),
    ({"n_train": "many"}, "parameter 'n_train': got 'many'"),
    ({"n_train": 2.5}, "parameter 'n_train'"),
    ({"n_train": -4}, "parameter 'n_train': got -4"),
    ({"n_train": True}, "parameter 'n_train'"),
    ({"selection_methods": ["random", "kmeans"]}, "parameter 'selection_methods'"),
    ({"selection_methods": []}, "parameter 'selection_methods'"),
    ({"models": ["mace"]}, "one of 'schnet_small'"),
    ({"device": "cpu"}, "unknown parameter 'device'"),
    ({"learning_rate": 3.0}, "between 1e-07 and 1"),
    ({"temperatures_K": 1400}, "parameter 'temperatures_K'"),
    ({"single_md_temperature_K": 1300.0}, "single_md_temperature_K"),
    ({"n_atoms": 65}, "even"),
    ({"n_train": 500}, "frames_per_state"),
    ({"force_weight": float("nan")}, "parameter 'force_weight'"),
    ({"n_test": 1}, "between one per state point (2)"),
    ({"n_test": 21}, "the test pool's size (20)"),
    ({"md_models": 2}, "at most n_seeds (1)"),
    ({"md_model": "gap"}, "parameter 'md_model': got 'gap'; allowed: a network"),
    ({"probe_frames": 11}, "at most n_test (10)"),
    ({"n_train": 11, "frames_per_state": 11}, "half of every state point's frames"),
])
def test_bad_values_name_parameter_value_and_allowed(overrides, fragment):
    with pytest.raises(ParameterError) as err:
        resolve("nacl_selection", "smoke", overrides)
    assert fragment in str(err.value)
    assert "allowed" in str(err.value) or "unknown" in str(err.value)


def test_unknown_study_and_profile():
    with pytest.raises(ParameterError, match="unknown study 'nacl'"):
        resolve("nacl", "smoke")
    with pytest.raises(ParameterError, match="parameter 'profile': got 'laptop'"):
        resolve("nacl_selection", "laptop")


def test_parse_override_reads_yaml():
    assert parse_override("n_train=8") == ("n_train", 8)
    assert parse_override("models=[gap, schnet_small]") == ("models", ["gap", "schnet_small"])
    assert parse_override("device=cpu") == ("device", "cpu")
    # YAML 1.1 reads 1e-3 as a string; numbers written that way (as the error messages write them) are numbers.
    assert parse_override("learning_rate=1e-3") == ("learning_rate", 1e-3)
    assert parse_override("learning_rate=-2.5E+2") == ("learning_rate", -250.0)
    assert parse_override("molecule=1e-3x") == ("molecule", "1e-3x")
    assert resolve("nacl_selection", "smoke", dict([parse_override("learning_rate=1e-3")])).learning_rate == 1e-3
    with pytest.raises(ParameterError, match="key=value"):
        parse_override("n_train")


@pytest.mark.parametrize("overrides, fragment", [
    ({"reactions": ["hcn_hnc", "hcn"]}, "parameter 'reactions'"),
    ({"reactions": ["hcn_hnc", "hcn_hnc"]}, "each reaction at most once"),
    ({"reactions": ["hcn_hnc"]}, "parameter 'reactions'"),
    ({"n_images": 6}, "odd"),
    ({"train_sizes": [2, 1]}, "parameter 'train_sizes': got [2, 1]; allowed: increasing"),
    ({"test_molecules": 40}, "test_molecules + max(train_sizes) = 44; allowed: at most the 29 shipped molecules"),
    ({"max_heavy_atoms": 9}, "parameter 'max_heavy_atoms'"),
    ({"energy_only": "yes"}, "parameter 'energy_only'"),
    ({"hessian_losses": ["exact"]}, "parameter 'hessian_losses'"),
    ({"hessian_losses": ["hvp", "hvp"]}, "each loss at most once"),
    ({"amplitudes_A": [0.0]}, "parameter 'amplitudes_A'"),
    ({"hessian_probes": 0}, "parameter 'hessian_probes'"),
])
def test_hessian_study_rejects_bad_values(overrides, fragment):
    with pytest.raises(ParameterError) as err:
        resolve("hessian_training", "smoke", overrides)
    assert fragment in str(err.value)


@pytest.mark.parametrize("overrides, fragment", [
    ({"local_model": "schnet_medium"}, "one of models"),
    ({"scan_points": 8}, "odd"),
    ({"curve_sizes": [20, 20]}, "distinct"),
    ({"models": ["sgdml", "mace"]}, "parameter 'models'"),
    ({"wide_angle_deg": 185.0}, "parameter 'wide_angle_deg'"),
    ({"test_frames": 0}, "parameter 'test_frames'"),
    ({"sgdml_sigmas": [0]}, "parameter 'sgdml_sigmas'"),
    ({"linear_deg": 130.0}, "at least wide_angle_deg"),
    # smoke samples 2 minima x 4 runs x 2 frames + 3 mechanisms x 6 runs x 2 frames = 52 frames
    ({"curve_sizes": [10, 60]}, "at most the 52 frames sampled"),
    ({"test_runs": 4}, "fewer than the runs started at each minimum (4)"),
    ({"frame_spacing_fs": 0.1}, "at least timestep_fs"),
    ({"gap_long_cutoff_A": 4.0}, "more than gap_cutoff_A (5.0)"),
    ({"local_size": 30}, "at most max(curve_sizes) (20)"),
    ({"md_temperatures_K": [0.0]}, "parameter 'md_temperatures_K'"),
    ({"dft_method": "PBE"}, "parameter 'dft_method': got 'PBE'"),
    ({"dft_method": "NOTAFUNCTIONAL/def2-SVP"}, "unknown to PySCF"),
    ({"dft_method": "PBE/no-such-basis"}, "basis 'no-such-basis' is unknown"),
])
def test_flexible_pes_rejects_bad_values(overrides, fragment):
    with pytest.raises(ParameterError) as err:
        resolve("flexible_pes", "smoke", overrides)
    assert fragment in str(err.value)


@pytest.mark.parametrize("overrides, fragment", [
    ({"weight_fractions": [0.3, 0.7]}, "one weight per solvent"),
    ({"unseen": ["EC", "PC"]}, "not in the training liquid"),
    ({"solvents": ["EC", "EC"], "weight_fractions": [1, 1]}, "no repeats"),
    ({"solvents": ["XYZ"]}, "parameter 'solvents'"),
    ({"origins": ["corrective"]}, "containing 'simple'"),
    ({"algorithms": ["mace"]}, "'automatic_deepmd' needs 'deepmd'"),
    ({"unseen_origins": ["automatic_mace"], "origins": ["simple", "corrective"]}, "subset of origins"),
    ({"md_sample_every": 50}, "at most md_steps"),
    ({"mace_hidden_irreps": "sixteen scalars"}, "e3nn irreps"),
    ({"foundation_model": "/no/such/model.model"}, "does not exist"),
    ({"box_molecules": 1}, "parameter 'box_molecules'"),
    ({"n_test": -3}, "parameter 'n_test'"),
    ({"mace_stage_two_epochs": 2}, "fewer than mace_epochs (2)"),
    ({"mace_dtype": "float16"}, "parameter 'mace_dtype'"),
    ({"deepmd_start_lr": 1e-4, "deepmd_stop_lr": 1e-3}, "at most deepmd_start_lr"),
])
def test_transferability_rejects_bad_values(overrides, fragment):
    with pytest.raises(ParameterError) as err:
        resolve("transferability", "smoke", overrides)
    assert fragment in str(err.value)


def test_choices_are_read_from_the_modules_that_own_them():
    """The schemas name where a list of choices lives instead of repeating it, so the two cannot drift."""
    from paperlib import schemas, selection
    from paperlib.models import mace
    from paperlib.sampling.liquids import SOLVENTS
    from paperlib.schema import SCHEMAS as registered
    from paperlib.studies import transferability

    params = {(study, par.name): par for study, sch in registered.items() for par in sch.params}
    assert params[("transferability", "solvents")].allowed_choices() == tuple(SOLVENTS)
    assert params[("transferability", "algorithms")].allowed_choices() == transferability.ALGORITHMS
    assert params[("transferability", "mace_dtype")].allowed_choices() == mace.DTYPES
    assert params[("transferability", "origins")].allowed_choices() == transferability.ORIGINS
    assert params[("nacl_selection", "selection_methods")].allowed_choices() == tuple(selection.METHODS)
    assert isinstance(schemas.SELECTION_METHODS, str)
    # every named owner resolves
    for par in params.values():
        if isinstance(par.choices, str):
            assert par.allowed_choices()


def test_a_config_file_reads_values_as_the_command_line_does(tmp_path):
    from paperlib.params import read_config

    good = tmp_path / "run.yaml"
    good.write_text("profile: smoke\nlearning_rate: 1e-3\nn_train: 8\nsigmas: [5E2, .5]\ndevice: cpu\n")
    assert read_config(good) == {"profile": "smoke", "learning_rate": 1e-3, "n_train": 8, "sigmas": [500.0, 0.5],
                                 "device": "cpu"}
    (tmp_path / "empty.yaml").write_text("")
    assert read_config(tmp_path / "empty.yaml") == {}
    for text, match in (("- a\n- b\n", "got list; allowed: a mapping"), ("a: [1, 2\n", "not YAML")):
        (tmp_path / "bad.yaml").write_text(text)
        with pytest.raises(ParameterError, match=match):
            read_config(tmp_path / "bad.yaml")
    with pytest.raises(ParameterError, match="--config '.*missing.yaml': cannot read it"):
        read_config(tmp_path / "missing.yaml")


def test_every_number_a_user_types_parses():
    for text, value in (("1e-3", 1e-3), ("5E4", 5e4), (".5", 0.5), ("-.5", -0.5), ("+.5", 0.5),
                        ("-2.5E+2", -250.0), ("3", 3), ('"3"', "3"), ("'1e3'", 1e3)):
        assert parse_override(f"x={text}") == ("x", value)
    # the overrides a run records are the validated values, so that equal runs are named alike
    assert resolve("nacl_selection", "smoke", dict([parse_override("seed=1E1")])).overrides == {"seed": 10}
    # a whole number typed with an exponent is an integer where an integer is asked for; a fraction is not
    assert resolve("nacl_selection", "smoke", dict([parse_override("seed=1E1")])).seed == 10
    assert type(resolve("nacl_selection", "smoke", {"seed": 2.0}).seed) is int
    with pytest.raises(ParameterError, match="parameter 'seed': got 2.5; allowed: an integer"):
        resolve("nacl_selection", "smoke", dict([parse_override("seed=25E-1")]))
