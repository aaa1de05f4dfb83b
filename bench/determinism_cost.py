"""What bitwise reproducibility costs: SchNet (float32) training throughput on CPU with torch's deterministic mode
(:func:`paperlib.determinism.cpu_determinism`, the default) and without it, alternated in one run on the same data.
Prints both rates (structures/s, median of REPEATS fits) and their ratio."""

import contextlib
import statistics

import paperlib.training
from training_throughput import data, paperlib_rate

REPEATS = 5


def main() -> None:
    """Alternate fits with and without deterministic mode and print the median rates."""
    ds = data()
    deterministic = paperlib.training.cpu_determinism
    rates = {"deterministic": [], "free": []}
    for _ in range(REPEATS):
        for kind in rates:
            paperlib.training.cpu_determinism = deterministic if kind == "deterministic" else (
                lambda device: contextlib.nullcontext())
            rates[kind].append(paperlib_rate(ds))
    paperlib.training.cpu_determinism = deterministic
    med = {k: statistics.median(v) for k, v in rates.items()}
    print(f"SchNet training, deterministic mode: {med['deterministic']:.1f} structures/s; without: "
          f"{med['free']:.1f} structures/s; ratio {med['deterministic'] / med['free']:.2f}")


if __name__ == "__main__":
    main()
