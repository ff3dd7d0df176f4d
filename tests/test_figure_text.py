"""Every figure of the book reads at the book's page width (issue 19): its smallest text is at least 9 pt as
Chromium shows it in the 676 px text column, and no label, title, legend or annotation leaves the canvas.

Each figure function a chapter calls (``grep plots. notebooks/``) is drawn from small inputs of the shape the quick
profile gives it: tiny runs of the cheap experiments (chapters 1–4), results assembled from the experiments' own
dataclasses with made-up numbers (chapters 5, 6, 9) and the committed medium run (chapters 7, 8). The measuring
functions of :mod:`rrlib.plotting.checks` are checked first on figures with a known answer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from rrlib.book import REPO_ROOT
from rrlib.plotting import bmi_scoreboard as bmi_plots
from rrlib.plotting import checks, section5
from rrlib.plotting import image_mi as image_mi_plots
from rrlib.plotting import mi as mi_plots
from rrlib.plotting import theory as theory_plots
from rrlib.plotting import vulnerability as vulnerability_plots
from rrlib.plotting import worst_case as worst_case_plots


# ------------------------------------------------------------------------------------------------ the measure itself
def _one_text(width: float, size: float) -> Figure:
    """A figure ``width`` × 2 in at the book's 110 dpi with one text of ``size`` pt and nothing else."""
    fig = Figure(figsize=(width, 2.0), dpi=110)
    fig.text(0.5, 0.5, "only text", fontsize=size, ha="center", va="center")
    return fig


def test_a_figure_that_fits_shows_its_text_at_dpi_over_72_times_three_quarters():
    fig = _one_text(4.0, 10.0)
    (only,) = checks.drawn_texts(fig)
    assert only.text == "only text" and only.font_pt == 10.0
    # 10 pt at 110 dpi is 10 · 110/72 = 15.28 px in the PNG, shown unscaled: 15.28 CSS px = 11.46 pt
    assert only.displayed_pt == pytest.approx(10 * 110 / 72 * 0.75)
    assert checks.smallest_text(fig) == only


def test_a_wider_figure_is_scaled_down_to_the_column():
    fig = _one_text(12.0, 10.0)
    width = checks.png_width_px(fig)
    # the inline backend's PNG: the text's tight box plus 0.1 in on each side, well under the 1320 px canvas
    assert 0.2 * 110 < width < 12.0 * 110
    fig.text(0.0, 0.0, "left")
    fig.text(1.0, 1.0, "right", ha="right", va="top")
    wide = checks.png_width_px(fig)
    assert wide == pytest.approx(12.0 * 110 + 0.2 * 110, abs=2)  # texts at both edges: the whole canvas
    scale = 676 / wide
    assert checks.display_scale(fig) == pytest.approx(scale)
    smallest = checks.smallest_text(fig)
    assert smallest.displayed_pt == pytest.approx(10 * 110 / 72 * scale * 0.75)
    assert smallest.displayed_pt < checks.MIN_TEXT_PT  # 10 pt in a 1342 px PNG: 5.8 pt on the page
    assert checks.smallest_text(fig, column_px=2000).displayed_pt == pytest.approx(10 * 110 / 72 * 0.75)
    assert checks.smallest_text(fig, 676.0).displayed_pt == pytest.approx(smallest.displayed_pt)


def test_a_width_set_by_the_notebook_scales_up_or_down():
    assert checks.shown_width_px(None) is None
    assert checks.shown_width_px("100%") == 660.0  # the 676 px column less the figure's 8 px margins
    assert checks.shown_width_px("60%") == pytest.approx(396.0)
    assert checks.shown_width_px(" 400px ") == 400.0
    with pytest.raises(ValueError, match="cannot read"):
        checks.shown_width_px("12em")
    fig = _one_text(4.0, 10.0)
    fig.text(0.0, 0.0, "left")
    fig.text(1.0, 1.0, "right", ha="right", va="top")
    png = checks.png_width_px(fig)  # 4.2 in at 110 dpi: 462 px
    assert png == pytest.approx(462, abs=2)
    # shown at 60 % of 660 px: 10 pt · 110/72 px · 396/462 · 0.75 = 9.82 pt; at 300 px: 7.44 pt
    assert checks.smallest_text(fig, 396.0).displayed_pt == pytest.approx(10 * 110 / 72 * 396 / png * 0.75)
    assert checks.smallest_text(fig, 300.0).displayed_pt < checks.MIN_TEXT_PT
    assert checks.display_scale(fig, 924.0) == pytest.approx(924 / png)  # a small PNG at 100 % is scaled up


