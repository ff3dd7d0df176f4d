"""Chapter 11 (quick profile) and its library: the three objectives' rows, their paired differences (checked
against the per-seed values), the training cost, the committed medium view, and the tables the page prints."""

from __future__ import annotations

import math

import pytest

from rrlib import stats
from rrlib.experiments import contrastive_comparison as cc
from rrlib.experiments.downstream_tables import COLUMNS, HEADS, load_committed
from rrlib.rendering import contrastive as pages

CHAPTER = "11_beyond_contrastive"


@pytest.mark.slow
def test_every_row_of_the_three_objectives_is_scored(chapter_metrics):
    m = chapter_metrics(CHAPTER)
    assert set(m["table"]) == set(cc.COMPARED_ROWS)  # the recorded JSON sorts its keys
    for row in cc.COMPARED_ROWS:
        for head in HEADS:
            cell = m["table"][row][head]
            assert (cell["paper"] is None) == (not row.startswith("ours/"))  # rows beyond the paper have none
            for col in COLUMNS:
                assert len(cell[col]["values"]) == len(m["seeds"]) and 0.0 <= cell[col]["mean"] <= 100.0
    assert set(m["cost"]) == {"worst", "worst-infonce", "adv-contrastive"}
    assert all(c["seconds_per_epoch"] > 0 and c["epochs"] == len(m["seeds"]) for c in m["cost"].values())
    for rep, loss in (("infonce", "worst-infonce"), ("contrastive", "adv-contrastive")):
        ratio = m["cost"][loss]["seconds_per_epoch"] / m["cost"]["worst"]["seconds_per_epoch"]
        assert m["relative_cost"][rep] == pytest.approx(ratio)
    assert m["medium_committed"] == (cc.medium_view(load_committed("fashion-mnist")) is not None)


@pytest.mark.slow
def test_the_page_differences_are_the_per_seed_differences(chapter_metrics):
    m = chapter_metrics(CHAPTER)
    comps = m["comparisons"]
    assert len(comps) == 2 * len(HEADS) * len(cc.HEAD_LOSSES) * len(COLUMNS)
    for c in comps:
        a = m["table"][f"{c['rep']}/{c['loss']}"][c["head"]][c["column"]]["values"]
        b = m["table"][f"ours/{c['loss']}"][c["head"]][c["column"]]["values"]
        assert c["mean"] == pytest.approx(sum(x - y for x, y in zip(a, b, strict=True)) / len(a), abs=1e-9)
        assert c["verdict"] == stats.TOO_FEW  # the quick profile has 2 seeds: never evidence


def _cell(values):
    return {"mean": sum(values) / len(values), "std": 0.0, "values": values}


def _metrics(ours, theirs, seeds=(0, 1, 2, 3)):
    table = {}
    for row, values in (("ours/robust", ours), ("contrastive/robust", theirs)):
        table[row] = {"mlp": {"seeds": list(seeds), **{col: _cell(values) for col in COLUMNS}}}
    return {"table": table, "row_labels": {r: r.split("/") for r in table}, "flags": {}, "seeds": list(seeds)}


def test_comparisons_pair_by_seed_and_judge_with_student_t():
    # four seed pairs with differences 2, 3, 4, 3: mean 3, sd 0.816, t(3) interval 3 ± 3.182·0.408 = [1.70, 4.30]
    comps = cc.comparisons(_metrics([50.0, 51.0, 52.0, 53.0], [52.0, 54.0, 56.0, 56.0]))
    assert [(c["rep"], c["head"], c["loss"]) for c in comps] == [("contrastive", "mlp", "robust")] * 3
    c = comps[0]
    assert c["mean"] == pytest.approx(3.0) and c["n"] == 4 and c["verdict"] == stats.SUPPORTED
    half = stats.t_quantile(0.95, 3) * math.sqrt(2 / 3) / 2
    assert c["interval"] == pytest.approx([3.0 - half, 3.0 + half])
    tie = cc.comparisons(_metrics([50.0, 51.0, 52.0, 53.0], [51.0, 50.0, 53.0, 52.0]))[0]
    assert tie["verdict"] == stats.UNDECIDED
    with pytest.raises(ValueError, match=r"different seeds \(\[0, 1, 2, 3\] and \[4, 5, 6, 7\]\)"):
        m = _metrics([1.0] * 4, [1.0] * 4)
        m["table"]["ours/robust"]["mlp"]["seeds"] = [4, 5, 6, 7]
        cc.comparisons(m)
    text = pages.comparisons_markdown(comps, "tab-x", "medium run")
    assert "+3.0 [+1.7, +4.3] higher" in text and "4 seed pairs" in text


def test_encoder_cost_is_the_mean_epoch_of_every_seed():
    histories = {"worst": {"seed0": {"history": [{"seconds": 10.0}, {"seconds": 12.0}], "images": 120},
                           "seed1": {"history": [{"seconds": 14.0}, {"seconds": 12.0}], "images": 120}},
                 "adv-contrastive": {"seed0": {"history": [{"seconds": 6.0}], "images": 120}}}
    cost = cc.encoder_cost(histories)
    assert cost["worst"] == {"seconds_per_epoch": 12.0, "epochs": 4, "seeds": 2,
                             "images_per_second": pytest.approx((12 + 10 + 120 / 14 + 10) / 4)}
    text = pages.cost_markdown(cost, "tab-cost", "quick run")
    assert "| 0.50× |" in text and "worst-case InfoNCE" not in text


