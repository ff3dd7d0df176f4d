"""The seaborn figures draw exactly the numbers the chapters' tables print: the staircase spread frame reproduces
each level's bias and variance, the per-neuron frame every neuron and its impossibility flag, the heatmap frames
every downstream cell. Jittered dots are reproducible and leave NumPy's global generator as it was."""

from __future__ import annotations

import copy
import io
import math
from types import SimpleNamespace

import numpy as np
import pytest
from matplotlib.figure import Figure

from rrlib.experiments import downstream_tables, mine
from rrlib.experiments.vulnerability.measure import NeuronResult
from rrlib.plotting import mi as mi_plots
from rrlib.plotting import section5, seeded_jitter
from rrlib.plotting import vulnerability as vulnerability_plots


@pytest.fixture(scope="module")
def staircase():
    runs = (*(mine.RunSpec("separable", b, 8) for b in ("dv", "js")), mine.RunSpec("concat", "dv", 4))
    config = mine.MineConfig(levels=(2.0, 4.0), dim=4, oracle_batches=(8,), oracle_trials=4, runs=runs,
                             deterministic_dim=2, deterministic_steps=2, device="cpu")
    return mine.run(config, show_progress=False)


def test_spread_frame_reproduces_the_staircase_tables(staircase):
    frame = mi_plots.staircase_spread_frame(staircase)
    for r in (r for r in staircase.staircases if r.critic == "separable"):
        for level, stats in zip(r.config.levels, r.stats, strict=True):
            values = frame[(frame["bound"] == r.bound) & (frame["level"] == level)]["estimate"].to_numpy()
            # the table's numbers are computed from the same per-step estimates: equal to float64 rounding
            assert values.mean() - level == pytest.approx(stats.bias, rel=1e-12, abs=1e-12)
            assert values.var() == pytest.approx(stats.variance, rel=1e-12, abs=1e-12)
    assert isinstance(mi_plots.staircase_spread_figure(staircase), Figure)
    concat = mi_plots.staircase_spread_figure(staircase, critic="concat")  # its own steps in the title
    assert concat.axes[0].get_title() == "concat critic: the last 2 of 4 steps of each level"
    with pytest.raises(ValueError, match="mlp.*have \\['concat', 'separable'\\]"):
        mi_plots.staircase_spread_frame(staircase, critic="mlp")


def test_mi_figures_name_bounds_by_their_titles_not_code_names(staircase):
    import matplotlib.pyplot as plt

    for fig in (mi_plots.staircase_figure(staircase), mi_plots.oracle_figure(staircase),
                mi_plots.deterministic_figure(staircase), mi_plots.staircase_spread_figure(staircase)):
        legends = [ax.get_legend() for ax in fig.axes if ax.get_legend()] + list(fig.legends)
        labels = {t.get_text() for legend in legends for t in legend.get_texts()}
        labels |= {line.get_label() for ax in fig.axes for line in ax.get_lines()
                   if not line.get_label().startswith("_")}
        words = {w.strip("()") for label in labels for w in label.split()}
        assert not words & {"dv", "js", "nwj", "infonce", "smile", "mine"}, labels
        assert any(label.startswith(("DV", "JS")) for label in labels), labels
        plt.close(fig)


def _neurons() -> SimpleNamespace:
    standard = NeuronResult(0.0, "standard", normal=np.array([0.5, 0.2, 0.3]), worst=np.array([0.1, -0.05, 0.4]),
                            normal_se=np.full(3, 0.01), worst_se=np.full(3, 0.01), seconds=1.0)
    robust = NeuronResult(0.1, "robust", normal=np.array([0.9, 0.8]), worst=np.array([0.7, 0.6]),
                          normal_se=np.full(2, 0.01), worst_se=np.full(2, 0.01), seconds=1.0)
    return SimpleNamespace(neurons=[standard, robust])


def test_neuron_frame_holds_every_neuron_and_its_flag():
    result = _neurons()
    frame = vulnerability_plots.neuron_frame(result)
    assert len(frame) == 3 * (3 + 2)
    vuln = frame[(frame["kind"] == "standard") & (frame["quantity"] == "vulnerability")]
    assert vuln["nats"].to_numpy() == pytest.approx([0.4, 0.25, -0.1])
    # neuron 1: worst-case MI below zero; neuron 2: worst-case above normal (RV < 0); neuron 0 is possible
    assert vuln["impossible"].tolist() == [False, True, True]
    assert not frame[frame["kind"] == "robust"]["impossible"].any()
    with pytest.raises(ValueError, match="no per-neuron estimates"):
        vulnerability_plots.neuron_frame(SimpleNamespace(neurons=[]))


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def test_figure_3_is_reproducible_and_leaves_the_global_generator_alone():
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    first = _png(vulnerability_plots.figure_3(_neurons()))
    assert np.array_equal(np.random.get_state()[1], before)
    assert _png(vulnerability_plots.figure_3(_neurons())) == first
    with seeded_jitter(5):
        a = np.random.uniform(size=3)
    with seeded_jitter(5):
        assert np.array_equal(np.random.uniform(size=3), a)


def test_accuracy_frames_hold_every_cell_of_the_committed_run():
    metrics = downstream_tables.load_committed("fashion-mnist")["metrics"]
    assert sum(by_head["mlp"]["paper"] is None for by_head in metrics["table"].values()) == 6  # the beyond rows
    paper, ours = section5.accuracy_frames(metrics)
    assert paper.shape == (len(metrics["table"]), 4) and ours.shape == (len(metrics["table"]), 6)
    for i, by_head in enumerate(metrics["table"].values()):
        for head, title in (("mlp", "MLP"), ("linear", "linear")):
            cell = by_head[head]
            assert ours.iloc[i][f"{title} PGD"] == cell["adversarial"]["mean"]
            assert ours.iloc[i][f"{title} AutoAttack"] == cell["autoattack"]["mean"]
            if cell["paper"] is None:  # a row beyond the paper (worst-case InfoNCE, adversarial contrastive)
                assert math.isnan(paper.iloc[i][f"{title} natural"])
            else:
                assert paper.iloc[i][f"{title} natural"] == cell["paper"]["natural"][0]
    partial = copy.deepcopy(metrics)
    first = next(iter(partial["table"]))
    del partial["table"][first]["linear"]
    partial["table"][first]["mlp"]["autoattack"] = None
    paper, ours = section5.accuracy_frames(partial)
    assert math.isnan(paper.iloc[0]["linear PGD"]) and math.isnan(ours.iloc[0]["MLP AutoAttack"])
    assert not math.isnan(ours.iloc[0]["MLP PGD"])
    assert isinstance(section5.accuracy_heatmaps(partial, ours_title="partial"), Figure)
