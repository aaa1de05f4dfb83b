"""Wall time of every study, executed with papermill from an empty cache, at the profiles named on the command line
(default: smoke and default). Prints one row per study and profile and the total per profile (goal: all five
studies at the default profile under 45 minutes on 2 cores), and writes the table to ``--json``.

    python bench/book_wall_time.py --profiles smoke default --json bench/book_wall_time.json
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from paperlib.params import PROFILES, SCHEMAS
from paperlib.runner import device_description, notebook_path, run_study

GOAL_DEFAULT_MIN = 45.0


def time_study(study: str, profile: str, workdir: Path) -> dict:
    """Run ``study`` at ``profile`` with a fresh cache under ``workdir``; wall time and per-step timings."""
    os.environ["PAPERLIB_CACHE"] = str(workdir / "cache")
    t0 = time.perf_counter()
    run_study(study, profile, output=workdir / f"{study}.ipynb", results_dir=workdir / "results", progress=False)
    wall = time.perf_counter() - t0
    results = json.loads((workdir / "results" / "results.json").read_text())
    return {"study": study, "profile": profile, "wall_s": wall,
            "steps_s": results["provenance"].get("timings_s", {})}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", nargs="+", default=["smoke", "default"], choices=PROFILES)
    parser.add_argument("--studies", nargs="+", default=sorted(s for s in SCHEMAS if notebook_path(s).exists()))
    parser.add_argument("--json", type=Path, help="write the rows here as they complete")
    args = parser.parse_args()
    rows = []
    print(f"device: {device_description()}", flush=True)
    for profile in args.profiles:
        for study in args.studies:
            with tempfile.TemporaryDirectory(prefix=f"bench-{study}-") as tmp:
                row = time_study(study, profile, Path(tmp))
            rows.append(row)
            print(f"{profile:8s} {study:18s} {row['wall_s'] / 60:7.2f} min", flush=True)
            if args.json:
                args.json.write_text(json.dumps({"device": device_description(), "rows": rows}, indent=1))
        total = sum(r["wall_s"] for r in rows if r["profile"] == profile) / 60
        goal = f" (goal < {GOAL_DEFAULT_MIN:.0f} min: {'met' if total < GOAL_DEFAULT_MIN else 'missed'})" \
            if profile == "default" else ""
        print(f"{profile:8s} {'all studies':18s} {total:7.2f} min{goal}", flush=True)


if __name__ == "__main__":
    main()
