import numpy as np
import pytest

from paperlib import seeds


def test_streams_are_reproducible_and_distinct():
    assert seeds.stream_seed(7, "test_pool") == seeds.stream_seed(7, "test_pool")
    values = {seeds.stream_seed(s, name, *idx) for s in (0, 1, 100_000) for name in ("train", "test")
              for idx in ((), (0,), (1,))}
    assert len(values) == 18
    assert all(1 <= v < 2**31 for v in values)


def test_offsets_collide_where_streams_do_not():
    # The arithmetic offsets this replaces: seed 0's test stream was seed 100_000's training stream.
    assert 0 + 100_000 == 100_000
    assert seeds.stream_seed(0, "test") != seeds.stream_seed(100_000, "train")


def test_generators_on_different_streams_are_uncorrelated():
    a = seeds.rng(3, "a").standard_normal(20_000)
    b = seeds.rng(3, "b").standard_normal(20_000)
    # |r| of two independent samples of 20,000 exceeds 4/sqrt(n) with probability < 1e-4.
    assert abs(np.corrcoef(a, b)[0, 1]) < 4 / np.sqrt(20_000)
    np.testing.assert_array_equal(a, seeds.rng(3, "a").standard_normal(20_000))


@pytest.mark.parametrize("bad", [-1, 1.5, True, "3"])
def test_bad_seeds_are_named(bad):
    with pytest.raises(ValueError, match="seed: got"):
        seeds.stream_seed(bad, "x")
