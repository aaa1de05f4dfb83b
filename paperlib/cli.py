"""Command line: ``paperlib run STUDY --profile P -p key=value``, ``paperlib runs``, ``paperlib export``,
``paperlib list``, ``paperlib book``, ``paperlib cache ls|clean``."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from paperlib import params as P


def _cmd_list(args) -> int:
    studies = [args.study] if args.study else sorted(P.SCHEMAS)
    for study in studies:
        sch = P.schema(study)
        values = {prof: P.profile_values(study, prof) for prof in P.PROFILES}
        print(f"{study}: {sch.title}")
        width = max(len(n) for n in sch.names)
        # Each profile's column is as wide as its longest value: values are printed whole, never cut.
        cols = {p: max(len(p), *(len(str(values[p][prm.name])) for prm in sch.params)) for p in P.PROFILES}
        print(f"  {'parameter':<{width}}  " + "  ".join(f"{p:<{cols[p]}}" for p in P.PROFILES) + "  description")
        for prm in sch.params:
            cells = "  ".join(f"{str(values[p][prm.name]):<{cols[p]}}" for p in P.PROFILES)
            print(f"  {prm.name:<{width}}  {cells}  {prm.doc}")
        print()
    return 0


def _cmd_run(args) -> int:
    from paperlib.runner import run_study

    from paperlib.options import RunOptions

    # The file's values first, then every -p flag over them.
    given = {**(P.read_config(args.config) if args.config else {}), **dict(P.parse_override(o) for o in args.param)}
    profile = args.profile or given.pop("profile", "default")
    given.pop("profile", None)
    # Runtime options (device, executor, devices, strategy) are given like parameters but never enter results.
    options = {k: v for k, v in given.items() if k in RunOptions.NAMES}
    overrides = {k: v for k, v in given.items() if k not in RunOptions.NAMES}
    P.resolve(args.study, profile, overrides)  # fail fast, before importing the heavy stack
    RunOptions.from_mapping(options)
    out = run_study(args.study, profile, overrides, output=args.output, results_dir=args.results,
                    options=options, name=args.name, into_book=args.into_book)
    print(f"executed notebook: {out}")
    return 0


def _cmd_runs(args) -> int:
    from paperlib.runner import RUNS, list_runs

    rows = list_runs(args.study)
    print(f"{len(rows)} run{'s' * (len(rows) != 1)} under {RUNS} (the book renders book/studies and results/ only)")
    for r in rows:
        overrides = ", ".join(f"{k}={v}" for k, v in r["overrides"].items()) or "no override"
        verdicts = ", ".join(f"{n} {v}" for v, n in r["verdicts"].items())
        print(f"  {r['started']:<24} {r['study']:<18} {r['name']:<20} {r['profile']:<8} {verdicts}; {overrides}")
        print(f"    {r['folder']}")
    return 0


def _cmd_export(args) -> int:
    from paperlib.export import ExportError, export_run
    from paperlib.runner import RESULTS, RUNS

    source = RUNS / args.study / args.run / "results.json" if args.run else RESULTS / args.study / "results.json"
    if not source.is_file():
        where = f"run {args.run!r} (see `paperlib runs {args.study}`)" if args.run else "the book's run"
        print(f"error: {args.study}: {where} has no results.json at {source}; run the study first", file=sys.stderr)
        return 2
    try:
        done = export_run(source, args.directory)
    except ExportError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"exported {len(done['models'])} models and {len(done['datasets'])} data sets of {source} to "
          f"{args.directory} (see its README.md)")
    return 0


def write_dashboard() -> Path:
    """Collect every ``results/*/results.json`` into ``book/claims.md``."""
    from paperlib.analysis.claims import dashboard_markdown
    from paperlib.runner import RESULTS, ROOT, RUNS

    page = ROOT / "book" / "claims.md"
    page.write_text(dashboard_markdown(sorted(RESULTS.glob("*/results.json")), sorted(RUNS.glob("*/*/results.json"))))
    return page


def _cmd_book(args) -> int:
    from paperlib.runner import ROOT, notebook_path, run_study

    if not args.no_execute:
        for study in sorted(P.SCHEMAS):
            if notebook_path(study).exists():
                run_study(study, args.profile, into_book=True)
    write_dashboard()
    cmd = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(ROOT), "--path-output", str(ROOT)]
    return subprocess.call(cmd + (["-W", "-n", "--keep-going"] if args.strict else []))


def _cmd_cache(args) -> int:
    import time

    from paperlib.cache import Cache

    cache = Cache(args.root) if args.root else Cache()
    entries = cache.entries(args.study)
    if args.action == "ls":
        print(f"cache at {cache.root}: {len(entries)} entries, {sum(e.size_bytes for e in entries) / 1e6:.1f} MB")
        for e in entries:
            made = time.strftime("%Y-%m-%d %H:%M", time.localtime(e.created))
            used = time.strftime("%Y-%m-%d %H:%M", time.localtime(e.used))
            print(f"  made {made}  used {used}  {e.size_bytes / 1e6:9.2f} MB  {e.study:<18} {e.function}  {e.path.name}")
        return 0
    if args.older_than is not None:
        cutoff = time.time() - args.older_than * 86400.0
        entries = [e for e in entries if e.used < cutoff]
    freed = cache.remove(entries)
    # Unfinished temporaries belong to no study and carry no date: only a clean of everything takes them.
    stale = cache.clean_temporaries() if args.study is None and args.older_than is None else 0
    print(f"removed {len(entries)} entries ({freed / 1e6:.1f} MB) and {stale} unfinished temporaries "
          f"from {cache.root}")
    return 0


def _days(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--older-than: got {text!r}; allowed: a number of days >= 0") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"--older-than: got {text!r}; allowed: a number of days >= 0")
    return value


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``paperlib`` command."""
    from paperlib import __version__

    parser = argparse.ArgumentParser(prog="paperlib", description=__doc__)
    parser.add_argument("--version", action="version", version=f"paperlib {__version__}")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_export = sub.add_parser("export", help="a run's trained models (native formats) and data sets (extxyz)")
    p_export.add_argument("study", choices=sorted(P.SCHEMAS))
    p_export.add_argument("directory", help="a new or empty directory")
    p_export.add_argument("--run", metavar="NAME", help="a run under runs/STUDY/ (default: the book's run)")
    p_export.set_defaults(fn=_cmd_export)
    p_list = sub.add_parser("list", help="studies and their parameters per profile")
    p_list.add_argument("study", nargs="?")
    p_list.set_defaults(fn=_cmd_list)
    p_run = sub.add_parser("run", help="execute one study notebook with papermill")
    p_run.add_argument("study")
    p_run.add_argument("--profile", choices=P.PROFILES, help="default: the config file's profile, else default")
    p_run.add_argument("--config", metavar="FILE", help="a YAML mapping of parameters and run options (and "
                                                        "optionally profile); -p flags override it")
    p_run.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE",
                       help="override a parameter (value read as YAML: 3, 0.5, [a, b]) or set a run option: "
                            "device (auto, cpu, cuda, cuda:N), executor (auto, in-process, local:N, "
                            "tcp://host:port), devices, strategy")
    p_run.add_argument("--name", help="the run's folder under runs/STUDY/ (default: the profile and a digest of "
                                      "the overrides)")
    p_run.add_argument("--into-book", action="store_true",
                       help="write this run where the book renders it (book/studies, results/) although it has "
                            "overrides or another profile; without overrides at the default profile it goes "
                            "there anyway")
    p_run.add_argument("--output", help="executed notebook path (overrides where the run goes)")
    p_run.add_argument("--results", help="results directory (overrides where the run goes)")
    p_run.set_defaults(fn=_cmd_run)
    p_runs = sub.add_parser("runs", help="the runs kept under runs/ (any that is not the book's own)")
    p_runs.add_argument("study", nargs="?", choices=sorted(P.SCHEMAS))
    p_runs.set_defaults(fn=_cmd_runs)
    p_book = sub.add_parser("book", help="execute every study and build the HTML book into _build/html")
    p_book.add_argument("--profile", default="default", choices=P.PROFILES)
    p_book.add_argument("--no-execute", action="store_true", help="build from the notebooks already executed")
    p_book.add_argument("--strict", action="store_true", help="turn Sphinx warnings into errors")
    p_book.set_defaults(fn=_cmd_book)
    p_cache = sub.add_parser("cache", help="list or remove cached steps (reference data, models, MD runs)")
    p_cache.add_argument("action", choices=("ls", "clean"))
    p_cache.add_argument("--study", choices=sorted(P.SCHEMAS), help="only the entries of this study's steps")
    p_cache.add_argument("--older-than", type=_days, metavar="DAYS", help="clean: only entries not used for this long")
    p_cache.add_argument("--root", help="cache directory (default $PAPERLIB_CACHE or ~/.cache/paperlib)")
    p_cache.set_defaults(fn=_cmd_cache)
    args = parser.parse_args(argv)
    try:
        return args.fn(args)
    except P.ParameterError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader stopped early (`paperlib list | head`): not an error of ours. Python's documented recipe:
        # point stdout at devnull so that the interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
