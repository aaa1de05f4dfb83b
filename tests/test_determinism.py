"""The same inputs give the same numbers, bit for bit, in two fresh processes on CPU.

This is the cheap path of the determinism check: every trainable backend and both reference methods, each run
in two processes started side by side (so their threads compete for the cores, as in a loaded kernel), rather
than every study twice. Studies are compositions of these steps with seeded choices, so a study whose steps are
bitwise reproducible is too. Two nondeterminism sources were found this way and removed: tblite summing over
OpenMP threads in completion order (:class:`paperlib.reference.xtb.OneThreadTBLite`), and torch accumulating
the gradients of indexed gathers with atomic additions on several CPU threads
(:func:`paperlib.training.cpu_determinism`).
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from paperlib.runner import ROOT
from paperlib.training import cpu_determinism

MODELS = ("schnet_small", "bpnn", "mace", "deepmd", "gap", "sgdml", "fchl19")


def _twice(kind: str, data, tmp_path) -> tuple[np.ndarray, np.ndarray]:
    outs = [tmp_path / f"run{k}.npy" for k in range(2)]
    procs = [subprocess.Popen([sys.executable, "-m", "tests.determinism_worker", kind, str(data), str(out)],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for out in outs]
    logs = [p.communicate(timeout=600)[0] for p in procs]
    for p, log in zip(procs, logs):
        assert p.returncode == 0, log[-3000:]
    return tuple(np.load(out) for out in outs)


@pytest.fixture(scope="module")
def frames_file(azobenzene_frames, tmp_path_factory):
    """The session's GFN2-xTB azobenzene frames as an extxyz file (training, validation and test frames)."""
    path = tmp_path_factory.mktemp("determinism") / "frames.xyz"
    azobenzene_frames.write(path)
    return path


@pytest.mark.parametrize("kind", MODELS + ("xtb",))
def test_two_fresh_processes_give_identical_numbers(kind, frames_file, tmp_path):
    first, second = _twice(kind, frames_file, tmp_path)
    assert first.size > 100 and np.isfinite(first).all()
    np.testing.assert_array_equal(first, second)


def test_reference_md_of_molten_salt_is_identical_in_two_processes(tmp_path):
    first, second = _twice("bmhtf", "", tmp_path)
    assert first.size > 1000
    np.testing.assert_array_equal(first, second)


def test_cpu_determinism_holds_only_inside_the_block_and_only_on_cpu():
    before = torch.are_deterministic_algorithms_enabled()
    with cpu_determinism("cpu"):
        assert torch.are_deterministic_algorithms_enabled()
    assert torch.are_deterministic_algorithms_enabled() == before
    with cpu_determinism("meta"):
        assert torch.are_deterministic_algorithms_enabled() == before


def test_training_and_prediction_run_in_deterministic_mode(azobenzene_frames):
    """The in-memory training loop and prediction both compute under :func:`cpu_determinism`; the forward hook
    records the mode at every call."""
    from paperlib.models.base import Targets
    from paperlib.models.schnet import SchNetConfig, SchNetPotential
    from paperlib.training import TrainConfig

    model = SchNetPotential(SchNetConfig(device="cpu", train=TrainConfig(max_epochs=1, batch_size=4,
                                                                         progress=False)))
    seen = []
    model.net.register_forward_hook(lambda *_: seen.append(torch.are_deterministic_algorithms_enabled()))
    model.fit(azobenzene_frames[:4], targets=Targets(1.0, 1.0))
    model.predict(list(azobenzene_frames[4:6]))
    assert len(seen) == 2 and all(seen)
