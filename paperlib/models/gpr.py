"""Kernel models on the FCHL19 representation (qmllib): energy-only kernel ridge regression (KRR) and the
Gaussian process on energies + forces (GPR with derivative kernels), as in Christensen & von Lilienfeld 2020.

Both use a local Gaussian kernel summed over same-element atom pairs (:mod:`paperlib.models.local_kernels`),
so molecules of any size share one model. Energies are learned relative to a per-element baseline fitted
by least squares on the training energies. KRR forces are minus the gradient of its energy; GPR forces are
the posterior mean of the gradient, which is the same thing for its own weights, so both are conservative.
Hyperparameters are chosen by :func:`select_hyperparameters` on training data only, each model by the
error of what it is trained on or by one rule for both.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import scipy.linalg
import torch
from ase import Atoms

from paperlib import keys
from paperlib.data.dataset import Dataset
from paperlib.models.base import FitReport, PotentialCalculator, Predictions, Targets
from paperlib.models.local_kernels import Molecules, kernel


@dataclasses.dataclass(frozen=True)
class FCHLConfig:
    """Kernel width ``sigma`` (FCHL19 units), ``regularisation`` added to the kernel diagonal, the FCHL19
    element channels (nuclear charges; ``None``: those of the training data) and the torch device."""

    sigma: float = 4.0
    regularisation: float = 1e-8
    elements: tuple[int, ...] | None = None
    device: str = "cpu"

    def __post_init__(self):
        if not self.sigma > 0:
            raise ValueError(f"FCHLConfig.sigma: got {self.sigma}; allowed: > 0")
        if not self.regularisation > 0:
            raise ValueError(f"FCHLConfig.regularisation: got {self.regularisation}; allowed: > 0")


def representations(structures: Sequence[Atoms], elements: Sequence[int], gradients: bool) -> Molecules:
    """FCHL19 (qmllib defaults) of each structure, and its Jacobian [n, d, 3n] when ``gradients``."""
    from qmllib.representations import generate_fchl19

    xs, zs, js = [], [], []
    unknown = sorted({int(z) for a in structures for z in a.numbers} - set(elements))
    if unknown:
        raise ValueError(f"structures contain elements {unknown} outside the model's FCHL19 channels "
                         f"{sorted(elements)}")
    for a in structures:
        out = generate_fchl19(a.numbers, a.positions, elements=list(elements), gradients=gradients)
        x, jac = out if gradients else (out, None)
        xs.append(np.asarray(x))
        zs.append(a.numbers.copy())
        if gradients:
            js.append(np.asarray(jac).reshape(len(a), x.shape[1], 3 * len(a)))
    return Molecules(xs, zs, js if gradients else None)


def _counts(structures: Sequence[Atoms], elements: Sequence[int]) -> np.ndarray:
    return np.array([[np.sum(a.numbers == z) for z in elements] for a in structures], dtype=float)


def _solve(k: np.ndarray, y: np.ndarray, regularisation: float) -> np.ndarray:
    k = k.copy()
    k[np.diag_indices_from(k)] += regularisation
    try:
        return scipy.linalg.cho_solve(scipy.linalg.cho_factor(k, lower=True, overwrite_a=True), y)
    except np.linalg.LinAlgError:
        # Not numerically positive definite at this regularisation: least squares still gives the weights.
        return scipy.linalg.lstsq(k, y)[0]


class FCHLPotential:
    """KRR (``targets.forces == 0``) or energy+force GPR (``targets.forces > 0``) on FCHL19."""

    def __init__(self, config: FCHLConfig = FCHLConfig(), name: str = "fchl19"):
        # "auto" keeps the kernels on the CPU: they are assembled in float64, and only a named device moves them.
        self.config = dataclasses.replace(config, device="cpu") if config.device == "auto" else config
        self.name = name
        self.elements: tuple[int, ...] = ()
        self.with_forces = False
        self._state: dict[str, np.ndarray] = {}

    # -- training -------------------------------------------------------------------------------
    def fit(self, train: Dataset, valid: Dataset | None = None, *, targets: Targets = Targets()) -> FitReport:
        """Solve for the kernel weights on ``train`` (``valid`` is not used: the fit is closed-form)."""
        if targets.hessian > 0:
            raise ValueError("FCHLPotential: Hessian targets are not supported; use energy and/or forces")
        start = time.perf_counter()
        train.require(keys.REF_energy, *([keys.REF_forces] if targets.forces > 0 else []))
        self.with_forces = targets.forces > 0
        self.elements = tuple(self.config.elements or sorted({int(z) for a in train for z in a.numbers}))
        mols = representations(list(train), self.elements, gradients=self.with_forces)
        counts = _counts(train, self.elements)
        per_element = np.linalg.lstsq(counts, train.energies(), rcond=None)[0]
        y = train.energies() - counts @ per_element
        if self.with_forces:
            y = np.concatenate([y, -train.forces().ravel()])
        k = kernel(mols, None, self.config.sigma, self.with_forces, self.with_forces, device=self.config.device)
        alpha = _solve(k, y, self.config.regularisation)
        self._store(mols, alpha, per_element)
        return FitReport(wall_time_s=time.perf_counter() - start, epochs=1,
                         notes=f"kernel {k.shape[0]} x {k.shape[1]}")

    def _store(self, mols: Molecules, alpha: np.ndarray, per_element: np.ndarray) -> None:
        n = mols.n_atoms
        beta = np.zeros((n.sum(), mols.x[0].shape[1]))
        if self.with_forces:
            grad_alpha = alpha[len(mols):]
            rows = mols.gradient_rows()
            beta = np.concatenate([mols.jac[m] @ grad_alpha[rows[m]] for m in range(len(mols))])
        self._state = {"x": np.concatenate(mols.x), "z": np.concatenate(mols.z),
                       "alpha": np.repeat(alpha[:len(mols)], n), "beta": beta, "per_element": per_element}

    # -- prediction ------------------------------------------------------------------------------
    def predict(self, structures: Sequence[Atoms], chunk_atoms: int = 2000) -> Predictions:
        """Energies (eV) and forces (eV/A): the posterior means, evaluated atom pair by atom pair."""
        if not self._state:
            raise RuntimeError(f"model {self.name!r} is not fitted")
        structures = list(structures)
        mols = representations(structures, self.elements, gradients=True)
        dev = torch.device(self.config.device)
        t = {k: torch.as_tensor(v, device=dev) for k, v in self._state.items()}
        s2 = self.config.sigma**2
        xb_beta = (t["x"] * t["beta"]).sum(1)
        energies, grads = [], []
        for x, z in zip(mols.x, mols.z):
            xa = torch.as_tensor(x, device=dev)
            d2 = (xa * xa).sum(1)[:, None] + (t["x"] * t["x"]).sum(1)[None, :] - 2 * xa @ t["x"].T
            k = torch.exp(-d2.clamp_min(0) / (2 * s2)) * (torch.as_tensor(z, device=dev)[:, None] == t["z"][None, :])
            c = t["alpha"][None, :] + (xa @ t["beta"].T - xb_beta[None, :]) / s2
            kc = k * c
            energies.append(float(kc.sum()))
            g = (k @ t["beta"] - kc.sum(1)[:, None] * xa + kc @ t["x"]) / s2    # dE/dx_I, [n, d]
            grads.append(g.cpu().numpy())
        base = _counts(structures, self.elements) @ self._state["per_element"]
        forces = [-np.einsum("idp,id->p", jac, g).reshape(-1, 3) for jac, g in zip(mols.jac, grads)]
        return Predictions(np.array(energies) + base, np.concatenate(forces))

    def calculator(self) -> PotentialCalculator:
        """ASE calculator evaluating this model."""
        return PotentialCalculator(self)

    # -- persistence -----------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write weights and settings into the directory ``path``."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        np.savez(path / "weights.npz", **self._state)
        meta = {"name": self.name, "config": dataclasses.asdict(self.config), "elements": list(self.elements),
                "with_forces": self.with_forces}
        (path / "model.json").write_text(json.dumps(meta))

    @classmethod
    def load(cls, path: str | Path) -> FCHLPotential:
        """A model saved with :meth:`save`."""
        path = Path(path)
        meta = json.loads((path / "model.json").read_text())
        cfg = dict(meta["config"])
        cfg["elements"] = tuple(cfg["elements"]) if cfg["elements"] else None
        model = cls(FCHLConfig(**cfg), name=meta["name"])
        model.elements, model.with_forces = tuple(meta["elements"]), meta["with_forces"]
        with np.load(path / "weights.npz") as w:
            model._state = {k: w[k] for k in w.files}
        return model


SCORES = ("energy", "energy+forces")
"""Cross-validation scores: MAE_E / std(E), or MAE_E / std(E) + MAE_F / std(F), over the held-out folds."""


def select_hyperparameters(train: Dataset, *, with_forces: bool, sigmas: Sequence[float],
                           regularisations: Sequence[float], folds: int = 3, groups: np.ndarray | None = None,
                           seed: int = 0, device: str = "cpu", score: str = "energy+forces"
                           ) -> tuple[float, float, list[dict]]:
    """Grid search of (sigma, regularisation) by k-fold cross-validation on ``train`` only.

    Every setting is scored both ways of :data:`SCORES` (energies after the per-element baseline; the
    forces of an energy-only model are minus the gradient of its energy); the best by ``score`` is chosen.
    With ``groups`` (e.g. molecule names) folds never split a group. Returns the best sigma, regularisation
    and every setting's errors and scores (:func:`best_setting` chooses by the other score from the same table).
    """
    if score not in SCORES:
        raise ValueError(f"select_hyperparameters: score {score!r}; allowed: {', '.join(SCORES)}")
    elements = sorted({int(z) for a in train for z in a.numbers})
    mols = representations(list(train), elements, gradients=True)
    fold_of = _folds(len(train), folds, groups, seed)
    e, f = train.energies(), train.forces().ravel()
    counts = _counts(train, elements)
    rows = mols.gradient_rows()
    resid = e - counts @ np.linalg.lstsq(counts, e, rcond=None)[0]
    table = []
    for sigma in sigmas:
        # An energy-only model needs only the energy columns (its force errors read the gradient rows).
        k = kernel(mols, None if with_forces else mols, sigma, True, with_forces, device=device)
        for lam in regularisations:
            err_e, err_f = [], []
            for fold in range(folds):
                tr, va = np.flatnonzero(fold_of != fold), np.flatnonzero(fold_of == fold)
                base = np.linalg.lstsq(counts[tr], e[tr], rcond=None)[0]
                gtr = np.concatenate([len(train) + rows[i] for i in tr])
                gva = np.concatenate([len(train) + rows[i] for i in va])
                cols = np.concatenate([tr, gtr]) if with_forces else tr
                y = e[tr] - counts[tr] @ base
                if with_forces:
                    y = np.concatenate([y, -f[gtr - len(train)]])
                alpha = _solve(k[np.ix_(cols, cols)], y, lam)
                err_e.append(k[np.ix_(va, cols)] @ alpha + counts[va] @ base - e[va])
                err_f.append(-(k[np.ix_(gva, cols)] @ alpha) - f[gva - len(train)])
            mae_e, mae_f = np.abs(np.concatenate(err_e)).mean(), np.abs(np.concatenate(err_f)).mean()
            energy = mae_e / max(resid.std(), 1e-12)
            table.append({"sigma": sigma, "regularisation": lam, "mae_energy_eV": float(mae_e),
                          "mae_forces_eV_A": float(mae_f), "score_energy": float(energy),
                          "score_energy+forces": float(energy + mae_f / max(f.std(), 1e-12))})
    best = best_setting(table, score)
    return best["sigma"], best["regularisation"], table


def best_setting(table: Sequence[dict], score: str) -> dict:
    """The row of a :func:`select_hyperparameters` table with the lowest ``score`` (one of :data:`SCORES`)."""
    if score not in SCORES:
        raise ValueError(f"best_setting: score {score!r}; allowed: {', '.join(SCORES)}")
    return min(table, key=lambda r: r[f"score_{score}"])


def _folds(n: int, folds: int, groups: np.ndarray | None, seed: int) -> np.ndarray:
    if folds < 2:
        raise ValueError(f"folds: got {folds}; allowed: at least 2")
    rng = np.random.default_rng(seed)
    if groups is None:
        return rng.permutation(np.arange(n) % folds)
    names = rng.permutation(np.unique(groups))
    if len(names) < folds:
        raise ValueError(f"folds: got {folds}; allowed: at most the {len(names)} groups")
    fold_of_group = dict(zip(names.tolist(), itertools.cycle(range(folds))))
    return np.array([fold_of_group[g] for g in np.asarray(groups).tolist()])