def test_hidden_and_empty_texts_do_not_count_and_ticks_do():
    fig = _one_text(4.0, 12.0)
    fig.text(0.1, 0.1, "hidden", fontsize=3).set_visible(False)
    fig.text(0.1, 0.2, "", fontsize=3)
    fig.text(0.1, 0.3, "   ", fontsize=3)
    assert [t.text for t in checks.drawn_texts(fig)] == ["only text"]
    ax = fig.add_axes((0.5, 0.5, 0.3, 0.3))
    ax.tick_params(labelsize=5)
    assert checks.smallest_text(fig).font_pt == 5
    with pytest.raises(ValueError, match="no text"):
        checks.smallest_text(Figure())


def test_clipped_artists_names_what_leaves_the_canvas():
    fig = _one_text(4.0, 10.0)
    assert checks.clipped_artists(fig) == []
    fig.text(0.98, 0.5, "off the right edge", fontsize=10)
    ax = fig.add_axes((0.2, 0.2, 0.6, 0.6))
    ax.plot([0, 1], [0, 1], label="a legend")
    ax.legend(loc="upper left", bbox_to_anchor=(-0.5, 1.0))
    clipped = {(c.kind, c.label): c for c in checks.clipped_artists(fig)}
    assert set(clipped) == {("text", "off the right edge"), ("legend", "a legend")}
    text = clipped[("text", "off the right edge")]
    assert text.right > 50 and text.left == text.top == text.bottom == 0
    assert clipped[("legend", "a legend")].left > 0
    assert "off the right edge" in str(text) and "right" in str(text)


# ------------------------------------------------------------------------------------------------ the book's figures
@pytest.fixture(scope="module")
def preliminaries():
    from rrlib.experiments import preliminaries as P

    return P.run(P.PreliminariesConfig(mc_samples=2000))


@pytest.fixture(scope="module")
def theorem_3_2():
    from rrlib.experiments import theorem_3_2 as T

    return T.run(replace(T.Theorem32Config.quick(device="cpu"), n_instances=100, mc_samples=2000, n_eps=11,
                         n_angles=13))


@pytest.fixture(scope="module")
def theorem_3_4():
    from rrlib.experiments import theorem_3_4 as T

    return T.run(replace(T.Theorem34Config.quick(device="cpu"), n_problems=30, kernel_problems=2,
                         kernels_per_problem=20, n_mi=51))


@pytest.fixture(scope="module")
def mine_result():
    from rrlib.experiments import mine
    from rrlib.mi.estimator import StaircaseConfig

    # the quick profile's layout (two oracle batch sizes, two critics, several bounds per critic), tiny critics
    runs = (*(mine.RunSpec("separable", b, 4) for b in ("dv", "nwj", "js", "smile")), mine.RunSpec("concat", "dv", 4))
    config = mine.MineConfig(levels=(2.0, 4.0), dim=4, oracle_batches=(64, 128), oracle_trials=3, runs=runs,
                             staircase=StaircaseConfig(hidden=16, embed=8, eval_batches=2), deterministic_dim=2,
                             deterministic_steps=4, device="cpu")
    return mine.run(config, show_progress=False)


