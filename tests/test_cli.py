import pytest

from paperlib import __version__, cli
from paperlib import params as P


def test_version_names_the_package(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.strip() == f"paperlib {__version__}"


def test_list_prints_every_value_whole(capsys):
    assert cli.main(["list", "gradients"]) == 0
    out = capsys.readouterr().out
    for profile in P.PROFILES:
        sigmas = str(P.profile_values("gradients", profile)["sigmas"])
        assert sigmas in out            # the longest lists are not cut at a column width
    assert len(str(P.profile_values("gradients", "gpu")["sigmas"])) > 24


def test_a_reader_that_stops_early_gets_no_traceback():
    import subprocess
    import sys
    from pathlib import Path

    exe = Path(sys.executable).parent / "paperlib"
    proc = subprocess.run(f"'{exe}' list | head -n 1", shell=True, capture_output=True, text=True)
    assert proc.stdout.startswith("flexible_pes:") and "Traceback" not in proc.stderr


def test_flags_override_the_config_file_and_runs_outside_the_book_go_to_runs(tmp_path, monkeypatch):
    from paperlib import runner

    seen = {}
    monkeypatch.setattr(runner, "run_study", lambda *a, **kw: seen.update(args=a, kw=kw) or tmp_path / "nb.ipynb")
    config = tmp_path / "run.yaml"
    config.write_text("profile: smoke\nn_train: 8\nseed: 1\ndevice: cpu\n")
    assert cli.main(["run", "nacl_selection", "--config", str(config), "-p", "seed=2"]) == 0
    assert seen["args"] == ("nacl_selection", "smoke", {"n_train": 8, "seed": 2})
    assert seen["kw"]["options"] == {"device": "cpu"} and not seen["kw"]["into_book"]
    assert cli.main(["run", "nacl_selection", "--config", str(config), "--profile", "default", "--into-book"]) == 0
    assert seen["args"][1] == "default" and seen["kw"]["into_book"]


def test_a_bad_config_value_is_named_before_anything_runs(tmp_path, capsys):
    config = tmp_path / "run.yaml"
    config.write_text("n_train: -1\n")
    assert cli.main(["run", "nacl_selection", "--profile", "smoke", "--config", str(config)]) == 2
    assert "'n_train': got -1" in capsys.readouterr().err


def test_runs_lists_what_is_kept_outside_the_book(tmp_path, monkeypatch, capsys):
    import json

    from paperlib import runner

    folder = tmp_path / "gradients" / "smoke"
    folder.mkdir(parents=True)
    (folder / "results.json").write_text(json.dumps({
        "study": "gradients", "profile": "smoke", "claims": [{"verdict": "reproduced"}],
        "provenance": {"overrides": {}, "started": "2026-12-01 10:00:00 UTC"}}))
    monkeypatch.setattr(runner, "RUNS", tmp_path)
    assert cli.main(["runs"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("1 run under") and "gradients" in out and "1 reproduced; no override" in out


def test_export_names_a_run_that_does_not_exist(tmp_path, monkeypatch, capsys):
    from paperlib import runner

    monkeypatch.setattr(runner, "RUNS", tmp_path)
    assert cli.main(["export", "nacl_selection", str(tmp_path / "out"), "--run", "nope"]) == 2
    err = capsys.readouterr().err
    assert "run 'nope' (see `paperlib runs nacl_selection`) has no results.json" in err
    assert not (tmp_path / "out").exists()
