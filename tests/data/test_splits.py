import numpy as np
import pytest

from paperlib.data.splits import group_split, random_split


@pytest.mark.parametrize("seed", range(5))
def test_group_split_never_puts_a_molecule_on_both_sides(seed):
    rng = np.random.default_rng(seed)
    groups = rng.choice([f"mol{i}" for i in range(30)], size=200)
    train, test = group_split(groups, 0.2, seed)
    assert not set(groups[train]) & set(groups[test])
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(200))
    assert len(set(groups[test])) == round(0.2 * len(set(groups)))


def test_group_split_rejects_impossible_requests():
    with pytest.raises(ValueError, match="at least 2 groups"):
        group_split(np.array(["a", "a"]), 0.5, 0)
    with pytest.raises(ValueError, match="test_fraction"):
        group_split(np.array(["a", "b"]), 1.0, 0)


def test_random_split_is_disjoint_and_complete():
    rest, test = random_split(50, 10, 1)
    assert len(test) == 10 and not set(rest) & set(test) and len(rest) + len(test) == 50
    with pytest.raises(ValueError, match="n_test"):
        random_split(5, 5, 0)
