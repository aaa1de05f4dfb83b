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
