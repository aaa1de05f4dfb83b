"""paperlib's modules import one another without cycles (function-level imports included)."""

from pathlib import Path

from paperlib import reach


def _modules() -> list[str]:
    out = []
    for path in reach.ROOT.rglob("*.py"):
        parts = ["paperlib", *path.relative_to(reach.ROOT).with_suffix("").parts]
        out.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return out


def test_no_import_cycle_inside_paperlib():
    mods = set(_modules())
    graph = {m: {x for x in reach._imports(m)[0] if x in mods and x != m} for m in mods}
    done: set[str] = set()

    def visit(m: str, path: tuple[str, ...]) -> None:
        assert m not in path, "import cycle: " + " -> ".join(path[path.index(m):] + (m,))
        if m in done:
            return
        for n in sorted(graph[m]):
            visit(n, path + (m,))
        done.add(m)

    for m in sorted(mods):
        visit(m, ())
    assert len(mods) > 40 and Path(reach.ROOT / "losses.py").exists()


def test_the_cycle_detector_sees_a_function_level_import(monkeypatch):
    real = reach._imports
    monkeypatch.setattr(reach, "_imports", lambda m: ({"paperlib.training"}, set()) if m == "paperlib.losses"
                        else real(m))
    try:
        test_no_import_cycle_inside_paperlib()
    except AssertionError as err:
        assert "paperlib.losses" in str(err) and "paperlib.training" in str(err)
    else:
        raise AssertionError("a cycle losses -> training -> losses went unnoticed")
