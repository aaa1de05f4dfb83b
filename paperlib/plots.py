"""Seaborn figures with one shared style for every chapter."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

PALETTE = "colorblind"


def set_style() -> None:
    """Apply the compendium's figure style (call once per notebook)."""
    sns.set_theme(context="notebook", style="whitegrid", palette=PALETTE,
                  rc={"figure.dpi": 110, "savefig.bbox": "tight", "axes.titleweight": "bold"})


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
    """Bar charts of ``metrics`` ({column: axis label}), mean with standard-error bars over replicates."""
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.6 * len(metrics), 3.6), sharex=True)
    for ax, (col, label) in zip(np.atleast_1d(axes), metrics.items()):
        sns.barplot(data=table, x=x, y=col, hue=hue, order=order, errorbar="se", ax=ax)
        ax.set_ylabel(label)
        ax.set_xlabel("")
        ax.tick_params(axis="x", rotation=35)
        for t in ax.get_xticklabels():
            t.set_horizontalalignment("right")
    fig.tight_layout()
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
        ax.set_xlabel(xlabel)
        ax.set_ylabel(label)
    np.atleast_1d(axes)[-1].legend(fontsize=8)
    fig.tight_layout()
    return fig
