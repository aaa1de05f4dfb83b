import numpy as np
import pytest

from paperlib.analysis.vibrations import frequency_mae, stick_table


def test_frequencies_are_matched_from_the_highest_down():
    ref = np.array([3300.0, 2100.0, 700.0, 700.0])
    assert frequency_mae(ref, ref[::-1]) == 0.0
    assert frequency_mae(ref, ref + 10.0) == pytest.approx(10.0)
    # a bent model of a linear molecule has one mode fewer: the lowest reference mode is left out
    assert frequency_mae(ref, np.array([3290.0, 2110.0, 690.0])) == pytest.approx(10.0)
    assert frequency_mae(np.array([-1500.0, 900.0]), np.array([-1400.0, 900.0])) == pytest.approx(50.0)
    with pytest.raises(ValueError, match="no wavenumbers"):
        frequency_mae(ref, np.array([]))


def test_stick_table_is_long_form():
    t = stick_table({"a": {"reference": [1.0, 2.0], "m": [3.0]}, "b": {"reference": [4.0]}})
    assert list(t.columns) == ["system", "source", "wavenumber_cm"]
    assert len(t) == 4 and t[t.system == "a"].wavenumber_cm.tolist() == [1.0, 2.0, 3.0]
