"""Parameter schemas of the studies (names, types, ranges, cross-parameter checks).

Values live in ``paperlib/profiles/<study>.yaml``; the machinery that validates them is :mod:`paperlib.params`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from paperlib.schema import Param, Schema, register

# Choices owned elsewhere are named, not repeated (read when a value is checked; see Param.choices).
SELECTION_METHODS = "paperlib.selection:METHODS"
NACL_MODELS = ("schnet_small", "schnet_medium", "schnet_large", "gap")


def _nacl_checks(v: Mapping[str, Any]) -> str | None:
    if v["single_md_temperature_K"] not in v["temperatures_K"]:
        return (f"parameter 'single_md_temperature_K': got {v['single_md_temperature_K']!r}; allowed: one of "
                f"temperatures_K {v['temperatures_K']}")
    if v["n_train"] > v["frames_per_state"]:
        return (f"parameter 'n_train': got {v['n_train']}; allowed: at most frames_per_state "
                f"({v['frames_per_state']}), since single-MD selection draws from one state point")
    n_states = len(v["temperatures_K"]) * len(v["pressures_bar"])
    if not n_states <= v["n_test"] <= n_states * v["test_frames_per_state"]:
        return (f"parameter 'n_test': got {v['n_test']}; allowed: between one per state point ({n_states}) and the "
                f"test pool's size ({n_states * v['test_frames_per_state']})")
    if 2 * -(-v["n_train"] // n_states) > v["frames_per_state"]:
        return (f"parameter 'n_train': got {v['n_train']}; allowed: at most {n_states * (v['frames_per_state'] // 2)} "
                "(half of every state point's frames), since the positive control draws from each state point's "
                "farthest half")
    if "gap" in v["models"] and v["gap_n_train"] > n_states * v["frames_per_state"]:
        return (f"parameter 'gap_n_train': got {v['gap_n_train']}; allowed: at most the training pool's size "
                f"({n_states * v['frames_per_state']})")
    if v["md_model"] not in v["models"] or v["md_model"] == "gap":
        return (f"parameter 'md_model': got {v['md_model']!r}; allowed: a network of models "
                f"{[m for m in v['models'] if m != 'gap']}")
    if v["md_models"] > v["n_seeds"]:
        return f"parameter 'md_models': got {v['md_models']}; allowed: at most n_seeds ({v['n_seeds']})"
    if v["probe_frames"] > v["n_test"]:
        return f"parameter 'probe_frames': got {v['probe_frames']}; allowed: at most n_test ({v['n_test']})"
    for name in ("n_atoms", "md_n_atoms"):
        if v[name] % 2:
            return f"parameter {name!r}: got {v[name]}; allowed: an even number (NaCl is 1:1)"
    return None


NACL_SELECTION = register(Schema(
    study="nacl_selection",
    title="Data selection for molten NaCl (Tovey et al.)",
    params=(
        Param("seed", "int", "master random seed", low=0),
        Param("n_atoms", "int", "ions per pool/test configuration", low=8, high=4096),
        Param("temperatures_K", "list[float]", "thermostat temperatures of the NPT pool, K", low=100, high=5000),
        Param("pressures_bar", "list[float]", "barostat pressures of the NPT pool, bar", low=0, high=1e6),
        Param("timestep_fs", "float", "reference MD time step, fs", low=0.1, high=5),
        Param("equil_steps", "int", "NPT equilibration steps per state point", low=0),
        Param("frames_per_state", "int", "frames kept per state point (training pool)", low=1),
        Param("stride_steps", "int", "MD steps between kept frames", low=1),
        Param("test_frames_per_state", "int", "frames per state point of the separate test pool", low=1),
        Param("n_test", "int", "test configurations: random frames of the test pool, equal parts per state point",
              low=1),
        Param("selection_methods", "list[str]", "selection methods compared", choices=SELECTION_METHODS),
        Param("single_md_temperature_K", "float", "state point used by single-MD random selection, K", low=100),
        Param("n_train", "int", "training configurations per model", low=2),
        Param("n_seeds", "int", "independent selections (and trainings) per method", low=1, high=100),
        Param("models", "list[str]", "models trained on every selection", choices=NACL_MODELS),
        Param("max_epochs", "int", "SchNet training epochs (upper bound; early stopping may end sooner)", low=1),
        Param("batch_size", "int", "SchNet batch size, configurations", low=1),
        Param("learning_rate", "float", "SchNet Adam learning rate", low=1e-7, high=1.0),
        Param("force_weight", "float", "weight of the force term in the SchNet loss (energy weight 1 - w)",
              low=0.0, high=1.0),
        Param("gap_n_sparse", "int", "GAP sparse points (CUR selection)", low=10),
        Param("gap_n_train", "int", "training configurations per GAP model (its own selections)", low=2),
        Param("probe_frames", "int", "test configurations whose closest like-ion pair the short-range probe pulls",
              low=1),
        Param("control_models", "int", "positive-control models (trained without close like-ion contacts)",
              low=1, high=100),
        Param("md_model", "str", "the network family that drives ML MD", choices=NACL_MODELS),
        Param("md_models", "int", "trained models per method that drive ML MD (the first replicates)", low=1),
        Param("md_replicas", "int", "ML MD runs per model (starts and velocities of their own)", low=1, high=100),
        Param("contact_margin_A", "float", "close contact: a like-ion pair this much closer than the reference's "
              "closest approach, A", low=0.0, high=2.0),
        Param("contact_samples", "int", "close contact: consecutive MD samples it must last", low=1),
        Param("md_n_atoms", "int", "ions in the box of the RDF MD runs", low=8, high=100000),
        Param("md_temperature_K", "float", "NVT temperature of the RDF MD runs, K", low=100, high=5000),
        Param("md_equil_steps", "int", "reference NVT equilibration steps before the RDF runs", low=0),
        Param("md_steps", "int", "steps of each RDF MD run (reference and ML)", low=10),
        Param("md_timestep_fs", "float", "time step of the RDF MD runs, fs", low=0.1, high=5),
        Param("rdf_every", "int", "MD steps between RDF samples", low=1),
    ),
    checks=(_nacl_checks,),
))


QM7B_ELEMENTS = ("H", "C", "N", "O", "S", "Cl")


def _doubling(name: str, sizes: list[int]) -> str | None:
    if any(b != 2 * a for a, b in zip(sizes, sizes[1:])):
        return f"parameter {name!r}: got {sizes}; allowed: a doubling series (each size twice the previous)"
    return None


def _gradients_checks(v: Mapping[str, Any]) -> str | None:
    from paperlib.sampling.molecules import molecule_spec_error

    msg = molecule_spec_error(v["molecule"])
    if msg:
        return f"parameter 'molecule': {msg}"
    for name in ("krr_sizes", "gp_sizes", "qm7b_sizes"):
        msg = _doubling(name, v[name])
        if msg:
            return msg
    if any(b <= a for a, b in zip(v["nn_sizes"], v["nn_sizes"][1:])):
        return f"parameter 'nn_sizes': got {v['nn_sizes']}; allowed: increasing sizes (or none)"
    if not {"H", "C"} <= set(v["qm7b_elements"]):
        return f"parameter 'qm7b_elements': got {v['qm7b_elements']}; allowed: a list including H and C"
    if v["cv_size"] < 2 * v["cv_folds"]:
        return f"parameter 'cv_size': got {v['cv_size']}; allowed: at least 2 * cv_folds ({2 * v['cv_folds']})"
    return _unseen_size_error(v) or _rmd17_file_error(v["dataset_path"])


def _unseen_size_error(v: Mapping[str, Any]) -> str | None:
    from paperlib.sampling.molecules import small_molecules

    heavy = tuple(e for e in v["qm7b_elements"] if e != "H")
    n_mol = min(v["qm7b_molecules"], len(small_molecules(v["qm7b_max_heavy_atoms"], heavy)))
    n_test = min(n_mol - 1, max(1, round(v["test_molecule_fraction"] * n_mol)))   # as paperlib.data.splits
    most = (n_mol - n_test) * v["conformations_per_molecule"]
    if max(v["qm7b_sizes"]) > most:
        return (f"parameter 'qm7b_sizes': got {v['qm7b_sizes']}; allowed: at most {most} training conformations "
                f"({n_mol - n_test} training molecules of the {n_mol} with elements {v['qm7b_elements']} and at most "
                f"{v['qm7b_max_heavy_atoms']} heavy atoms, x {v['conformations_per_molecule']} conformations)")
    return None


def _rmd17_file_error(path: str) -> str | None:
    # The file is read here, before any compute, so that a malformed one fails with the parameter's name.
    if not path:
        return None
    from paperlib.data.dataset import DataFileError
    from paperlib.data.formats import read_rmd17

    try:
        read_rmd17(path, max_frames=1)
    except DataFileError as err:
        return f"parameter 'dataset_path': {err}; allowed: an rMD17 .npz file"
    return None


GRADIENTS = register(Schema(
    study="gradients",
    title="The role of gradients: energies vs energies + forces (Christensen & von Lilienfeld)",
    params=(
        Param("seed", "int", "master random seed", low=0),
        Param("molecule", "str", "molecule simulated with the reference: an rMD17 name, 'smiles:<SMILES>' or a "
                                 "path to an xyz/extxyz file of one molecule"),
        Param("dataset_path", "path", "an rMD17 .npz file to use instead of reference MD (empty: simulate)"),
        Param("temperature_K", "float", "Langevin MD temperature, K", low=10, high=3000),
        Param("timestep_fs", "float", "MD time step, fs", low=0.05, high=2.0),
        Param("friction_per_fs", "float", "Langevin friction, 1/fs", low=1e-5, high=1.0),
        Param("equil_steps", "int", "MD steps discarded at the start of each trajectory", low=0),
        Param("stride_fs", "float", "time between kept frames of a run, fs (>= 50, so that frames decorrelate)",
              low=50.0, high=10000.0),
        Param("n_trajectories", "int", "independent reference MD runs for the training pool", low=1, high=256),
        Param("test_trajectories", "int", "independent reference MD runs for the test set (the units of claim 1's "
                                          "interval)", low=1, high=256),
        Param("n_test", "int", "test frames (from separate trajectories, or held out of dataset_path)", low=5),
        Param("krr_sizes", "list[int]", "training sizes of the energy-only kernel model (doubling)", low=2),
        Param("gp_sizes", "list[int]", "training sizes of the energy+force kernel model (doubling)", low=2),
        Param("n_draws", "int", "random training sets per size", low=1, high=50),
        Param("cv_size", "int", "training configurations used for the hyperparameter search", low=4),
        Param("cv_folds", "int", "cross-validation folds of the hyperparameter search", low=2, high=20),
        Param("sigmas", "list[float]", "kernel widths searched", low=1e-3, high=1e4),
        Param("regularisations", "list[float]", "kernel regularisations searched", low=1e-14, high=1.0),
        Param("nn_model", "str", "neural network contrasted with the kernels", choices=("schnet_small",
                                                                                        "schnet_medium")),
        Param("nn_sizes", "list[int]", "training sizes of the neural network (increasing; empty: no network)",
              low=2, min_len=0),
        Param("nn_draws", "int", "random training sets per size for the neural network", low=1, high=50),
        Param("max_epochs", "int", "neural-network training epochs (upper bound)", low=1),
        Param("batch_size", "int", "neural-network batch size, configurations", low=1),
        Param("learning_rate", "float", "neural-network Adam learning rate", low=1e-7, high=1.0),
        Param("force_weight", "float", "force weight of the E+F network loss (energy weight 1 - w)", low=0.0,
              high=0.9999),
        Param("qm7b_molecules", "int", "molecules taken from the QM7b-like list (first ones with allowed "
                                       "elements)", low=4),
        Param("qm7b_max_heavy_atoms", "int", "most heavy (non-H) atoms a molecule may have", low=1, high=7),
        Param("qm7b_elements", "list[str]", "elements molecules may contain", choices=QM7B_ELEMENTS),
        Param("conformations_per_molecule", "int", "normal-mode samples per molecule", low=1),
        Param("nm_temperature_K", "float", "temperature of the normal-mode sampling, K", low=10, high=3000),
        Param("test_molecule_fraction", "float", "fraction of molecules held out for testing", low=0.05,
              high=0.8),
        Param("qm7b_sizes", "list[int]", "training conformations of the unseen-molecule curves (doubling)", low=2),
    ),
    checks=(_gradients_checks,),
))


def _hessian_checks(v: Mapping[str, Any]) -> str | None:
    if len(set(v["reactions"])) != len(v["reactions"]):
        return f"parameter 'reactions': got {v['reactions']}; allowed: each reaction at most once"
    if v["n_images"] % 2 == 0:
        return f"parameter 'n_images': got {v['n_images']}; allowed: an odd number (the guess sits in the middle)"
    sizes = v["train_sizes"]
    if any(b <= a for a, b in zip(sizes, sizes[1:])):
        return f"parameter 'train_sizes': got {sizes}; allowed: increasing numbers of training molecules"
    if len(set(v["hessian_losses"])) != len(v["hessian_losses"]):
        return f"parameter 'hessian_losses': got {v['hessian_losses']}; allowed: each loss at most once"
    from paperlib.sampling.molecules import small_molecules
    from paperlib.sampling.paths import reaction_compositions

    available = len(small_molecules(v["max_heavy_atoms"], exclude=reaction_compositions(v["reactions"])))
    if v["test_molecules"] + sizes[-1] > available:
        return (f"parameter 'train_sizes': test_molecules + max(train_sizes) = {v['test_molecules'] + sizes[-1]}; "
                f"allowed: at most the {available} shipped molecules with at most max_heavy_atoms = "
                f"{v['max_heavy_atoms']} heavy atoms (H, C, N, O; no isomer of a reaction species)")
    return None


def _reaction_names() -> tuple[str, ...]:
    from paperlib.sampling.paths import reaction_names

    return reaction_names()


HESSIAN_TRAINING = register(Schema(
    study="hessian_training",
    title="Does Hessian data improve ML potentials? (Rodriguez, Smith & Mendoza-Cortes)",
    params=(
        Param("seed", "int", "master random seed (molecule order, displacements, training seeds)", low=0),
        Param("reactions", "list[str]", "reactions (shipped data) whose critical points are in every training set "
                                        "and on which the models search paths and saddles",
              choices=_reaction_names(), min_len=2),
        Param("n_images", "int", "NEB images including the end points (odd)", low=3, high=41),
        Param("max_heavy_atoms", "int", "largest number of heavy atoms (C, N, O) of a molecule drawn", low=1,
              high=7),
        Param("test_molecules", "int", "held-out molecules (the test set of claims 1, 4 and 5)", low=2, high=200),
        Param("train_sizes", "list[int]", "training molecules of the learning curve (increasing); the largest "
                                          "trains the models of claims 1-4", low=1, high=200),
        Param("amplitudes_A", "list[float]", "RMS displacements of the normal-mode test geometries, A",
              low=1e-3, high=0.5),
        Param("samples_per_amplitude", "int", "test geometries per test molecule and amplitude", low=1, high=100),
        Param("training_seeds", "int", "training seeds of every (training size, mode)", low=1, high=20),
        Param("energy_only", "bool", "also train an energy-only model at the largest training set"),
        Param("model_size", "str", "SchNet size (float64)", choices=("small", "medium", "large")),
        Param("cutoff_A", "float", "SchNet cutoff radius, A", low=2.0, high=10.0),
        Param("max_epochs", "int", "training epochs", low=1),
        Param("batch_size", "int", "training batch size, structures", low=1),
        Param("learning_rate", "float", "Adam learning rate", low=1e-7, high=1.0),
        Param("lr_patience", "int", "epochs without a lower training loss before the learning rate halves",
              low=1, high=10000),
        Param("energy_weight", "float", "loss weight of energies per atom, 1/(eV/atom)^2", low=1e-6, high=1e6),
        Param("force_weight", "float", "loss weight of force components, 1/(eV/A)^2 (E+F and E+F+H)",
              low=1e-6, high=1e6),
        Param("hessian_weight", "float", "loss weight of Hessian elements, 1/(eV/A^2)^2 (E+F+H)", low=1e-8,
              high=1e6),
        Param("hessian_losses", "list[str]", "Hessian losses trained (the first one is judged): 'full' or 'hvp'",
              choices=("full", "hvp")),
        Param("hessian_probes", "int", "random probe vectors k of the Hessian-vector-product loss", low=1,
              high=256),
        Param("search_steps", "int", "optimiser steps allowed to each minimisation, NEB and saddle search on a "
                                     "model", low=10, high=100000),
        Param("cost_structures", "int", "training structures of the epoch timings", low=1, high=10000),
        Param("cost_epochs", "int", "epochs per timing of each training mode", low=1, high=10000),
        Param("cost_repeats", "int", "timings of each training mode, taken in turn", low=1, high=100),
        Param("cost_probes", "list[int]", "probe counts k timed for the Hessian-vector-product loss", low=1,
              high=256),
    ),
    checks=(_hessian_checks,),
))

FLEXIBLE_MODELS = ("sgdml", "schnet_small", "schnet_medium", "gap", "bpnn")


def _flexible_checks(v: Mapping[str, Any]) -> str | None:
    if v["local_model"] not in v["models"]:
        return (f"parameter 'local_model': got {v['local_model']!r}; allowed: one of models {v['models']}, since its "
                "global counterpart is compared")
    if v["scan_points"] % 2 == 0:
        return f"parameter 'scan_points': got {v['scan_points']}; allowed: an odd number (the inversion scan meets in the middle)"
    if len(set(v["curve_sizes"])) != len(v["curve_sizes"]):
        return f"parameter 'curve_sizes': got {v['curve_sizes']}; allowed: distinct sizes"
    temperatures = len(v["md_temperatures_K"])
    minimum_runs = temperatures * v["minimum_runs"]
    path_runs = (v["scan_points"] - 2) * temperatures * v["path_runs"]
    if v["test_runs"] >= min(minimum_runs, path_runs):
        return (f"parameter 'test_runs': got {v['test_runs']}; allowed: fewer than the runs started at each minimum "
                f"({minimum_runs}) and along each mechanism ({path_runs}), so that training keeps some")
    frames = 2 * minimum_runs * v["minimum_frames"] + 3 * path_runs * v["path_frames"]
    # the test set takes whole runs: at least test_runs of each place, and test_frames of each region
    test = (2 * max(v["test_runs"] * v["minimum_frames"], v["test_frames"])
            + 3 * max(v["test_runs"] * v["path_frames"], v["test_frames"]))
    need = test + v["n_valid"] + max(v["curve_sizes"])
    if need > frames:
        return (f"parameter 'curve_sizes': the test set (at least {test} frames) + n_valid + max(curve_sizes) = "
                f"{need}; allowed: at most the {frames} frames sampled")
    if v["local_size"] > max(v["curve_sizes"]):
        return (f"parameter 'local_size': got {v['local_size']}; allowed: at most max(curve_sizes) "
                f"({max(v['curve_sizes'])}), which the training pool is checked to hold")
    if v["frame_spacing_fs"] < v["timestep_fs"]:
        return (f"parameter 'frame_spacing_fs': got {v['frame_spacing_fs']}; allowed: at least timestep_fs "
                f"({v['timestep_fs']})")
    if v["linear_deg"] < v["wide_angle_deg"]:
        return (f"parameter 'linear_deg': got {v['linear_deg']}; allowed: at least wide_angle_deg "
                f"({v['wide_angle_deg']})")
    if 0 < v["gap_long_cutoff_A"] <= v["gap_cutoff_A"]:
        return (f"parameter 'gap_long_cutoff_A': got {v['gap_long_cutoff_A']}; allowed: 0 (none) or more than "
                f"gap_cutoff_A ({v['gap_cutoff_A']})")
    if v["dft_method"]:
        from paperlib.reference.dft import DFTSettings

        try:
            DFTSettings.parse(v["dft_method"])
        except ValueError as err:
            return f"parameter 'dft_method': got {v['dft_method']!r}; allowed: '' or 'functional/basis' ({err})"
    return None


FLEXIBLE_PES = register(Schema(
    study="flexible_pes",
    title="ML force fields on the flexible azobenzene surface (Vassilev-Galindo et al.)",
    params=(
        Param("seed", "int", "master random seed", low=0),
        Param("scan_points", "int", "images per relaxed scan, both minima included (odd)", low=5, high=61),
        Param("assisted_angle_deg", "float", "CNN angle half way along the inversion-assisted rotation scan, degrees",
              low=125.0, high=175.0),
        Param("dft_method", "str", "DFT single points that cross-check the reference's isomer energy and barriers, "
                                   "'functional/basis' (PySCF names), or '' for GFN1-xTB alone"),
        Param("md_temperatures_K", "list[float]", "temperatures of every sampling run, K (the same around the minima "
                                                  "and along the paths)", low=1.0, high=3000.0),
        Param("minimum_runs", "int", "independent runs per minimum and temperature", low=1, high=10000),
        Param("minimum_frames", "int", "frames per run around a minimum", low=1, high=100000),
        Param("path_runs", "int", "runs per interior scan image and temperature, restrained to the image", low=1,
              high=1000),
        Param("path_frames", "int", "frames per run from a scan image", low=1, high=10000),
        Param("frame_spacing_fs", "float", "time between the frames of a run, fs", low=0.05, high=10000.0),
        Param("equilibration_fs", "float", "time before a run's first frame, fs", low=0.0, high=100000.0),
        Param("timestep_fs", "float", "MD time step, fs", low=0.05, high=2.0),
        Param("planar_deg", "float", "region rule: torsions within this of 0 or 180 degrees are near-planar",
              low=1.0, high=89.0),
        Param("wide_angle_deg", "float", "region rule: a CNN angle at or above this is widened, degrees", low=91.0,
              high=179.0),
        Param("linear_deg", "float", "region rule: a CNN angle at or above this is inversion whatever the torsion, "
                                     "degrees", low=91.0, high=180.0),
        Param("test_runs", "int", "fewest test runs started at each minimum and along each mechanism", low=1),
        Param("test_frames", "int", "fewest test frames of each region, from the runs started there", low=1),
        Param("n_valid", "int", "validation frames, whole runs (early stopping, sGDML length scale)", low=2),
        Param("curve_sizes", "list[int]", "training sizes of the learning curves (nested random sets)", low=5),
        Param("models", "list[str]", "models trained at every size", choices=FLEXIBLE_MODELS, min_len=1),
        Param("local_model", "str", "algorithm of the local-vs-global comparison (at the largest size)",
              choices=FLEXIBLE_MODELS),
        Param("local_size", "int", "training points of the local-vs-global comparison", low=5),
        Param("local_draws", "int", "draws of the training pool for the local-vs-global comparison", low=1, high=100),
        Param("max_epochs", "int", "epochs of the networks (SchNet, BPNN)", low=1),
        Param("batch_size", "int", "batch size of the networks, structures", low=1),
        Param("learning_rate", "float", "Adam learning rate of the networks", low=1e-7, high=1.0),
        Param("energy_weight", "float", "network loss weight of energies per atom, 1/(eV/atom)^2", low=1e-6,
              high=1e6),
        Param("force_weight", "float", "network loss weight of force components, 1/(eV/A)^2", low=1e-6, high=1e6),
        Param("gap_n_sparse", "int", "GAP sparse points (SOAP, CUR); a local set shares them among its members",
              low=10, high=100000),
        Param("gap_cutoff_A", "float", "GAP's SOAP cut-off, A", low=2.0, high=15.0),
        Param("gap_long_cutoff_A", "float", "a second GAP with this longer cut-off at the largest size, A (0: none)",
              low=0.0, high=15.0),
        Param("sgdml_sigmas", "list[int]", "sGDML kernel length scales tried (chosen on the validation set)", low=1,
              high=10000),
    ),
    checks=(_flexible_checks,),
))


SOLVENT_NAMES = "paperlib.sampling.liquids:SOLVENTS"
TRANSFER_ALGORITHMS = "paperlib.studies.transferability_claims:ALGORITHMS"
TRANSFER_ORIGINS = "paperlib.studies.transferability_claims:ORIGINS"
MACE_DTYPES = "paperlib.models.mace:DTYPES"


def _transfer_checks(v: Mapping[str, Any]) -> str | None:
    import re

    for name in ("solvents", "unseen", "algorithms", "origins", "unseen_origins"):
        if len(set(v[name])) != len(v[name]):
            return f"parameter {name!r}: got {v[name]}; allowed: no repeats"
    if len(v["weight_fractions"]) != len(v["solvents"]):
        return (f"parameter 'weight_fractions': got {v['weight_fractions']}; allowed: one weight per solvent "
                f"({v['solvents']})")
    if set(v["unseen"]) & set(v["solvents"]):
        return f"parameter 'unseen': got {v['unseen']}; allowed: solvents not in the training liquid {v['solvents']}"
    if "simple" not in v["origins"]:
        return f"parameter 'origins': got {v['origins']}; allowed: lists containing 'simple' (the first generation)"
    for origin in v["origins"]:
        if origin.startswith("automatic_") and origin.removeprefix("automatic_") not in v["algorithms"]:
            return (f"parameter 'origins': {origin!r} needs {origin.removeprefix('automatic_')!r} in algorithms "
                    f"{v['algorithms']}")
    if not set(v["unseen_origins"]) <= set(v["origins"]):
        return f"parameter 'unseen_origins': got {v['unseen_origins']}; allowed: a subset of origins {v['origins']}"
    if v["md_sample_every"] > v["md_steps"]:
        return (f"parameter 'md_sample_every': got {v['md_sample_every']}; allowed: at most md_steps "
                f"({v['md_steps']})")
    if v["mace_stage_two_epochs"] >= v["mace_epochs"]:
        return (f"parameter 'mace_stage_two_epochs': got {v['mace_stage_two_epochs']}; allowed: fewer than "
                f"mace_epochs ({v['mace_epochs']})")
    if v["deepmd_stop_lr"] > v["deepmd_start_lr"]:
        return (f"parameter 'deepmd_stop_lr': got {v['deepmd_stop_lr']}; allowed: at most deepmd_start_lr "
                f"({v['deepmd_start_lr']})")
    if not re.fullmatch(r"\s*\d+x\d+[eo](\s*\+\s*\d+x\d+[eo])*\s*", v["mace_hidden_irreps"]):
        return (f"parameter 'mace_hidden_irreps': got {v['mace_hidden_irreps']!r}; allowed: e3nn irreps such as "
                "'16x0e + 16x1o'")
    return None


TRANSFERABILITY = register(Schema(
    study="transferability",
    title="Transferability of data sets between MLIP algorithms (Niblett et al.)",
    params=(
        Param("seed", "int", "master random seed", low=0),
        Param("solvents", "list[str]", "molecules of the training liquid", choices=SOLVENT_NAMES, min_len=1),
        Param("weight_fractions", "list[float]", "mass fractions of the solvents (normalised)", low=1e-3,
              high=1e3),
        Param("unseen", "list[str]", "liquids the models never see, run as MD tests", choices=SOLVENT_NAMES,
              min_len=0),
        Param("box_molecules", "int", "molecules per periodic box (MD and the periodic validation set)", low=2,
              high=2000),
        Param("cluster_radius_A", "float", "clusters keep whole molecules whose centre lies within this, A",
              low=2.0, high=15.0),
        Param("n_monomers", "int", "simple set: isolated molecules", low=0, high=100000),
        Param("n_dimers", "int", "simple set: random dimers", low=0, high=100000),
        Param("n_clusters", "int", "simple set: clusters cut from packed boxes", low=1, high=100000),
        Param("corrective_per_kind", "int", "corrective set: configurations per deficiency designed against (at "
                                            "most four)", low=1, high=100000),
        Param("n_automatic", "int", "automatic set: clusters harvested from a first-generation model's MD", low=1,
              high=100000),
        Param("n_test", "int", "test clusters of the training liquid and of each unseen liquid", low=2,
              high=100000),
        Param("n_periodic", "int", "periodic boxes in the validation set (GFN2-xTB with periodic boundaries)",
              low=1, high=1000),
        Param("own_frames", "int", "clusters from each model's own trajectory relabelled by the reference", low=1,
              high=10000),
        Param("thermal_conformers", "int", "normal-mode samples per molecule giving the sets thermal molecular "
                                           "geometries (0: rattled rigid molecules)", low=0, high=100000),
        Param("reference_md_runs", "int", "GFN2-xTB MD runs of clusters (the score's evaluation set)", low=1,
              high=10000),
        Param("reference_md_equilibration_steps", "int", "GFN2-xTB MD steps before the first evaluation frame",
              low=0, high=10000000),
        Param("reference_md_frames", "int", "evaluation frames per GFN2-xTB MD run", low=1, high=100000),
        Param("reference_md_stride", "int", "GFN2-xTB MD steps between evaluation frames", low=1, high=100000),
        Param("training_seeds", "int", "training replicates of every (algorithm, training set)", low=1, high=100),
        Param("md_seeds", "int", "MD runs per model of the training liquid (start boxes and velocities shared by "
                                 "all models)", low=1, high=100),
        Param("unseen_md_seeds", "int", "MD runs per model of each unseen liquid", low=1, high=100),
        Param("algorithms", "list[str]", "MLIP algorithms", choices=TRANSFER_ALGORITHMS, min_len=1),
        Param("origins", "list[str]", "training-set origins (simple, + corrective, + an algorithm's automatic "
                                      "set)", choices=TRANSFER_ORIGINS, min_len=1),
        Param("unseen_origins", "list[str]", "origins whose models also run the unseen liquids",
              choices=TRANSFER_ORIGINS, min_len=0),
        Param("r_cut_A", "float", "cutoff radius of both algorithms, A", low=2.0, high=12.0),
        Param("mace_hidden_irreps", "str", "MACE hidden irreps, e.g. '16x0e + 16x1o'"),
        Param("mace_max_L", "int", "MACE maximum L of the messages", low=0, high=3),
        Param("mace_correlation", "int", "MACE body order of the product basis", low=1, high=4),
        Param("mace_epochs", "int", "MACE training epochs", low=1, high=100000),
        Param("mace_learning_rate", "float", "MACE learning rate", low=1e-6, high=1.0),
        Param("mace_stage_two_epochs", "int", "MACE's last epochs in its second stage (energy weight 1000)", low=0,
              high=100000),
        Param("mace_dtype", "str", "MACE floating-point precision of training and evaluation",
              choices=MACE_DTYPES),
        Param("deepmd_steps", "int", "Deep Potential training steps", low=1, high=10000000),
        Param("deepmd_start_lr", "float", "Deep Potential learning rate at the first step", low=1e-8, high=1.0),
        Param("deepmd_stop_lr", "float", "Deep Potential learning rate at the last step (exponential decay)",
              low=1e-10, high=1.0),
        Param("batch_size", "int", "training batch size of both algorithms, structures", low=1, high=1024),
        Param("energy_weight", "float", "MACE loss weight of energies", low=1e-6, high=1e6),
        Param("force_weight", "float", "MACE loss weight of forces", low=1e-6, high=1e6),
        Param("md_temperature_K", "float", "temperature of the model MD, K", low=50.0, high=2000.0),
        Param("pressure_bar", "float", "pressure of the NPT continuation (isotropic MTK barostat), bar", low=0.0,
              high=1e5),
        Param("timestep_fs", "float", "MD time step, fs", low=0.05, high=2.0),
        Param("md_steps", "int", "NVT MD steps per run (at the experimental density)", low=1, high=10000000),
        Param("npt_steps", "int", "NPT steps continuing a complete NVT run (0: none)", low=0, high=10000000),
        Param("md_sample_every", "int", "MD steps between snapshots (and stability checks)", low=1, high=100000),
        Param("min_distance_A", "float", "stability: closest allowed approach of two atoms, A", low=0.1, high=2.0),
        Param("max_force_eV_A", "float", "stability: largest allowed force on an atom, eV/A", low=1.0, high=1e4),
        Param("score_force_scale_eV_A", "float", "reference-MD force MAE that halves the MD score, eV/A",
              low=1e-3, high=10.0),
        Param("foundation_model", "path", "MACE model file evaluated alongside ('' to skip)"),
        Param("foundation_models", "list[str]", "pretrained foundation models evaluated alongside (may be empty)",
              choices="paperlib.models.foundation:MODELS", min_len=0),
        Param("foundation_md", "bool", "run the foundation models' MD of the liquid too (costly on a CPU)"),
    ),
    checks=(_transfer_checks,),
))
