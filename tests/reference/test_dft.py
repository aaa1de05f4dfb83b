import numpy as np
import pytest
from ase import Atoms

from paperlib.reference.dft import DFTSettings, dft_energy


def test_parse_names_what_is_wrong_before_any_compute():
    assert DFTSettings.parse(" PBE / def2-SVP ") == DFTSettings("PBE", "def2-SVP")
    with pytest.raises(ValueError, match="'functional/basis'"):
        DFTSettings.parse("PBE")
    with pytest.raises(ValueError, match="functional 'NOPE' is unknown"):
        DFTSettings.parse("NOPE/def2-SVP")
    with pytest.raises(ValueError, match="basis 'no-such-basis' is unknown"):
        DFTSettings.parse("PBE/no-such-basis")


def test_h2_has_its_minimum_near_the_known_pbe_bond_length():
    """PBE puts the H2 bond at about 0.75 A; with a small basis the minimum stays within a few hundredths, so
    the energy at 0.75 A lies below both 0.65 and 0.85 A (a wrong unit or geometry would break this)."""
    settings = DFTSettings("PBE", "cc-pvdz")
    e = {r: dft_energy(Atoms("H2", positions=[[0, 0, 0], [0, 0, r]]), settings) for r in (0.65, 0.75, 0.85)}
    assert e[0.75] < e[0.65] and e[0.75] < e[0.85]
    # the total energy of H2 is about -1.17 hartree = -31.8 eV
    assert e[0.75] == pytest.approx(-31.8, abs=0.5)
    assert np.isfinite(list(e.values())).all()
