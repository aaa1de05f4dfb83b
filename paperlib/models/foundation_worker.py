"""Worker process for the pretrained foundation models (run by the foundation environment's Python, not imported).

SevenNet and CHGNet need e3nn and PyTorch versions that MACE's pins exclude, so they live in their own virtual
environment (``.venv-foundation``, ``requirements-foundation.txt``). This script imports only ASE, NumPy and the
model's package. It reads one JSON request per line on stdin and answers each on the original stdout:
``{"numbers", "positions" (A), "cell" (A), "pbc"}`` -> ``{"energy" (eV), "forces" (eV/A), "stress" (eV/A^3,
Voigt, periodic cells)}``. Its first answer line reports the package version. Everything the libraries print
goes to stderr, so the protocol stays clean.
"""

import json
import os
import sys


def _calculator(model: str):
    if model == "sevennet":
        import sevenn
        from sevenn.calculator import SevenNetCalculator

        return SevenNetCalculator("7net-0", device="cpu"), f"sevenn {sevenn.__version__} (SevenNet-0)"
    if model == "chgnet":
        import chgnet
        from chgnet.model.dynamics import CHGNetCalculator

        return CHGNetCalculator(use_device="cpu"), f"chgnet {chgnet.__version__}"
    raise SystemExit(f"unknown foundation model {model!r}; allowed: sevennet, chgnet")


def main() -> None:
    """Serve energies, forces and stresses of the model named in ``argv[1]`` until stdin closes."""
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)   # library output (banners, warnings) to stderr
    sys.stdout = sys.stderr
    import numpy as np
    from ase import Atoms

    calc, version = _calculator(sys.argv[1])
    protocol.write(json.dumps({"ready": version}) + "\n")
    for line in sys.stdin:
        req = json.loads(line)
        atoms = Atoms(numbers=req["numbers"], positions=req["positions"], cell=req["cell"], pbc=req["pbc"])
        atoms.calc = calc
        out = {"energy": float(atoms.get_potential_energy()), "forces": np.asarray(atoms.get_forces()).tolist()}
        if all(req["pbc"]):
            out["stress"] = np.asarray(atoms.get_stress()).tolist()
        protocol.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