@pytest.fixture(scope="module")
def worst_case_result():
    """A chapter-05 result on the quick profile's grids, assembled from its dataclasses with made-up numbers."""
    from rrlib.experiments import worst_case_mi as W
    from rrlib.experiments.worst_case_mi.cost import CostRow
    from rrlib.experiments.worst_case_mi.digits import DigitsRow
    from rrlib.experiments.worst_case_mi.gaussian import GaussianSetting, MaskingDemo, RiskRow

    config = W.Config.quick(device="cpu")
    g = config.gaussian
    rng = np.random.default_rng(0)

    def seeds(mean: float) -> np.ndarray:
        return mean + 0.02 * rng.standard_normal(g.n_seeds)

    def setting(sweep: str, eps: float, *, sharpness: float = g.sharpness, steps: int = g.steps,
                iterations: int = g.iterations, gradient: str = "representation") -> GaussianSetting:
        exact = 0.69 * np.exp(-eps)
        oracle = seeds(exact) if sweep == "eps" else None
        return GaussianSetting(sweep, eps, sharpness, steps, iterations, gradient, exact, seeds(exact + 0.05),
                               seeds(exact + 0.03), seeds(exact + 0.03), seeds(exact), seeds(0.69), oracle)

    gaussian = [setting("eps", e) for e in g.eps_values]
    gaussian += [setting("eps_full", e, gradient="full") for e in g.eps_values]
    gaussian += [setting("sharpness", g.sweep_eps, sharpness=k) for k in g.sharpness_values]
    gaussian += [setting("steps", g.sweep_eps, steps=s) for s in g.steps_values]
    gaussian += [setting("iterations", g.sweep_eps, iterations=t) for t in g.iterations_values]
    risk = [RiskRow(norm, e, 0.3 + 0.1 * e, 0.3 + 0.1 * e, 0.01) for norm in ("linf", "l2") for e in g.risk_eps_values]
    grid = np.linspace(0.0, max(g.eps_values), 50)
    digits = [DigitsRow(model, e, seeds(2.0), seeds(1.5 - e), 0.95, 0.8 - e) for model in ("standard", "robust")
              for e in config.digits.eps_values]
    cost = [CostRow(s, 0.01, 0.01 * (s + 1.3), 1, s + 2, s) for s in config.cost.steps_values]
    return W.Result(config=config, risk_rows=risk, masking=MaskingDemo(g.sweep_eps, 0.6, 0.3, 0.25, 512, True, []),
                    gaussian=gaussian, normal_exact=float(np.log(2)),
                    risk_curve={n: (grid, 0.3 + 0.1 * grid) for n in ("linf", "l2")},
                    worst_curve=(grid, 0.69 * np.exp(-grid)), digits=digits,
                    digits_train_eps=config.digits.train_eps, cost=cost)


@pytest.fixture(scope="module")
def vulnerability_result():
    """Chapter 06's quick profile: three Baseline-H models, the standard one with an impossible worst-case MI, and
    the per-neuron estimates of the standard and the robust model (32 second-layer channels)."""
    from rrlib.experiments import vulnerability as V

    models = [V.ModelResult("baseline_h", 0.0, "standard", 0.84, 0.01, 0.0, 0.83, 0.02, -0.134, 0.01, 1000, 1, 1, 1),
              V.ModelResult("baseline_h", 0.03, "weak", 0.83, 0.57, 0.5, 0.87, 0.02, 0.63, 0.02, 1000, 1, 1, 1),
              V.ModelResult("baseline_h", 0.1, "robust", 0.78, 0.67, 0.6, 1.0, 0.03, 0.8, 0.03, 1000, 1, 1, 1)]
    rng = np.random.default_rng(0)
    neurons = [V.NeuronResult(eps, kind, normal=rng.uniform(0.1, 0.9, 32), worst=rng.uniform(-0.1, 0.5, 32),
                              normal_se=np.full(32, 0.01), worst_se=np.full(32, 0.01), seconds=1.0)
               for eps, kind in ((0.0, "standard"), (0.1, "robust"))]
    return V.Result(config=V.Config.quick(device="cpu"), models=models, neurons=neurons)


@pytest.fixture(scope="module")
def vulnerability_medium():
    """Chapter 06's committed medium run: eight models, one with an impossible estimate."""
    from rrlib.experiments.vulnerability.committed import load_result

    return load_result()


@pytest.fixture(scope="module")
def medium_encoders():
    from rrlib.experiments.robust_encoders import committed_medium

    return committed_medium("fashion-mnist")["encoders"]


@pytest.fixture(scope="module")
def downstream_metrics():
    from rrlib.experiments.downstream_tables import load_committed, rows_view

    return rows_view(load_committed("fashion-mnist")["metrics"], "paper")  # as chapter 08 draws it


