"""Section 5 summaries and sentences (chapters 07–09): hand-built inputs with hand-computed answers."""

from __future__ import annotations

import pytest

from rrlib.attacks import ThreatModel
from rrlib.experiments.robust_encoders import committed_run_summary
from rrlib.rendering import section5 as r5
from rrlib.robustness_eval import stronger_pgd


def _history(normal: float, worst: float, seconds: float, epochs: int = 2) -> list[dict]:
    return [{"epoch": e + 1, "heldout_mi_normal": normal, "heldout_mi_worst": worst, "heldout_rv": normal - worst,
             "seconds": seconds} for e in range(epochs)]


def test_committed_run_summary_means_flags_and_cost():
    encoders = {"normal": {"seed0": {"history": _history(2.0, -0.2, 10.0), "images": 1280, "batch_size": 128},
                           "seed1": {"history": _history(2.2, 0.2, 12.0), "images": 1280, "batch_size": 128}},
                "worst": {"seed0": {"history": _history(1.5, 1.1, 50.0), "images": 1280, "batch_size": 128},
                          "seed1": {"history": _history(1.7, 1.3, 50.0), "images": 1280, "batch_size": 128}}}
    out = committed_run_summary(encoders, attack_steps=10)
    normal = out["encoders"]["normal"]
    assert normal["heldout_normal"]["mean"] == pytest.approx(2.1)
    assert normal["heldout_rv"]["values"] == pytest.approx([2.2, 2.0])
    assert normal["impossible_seeds"] == ["seed0"] and out["encoders"]["worst"]["impossible_seeds"] == []
    # median epoch time / (1280 // 128 = 10 steps): normal median of (10, 10, 12, 12) = 11 → 1.1 s; worst 5 s
    assert out["cost"]["normal_step_seconds"] == pytest.approx(1.1)
    assert out["cost"]["ratio"] == pytest.approx(5.0 / 1.1) and out["cost"]["passes_ratio"] == 11


def _metrics(paper_delta: float, ours_delta: float, seed_effect: tuple[float, ...] = (-1.0, 0.5, 0.0, 0.5)) -> dict:
    """Four seeds; every seed moves both rows by ``seed_effect`` (shared, removed by pairing); ours also carries
    ``ours_delta`` ± 1 alternating per seed."""
    def cell(adv: list[float], paper_adv: float, aa: float) -> dict:
        return {"natural": {"mean": 80.0, "std": 1.0}, "adversarial": {"mean": sum(adv) / len(adv), "std": 1.0,
                                                                        "values": adv},
                "autoattack": {"mean": aa, "std": 1.0, "values": [aa] * len(adv)},
                "paper": {"natural": [80.0, 1.0], "adversarial": [paper_adv, 1.0]},
                "constant_predictor": False, "majority_share": [0.2, 0.3], "pgd_minus_autoattack_same_images": 1.0}
    jitter = [1.0, -1.0, 1.0, -1.0]
    ours = [30.0 + ours_delta + j + s for j, s in zip(jitter, seed_effect, strict=True)]
    dim = [30.0 + s for s in seed_effect]
    return {"dataset": "fashion-mnist", "seeds": [0, 1, 2, 3], "config": {"autoattack_n": 100},
            "row_labels": {"ours/robust": ["Ours", "Robust"], "hjelm/robust": ["Hjelm et al. (2018)", "Robust"]},
            "table": {"ours/robust": {"mlp": cell(ours, 40.0 + paper_delta, 20.0)},
                      "hjelm/robust": {"mlp": cell(dim, 40.0, 15.0)}},
            "flags": {"constant_predictor": [], "pgd_exceeds_autoattack_by_5_points": []}}


