"""The registry builds each backend from its own configuration and refuses settings a backend does not have."""

import numpy as np
import pytest
from ase import Atoms

from paperlib.data.dataset import Dataset
from paperlib.models import registry
from paperlib.models.base import Targets


def test_settings_reach_the_backends_config():
    gap = registry.make("gap", n_sparse=17, seed=3)
    assert (gap.config.n_sparse, gap.config.seed) == (17, 3)
    net = registry.make("schnet_medium", seed=2, max_epochs=7, device="cpu", learning_rate=1e-3)
    assert net.config.size == "medium" and (net.config.train.max_epochs, net.config.train.seed) == (7, 2)
    assert registry.make("sgdml", sigmas=(40,)).config.sigmas == (40,)


@pytest.mark.parametrize("name, setting", [("gap", "max_epochs"), ("schnet_small", "n_sparse"),
                                           ("sgdml", "device"), ("deepmd", "learning_rate")])
def test_a_setting_the_backend_lacks_is_named_with_the_allowed_ones(name, setting):
    with pytest.raises(ValueError, match=f"model '{name}': unknown setting '{setting}'; allowed: "):
        registry.make(name, **{setting: 1})


def test_unknown_model_and_mismatched_config():
    with pytest.raises(ValueError, match="unknown model 'painn'"):
        registry.make("painn")
    from paperlib.models.gap import GAPConfig

    with pytest.raises(ValueError, match="config must be a SGDMLConfig; got GAPConfig"):
        registry.make("sgdml", config=GAPConfig())
    assert registry.make("gap", config=GAPConfig(n_sparse=5)).config.n_sparse == 5


def test_local_models_pass_their_settings_to_every_member():
    local = registry.make("local_gap", n_sparse=9)
    assert local.make_member().config.n_sparse == 9
    with pytest.raises(ValueError, match="unknown setting 'max_epochs'"):
        registry.make("local_gap", max_epochs=3).make_member()


def _water(n=3):
    frames = []
    for i in range(n):
        a = Atoms("OH2", positions=[[0, 0, 0], [0.96 + 0.01 * i, 0, 0], [-0.24, 0.93, 0]])
        a.info["REF_energy"], a.arrays["REF_forces"] = -14.0 - i, np.zeros((3, 3))
        a.info["REF_hessian"] = np.zeros(81)
        frames.append(a)
    return Dataset(frames)


@pytest.mark.parametrize("name", ["gap", "fchl19", "sgdml", "bpnn", "mace", "deepmd"])
def test_a_backend_without_the_hessian_capability_refuses_hessian_targets(name):
    """The flag says what ``fit`` does: every backend that is not flagged refuses Hessian targets at once."""
    assert not registry.capabilities(name)["hessian_targets"]
    with pytest.raises(ValueError, match="[Hh]essian"):
        registry.make(name).fit(_water(), targets=Targets(1.0, 1.0, 1.0))


def test_capability_flags():
    assert registry.capabilities("schnet_small") == {"hessian_targets": True, "stress": False, "hessians": True}
    assert registry.capabilities("mace")["stress"] and registry.capabilities("deepmd")["stress"]
    assert registry.capabilities("gap")["stress"] and not registry.capabilities("fchl19")["stress"]
