"""The batched MD engine: the same forces as the model, the same trajectories as a list rebuilt every step,
energy conservation, the canonical temperature, and failures that stop one replica alone."""

import numpy as np
import pytest
import torch
from ase import Atoms, units

from paperlib.models.schnet import SchNetConfig, SchNetPotential
from paperlib.sampling.engine import Graph, initial_velocities, run_replicas
from paperlib.sampling.md import random_salt_box
from paperlib.training import TrainConfig


class SoftSpheres:
    """phi(r) = eps (1 - r / rc)^2 for r < rc: a momentum-conserving pair fluid whose force vanishes at rc."""

    def __init__(self, eps_eV: float = 1.0, rc_A: float = 3.0):
        self.eps, self.cutoff_A, self.device = eps_eV, rc_A, torch.device("cpu")

    def __call__(self, g: Graph) -> tuple[torch.Tensor, torch.Tensor]:
        x = g.positions.detach().clone().requires_grad_(True)
        r = (x[g.idx_j] - x[g.idx_i] + g.offsets).norm(dim=1)
        phi = torch.where(r < self.cutoff_A, self.eps * (1 - r / self.cutoff_A) ** 2, torch.zeros_like(r))
        # every pair appears as (i, j) and (j, i): half of each to its replica
        e = torch.zeros(len(g.n_atoms), dtype=x.dtype).index_add(0, g.replica[g.idx_i], 0.5 * phi)
        (grad,) = torch.autograd.grad(e.sum(), x)
        return e.detach(), -grad


def _fluid(seed: int, n: int = 32) -> Atoms:
    box = random_salt_box(n, 1.2, seed=seed, min_distance_A=2.0)
    return Atoms("Ar" * n, positions=box.positions, cell=box.cell, pbc=True)


@pytest.fixture(scope="module")
def trained_schnet(nacl_frames) -> SchNetPotential:
    """SchNet small (float64) trained for 40 epochs on the 16-ion BMHTF frames."""
    model = SchNetPotential(SchNetConfig(device="cpu", dtype="float64",
                                         train=TrainConfig(max_epochs=40, batch_size=4, learning_rate=1e-3,
                                                           progress=False, seed=0)))
    model.fit(nacl_frames)
    return model


def test_engine_forces_equal_the_models_predictions(trained_schnet, nacl_frames):
    frames = list(nacl_frames[:3])
    seen = []

    class Spy:
        cutoff_A, device = trained_schnet.config.cutoff_A, trained_schnet.device

        def __call__(self, g):
            e, f = trained_schnet.force_field()(g)
            seen.append((g.positions.clone(), e, f))
            return e, f

    run_replicas(Spy(), frames, temperature_K=1400.0, timestep_fs=1.0, steps=1, sample_every=1, seeds=[0, 1, 2],
                 progress=False)
    x, e, f = seen[0]
    moved = [a.copy() for a in frames]
    for k, a in enumerate(moved):
        a.positions = x[16 * k:16 * (k + 1)].numpy()
    pred = trained_schnet.predict(moved)
    # float64 throughout: only the order of the sums differs (extra skin pairs contribute exactly zero)
    np.testing.assert_allclose(e.numpy(), pred.energies, rtol=0, atol=1e-9)
    np.testing.assert_allclose(f.numpy(), pred.forces, rtol=0, atol=1e-9)


def test_a_verlet_list_gives_the_trajectory_of_a_list_rebuilt_every_step():
    starts = [_fluid(1), _fluid(2)]
    run = dict(temperature_K=300.0, timestep_fs=2.0, steps=150, sample_every=50, seeds=[3, 4], progress=False)
    lasting = run_replicas(SoftSpheres(), starts, skin_A=1.0, **run)
    every_step = run_replicas(SoftSpheres(), starts, skin_A=1e-9, **run)
    for a, b in zip(lasting, every_step):
        assert a.stable and len(a.frames) == 3
        for fa, fb in zip(a.frames, b.frames):
            d = fa.positions - fb.positions
            d -= np.round(d @ np.linalg.inv(fa.cell.array)) @ fa.cell.array    # both are wrapped, maybe differently
            assert np.abs(d).max() < 1e-9


def test_nhc_samples_the_canonical_temperature():
    """Equipartition: <2 KE> = (3N - 3) kT with the total momentum zero. Eight 32-atom replicas, 2 ps each after
    0.5 ps; the tolerance is four standard errors of the mean over replicas (from the replicas' own spread)."""
    kinetic = []
    results = run_replicas(SoftSpheres(), [_fluid(s) for s in range(8)], temperature_K=500.0, timestep_fs=2.0,
                           steps=1250, sample_every=250, seeds=list(range(8)), progress=False,
                           record=lambda step, h, k: kinetic.append(k.numpy().copy()))
    assert all(r.stable for r in results)
    per_replica = 2 * np.array(kinetic)[250:].mean(0) / ((3 * 32 - 3) * units.kB)
    sem = per_replica.std(ddof=1) / np.sqrt(len(per_replica))
    assert abs(per_replica.mean() - 500.0) < 4 * sem


