"""The pretrained foundation models (SevenNet-0, CHGNet), served from their own environment by a worker process."""

import numpy as np
import pytest
from ase import units
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary
from ase.md.verlet import VelocityVerlet

from paperlib.models import registry
from paperlib.models.foundation import MODELS, FoundationPotential, periodic
from paperlib.params import resolve


@pytest.fixture(scope="module")
def ec_box():
    """The transferability study's packed EC box at its smoke size (periodic, experimental density)."""
    from paperlib.studies import transferability as study

    return study.training_liquid(resolve("transferability", "smoke")).box(seed=0)


@pytest.fixture(scope="module", params=MODELS)
def model(request):
    pot = registry.make(request.param)
    yield pot
    pot.close()


def test_finite_forces_and_stress_on_an_ec_box(model, ec_box):
    atoms = ec_box.copy()
    atoms.calc = model.calculator()
    forces = atoms.get_forces()
    assert forces.shape == (len(atoms), 3) and np.isfinite(forces).all()
    assert np.isfinite(atoms.get_potential_energy()) and np.isfinite(atoms.get_stress()).all()
    # A packed box of whole molecules is near no minimum, but no force on it is an explosion (> 50 eV/A).
    assert np.abs(forces).max() < 50.0
    # Forces are the negative gradient of the energy (finite difference of one coordinate, 1e-3 A).
    pred = model.predict([atoms])
    i = int(np.argmax(np.linalg.norm(forces, axis=1)))
    plus, minus = atoms.copy(), atoms.copy()
    plus.positions[i, 0] += 1e-3
    minus.positions[i, 0] -= 1e-3
    e = model.predict([plus, minus]).energies
    assert -(e[0] - e[1]) / 2e-3 == pytest.approx(pred.forces[i, 0], abs=0.05 + 0.02 * abs(pred.forces[i, 0]))


def test_a_short_nve_run_conserves_energy(model, ec_box):
    """10 velocity-Verlet steps of 0.5 fs at 300 K: the total energy drifts by less than 1 % of the kinetic
    energy (~ 3/2 N kT). A force inconsistent with the energy, or one from a wrong periodic image, would
    change it by far more."""
    atoms = ec_box.copy()
    atoms.calc = model.calculator()
    MaxwellBoltzmannDistribution(atoms, temperature_K=300, rng=np.random.default_rng(0))
    Stationary(atoms)
    totals = []
    dyn = VelocityVerlet(atoms, timestep=0.5 * units.fs)
    dyn.attach(lambda: totals.append(atoms.get_total_energy()), interval=1)
    dyn.run(10)
    kinetic = 1.5 * len(atoms) * units.kB * 300
    assert np.ptp(totals) < 0.01 * kinetic


def test_a_molecule_is_boxed_with_vacuum_beyond_the_cutoffs():
    from ase.build import molecule

    boxed = periodic(molecule("CH3CH2OH"))
    assert boxed.pbc.all() and (np.diag(boxed.cell.array) - np.ptp(boxed.positions, axis=0) >= 16.0 - 1e-9).all()
    with pytest.raises(NotImplementedError, match="pretrained"):
        FoundationPotential().fit(None)