def test_findings_say_when_the_direction_matches_the_paper():
    same = r5.downstream_findings(_metrics(paper_delta=25.0, ours_delta=4.0), "medium run")
    # paired differences 4 ± 1 alternating: mean 4, sd 1.155, SE 0.577, t_{0.975,3} = 3.182 → 4 ± 1.84
    assert ("PGD accuracy +4.0 points (95% interval +2.2 to +5.8, paired over 4 seeds), AutoAttack +5.0 "
            "(medium run); the paper: +25.0 points") in same
    assert "Same direction as the paper." in same
    opposite = r5.downstream_findings(_metrics(paper_delta=25.0, ours_delta=-3.0), "medium run")
    assert "**Opposite direction to the paper.**" in opposite
    assert "constant predictors: none." in same
    # +1.5: beyond 2 SE (1.15) but not beyond t·SE (1.84): a normal rule would have called it a difference
    tie = r5.downstream_findings(_metrics(paper_delta=25.0, ours_delta=1.5), "medium run")
    assert "The interval contains zero: this run cannot tell the two apart." in tie and "direction" not in tie
    few = _metrics(paper_delta=25.0, ours_delta=4.0)
    for row in few["table"].values():
        row["mlp"]["adversarial"]["values"] = row["mlp"]["adversarial"]["values"][:2]
        row["mlp"]["autoattack"]["values"] = row["mlp"]["autoattack"]["values"][:2]
    assert "2 seeds are too few to judge." in r5.downstream_findings(few, "medium run")


def test_table_marks_flags_and_puts_the_paper_beside_ours():
    m = _metrics(10.0, 2.0)
    m["table"]["hjelm/robust"]["mlp"]["constant_predictor"] = True
    m["table"]["ours/robust"]["mlp"]["pgd_minus_autoattack_same_images"] = 12.0
    text = r5.downstream_markdown(m, "mlp", scale="medium run", name="tab-x")
    assert "| Ours | Robust | 80.00 ± 1.00 | 50.00 ± 1.00 | 80.0 ± 1.0 | 32.0 ± 1.0 § | 20.0 ± 1.0 |" in text
    assert "| Hjelm et al. (2018) | Robust | 80.00 ± 1.00 | 40.00 ± 1.00 | 80.0 ± 1.0 ‡ |" in text


def test_ladder_sentence_tells_masking_from_an_attack_stopped_early():
    masked = {"m": {"natural": 0.8, "paper_pgd": 0.7, "longer_pgd": 0.69, "longer_pgd_restarts": 0.5,
                    "autoattack": 0.25}}
    assert "gradient masking" in r5.ladder_sentence(masked)
    short = {"m": {"natural": 0.8, "paper_pgd": 0.7, "longer_pgd": 0.3, "longer_pgd_restarts": 0.28,
                   "autoattack": 0.25}}
    assert "gradient masking" not in r5.ladder_sentence(short) and "remove 40.0 of them" in r5.ladder_sentence(short)
    close = {"m": {"natural": 0.8, "paper_pgd": 0.27, "longer_pgd": 0.26, "longer_pgd_restarts": 0.26,
                   "autoattack": 0.25}}
    assert "within 5 points of AutoAttack (2.0)" in r5.ladder_sentence(close)


def test_stronger_pgd_keeps_the_radius():
    threat = ThreatModel("linf", 0.1, 10, 0.02)
    ladder = stronger_pgd(threat)
    assert ladder["paper_pgd"] == threat
    assert ladder["longer_pgd"] == ThreatModel("linf", 0.1, 100, 0.005)
    assert ladder["longer_pgd_restarts"] == ThreatModel("linf", 0.1, 100, 0.005, random_start=True, restarts=4)


def test_rv_sentence_reports_numbers_and_never_judges_one_encoder():
    def enc(rv: float, normal: float, impossible: bool = False) -> dict:
        return {"rv": {"mean": rv, "std": 0.01, "values": [rv, rv]}, "normal": {"mean": normal, "std": 0.01},
                "impossible": impossible}
    text = r5.rv_sentence({"encoders": {"normal": enc(1.0, 1.2), "worst": enc(0.5, 1.1)}})
    assert "RV is 0.500 ± 0.010 nats against 1.000 ± 0.010" in text and "over 2 critic seeds" in text
    assert "too few to judge" in text and "less vulnerable" not in text  # one encoder per objective
    clipped = r5.rv_sentence({"encoders": {"normal": enc(1.4, 0.7, True), "worst": enc(0.9, 0.75)}})
    assert clipped.startswith("†") and "valid" not in clipped and "clipped" not in clipped