def test_ase_md_and_the_engine_sample_the_same_temperature():
    """ASE's chain counts 3N degrees of freedom; ase_md corrects its target so that both drivers sample T with
    3N - 3. Four atoms make the uncorrected difference 3N / (3N - 3) - 1 = 33 %; the tolerance is four standard
    errors of the difference of two means of eight independent runs, and must be below that difference."""
    from ase.calculators.calculator import Calculator, all_changes

    from paperlib.sampling.md import ase_md

    class Calc(Calculator):
        implemented_properties = ["energy", "forces"]

        def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
            super().calculate(atoms, properties, system_changes)
            from paperlib.neighbours import pairs_within

            i, j, off, _ = pairs_within(self.atoms, 3.0)
            g = Graph(torch.tensor(self.atoms.numbers), torch.tensor(self.atoms.positions),
                      torch.tensor(self.atoms.cell.array[None]), torch.tensor(self.atoms.pbc[None]),
                      torch.tensor([len(self.atoms)]), torch.zeros(len(self.atoms), dtype=torch.long),
                      torch.tensor(i), torch.tensor(j), torch.tensor(off))
            e, f = SoftSpheres()(g)
            self.results = {"energy": float(e[0]), "forces": f.numpy()}

    def temperature(frames):
        return np.mean([a.get_kinetic_energy() * 2 / ((3 * len(a) - 3) * units.kB) for a in frames])

    starts = [_fluid(s, n=4) for s in range(8)]
    run = dict(temperature_K=500.0, timestep_fs=2.0, steps=1000, sample_every=10, progress=False)
    ase_t = [temperature(ase_md(a, Calc(), seed=s, on_sample=None, **run).frames[20:]) for s, a in enumerate(starts)]
    kinetic = []
    run_replicas(SoftSpheres(), starts, seeds=list(range(8)), record=lambda step, h, k: kinetic.append(k.numpy()),
                 **run)
    engine_t = 2 * np.array(kinetic)[200:].mean(0) / ((3 * 4 - 3) * units.kB)
    se = np.sqrt(np.var(ase_t, ddof=1) / 8 + np.var(engine_t, ddof=1) / 8)
    assert abs(np.mean(ase_t) - np.mean(engine_t)) < 4 * se < (12 / 9 - 1) * 500.0


def test_nve_energy_drift_of_a_trained_schnet_stays_within_a_millielectronvolt_per_atom_per_ps(trained_schnet,
                                                                                               nacl_frames):
    """1 meV/atom/ps is the usual acceptance bound for the energy drift of production NVE MD."""
    conserved = []
    run_replicas(trained_schnet.force_field(), [nacl_frames[0], nacl_frames[5]], temperature_K=1400.0,
                 timestep_fs=1.0, steps=1000, sample_every=100, seeds=[0, 1], thermostat=False, progress=False,
                 record=lambda step, h, t: conserved.append(h.numpy().copy()))
    h = np.array(conserved)                     # [steps, replicas], eV
    t_ps = np.arange(1, len(h) + 1) * 1e-3
    for r in range(h.shape[1]):
        slope = np.polyfit(t_ps, h[:, r], 1)[0] / 16
        assert abs(slope) < 1e-3


def test_nvt_conserved_quantity_stays_constant():
    conserved = []
    run_replicas(SoftSpheres(), [_fluid(5)], temperature_K=500.0, timestep_fs=1.0, steps=2000, sample_every=500,
                 seeds=[5], progress=False, record=lambda step, h, t: conserved.append(float(h[0])))
    h = np.array(conserved)
    # Verlet's O(dt^2) wobble and no drift: a thermostat whose energy were booked wrongly would move the
    # conserved quantity by the heat it exchanges, many kT over 2 ps; 1 % of kT leaves no room for that.
    assert np.ptp(h) < 0.01 * units.kB * 500.0


def test_a_collapsing_replica_is_stopped_alone():
    """Replicas of different sizes; the middle one starts with two atoms 0.3 A apart. It fails at the first
    sampling point, with no frame kept; the others run every step, exactly as they run without it."""
    good, other = _fluid(1), _fluid(3, n=24)
    bad = _fluid(2)
    bad.positions[1] = bad.positions[0] + [0.3, 0.0, 0.0]
    bad[1].symbol = "Kr"
    energies = []
    run = dict(temperature_K=300.0, timestep_fs=2.0, steps=40, sample_every=10, min_distance_A=0.5, progress=False)
    res = run_replicas(SoftSpheres(), [good, bad, other], seeds=[0, 1, 2],
                       record=lambda step, h, k: energies.append(len(h)), **run)
    assert res[0].stable and res[2].stable and len(res[0].frames) == len(res[2].frames) == 4
    # The failure names the elements of the closest pair (a collapse of like or unlike atoms tells different
    # stories about a potential).
    assert not res[1].stable and res[1].failure.startswith("Ar-Kr ") and "apart" in res[1].failure
    assert res[1].frames == []
    assert res[1].steps_done == 10 and res[1].time_to_failure_fs == pytest.approx(20.0)
    assert energies[:10] == [3] * 10 and energies[10:] == [2] * 30
    alone = run_replicas(SoftSpheres(), [good, other], seeds=[0, 2], **run)
    for with_bad, without in zip((res[0], res[2]), alone):
        np.testing.assert_allclose(with_bad.frames[-1].positions, without.frames[-1].positions, rtol=0, atol=1e-10)


def test_initial_velocities_are_those_of_ase_md():
    box = _fluid(1)
    v = initial_velocities(box, 300.0, seed=7)
    assert np.allclose((box.get_masses()[:, None] * v).sum(0), 0.0, atol=1e-12)
    assert np.allclose(v, initial_velocities(box, 300.0, seed=7)) and not np.allclose(v, initial_velocities(box, 300.0, 8))


@pytest.mark.parametrize("bad, name", [({"skin_A": 0.0}, "skin_A"), ({"timestep_fs": -1.0}, "timestep_fs"),
                                       ({"sample_every": 0}, "sample_every"), ({"seeds": [0, 1]}, "seeds")])
def test_bad_settings_are_refused_before_any_step(bad, name):
    run = dict(temperature_K=300.0, timestep_fs=1.0, steps=5, sample_every=1, seeds=[0], progress=False)
    with pytest.raises(ValueError, match=name):
        run_replicas(SoftSpheres(), [_fluid(1)], **{**run, **bad})
