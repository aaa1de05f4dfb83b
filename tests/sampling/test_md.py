import numpy as np
import pytest
from ase.calculators.calculator import Calculator, all_changes
from ase.neighborlist import neighbor_list

from paperlib import keys
from paperlib.reference.bmhtf import BMHTFCalculator
from paperlib.sampling.md import ase_md, check_sane, density_g_cm3, random_salt_box


def test_random_salt_box_density_and_spacing():
    box = random_salt_box(40, 1.5, seed=1, min_distance_A=2.2)
    assert density_g_cm3(box) == pytest.approx(1.5, rel=1e-9)
    assert box.get_chemical_symbols().count("Na") == 20
    assert len(neighbor_list("d", box, 2.2)) == 0
    with pytest.raises(ValueError, match="even"):
        random_salt_box(41, 1.5, seed=1)


def test_reference_md_frames_are_labelled_and_tagged(nacl_frames):
    assert len(nacl_frames) == 12
    assert {f.info[keys.TEMPERATURE] for f in nacl_frames} == {1400.0}
    steps = [np.abs(a.positions - b.positions).max() for a, b in zip(nacl_frames[:-1], nacl_frames[1:])]
    assert min(steps) > 0  # frames move


class Collapse(Calculator):
    """Pulls every atom towards atom 0: a caricature of a broken potential."""

    implemented_properties = ["energy", "forces"]

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        d = self.atoms.positions - self.atoms.positions[0]
        self.results = {"energy": float(5 * np.sum(d**2)), "forces": -10 * d}


def test_ase_md_reports_blow_up_instead_of_raising():
    box = random_salt_box(16, 1.5, seed=2)
    res = ase_md(box, Collapse(), temperature_K=300, timestep_fs=2.0, steps=400, sample_every=10, seed=0,
                 progress=False)
    assert not res.stable
    assert "A apart" in res.failure or "force" in res.failure
    assert res.time_to_failure_fs == pytest.approx(res.steps_done * 2.0)
    assert res.steps_done < 400


def test_ase_md_with_reference_is_stable(nacl_frames):
    res = ase_md(nacl_frames[-1], BMHTFCalculator(), temperature_K=1400, timestep_fs=2.0, steps=40, sample_every=10,
                 seed=0, progress=False)
    assert res.stable and len(res.frames) == 4
    assert check_sane(_with_calc(res.frames[-1]), 1.0, 50.0) is None


def _with_calc(atoms):
    atoms = atoms.copy()
    atoms.calc = BMHTFCalculator()
    return atoms


def test_ase_md_npt_follows_the_pressure_and_stops_on_the_check():
    from ase.build import bulk
    from ase.calculators.lj import LennardJones

    # An argon-like LJ crystal: at 20 kbar it ends denser than at zero pressure; without a barostat the cell stays.
    box = bulk("Ar", "fcc", a=5.26, cubic=True).repeat(2)
    lj = dict(sigma=3.4, epsilon=0.0104, rc=8.0, smooth=True)
    run = dict(temperature_K=50, timestep_fs=5.0, steps=600, sample_every=100, seed=0, progress=False,
               min_distance_A=2.0)
    squeezed = ase_md(box, LennardJones(**lj), pressure_bar=20000.0, **run)
    free = ase_md(box, LennardJones(**lj), pressure_bar=0.0, **run)
    fixed = ase_md(box, LennardJones(**lj), **run)
    assert squeezed.stable and free.stable and fixed.stable
    assert squeezed.frames[-1].get_volume() < 0.9 * free.frames[-1].get_volume()
    assert fixed.frames[-1].get_volume() == pytest.approx(box.get_volume(), rel=1e-12)

    samples = []

    def second_sample(atoms):
        samples.append(atoms.get_volume())
        return "second sample" if len(samples) == 2 else None

    stopped = ase_md(box, LennardJones(**lj), check=second_sample, **run)
    assert stopped.failure == "second sample" and stopped.steps_done == 200 and len(stopped.frames) == 1
    assert stopped.time_to_failure_fs == pytest.approx(1000.0)
    molecule = box.copy()
    molecule.pbc = False
    with pytest.raises(ValueError, match="periodic"):
        ase_md(molecule, LennardJones(**lj), pressure_bar=1.0, **run)


def test_a_restrained_langevin_run_keeps_the_restraint_out_of_its_labels():
    """The restraint moves the atoms; every stored label is the bare calculator's at the frame's positions."""
    from ase.calculators.emt import EMT

    from paperlib.sampling.azobenzene import Restrained
    from paperlib.sampling.md import langevin_md

    from .test_azobenzene import azomethane

    start = azomethane(90.0, 125.0, 125.0)
    moving = Restrained(EMT(), (0, 1, 2, 3), dihedral_deg=60.0, angle_deg=None, k_eV_rad2=50.0)
    frames = langevin_md(start, moving, labeller=EMT(), temperature_K=300.0, timestep_fs=0.5, friction_per_fs=0.02,
                         equil_steps=10, n_frames=3, stride=5, seed=1, progress=False)
    for frame in frames:
        bare, held = frame.copy(), frame.copy()
        bare.calc, held.calc = EMT(), Restrained(EMT(), (0, 1, 2, 3), dihedral_deg=60.0, angle_deg=None)
        np.testing.assert_allclose(frame.arrays[keys.REF_forces], bare.get_forces(), atol=1e-10)
        assert frame.info[keys.REF_energy] == pytest.approx(bare.get_potential_energy(), abs=1e-10)
        # 30 degrees off its target, the restraint's own force is far above the tolerance
        assert np.abs(held.get_forces() - bare.get_forces()).max() > 1e-3