def test_page_facts_of_chapter_07():
    from rrlib.experiments.robust_encoders import page_facts

    def enc(rv: float, normal: float, impossible: bool, heldout: bool) -> dict:
        return {"rv": {"mean": rv}, "normal": {"mean": normal}, "impossible": impossible,
                "heldout_impossible": heldout}

    metrics = {"config": {"rv_seeds": [0, 1, 2]},
               "encoders": {"normal": enc(0.5, 2.0, False, True), "worst": enc(0.125, 1.5, True, True)}}
    medium = {"encoders": {"normal": {"impossible_seeds": ["seed0", "seed2"], "seeds": ["seed0", "seed1", "seed2"]},
                           "worst": {"impossible_seeds": [], "seeds": ["seed0", "seed1", "seed2"]}}}
    assert page_facts(metrics, medium) == {
        "n_rv_seeds": 3, "n_impossible_quick": 2, "medium_normal_impossible_seeds": 2,
        "medium_worst_impossible_seeds": 0, "medium_n_seeds": 3, "rv_ratio_quick": 0.25, "normal_ratio_quick": 0.75}


def test_small_renderers():
    from rrlib.rendering import tables

    run = {"git_commit": "abc", "command": "cmd", "machine": {"cpu_count": 2}, "runs": "", "note": ""}
    box = r5.medium_note_markdown(run)
    assert box.startswith(":::{admonition} Provenance") and ":class: dropdown" in box and box.endswith(":::")
    assert "how it was made" not in box and "wall time" not in box
    box = r5.medium_note_markdown({**run, "note": "one seed per job.", "runs": "seed 0: 5 s"})
    assert "* how it was made: one seed per job." in box and "* training runs' wall time: seed 0: 5 s" in box
    assert r5.HEAD_NAMES == {"mlp": "MLP", "linear": "linear"}
    assert [tables.norm_name(k) for k in ("1", "2", "inf")] == ["ℓ1", "ℓ2", "ℓ∞"]
    assert tables.table_or_captioned(["a"], [["1"]]) == "| a |\n|---|\n| 1 |"
    assert tables.table_or_captioned(["a"], [["1"]], "Cap.", "tab-x") == (
        ":::{table} Cap.\n:name: tab-x\n:align: center\n\n| a |\n|---|\n| 1 |\n:::")


def test_medium_fresh_critic_table_or_not_yet_measured():
    assert "not yet measured" in r5.medium_fresh_critic_markdown(None)
    fresh = {"settings": {"iterations": 400, "batch_size": 128, "rv_train": 10000, "rv_test": 1024},
             "encoders": [{"loss": "normal", "seed": 0, "normal": [1.0, 1.2], "worst": [-0.1, 0.1], "rv": [1.1, 1.1],
                           "impossible": [True, False]},
                          {"loss": "worst", "seed": 0, "normal": [0.8], "worst": [0.5], "rv": [0.3],
                           "impossible": [False]}]}
    text = r5.medium_fresh_critic_markdown(fresh)
    assert "| 0 | 1.100 / 0.000 † | 1.100 | 0.800 / 0.500 | 0.300 |" in text and "400 steps of batch 128" in text
    assert "the same 10,000 training and 1,024 test images" in text
    assert "1 of the 2 encoders have an impossible estimate (DIM, seed 0), so their RV is not compared." in text


def test_medium_fresh_critic_sentence_is_the_paired_difference_with_its_t_interval():
    rv = {"normal": [0.50, 0.62, 0.41, 0.55], "worst": [0.20, 0.30, 0.15, 0.33]}
    fresh = {"encoders": [{"loss": loss, "seed": s, "normal": [1.0], "worst": [1.0 - rv[loss][s]],
                           "rv": [rv[loss][s]], "impossible": [False]} for s in range(4) for loss in rv]}
    text = r5.medium_fresh_critic_markdown(fresh)
    d = [a - b for a, b in zip(rv["normal"], rv["worst"], strict=True)]  # 0.30, 0.32, 0.26, 0.22
    mean = sum(d) / 4
    half = 3.182446 * (sum((x - mean) ** 2 for x in d) / 3) ** 0.5 / 2  # t(0.975, 3 df) · sd / √4
    interval = f"[{mean - half:+.3f}, {mean + half:+.3f}]"
    assert f"is {mean:+.3f} nats (95% Student-t interval over 4 seeds: {interval})" in text
    assert "is supported by that interval" in text
    two = {"encoders": [e for e in fresh["encoders"] if e["seed"] < 2]}
    assert "2 seed(s) of each encoder: too few to judge whether" in r5.medium_fresh_critic_markdown(two)
