import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd

from paperlib import plots


def test_tables_show_missing_values_as_a_dash_not_nan():
    df = pd.DataFrame({"model": ["a", "b"], "sem": [0.1, np.nan]})
    html = plots.table_html(df)
    assert "NaN" not in html and f"<td>{plots.MISSING}</td>" in html and "<td>0.1</td>" in html
    assert "over a single seed" in html  # what a single seed means, said once below the table
    assert "over a single seed" not in plots.table_html(df.fillna(0.2))


def _curves():
    rows = [{"model": m, "n": n, "draw": d, "mae": (2.0 if m == "E" else 1.0) * n**-0.5 * (1 + 0.05 * d)}
            for m in ("E", "E+F") for n in (16, 32, 64, 128) for d in range(3)]
    return pd.DataFrame(rows)


def test_learning_curves_put_one_legend_below_the_panels():
    fig = plots.learning_curves(_curves(), "n", {"mae": "MAE"}, "model", "N")
    fig.canvas.draw()
    (ax,), (legend,) = fig.axes, fig.legends
    assert not ax.get_legend()
    renderer = fig.canvas.get_renderer()
    assert legend.get_window_extent(renderer).y1 <= ax.get_tightbbox(renderer).y0 + 1   # below, not over the data
    assert [t.get_text() for t in legend.get_texts()] == ["E", "E+F"]


def test_bar_charts_put_one_legend_below_the_panels_and_their_tick_labels():
    rows = [{"method": meth, "model": mod, "rmse": 0.1 * (i + 1), "p999": 0.5 * (i + 1), "max": float(i + 2)}
            for i, (meth, mod) in enumerate((a, b) for a in ("random", "k-means") for b in ("GAP", "SchNet"))]
    fig = plots.grouped_bars(pd.DataFrame(rows * 3), {"rmse": "RMSE", "p999": "99.9th pct", "max": "max"})
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    (legend,) = fig.legends
    assert not any(ax.get_legend() for ax in fig.axes)
    assert all(legend.get_window_extent(renderer).y1 <= ax.get_tightbbox(renderer).y0 + 1 for ax in fig.axes)
    assert [t.get_text() for t in legend.get_texts()] == ["GAP", "SchNet"]


def test_log_axes_spanning_less_than_two_decades_label_two_and_five_times_the_decades():
    fig = plots.learning_curves(_curves(), "n", {"mae": "MAE"}, "model", "N")
    fig.canvas.draw()
    ax = fig.axes[0]
    lo, hi = ax.get_xlim()
    shown = [v for v in ax.xaxis.get_minorticklocs() if lo <= v <= hi]
    labels = {ax.xaxis.get_minor_formatter()(v) for v in shown} - {""}
    assert labels == {"20", "50"} and ax.xaxis.get_major_formatter()(100.0) == "100"


def test_publish_writes_the_picture_twice_and_the_numbers_behind_it(tmp_path):
    import matplotlib.pyplot as plt


    data = pd.DataFrame({"n_train": [8, 16, 32], "mae": [0.4, 0.2, 0.1]})
    fig, ax = plt.subplots()
    ax.plot(data.n_train, data.mae)
    assert plots.publish(fig, data, "study-curve", tmp_path / "figures") is None  # a cell ending with it shows no box
    paths = {ext: tmp_path / "figures" / f"study-curve.{ext}" for ext in ("png", "pdf", "csv")}
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == ["study-curve.csv", "study-curve.pdf",
                                                                       "study-curve.png"]
    assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and paths["pdf"].read_bytes()[:5] == b"%PDF-"
    pd.testing.assert_frame_equal(pd.read_csv(paths["csv"]), data)
    assert not plt.fignum_exists(fig.number)  # closed: the chapter shows it once, where its caption is


def test_nested_curves_become_long_tables():
    rdf = plots.rdf_table({"reference": {"Na-Cl": (np.array([1.0, 2.0]), np.array([0.0, 1.5]))}})
    assert rdf.to_dict("records") == [{"curves": "reference", "pair": "Na-Cl", "r_A": 1.0, "g": 0.0},
                                      {"curves": "reference", "pair": "Na-Cl", "r_A": 2.0, "g": 1.5}]
    prof = plots.profile_table({"rxn": {"reference": [0.0, 1.0, 0.2]}})
    assert prof.path_coordinate.tolist() == [0.0, 0.5, 1.0] and prof.energy.tolist() == [0.0, 1.0, 0.2]
