"""Seaborn figures with one shared style for every chapter."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

PALETTE = "colorblind"


MISSING = "–"
"""How a table shows a value that does not exist (a spread over one seed, a model that did not run)."""


def set_style() -> None:
    """Apply the compendium's figure style and table display (call once per notebook): tables show
    :data:`MISSING` where a value does not exist, not ``NaN``."""
    sns.set_theme(context="notebook", style="whitegrid", palette=PALETTE,
                  rc={"figure.dpi": 110, "savefig.bbox": "tight", "axes.titleweight": "bold"})
    pd.set_option("styler.format.na_rep", MISSING)
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None:
        shell.display_formatter.formatters["text/html"].for_type(pd.DataFrame, table_html)


def table_html(df: pd.DataFrame) -> str:
    """The HTML of ``df`` as a notebook shows it (row and column limits of pandas' display options), missing
    values written :data:`MISSING` and said what they mean below the table."""
    html = df.to_html(na_rep=MISSING, max_rows=pd.get_option("display.max_rows"),
                      max_cols=pd.get_option("display.max_columns"), show_dimensions=False)
    if df.isna().to_numpy().any():
        html += (f"<p><small>{MISSING} : no such value: a spread (standard error, standard deviation, interval) "
                 f"over a single seed or draw, or a quantity that does not exist for that row (a search that "
                 f"found nothing, an event that did not happen).</small></p>")
    return html


def _slant_xticks(ax, degrees: float) -> None:
    """Rotate the x tick labels and right-align them to their ticks (long category names)."""
    ax.tick_params(axis="x", rotation=degrees)
    for t in ax.get_xticklabels():
        t.set_horizontalalignment("right")


def distributions(frames: pd.DataFrame, x_cols: Mapping[str, str], hue: str = "method", title: str = ""):
    """One panel per column of ``frames`` named in ``x_cols`` ({column: axis label}), a density per ``hue``."""
    fig, axes = plt.subplots(1, len(x_cols), figsize=(4.2 * len(x_cols), 3.4))
    for ax, (col, label) in zip(np.atleast_1d(axes), x_cols.items()):
        data = frames.dropna(subset=[col])
        sns.kdeplot(data=data, x=col, hue=hue, common_norm=False, ax=ax, fill=False, warn_singular=False,
                    legend=ax is np.atleast_1d(axes)[-1])
        ax.set_xlabel(label)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def grouped_bars(table: pd.DataFrame, metrics: Mapping[str, str], x: str = "method", hue: str = "model",
                 order: Sequence[str] | None = None):
    """Bar charts of ``metrics`` ({column: axis label}), mean with standard-error bars over replicates; one
    legend of the ``hue`` values below the panels."""
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.0 * len(metrics), 3.6), sharex=True)
    axes = np.atleast_1d(axes)
    for ax, (col, label) in zip(axes, metrics.items()):
        sns.barplot(data=table, x=x, y=col, hue=hue, order=order, errorbar="se", ax=ax, legend=ax is axes[0])
        ax.set_ylabel(label)
        ax.set_xlabel("")
        _slant_xticks(ax, 35)
    if axes[0].get_legend() is not None:
        axes[0].get_legend().remove()
    legend_below(fig, axes[0])
    return fig


def rdf_panels(curves: Mapping[str, Mapping[str, tuple[np.ndarray, np.ndarray]]], pairs: Sequence[str],
               reference: str = "reference"):
    """One panel per pair: the reference RDF (black) and every other curve set ({label: {pair: (r, g)}})."""
    fig, axes = plt.subplots(1, len(pairs), figsize=(4.4 * len(pairs), 3.4), sharey=True)
    colours = sns.color_palette(PALETTE, max(1, len(curves) - 1))
    for ax, pair in zip(np.atleast_1d(axes), pairs):
        k = 0
        for label, rdf in curves.items():
            r, g = rdf[pair]
            if label == reference:
                ax.plot(r, g, color="black", lw=2.2, label=label, zorder=5)
            else:
                ax.plot(r, g, color=colours[k % len(colours)], lw=1.2, alpha=0.85, label=label)
                k += 1
        ax.set_title(pair)
        ax.set_xlabel("r (Å)")
    np.atleast_1d(axes)[0].set_ylabel("g(r)")
    np.atleast_1d(axes)[-1].legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    return fig


def learning_curves(curves: pd.DataFrame, x: str, metrics: Mapping[str, str], hue: str, xlabel: str,
                    scale: float = 1.0):
    """Log-log learning curves: one panel per metric ({column: axis label}), one line per ``hue`` value,
    mean over draws with standard-deviation error bars; values multiplied by ``scale`` (unit conversion)."""
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.8 * len(metrics), 3.7))
    names = list(dict.fromkeys(curves[hue]))
    colours = dict(zip(names, sns.color_palette(PALETTE, len(names))))
    for ax, (col, label) in zip(np.atleast_1d(axes), metrics.items()):
        for name in names:
            s = curves[curves[hue] == name].groupby(x)[col].agg(["mean", "std"]).reset_index()
            ax.errorbar(s[x], s["mean"] * scale, yerr=s["std"].fillna(0.0) * scale, marker="o", ms=4, capsize=2,
                        lw=1.4, color=colours[name], label=name)
        ax.set_xscale("log")
        ax.set_yscale("log")
        for axis in (ax.xaxis, ax.yaxis):
            plain_log_ticks(axis)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(label)
    legend_below(fig, np.atleast_1d(axes)[0])
    return fig


def plain_log_ticks(axis) -> None:
    """Label a log axis with plain numbers (``0.5``, ``20``, ``1e+03``): at the decades when it spans two or
    more, else also at 2x and 5x the decades, and never at every minor tick."""
    import matplotlib.ticker as mticker

    lo, hi = sorted(axis.get_view_interval())
    plain = mticker.FuncFormatter(lambda v, _: f"{v:g}")
    axis.set_major_formatter(plain)
    if lo > 0 and hi / lo < 100:
        axis.set_minor_locator(mticker.LogLocator(subs=(2.0, 5.0)))
        axis.set_minor_formatter(plain)
    else:
        axis.set_minor_formatter(mticker.NullFormatter())


def legend_below(fig, ax) -> None:
    """One legend for the whole figure, of the entries of ``ax``, below its panels, so that it never covers data."""
    handles, labels = ax.get_legend_handles_labels()
    rows = -(-len(labels) // 3)
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 3), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.06 * rows + 0.02, 1, 1))


def binned_errors(errors: pd.DataFrame, x: str, metrics: Mapping[str, str], hue: str, xlabel: str, bins: int = 6):
    """Mean of each metric ({column: axis label}) in ``bins`` quantile bins of ``x``, one line per ``hue``
    value (log y): how errors grow with, e.g., the distance from the training geometries."""
    data = errors.copy()
    data["_bin"] = pd.qcut(data[x], q=bins, duplicates="drop")
    centres = data.groupby("_bin", observed=True)[x].median()
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.6 * len(metrics), 3.6))
    for ax, (col, label) in zip(np.atleast_1d(axes), metrics.items()):
        agg = data.groupby([hue, "_bin"], observed=True)[col].mean().reset_index()
        agg[x] = agg["_bin"].map(centres).astype(float)
        sns.lineplot(data=agg, x=x, y=col, hue=hue, marker="o", ax=ax, legend=ax is np.atleast_1d(axes)[-1])
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(label)
    fig.tight_layout()
    return fig


def energy_profiles(profiles: Mapping[str, Mapping[str, Sequence[float]]], reference: str = "reference",
                    ylabel: str = "E - E(reactant) (eV)", ncols: int = 4):
    """Small multiples of energy profiles along reaction paths: {panel: {source: energies of the images}},
    images placed evenly from 0 (reactant) to 1 (product); the reference in black."""
    n = len(profiles)
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.6 * ncols, 3.0 * nrows), squeeze=False)
    sources = list(dict.fromkeys(s for by in profiles.values() for s in by if s != reference))
    colours = dict(zip(sources, sns.color_palette(PALETTE, max(1, len(sources)))))
    for ax, (panel, by_source) in zip(axes.ravel(), profiles.items()):
        for source, energies in by_source.items():
            s = np.linspace(0, 1, len(energies))
            if source == reference:
                ax.plot(s, energies, color="black", lw=2.2, marker="o", ms=3, label=source, zorder=5)
            else:
                ax.plot(s, energies, color=colours[source], lw=1.2, marker=".", label=source)
        ax.set_title(panel, fontsize=9)
        ax.set_xlabel("path coordinate")
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    for row in axes:
        row[0].set_ylabel(ylabel)
    handles, labels = axes.ravel()[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, bbox_to_anchor=(0.5, -0.02))
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig


def stick_spectra(table: pd.DataFrame, reference: str = "reference", ncols: int = 3):
    """Stick spectra from a long table (system, source, wavenumber_cm): one panel per system, one row of
    sticks per source, the reference on top; imaginary modes at negative wavenumbers."""
    systems = list(dict.fromkeys(table["system"]))
    sources = [reference] + [s for s in dict.fromkeys(table["source"]) if s != reference]
    colours = dict(zip(sources, ["black", *sns.color_palette(PALETTE, max(1, len(sources) - 1))]))
    ncols = min(ncols, len(systems))
    nrows = -(-len(systems) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.4 * ncols, 0.5 * len(sources) * nrows + 1.2 * nrows),
                             squeeze=False)
    for ax, system in zip(axes.ravel(), systems):
        for level, source in enumerate(sources):
            w = table[(table.system == system) & (table.source == source)]["wavenumber_cm"].to_numpy()
            y = len(sources) - 1 - level
            ax.vlines(w, y, y + 0.8, color=colours[source], lw=1.6)
        ax.axvline(0, color="grey", lw=0.6, ls=":")
        ax.set_yticks(np.arange(len(sources)) + 0.4, sources[::-1], fontsize=7)
        ax.set_title(system, fontsize=9)
        ax.set_xlabel("wavenumber (cm⁻¹)")
    for ax in axes.ravel()[len(systems):]:
        ax.axis("off")
    fig.tight_layout()
    return fig


def heatmaps(table: pd.DataFrame, index: str, columns: str, metrics: Mapping[str, str],
             column_order: Sequence[str] | None = None, fmt: str = ".3f"):
    """One annotated heat map per metric ({column: title}) of ``table`` pivoted to ``index`` x ``columns``."""
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.2 * len(metrics), 0.5 * table[index].nunique() + 2.2))
    for ax, (col, title) in zip(np.atleast_1d(axes), metrics.items()):
        grid = table.pivot_table(index=index, columns=columns, values=col, aggfunc="mean")
        if column_order is not None:
            grid = grid.reindex(columns=[c for c in column_order if c in grid.columns])
        sns.heatmap(grid, annot=True, fmt=fmt, cmap="rocket_r", cbar=False, ax=ax, annot_kws={"fontsize": 8})
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("")
        ax.set_ylabel("")
        _slant_xticks(ax, 30)
    fig.tight_layout()
    return fig


def collective_variable_map(points: pd.DataFrame, x: str, y: str, hue: str, xlabel: str, ylabel: str,
                            hue_order: Sequence[str] | None = None, paths: pd.DataFrame | None = None,
                            path_hue: str = "path"):
    """Scatter of sampled frames in a two-dimensional collective-variable space, coloured by ``hue``; with
    ``paths`` (same ``x``/``y`` columns, one line per ``path_hue`` value, rows in path order), the paths drawn
    on top as black lines with distinct markers."""
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    sns.scatterplot(data=points, x=x, y=y, hue=hue, hue_order=hue_order, s=10, linewidth=0, alpha=0.7, ax=ax)
    if paths is not None:
        for (name, d), marker in zip(paths.groupby(path_hue, sort=False), "osD^v"):
            ax.plot(d[x], d[y], color="black", lw=1.0, marker=marker, ms=4, mfc="white", label=f"scan: {name}")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7, markerscale=1.5, loc="best")
    fig.tight_layout()
    return fig


def traces(table: pd.DataFrame, x: str, y: str, hue: str, col: str | None = None, ylabel: str = ""):
    """Line plots of ``y`` against ``x``, one line per ``hue`` value, one panel per ``col`` value."""
    panels = list(dict.fromkeys(table[col])) if col else [None]
    fig, axes = plt.subplots(1, len(panels), figsize=(5.0 * len(panels), 3.6), sharey=True, squeeze=False)
    for ax, panel in zip(axes[0], panels):
        data = table if panel is None else table[table[col] == panel]
        sns.lineplot(data=data, x=x, y=y, hue=hue, ax=ax, legend=ax is axes[0][-1], lw=1.2)
        ax.set_title("" if panel is None else str(panel))
        ax.set_ylabel(ylabel or y)
    if axes[0][-1].get_legend() is not None:
        sns.move_legend(axes[0][-1], "upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, title="")
    fig.tight_layout()
    return fig


FIGURE_FORMATS: tuple[str, ...] = ("png", "pdf", "csv")
"""The files :func:`publish` writes per figure: the image twice (screen, print) and the data behind it."""


def publish(fig, data: pd.DataFrame, name: str, directory: str | Path) -> None:
    """Save ``fig`` as ``directory/name.png`` and ``.pdf`` and ``data`` (the numbers it shows) as
    ``name.csv``, then hand the figure to the chapter as the glued output ``name``, which a
    ``{glue:figure}`` directive shows numbered with its caption. Each file is written whole or not at all.
    Returns nothing, so that a notebook cell ending with it shows no output box.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {ext: directory / f"{name}.{ext}" for ext in FIGURE_FORMATS}
    for ext, path in paths.items():
        partial = path.with_name(f".{path.stem}.partial.{ext}")
        if ext == "csv":
            data.to_csv(partial, index=False)
        else:
            fig.savefig(partial, format=ext, dpi=150, bbox_inches="tight")
        partial.replace(path)
    from myst_nb import glue

    glue(name, fig, display=False)
    plt.close(fig)


def empty(message: str):
    """A figure that says, in ``message``, why it holds no data (so that a chapter's figure numbers stay the same
    whatever a run produced)."""
    fig, ax = plt.subplots(figsize=(6.0, 1.2))
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True)
    return fig


def rdf_table(curves: Mapping[str, Mapping[str, tuple[np.ndarray, np.ndarray]]]) -> pd.DataFrame:
    """The curves of :func:`rdf_panels` as a long table: curve set, pair, r (Å), g(r)."""
    return pd.DataFrame([{"curves": label, "pair": pair, "r_A": r_i, "g": g_i}
                         for label, by_pair in curves.items() for pair, (r, g) in by_pair.items()
                         for r_i, g_i in zip(np.asarray(r), np.asarray(g))])


def profile_table(profiles: Mapping[str, Mapping[str, Sequence[float]]]) -> pd.DataFrame:
    """The profiles of :func:`energy_profiles` as a long table: panel, source, image, path coordinate (0 to 1),
    energy."""
    return pd.DataFrame([{"panel": panel, "source": source, "image": i, "path_coordinate": s, "energy": e}
                         for panel, by_source in profiles.items() for source, energies in by_source.items()
                         for i, (s, e) in enumerate(zip(np.linspace(0, 1, len(energies)), energies))])
