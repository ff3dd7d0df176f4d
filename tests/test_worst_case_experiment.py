"""The chapter-05 experiment module end to end on a tiny configuration: every path, table and figure."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from rrlib import rendering
from rrlib.experiments import worst_case_mi as W
from rrlib.models.surrogates import LinearSignClassifier
from rrlib.plotting import worst_case as plots


@pytest.fixture(scope="module")
def tiny_result():
    g = replace(W.GaussianConfig(), n_train=512, n_test=256, eps_values=(0.5, 1.0), sharpness_values=(10.0,),
                steps=2, steps_values=(1,), iterations=6, iterations_values=(3,), n_seeds=2, risk_samples=2000,
                risk_eps_values=(0.5,), risk_steps=2)
    d = replace(W.DigitsConfig(), epochs=1, eps_values=(0.1,), attack_steps=2, iterations=3, n_seeds=1)
    return W.run(W.Config(gaussian=g, digits=d, cost=W.CostConfig(steps_values=(1, 2), repeats=1), device="cpu"))


def test_every_setting_is_present_once_per_sweep(tiny_result):
    r = tiny_result
    assert [s.eps for s in r.settings("eps")] == [0.5, 1.0]
    assert [s.eps for s in r.settings("eps_full")] == [0.5, 1.0]
    assert [s.sharpness for s in r.settings("sharpness")] == [3.0, 10.0]
    assert [s.steps for s in r.settings("steps")] == [1, 2]
    assert [s.iterations for s in r.settings("iterations")] == [3, 6]
    for s in r.gaussian:
        assert s.estimate.shape == s.attacked_true.shape == (2,)
        assert np.allclose(s.total_error, s.estimation_error + s.search_error)
        # the exact worst case recomputed by hand: a = ‖θ‖ = 0.5, b = ε‖w‖₁ = ε√2 (w = (1, 1)/√2),
        # P[Z′ = 1] = (Φ(a − b) + Φ(−a − b))/2 with Φ(t) = erfc(−t/√2)/2, worst-case MI = H2 of it
        a, b = 0.5, s.eps * math.sqrt(2)
        p_low = 0.5 * (0.5 * math.erfc(-(a - b) / math.sqrt(2)) + 0.5 * math.erfc((a + b) / math.sqrt(2)))
        exact = -(p_low * math.log(p_low) + (1 - p_low) * math.log(1 - p_low))
        assert s.exact == pytest.approx(exact, rel=1e-9)
    assert r.attack_slack() >= -2 / r.config.gaussian.n_test


def test_risk_rows_masking_digits_and_cost(tiny_result):
    r = tiny_result
    assert {row.norm for row in r.risk_rows} == {"linf", "l2"}
    assert all(abs(row.z_score) < 5 for row in r.risk_rows)  # 5 binomial standard errors
    sign = r.masking.row("sign")
    assert sign.grad_norm == 0 and sign.moved == 0 and r.masking.warned
    assert r.masking_row(None) is sign and sign.sharpness is None
    assert [row.sharpness for row in r.masking.rows] == [None, 3.0, 3.0, 10.0]  # base k, then max(k values)
    with pytest.raises(KeyError):
        r.masking.row("nonexistent")
    assert {row.model for row in r.digits} == {"standard", "robust"}
    assert [c.worst_forward for c in r.cost] == [3, 4] and [c.worst_input_backward for c in r.cost] == [1, 2]


def test_tables_figures_and_metrics(tiny_result):
    r = tiny_result
    table = rendering.three_number_markdown(r.settings("eps"), ("eps",))
    assert table.count("\n") == 3 and "exact J₂" in table
    assert "robust" in rendering.digits_markdown(r.digits) and "| 2 |" in rendering.cost_markdown(r.cost)
    masking = rendering.masking_markdown(r.masking, caption="Masking.", name="tab-masking")
    assert "sign / representation" in masking and "J (last)" in masking and "moved (kept)" in masking
    assert masking.startswith(":::{table} Masking.\n:name: tab-masking") and masking.endswith(":::")
    for row in r.masking.rows:  # the kept iterate is never worse than the clean batch; both iterates are recorded
        assert math.isfinite(row.last_estimate) and 0.0 <= row.best_moved <= 1.0
    for make in (plots.pgd_risk_figure, plots.three_numbers_figure, plots.error_decomposition_figure,
                 plots.digits_figure, plots.cost_figure):
        assert isinstance(make(r), Figure)
    metrics = r.metrics()
    json.dumps(metrics, allow_nan=False)
    assert metrics["normal_exact"] == pytest.approx(math.log(2))  # I(X; sgn(wᵀX)) = H(1/2) for the symmetric mixture
    assert metrics["mask_sharp_k"] == 10.0 and metrics["sharpness"] == 3.0
    assert metrics["cost_forward"] == 2 + 2 and metrics["cost_backward"] == 2  # last row: S = 2


def test_configs_validate_and_profiles_build():
    with pytest.raises(ValueError, match="multiple of batch_size"):
        W.GaussianConfig(n_test=1000)
    with pytest.raises(ValueError, match="sweep_eps"):
        W.GaussianConfig(sweep_eps=0.7)
    full = W.Config.full(device="cpu")
    assert full.gaussian.n_seeds > W.Config.quick().gaussian.n_seeds
    assert W.Config.quick(seed=3).seed == 3 and W.Config.quick(device="cpu").device == "cpu"


def test_sign_classifier_and_flat_critic_shapes():
    w = np.array([0.6, 0.8])
    clf = LinearSignClassifier(w, sign=-1)
    x = torch.tensor([[1.0, 1.0], [-1.0, -1.0]], dtype=torch.float64)
    logits = clf(x)
    assert logits.shape == (2, 2) and bool((logits.argmax(1) == torch.tensor([0, 1])).all())