def test_the_medium_view_waits_for_the_rows_beyond_the_paper():
    committed = load_committed("fashion-mnist")
    has_beyond = any(row.split("/")[0] in ("infonce", "contrastive") for row in committed["metrics"]["table"])
    view = cc.medium_view(committed)
    assert (view is None) == (not has_beyond)
    merged = {"metrics": {**_metrics([1.0] * 4, [2.0] * 4), "config": {"rows": ["ours/robust", "contrastive/robust"]}}}
    assert list(cc.medium_view(merged)["table"]) == ["ours/robust", "contrastive/robust"]


def test_the_context_table_cites_its_source():
    text = pages.context_markdown("tab-context")
    assert cc.ROBUSTSSL_COMMIT[:7] in text and "not comparable" in text
    assert "| ACL (Jiang et al., 2020) | 78.22 | 39.17 | 75.53 | 40.60 |" in text


def test_two_seed_pairs_show_intervals_without_verdicts():
    comps = cc.comparisons(_metrics([50.0, 51.0], [52.0, 54.0], seeds=(0, 1)))
    assert {c["verdict"] for c in comps} == {stats.TOO_FEW}
    text = pages.comparisons_markdown(comps, "tab-x", "quick run")
    assert "2 seed pairs are too few to judge" in text and "higher" not in text.split(":::")[-1]


def _comparison(rep, column, mean, verdict, head="mlp", loss="robust"):
    return {"rep": rep, "head": head, "loss": loss, "column": column, "mean": mean, "interval": [mean - 1, mean + 1],
            "n": 4, "verdict": verdict}


def test_the_summary_in_words_counts_the_table_verdicts():
    comps = [_comparison("contrastive", "autoattack", m, stats.SUPPORTED, head=h) for m, h in ((20.0, "mlp"),
                                                                                               (25.5, "linear"))]
    comps += [_comparison("contrastive", "adversarial", 9.0, stats.SUPPORTED),
              _comparison("contrastive", "adversarial", 0.5, stats.UNDECIDED, head="linear"),
              _comparison("infonce", "autoattack", -1.0, stats.UNDECIDED),
              _comparison("infonce", "autoattack", -4.0, stats.CONTRADICTED, head="linear")]
    text = pages.summary_markdown(comps)
    assert ("**Adversarial contrastive** against the paper's worst-case MI: under AutoAttack higher with 2 of 2 heads "
            "(mean differences +20.0 to +25.5 points); under the paper's PGD higher with 1 of 2 heads, cannot tell "
            "with 1 (mean differences +0.5 to +9.0 points); in natural accuracy: no verdict.") in text
    assert "under AutoAttack lower with 1 of 2 heads, cannot tell with 1 (mean differences -4.0 to -1.0" in text
    assert "is not the most robust of the three objectives" in text  # every contrastive AutoAttack cell higher
    comps[0]["verdict"] = stats.UNDECIDED
    assert "not the most robust" not in pages.summary_markdown(comps)


def _judged(loss, rvs, seed0=0):
    return [{"loss": loss, "seed": seed0 + i, "normal": [1.5, 1.5], "worst": [1.5 - rv, 1.5 - rv], "rv": [rv, rv],
             "impossible": [False, False]} for i, rv in enumerate(rvs)]


def test_the_fresh_critic_view_pairs_every_objective_with_ours():
    paper = {"encoders": _judged("normal", [1.0, 0.9, 1.1]) + _judged("worst", [0.4, 0.5, 0.4])}
    assert cc.fresh_critic_view(paper) is None  # the objectives beyond the paper not judged yet
    beyond = {"encoders": _judged("worst-infonce", [0.5, 0.6, 0.4]) + _judged("adv-contrastive", [0.2, 0.3, 0.2, 0.9])}
    view = cc.fresh_critic_view(paper, beyond)
    assert view["seeds"] == [0, 1, 2]  # seed 3 has only the contrastive encoder: unpaired, left out
    assert list(view["objectives"]) == list(cc.FRESH_CRITIC_OBJECTIVES)
    d = {(x["loss"], x["quantity"]): x for x in view["differences"]}
    # contrastive − ours: −0.2 on each seed (sd 0: the interval is the point), a smaller RV
    assert d[("adv-contrastive", "rv")]["mean"] == pytest.approx(-0.2)
    assert d[("adv-contrastive", "rv")]["verdict"] == stats.CONTRADICTED
    assert d[("normal", "rv")]["verdict"] == stats.SUPPORTED and ("worst", "rv") not in d
    text = pages.fresh_critic_markdown(view, "tab-fc")
    assert "| adversarial contrastive (RoCL-style) | 1.500 ± 0.000 | 1.267 ± 0.058 | 0.233 ± 0.058 | " \
           "-0.200 [-0.200, -0.200] lower |" in text
    assert "| worst-case MI (ours, Eq. 5.4, DV) | 1.500 ± 0.000 | 1.067 ± 0.058 | 0.433 ± 0.058 | (ours) |" in text


