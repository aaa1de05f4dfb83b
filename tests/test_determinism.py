"""The same inputs give the same numbers in two fresh processes on CPU: bit for bit for the networks and the
reference methods, to 1e-6 for the kernel models (see :data:`KERNEL_MODELS`).

The cheap path of the determinism check: every trainable backend and both reference methods, each run in two
processes started side by side (so that their threads compete for the cores, as in a loaded kernel), instead of
every study twice. Whole studies are repeated by ``bench/repeat_runs.py``, and the gradients study is compared
to 1e-6 after interruptions (``tests/test_interruption.py``). Two sources of differences were found this way and
removed: tblite summing over OpenMP threads in completion order (:class:`paperlib.reference.xtb.OneThreadTBLite`),
and torch accumulating float32 gradients of indexed gathers with atomic additions on several CPU threads
(:func:`paperlib.determinism.cpu_determinism`). A pair of processes shows the second only in a fraction of runs
(2 of 10 for the study-sized SchNet fit), so the tests below also check that every torch path computes in
deterministic mode.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from paperlib.runner import ROOT
from paperlib.determinism import cpu_determinism

pytestmark = pytest.mark.slow
MODELS = ("schnet_small", "bpnn", "mace", "deepmd", "gap", "sgdml", "fchl19")


def _twice(kind: str, data, tmp_path) -> tuple[np.ndarray, np.ndarray]:
    outs = [tmp_path / f"run{k}.npy" for k in range(2)]
    logs = [tmp_path / f"run{k}.log" for k in range(2)]
    procs = []
    try:
        for out, log in zip(outs, logs):
            with open(log, "w") as f:
                procs.append(subprocess.Popen([sys.executable, "-m", "tests.determinism_worker", kind, str(data),
                                               str(out)], cwd=ROOT, stdout=f, stderr=subprocess.STDOUT))
        for p, log in zip(procs, logs):
            assert p.wait(timeout=600) == 0, log.read_text()[-3000:]
    finally:
        for p in procs:
            p.kill()
    return tuple(np.load(out) for out in outs)


@pytest.fixture(scope="module")
def frames_file(azobenzene_frames, tmp_path_factory):
    """The session's GFN2-xTB azobenzene frames as an extxyz file (training, validation and test frames)."""
    path = tmp_path_factory.mktemp("determinism") / "frames.xyz"
    azobenzene_frames.write(path)
    return path


KERNEL_MODELS = ("gap", "sgdml", "fchl19")
"""Compared to 1e-6 relative, not bit for bit: once, with the machine oversubscribed, a whole gradients-study run
gave force-trained kernel-model errors 8e-9 relative apart (ill-conditioned solves amplify the last bits; the
source was not isolated). The networks and the reference methods show no such spread."""


@pytest.mark.parametrize("kind", MODELS + ("xtb",))
def test_two_fresh_processes_give_identical_numbers(kind, frames_file, tmp_path):
    first, second = _twice(kind, frames_file, tmp_path)
    assert first.size > 100 and np.isfinite(first).all()
    if kind in KERNEL_MODELS:
        np.testing.assert_allclose(second, first, rtol=1e-6, atol=1e-9)
    else:
        np.testing.assert_array_equal(first, second)


def test_reference_md_of_molten_salt_is_identical_in_two_processes(tmp_path):
    first, second = _twice("bmhtf", "", tmp_path)
    assert first.size > 1000
    np.testing.assert_array_equal(first, second)


def test_cpu_determinism_holds_only_inside_the_block_and_only_on_cpu():
    before = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    with cpu_determinism("cpu"):
        assert torch.are_deterministic_algorithms_enabled()
    with pytest.raises(KeyError), cpu_determinism(torch.device("cpu")):
        raise KeyError("restored after an error too")
    assert (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()) \
        == before
    with cpu_determinism("meta"):
        assert torch.are_deterministic_algorithms_enabled() == before[0]


def _recording(net: torch.nn.Module) -> list[bool]:
    seen: list[bool] = []
    net.register_forward_hook(lambda *_: seen.append(torch.are_deterministic_algorithms_enabled()))
    return seen


@pytest.mark.parametrize("backend, strategy", [("schnet", "auto"), ("schnet", "ddp"), ("bpnn", "auto")])
def test_networks_train_and_predict_in_deterministic_mode(backend, strategy, azobenzene_frames):
    """The in-memory loop, the Lightning path (one process) and prediction compute under
    :func:`cpu_determinism`: a forward hook records the mode at every call."""
    from paperlib.models.base import Targets
    from paperlib.models.bpnn import BPNNConfig, BPNNPotential
    from paperlib.models.schnet import SchNetConfig, SchNetPotential
    from paperlib.training import TrainConfig

    train = TrainConfig(max_epochs=1, batch_size=4, progress=False, strategy=strategy)
    model = (SchNetPotential(SchNetConfig(device="cpu", train=train)) if backend == "schnet"
             else BPNNPotential(BPNNConfig(device="cpu", train=train)))
    seen = _recording(model.net)
    model.fit(azobenzene_frames[:4], targets=Targets(1.0, 1.0))
    model.predict(list(azobenzene_frames[4:6]))
    assert len(seen) >= 2 and all(seen) and not torch.are_deterministic_algorithms_enabled()


def test_mace_trains_and_predicts_in_deterministic_mode(azobenzene_frames, tmp_path, monkeypatch):
    """``mace_run_train`` is launched with the mode on for a CPU run (a stand-in ``mace.cli.run_train``
    reports it and the device it was given), and predictions compute under it."""
    from paperlib.models import mace

    fake = tmp_path / "mace" / "cli"
    fake.mkdir(parents=True)
    for d in (fake.parent, fake):
        (d / "__init__.py").write_text("")
    (fake / "run_train.py").write_text(
        "import sys, torch\n"
        "def main():\n"
        "    print(sys.argv[0], sys.argv[sys.argv.index('--device') + 1], "
        "torch.are_deterministic_algorithms_enabled())\n"
        "    return 0\n")
    proc = subprocess.run([sys.executable, "-c", mace._RUN_TRAIN, "--device", "cpu", "--name", "model"],
                          env={**os.environ, "PYTHONPATH": str(tmp_path)}, capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.split() == ["mace_run_train", "cpu", "True"], proc.stderr
    model = mace.MACEPotential(mace.MACEConfig(device="cpu"))
    monkeypatch.setattr(model, "_evaluated", lambda atoms: _ModeProbe(atoms))
    pred = model.predict(list(azobenzene_frames[:2]))
    assert pred.energies.tolist() == [1.0, 1.0]


class _ModeProbe:
    """Stands in for a structure with MACE's calculator attached: energy 1 when deterministic mode is on."""

    def __init__(self, atoms):
        self.n = len(atoms)

    def get_potential_energy(self) -> float:
        return float(torch.are_deterministic_algorithms_enabled())

    def get_forces(self) -> np.ndarray:
        return np.zeros((self.n, 3))