@pytest.fixture(scope="module")
def saliency():
    """Chapter 09's shapes: 8 images of 28 × 28, six display-scaled maps, four second-layer channels per model."""
    from rrlib.experiments.saliency_maps import KERNEL_MODELS, MAPS

    gen = torch.Generator().manual_seed(0)
    images = torch.rand(8, 1, 28, 28, generator=gen)
    maps = {key: torch.rand(8, 1, 28, 28, generator=gen) for key in MAPS}
    kernel_maps = {key: torch.rand(4, 1, 28, 28, generator=gen) for key in KERNEL_MODELS}
    kernels = {key: [3, 17, 5, 30] for key in KERNEL_MODELS}
    return images, maps, kernel_maps, kernels


@pytest.fixture(scope="module")
def bmi_scoreboard_medium():
    """Chapter 12's committed bmi scoreboard: 40 tasks x 6 bounds, the widest heat map of the book."""
    from rrlib.experiments.bmi_scoreboard import load_result

    return load_result()["metrics"]


@pytest.fixture(scope="module")
def image_mi_medium():
    """Chapter 12's committed known-MI image run: every level, both critics, the per-location grids."""
    from rrlib.experiments.image_mi import load_result

    return load_result()["metrics"]


#: Every figure the chapters show: (its number in the book and a name, the ``mystnb.figure.name`` the notebook gives
#: it, the fixture it is drawn from, how the notebook draws it).
FIGURES: list[tuple[str, str, str, Callable]] = [
    ("1.1 mutual information checks", "fig-mi-checks", "preliminaries", theory_plots.plot_mutual_information_checks),
    ("1.2 Wasserstein transport", "fig-wasserstein-transport", "preliminaries",
     theory_plots.plot_wasserstein_transport),
    ("1.3 Lemma 3.3", "fig-lemma-3-3", "preliminaries", theory_plots.plot_lemma_3_3),
    ("2.1 RV vs ε", "fig-rv-vs-eps", "theorem_3_2", theory_plots.plot_rv_vs_eps),
    ("2.2 RV vs angle", "fig-rv-vs-angle", "theorem_3_2", theory_plots.plot_rv_vs_angle),
    ("2.3 random instances", "fig-rv-random", "theorem_3_2", theory_plots.plot_rv_random_instances),
    ("2.4 Monte Carlo", "fig-rv-monte-carlo", "theorem_3_2", theory_plots.plot_rv_monte_carlo),
    ("3.1 accuracy bound", "fig-accuracy-bound", "theorem_3_4", theory_plots.plot_accuracy_bound),
    ("3.2 brute-force check", "fig-bruteforce", "theorem_3_4", theory_plots.plot_bruteforce_check),
    ("4.1 oracle critic", "fig-ch4-oracle", "mine_result", mi_plots.oracle_figure),
    ("4.2 staircases", "fig-ch4-staircase", "mine_result", mi_plots.staircase_figure),
    ("4.3 staircase spread", "fig-ch4-spread", "mine_result", mi_plots.staircase_spread_figure),
    ("4.4 deterministic code", "fig-ch4-deterministic", "mine_result", mi_plots.deterministic_figure),
    ("5.1 PGD risk", "fig-ch5-pgd-risk", "worst_case_result", worst_case_plots.pgd_risk_figure),
    ("5.2 three numbers", "fig-ch5-three-numbers", "worst_case_result", worst_case_plots.three_numbers_figure),
    ("5.3 error decomposition", "fig-ch5-knobs", "worst_case_result", worst_case_plots.error_decomposition_figure),
    ("5.4 digits", "fig-ch5-digits", "worst_case_result", worst_case_plots.digits_figure),
    ("5.5 cost", "fig-ch5-cost", "worst_case_result", worst_case_plots.cost_figure),
    ("6.1 Figure 1", "fig-rv-gap", "vulnerability_result", vulnerability_plots.figure_1),
    ("6.2 Figure 2", "fig-mi-ceiling", "vulnerability_result", vulnerability_plots.figure_2),
    ("6.3 Figure 3", "fig-neurons", "vulnerability_result", vulnerability_plots.figure_3),
    ("6.4 Figure 1, medium run", "fig-rv-gap-medium", "vulnerability_medium", vulnerability_plots.figure_1),
    ("6.5 Figure 2, medium run", "fig-mi-ceiling-medium", "vulnerability_medium", vulnerability_plots.figure_2),
    ("6.6 Figure 3, medium run", "fig-neurons-medium", "vulnerability_medium", vulnerability_plots.figure_3),
    ("7.1 encoder curves", "fig-encoder-curves", "medium_encoders",
     lambda encoders: section5.encoder_curves([("quick run", encoders), ("medium run", encoders)])),
    ("8.1 accuracy heatmaps", "fig-table4-heatmap", "downstream_metrics",
     lambda metrics: section5.accuracy_heatmaps(metrics, ours_title="ours, medium run (4 seeds)")),
    ("9.1 saliency, MI maps", "fig-saliency-mi", "saliency",
     lambda s: section5.saliency_grid(s[0], {"DIM (MI)": s[1]["dim_mi"], "ours (MI)": s[1]["ours_mi"]})),
    ("9.2 kernels, supervised", "fig-saliency-kernels", "saliency",
     lambda s: section5.kernel_grid(s[0], s[2], s[3], {"standard": "supervised standard",
                                                       "robust": "supervised robust"})),
    ("9.3 kernels, encoders", "fig-saliency-kernels-encoders", "saliency",
     lambda s: section5.kernel_grid(s[0], s[2], s[3], {"normal": "DIM", "worst": "ours"})),
    ("9.4 saliency, all maps", "fig-saliency-all", "saliency",
     lambda s: section5.saliency_grid(s[0], {_map_label(k): m for k, m in s[1].items()})),
    ("12.1 bmi ln ratios", "fig-ch12-bmi", "bmi_scoreboard_medium", bmi_plots.ln_ratio_figure),
    ("12.2 image staircase", "fig-ch12-staircase", "image_mi_medium", image_mi_plots.staircase_figure),
    ("12.3 per-location DV", "fig-ch12-locations", "image_mi_medium",
     lambda m: image_mi_plots.per_location_figure(m, _image_levels(m))),
]


