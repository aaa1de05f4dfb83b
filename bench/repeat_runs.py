"""Repeat a study N times in fresh kernels and count how many runs give figures and verdicts identical, bit for
bit, to the first: the determinism check of whole studies (the tests check every step, once).

    python bench/repeat_runs.py flexible_pes --runs 10 [--profile smoke] [--keep _reference_paths]

Each run starts from an empty cache, except the step directories named by ``--keep``, which are copied from the
first run's cache (to repeat only the steps after an expensive reference calculation).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from paperlib.runner import run_study


def _run(study: str, profile: str, root: Path, k: int) -> dict:
    os.environ["PAPERLIB_CACHE"] = str(root / f"cache{k}")
    out = root / f"run{k}"
    run_study(study, profile, output=out / "nb.ipynb", results_dir=out / "results", progress=False)
    res = json.loads((out / "results" / "results.json").read_text())
    return {"figures": res["figures"], "claims": [c for c in res["claims"] if not c["timed"]]}


def main() -> None:
    """Run the study ``--runs`` times and print, per run, its wall time and whether it matched the first."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("study")
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--profile", default="smoke")
    ap.add_argument("--keep", nargs="*", default=[], help="cache step directories reused from the first run")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="repeat-runs-") as tmp:
        root = Path(tmp)
        first, identical = None, 0
        for k in range(args.runs):
            if k and args.keep:
                for step in args.keep:
                    shutil.copytree(root / "cache0" / step, root / f"cache{k}" / step)
            t = time.perf_counter()
            res = _run(args.study, args.profile, root, k)
            first = first or res
            same = res == first
            identical += same
            diff = sorted(key for key in first["figures"] if res["figures"].get(key) != first["figures"][key])
            print(f"{args.study} run {k + 1}: {time.perf_counter() - t:.0f} s, "
                  f"{'identical' if same else f'differs in {len(diff)} figures, e.g. {diff[:3]}'}", flush=True)
            if k:
                shutil.rmtree(root / f"cache{k}")
        print(f"{args.study}: {identical}/{args.runs} runs identical to the first "
              f"({len(first['figures'])} figures, {len(first['claims'])} untimed claims)")


if __name__ == "__main__":
    main()
