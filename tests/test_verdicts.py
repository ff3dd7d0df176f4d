"""rrlib.verdicts: the §6.1 rules read a typed Evidence, built alike from recorded metrics and from a result."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rrlib import verdicts
from rrlib.verdicts import Evidence, ModelEvidence, NeuronEvidence


def record(kind: str, normal: float, worst: float, adv: float, gap: float, se: float = 0.01) -> dict:
    name = f"Baseline-H ({kind})"
    return {"name": name, "kind": kind, "architecture": "baseline_h", "gap": gap, "adversarial_accuracy": adv,
            "adversarial_accuracy_strong": adv, "accuracy_se": 0.01, "normal_mi": normal, "normal_mi_se": se,
            "worst_mi": worst, "worst_mi_se": se, "rv_se": math.hypot(se, se), "bound": 1.0}


def metrics() -> dict:
    return {"models": [record("standard", 1.0, -0.25, 0.0, 0.8), record("robust", 1.5, 1.0, 0.4, 0.3)],
            "neurons": [{"kind": "standard", "normal": [0.5, 0.5], "vulnerability": [0.25, 0.75]},
                        {"kind": "robust", "normal": [0.5, 0.5], "vulnerability": [0.0, 0.5]},
                        {"kind": "weak", "normal": [0.5], "vulnerability": [0.1]}],
            "std_neuron_vuln_se": 0.03, "rob_neuron_vuln_se": 0.04}


def test_model_evidence_clips_the_raw_estimates():
    m = ModelEvidence.from_record(record("standard", 1.0, -0.25, 0.0, 0.8))
    # worst-case MI below zero: valid worst 0, valid RV = normal = 1.0, flagged impossible
    assert (m.worst_mi, m.worst_mi_valid, m.rv_valid, m.impossible) == (-0.25, 0.0, 1.0, True)
    m = ModelEvidence.from_record(record("robust", 1.5, 1.0, 0.4, 0.3))
    assert (m.worst_mi_valid, m.rv_valid, m.impossible) == (1.0, 0.5, False)


def test_evidence_from_metrics_keeps_neurons_with_a_recorded_se():
    e = Evidence.from_metrics(metrics())
    assert [n.kind for n in e.neurons] == ["standard", "robust"]  # "weak" has no recorded SE
    assert e.neuron("robust").mean_vulnerability_se == 0.04 and e.neuron("standard").n_neurons == 2
    assert e.model("robust").name == "Baseline-H (robust)"
    with pytest.raises(KeyError, match="'weak'"):
        e.model("weak")


def test_section_6_1_on_hand_built_evidence():
    claims = {c.key: c for c in verdicts.section_6_1(Evidence.from_metrics(metrics()))}
    # the standard model's estimate is impossible: it is left out of the ranking, which leaves one model
    assert claims["rv_tracks_gap"].evidence["left_out"] == ["Baseline-H (standard)"]
    assert claims["rv_tracks_gap"].verdict == "too few to judge (1 models with possible estimates)"
    # the standard model's worst-case estimate is impossible (−0.25 nats): clipped to 0 it would pass "≈ 0" by
    # construction, so no claim that reads it is judged
    assert claims["standard_worst_zero"].verdict == "cannot judge: impossible estimate (Baseline-H (standard))"
    assert claims["standard_worst_zero"].evidence["impossible"] is True
    assert claims["robust_keeps_worst"].verdict.startswith("cannot judge")
    # the evidence is the raw estimates with their flags: a clipped value is not shown as a measurement
    assert claims["robust_keeps_worst"].evidence == {"robust": 1.0, "standard": -0.25, "robust_impossible": False,
                                                     "standard_impossible": True}
    # adversarial accuracy 0.4 − 0 over hypot(0.01, 0.01)
    assert claims["training_works"].evidence["z"] == pytest.approx(0.4 / math.hypot(0.01, 0.01))
    # neuron means 0.5 and 0.25 → 0.25 over hypot(0.03, 0.04) = 0.05 → z = 5
    neurons = claims["neurons_less_vulnerable"]
    assert (neurons.evidence["standard"], neurons.evidence["robust"], neurons.evidence["n_neurons"]) == (0.5, 0.25, 2)
    assert neurons.evidence["z"] == pytest.approx(5.0) and neurons.verdict == "supported"


def zoo(rvs: list[float], gaps: list[float]) -> Evidence:
    """A zoo of possible estimates: normal MI 2 nats, worst-case 2 − RV, the first model standard, the last robust."""
    kinds = ["standard"] + ["weak"] * (len(rvs) - 2) + ["robust"]
    return Evidence(tuple(ModelEvidence.from_record({**record(k, 2.0, 2.0 - rv, 0.5, gap), "name": f"m{i}"})
                          for i, (k, rv, gap) in enumerate(zip(kinds, rvs, gaps, strict=True))))


def test_rv_tracks_gap_is_a_permutation_test_over_the_models():
    # eight models, RV ordered like the gap: ρ = 1, exact one-sided p = 1/8! → supported
    gaps = [0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1]
    rvs = [1.6, 1.4, 1.2, 1.0, 0.8, 0.6, 0.4, 0.2]
    claim = next(c for c in verdicts.section_6_1(zoo(rvs, gaps)) if c.key == "rv_tracks_gap")
    assert claim.evidence["rank_p"] == pytest.approx(1 / math.factorial(8)) and claim.verdict == "supported"
    # one swapped neighbour pair still passes (ρ = 1 − 6·2/(8·63) = 0.976; the orderings at least as good are the
    # identity and the 7 neighbour swaps, p = 8/8!), but is not strictly ordered
    swapped = [1.6, 1.4, 1.0, 1.2, 0.8, 0.6, 0.4, 0.2]
    claim = next(c for c in verdicts.section_6_1(zoo(swapped, gaps)) if c.key == "rv_tracks_gap")
    assert claim.evidence["spearman"] == pytest.approx(1 - 12 / 504) and claim.evidence["monotone"] is False
    assert claim.evidence["rank_p"] == pytest.approx(8 / math.factorial(8)) and claim.verdict == "supported"
    # RV unrelated to the gap: not supported although the standard model's RV is the largest
    unrelated = [1.6, 0.6, 0.8, 1.4, 0.4, 1.2, 1.0, 0.2]
    claim = next(c for c in verdicts.section_6_1(zoo(unrelated, gaps)) if c.key == "rv_tracks_gap")
    assert claim.evidence["rank_p"] > 0.05 and claim.verdict == "not supported"
    # an impossible estimate (worst-case MI below 0) is left out and named; the other seven still rank perfectly
    broken = zoo(rvs, gaps)
    first = ModelEvidence.from_record({**record("standard", 2.0, -0.1, 0.5, gaps[0]), "name": "m0"})
    claim = next(c for c in verdicts.section_6_1(Evidence((first, *broken.models[1:]))) if c.key == "rv_tracks_gap")
    assert claim.evidence["n_judged"] == 7 and claim.evidence["rank_p"] == pytest.approx(1 / math.factorial(7))
    assert claim.verdict == "supported (over 7 models; impossible estimates left out: m0)"
    # Theorem 3.4's ceiling (1.0 here, above every accuracy of 0.5) is checked on the same seven
    ceiling = next(c for c in verdicts.section_6_1(Evidence((first, *broken.models[1:]))) if c.key == "ceiling_holds")
    assert ceiling.verdict == "supported (over 7 models; impossible estimates left out: m0)"
    # three models: even a perfect ordering has p = 1/6 > 0.05
    claim = next(c for c in verdicts.section_6_1(zoo([1.0, 0.5, 0.1], [0.8, 0.5, 0.1])) if c.key == "rv_tracks_gap")
    assert claim.verdict == "too few to judge (3 models with possible estimates)"


def test_spearman_p_matches_scipys_exact_permutation_test(monkeypatch):
    from scipy.stats import permutation_test, spearmanr

    from rrlib import stats
    from rrlib.stats import spearman_p

    rng = np.random.default_rng(3)
    x = rng.normal(size=7)
    y = x + rng.normal(size=7)
    exact = permutation_test((y,), lambda v: spearmanr(x, v)[0], permutation_type="pairings", alternative="greater",
                             n_resamples=np.inf).pvalue
    rho, p = spearman_p(x, y)
    assert rho == pytest.approx(spearmanr(x, y)[0]) and p == pytest.approx(exact)
    # above the exact limit (lowered here to 6 pairs) the Monte Carlo p lies within 4 of its SEs sqrt(p(1 − p)/draws)
    # of the exact one
    monkeypatch.setattr(stats, "EXACT_PERMUTATION_MAX_N", 6)
    _, monte_carlo = spearman_p(x, y)
    assert abs(monte_carlo - p) <= 4 * math.sqrt(p * (1 - p) / stats.PERMUTATION_DRAWS)


def test_neuron_evidence_keeps_the_measured_dtype():
    n = NeuronEvidence("standard", np.array([0.1, 0.2], dtype=np.float32), 0.01)
    assert n.vulnerability.dtype == np.float32 and n.n_neurons == 2