def _sweep(values):
    """values: τ → (standard linear natural, robust AutoAttack of both heads), the same on both seeds."""
    table = {}
    for tau, (clean, aa) in values.items():
        cols = {"natural": [clean] * 2, "adversarial": [clean / 2] * 2, "autoattack": [aa] * 2}
        table[tau] = {"contrastive/standard": {h: cols for h in ("mlp", "linear")},
                      "contrastive/robust": {h: cols for h in ("mlp", "linear")}}
    return {"metrics": {"temperatures": [float(t) for t in values], "seeds": [0, 1], "heads": ["mlp", "linear"],
                        "table": table, "encoder_train_seconds": {}}}


def test_the_temperature_view_names_the_best_and_the_page_says_so():
    assert cc.temperature_view(None) is None
    view = cc.temperature_view(_sweep({"0.1": (80.0, 30.0), "0.5": (84.0, 35.0), "1.0": (83.0, 36.0)}))
    assert view["best_clean"] == "0.5" and view["best_robust"] == "1.0"
    text = pages.temperature_markdown(view, "tab-t", used=0.5)
    assert "| 0.5 (used) | 84.0 | 42.0 | 84.0 | 84.0 | 35.0 | 84.0 | 35.0 |" in text and "| 0.1 | 80.0 |" in text
    reference = {"table": {r: {"linear": {"natural": {"mean": m, "values": [m] * 4}}} for r, m in (
        ("hjelm/standard", 70.0), ("ours/standard", 75.0), ("supervised/standard", 88.0))}}
    words = pages.temperature_summary(view, used=0.5, reference=reference)
    assert "is highest at τ = 0.5 (84.0 %); at the τ the rows above use, 0.5, it is 84.0 %." in words
    assert "highest at τ = 1 (36.0 %); at τ = 0.5 it is 35.0 %" in words
    assert ("70.0 % on the DIM encoder, 75.0 % on the paper's worst-case encoder and 88.0 % on Baseline-H trained end "
            "to end with labels (Table 4's medium run, mean over 4 seeds)") in words
    assert "With 2 seeds per temperature these are estimates, not verdicts" in words


def test_the_fresh_critic_words_follow_the_differences():
    paper = {"encoders": _judged("normal", [1.0, 0.9, 1.1]) + _judged("worst", [0.4, 0.5, 0.4])}
    beyond = {"encoders": _judged("worst-infonce", [0.5, 0.6, 0.4]) + _judged("adv-contrastive", [0.3, 0.6, 0.4])}
    view = cc.fresh_critic_view(paper, beyond)
    aa = [_comparison("contrastive", "autoattack", m, stats.SUPPORTED, head=h) for m, h in ((20.0, "mlp"),
                                                                                          (25.0, "linear"))]
    text = pages.fresh_critic_summary(view, aa)
    assert "the DIM encoder's RV is higher than ours (+0.567 [" in text
    assert "the adversarial contrastive encoder's is not distinguishable from ours (" in text  # mean 0 ± 0.1
    # its worst-case MI (1.5 − RV) cannot be told from ours either: only RV is said not to rank the encoders
    assert "RV does not account for the gap above" in text and "+20.0 to +25.0 points" in text
    assert "fresh-critic RV does not rank these encoders" in text
    assert "does not account" not in pages.fresh_critic_summary(view, aa[:1] + [
        _comparison("contrastive", "autoattack", 1.0, stats.UNDECIDED)])  # not higher with every head: no such line


def test_the_committed_sweep_at_the_used_temperature_is_table_4s_run():
    """The sweep's τ = 0.5 cells are the committed medium run's own (same configurations, loaded, not retrained):
    every number equals Table 4's for those seeds."""
    from rrlib.grid import temperature_sweep as ct

    sweep = ct.load_result()
    if sweep is None:
        pytest.skip("the temperature sweep is not committed")
    table = load_committed("fashion-mnist")["metrics"]["table"]
    seeds = sweep["metrics"]["seeds"]
    for row in ct.ROWS:
        for head in HEADS:
            cell = table[row][head]
            for col in COLUMNS:
                committed = [v for s, v in zip(cell["seeds"], cell[col]["values"], strict=True) if s in seeds]
                assert sweep["metrics"]["table"]["0.5"][row][head][col] == committed, (row, head, col)


@pytest.mark.slow
def test_the_page_reads_the_committed_judges(chapter_metrics):
    import json

    from rrlib.grid import temperature_sweep as ct
    from rrlib.report import encoder_rv

    m = chapter_metrics(CHAPTER)
    fresh = cc.fresh_critic_view(encoder_rv.load_result(), encoder_rv.load_result(cc.BEYOND_FRESH_CRITIC))
    sweep = cc.temperature_view(ct.load_result())
    assert m["medium_fresh_critic"] == json.loads(json.dumps(fresh))
    assert m["temperature_sweep"] == json.loads(json.dumps(sweep))