def _image_levels(metrics):
    from rrlib.rendering.image_mi import per_location_levels

    return per_location_levels(metrics)


def _map_label(key: str) -> str:
    from rrlib.experiments.saliency_maps import MAPS

    return MAPS[key][0]


@pytest.fixture(scope="module")
def notebook_widths() -> dict[str, str | None]:
    """``mystnb.figure.name`` -> ``mystnb.image.width`` (e.g. ``"80%"``, or None) of every figure cell of the
    chapters' notebooks: how wide the page shows each figure."""
    widths = {}
    for path in sorted((REPO_ROOT / "notebooks").glob("*.ipynb")):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            meta = cell.get("metadata", {}).get("mystnb", {})
            if "figure" in meta:
                widths[meta["figure"]["name"]] = meta.get("image", {}).get("width")
    return widths


def test_every_figure_of_the_book_is_checked(notebook_widths):
    assert set(notebook_widths) == {name for _, name, _, _ in FIGURES}


@pytest.mark.parametrize(("label", "name", "fixture", "draw"), FIGURES, ids=[f[0].split()[0] for f in FIGURES])
def test_figure_text_is_readable_and_inside_the_canvas(label, name, fixture, draw, notebook_widths, request):
    fig = draw(request.getfixturevalue(fixture))
    shown = checks.shown_width_px(notebook_widths[name])
    texts = checks.drawn_texts(fig, shown)
    assert texts, f"Figure {label} draws no text"
    small = list({(t.text, t.font_pt): t for t in texts if t.displayed_pt < checks.MIN_TEXT_PT - 1e-9}.values())
    assert not small, (f"Figure {label} ({name}: a {checks.png_width_px(fig):.0f} px PNG shown "
                       f"{notebook_widths[name] or 'at natural size'}, scale {checks.display_scale(fig, shown):.2f}): "
                       f"text under {checks.MIN_TEXT_PT:g} pt on the page: " + "; ".join(map(str, small[:6])))
    clipped = checks.clipped_artists(fig)
    assert not clipped, f"Figure {label} ({name}): " + "; ".join(map(str, clipped))
