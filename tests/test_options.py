import pytest

from paperlib import options as O
from paperlib.executors import IN_PROCESS
from paperlib.schema import ParameterError


def test_auto_executor_uses_every_core(monkeypatch):
    monkeypatch.setattr(O.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    assert O.RunOptions().executor_spec == "local:4"
    monkeypatch.setattr(O.os, "sched_getaffinity", lambda pid: {0})
    assert O.RunOptions().executor_spec == IN_PROCESS
    assert O.RunOptions(executor="local:3").executor_spec == "local:3"


def test_options_never_enter_a_study_result():
    from paperlib.params import SCHEMAS

    assert not any(set(O.RunOptions.NAMES) & set(s.names) for s in SCHEMAS.values())


def test_cpu_options_validate_and_cuda_is_checked_against_the_machine(monkeypatch):
    assert O.RunOptions.from_mapping({"device": "cpu", "executor": "in-process"}).device == "cpu"
    monkeypatch.setattr(O, "_cuda_count", lambda: 2)
    assert O.RunOptions(device="cuda:1", devices=2).validated().devices == 2
    with pytest.raises(ParameterError, match="option 'devices': got 3; allowed: at most the 2 CUDA device"):
        O.RunOptions(device="cuda", devices=3).validated()
    monkeypatch.setattr(O, "_cuda_count", lambda: 0)
    with pytest.raises(ParameterError, match="option 'device': got 'cuda'.*torch sees 0 CUDA"):
        O.RunOptions(device="cuda").validated()
    with pytest.raises(ParameterError, match="option 'devices': got 2; allowed: 1 with device 'cpu'"):
        O.RunOptions(device="cpu", devices=2).validated()
    # the notebook's own process loads the trained models on the device, so a cluster does not lift the check
    monkeypatch.setattr(O, "scheduler_unreachable", lambda spec: None)
    with pytest.raises(ParameterError, match="option 'device': got 'cuda'"):
        O.RunOptions(device="cuda", executor="tcp://node0:8786").validated()
    # the option at fault is named: a GPU index beyond those present is the device's, not the count's
    monkeypatch.setattr(O, "_cuda_count", lambda: 2)
    with pytest.raises(ParameterError, match="option 'device': got 'cuda:3'"):
        O.RunOptions(device="cuda:3", devices=2).validated()


@pytest.mark.parametrize("bad, match", [({"progress": "yes"}, "option 'progress'"),
                                        ({"devices": True}, "option 'devices'"),
                                        ({"executor": "everywhere"}, "option 'executor': got 'everywhere'")])
def test_bad_options_are_named(bad, match):
    with pytest.raises(ParameterError, match=match):
        O.RunOptions.from_mapping(bad)
