"""The lock file pins what the ranges of requirements.txt allow, and the environment holds exactly the lock."""

from __future__ import annotations

import importlib.metadata
import re
import shutil

import pytest

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from paperlib.runner import ROOT


def _lock() -> dict[str, Version]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.-]+)==(\S+)$", line.strip())
        if m:
            pins[canonicalize_name(m.group(1))] = Version(m.group(2))
    return pins


def test_every_requirement_is_locked_within_its_range():
    pins = _lock()
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        req = Requirement(line)
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is required but not in requirements.lock: run `make lock`"
        assert req.specifier.contains(pins[name], prereleases=True), f"{req.name}: locked {pins[name]} " \
                                                                      f"outside {req.specifier}: run `make lock`"


def test_the_environment_holds_the_locked_versions_and_nothing_else():
    """What `make test` installed is what the lock says (a local label such as torch's ``+cpu`` aside), and
    every installed distribution is locked, but for the packaging tools, paperlib and what requirements-nodeps.txt
    installs without its dependencies."""
    nodeps = {canonicalize_name(Requirement(line).name)
              for line in (ROOT / "requirements-nodeps.txt").read_text().splitlines()
              if line.strip() and not line.lstrip().startswith("#")}
    installed = {canonicalize_name(d.metadata["Name"]) for d in importlib.metadata.distributions()}
    unlocked = installed - set(_lock()) - nodeps - {"paperlib", "pip", "setuptools", "wheel"}
    assert not unlocked, f"installed but not in requirements.lock: {sorted(unlocked)}"
    wrong = {}
    for name, version in _lock().items():
        installed = Version(importlib.metadata.version(name))
        if Version(installed.public) != version:
            wrong[name] = (str(version), str(installed))
    assert not wrong, f"installed versions differ from requirements.lock: {wrong}"


@pytest.mark.skipif(shutil.which("make") is None, reason="the two commands are make targets; make is not installed")
def test_make_book_needs_neither_root_nor_a_browser_while_make_test_installs_one():
    import subprocess

    def planned(target: str) -> str:
        """What ``make`` would run for ``target`` as if nothing were installed yet (``-B``: every target
        out of date), without running it."""
        return subprocess.run(["make", "-n", "-B", target], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout

    book, test = planned("book"), planned("test")
    assert "paperlib book" in book and "pip install" in book
    assert not re.search(r"apt-get|chromium|sudo", book)
    assert "apt-get" in test and "chromium" in test and "pytest" in test


def test_the_tests_that_need_the_smoke_runs_share_one_pytest_worker(tmp_path):
    """``make test`` runs two pytest workers; the five smoke runs of the studies (a session fixture) must be made on
    one of them only. A stand-in suite of four modules, half its tests needing ``executed``, is run the same way."""
    import subprocess
    import sys

    (tmp_path / "pyproject.toml").write_text('[tool.pytest.ini_options]\naddopts = "--strict-markers"\n')
    (tmp_path / "conftest.py").write_text(
        f"import os, sys\nimport pytest\nsys.path.insert(0, {str(ROOT)!r})\n"
        "from tests.conftest import pytest_collection_modifyitems\n\n"
        "@pytest.fixture(scope='session')\ndef executed():\n    return os.environ['PYTEST_XDIST_WORKER']\n")
    record = tmp_path / "record"
    record.mkdir()
    for module in range(4):
        (tmp_path / f"test_m{module}.py").write_text("".join(
            f"def test_plain_{i}():\n    pass\n\n"
            f"def test_needs_runs_{i}(executed):\n"
            f"    open({str(record / f'{module}-{i}')!r}, 'w').write(executed)\n\n"
            for i in range(3)))
    make = (ROOT / "Makefile").read_text()
    args = re.search(r"\$\(VENV\)/bin/pytest (.*)", make).group(1).replace("$(TEST_WORKERS)", "2").split()
    run = subprocess.run([sys.executable, "-m", "pytest", *args, "-p", "no:cacheprovider"], cwd=tmp_path,
                         capture_output=True, text=True)
    assert run.returncode == 0 and "24 passed" in run.stdout, run.stdout[-2000:]
    workers = {p.read_text() for p in record.iterdir()}
    assert len(list(record.iterdir())) == 12 and len(workers) == 1, workers
