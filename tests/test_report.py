"""The reproduction report (rrlib.report): verdict rules on hand-built inputs, coverage of the paper, rendering."""

from __future__ import annotations

import math

import pytest

from rrlib import report, stats
from rrlib.paper import FIGURE_1, FIGURE_2, FIGURE_3, TABLE_NUMBERS, TABLE_ROWS, TABLES
from rrlib.report import DIFFERS, NOT_RUN, REDUCED, REPRODUCED
from rrlib.report.claims import NOT_JUDGED

CMD = "python -m rrlib.book run --profile full --only 06_vulnerability_robustness"


def meta(profile="quick", seed=0):
    return {"_meta": {"profile": profile, "seed": seed, "device": "cpu", "finished_at": "2026-01-01T00:00:00"}}


# ----------------------------------------------------------------------------------------------- rules
@pytest.mark.parametrize(("printed", "tol"), [("30.1", 0.05), ("77", 0.5), ("1.08", 0.005), ("77.0%", 0.05)])
def test_printed_tolerance_is_half_a_unit_of_the_last_digit(printed, tol):
    assert report.printed_tolerance(printed) == pytest.approx(tol)


def test_theory_verdict():
    assert report.theory_verdict("30.1", 30.103, "c")[0] == REPRODUCED
    assert report.theory_verdict("30.1", 30.149, "c")[0] == REPRODUCED
    verdict, detail = report.theory_verdict("30.1", 30.2, "c")
    assert verdict == DIFFERS and "+0.1" in detail
    assert report.theory_verdict("30.1", None, "the command") == (NOT_RUN, "`the command`")


def test_figure_verdict():
    # digitisation 0.01 + 2 SE (0.005) = 0.02 allowed
    within = [("RV", 0.887, 0.905, 0.005, 0.01)]
    outside = [("RV", 0.887, 0.91, 0.005, 0.01)]
    assert report.figure_verdict(within, True, CMD, "why")[0] == REPRODUCED
    verdict, detail = report.figure_verdict(outside, True, CMD, "why")
    assert verdict == DIFFERS and "RV +0.023" in detail and "0.02" in detail
    # a different data set or scale is never compared by value, however close
    assert report.figure_verdict([("RV", 0.887, 0.887, 0.0, 0.01)], False, CMD, "why")[0] == NOT_RUN


def cell(mean, std, n=2):
    return {"mean": mean, "std": std, "values": [mean] * n}


def test_table_cell_verdict():
    paper = {"natural": (90.0, 0.0), "adversarial": (10.0, 2.0)}
    ours = {"natural": cell(90.5, 0.0), "adversarial": cell(11.0, 0.0)}
    assert report.table_cell_verdict(paper, None, None, "c") == (NOT_RUN, "command below the table")
    assert report.table_cell_verdict(paper, ours, "full", "c")[0] == REPRODUCED
    # natural off by 3 points with zero std on both sides: the 1-point floor applies
    far = {"natural": cell(93.0, 0.0), "adversarial": cell(11.0, 0.0)}
    verdict, detail = report.table_cell_verdict(paper, far, "full", "c")
    assert verdict == DIFFERS and detail == "natural +3.0 (tolerance 1.0) points"
    # adversarial: SE of the difference sqrt(2²/4 + 4²/2) = 3 → tolerance 6 points
    noisy = {"natural": cell(90.0, 0.0), "adversarial": {"mean": 15.9, "std": 4.0, "values": [11.9, 19.9]}}
    assert report.table_cell_verdict(paper, noisy, "full", "c")[0] == REPRODUCED
    # a smaller scale is never reproduced (nor different), even when it is close
    assert report.table_cell_verdict(paper, ours, "medium", "c") == (
        REDUCED, "natural +0.5, adversarial +1.0 points (medium scale)")


def test_combine_verdicts():
    S, C, U, F = stats.SUPPORTED, stats.CONTRADICTED, stats.UNDECIDED, stats.TOO_FEW
    assert report.combine_verdicts([S, S]) == S and report.combine_verdicts([C, C]) == C
    assert report.combine_verdicts([S, C]) == U and report.combine_verdicts([S, U]) == U
    assert report.combine_verdicts([S, F]) == F  # one comparison on too few seeds: the claim is not judged
    with pytest.raises(ValueError):
        report.combine_verdicts([])


def test_claim_groups_count_every_verdict_once():
    from rrlib.report.types import claim_group

    assert claim_group("supported (3 models only)") == "supported"
    assert claim_group("violated under the paper's attack only") == "contradicted"
    assert claim_group(stats.CONTRADICTED) == "contradicted" and claim_group(stats.UNDECIDED) == "undecided"
    assert claim_group("not supported at our scale") == "not_supported"
    for verdict in (NOT_RUN, stats.TOO_FEW, "cannot judge: impossible estimate (x)", "not yet measured",
                    "not judged: no medium run yet"):
        assert claim_group(verdict) == "not_judged", verdict


def test_rules_text_is_written_from_the_constants():
    text = report.rules_markdown()
    for verdict in report.VALUE_VERDICTS:
        assert f"**{verdict}**" in text
    for snippet in (f"{report.FIGURE_NATS:g} nats", f"{report.FIGURE_POINTS:g} percentage point",
                    f"{stats.TOLERANCE_Z:g} standard errors of our number",
                    f"{report.FIGURE_3_NATS:g}", f"std/√{report.PAPER_TRIALS}",
                    f"at least {report.TABLE_POINTS:g} point", "0.05 for 30.1", report.FIGURE_DATASET):
        assert snippet in text, snippet


def test_claim_rules_text_is_written_from_the_constants():
    text = report.claim_rules_markdown()
    for snippet in (f"Student-t {stats.CLAIM_LEVEL:.0%} interval", "t = 3.18 for 4 seeds",
                    f"within ±{stats.COMPARABLE_POINTS:g} points", f"fewer than {stats.MIN_REPLICATES} trained models",
                    f"MI over {stats.MI_CLAIM_Z:g}", f"accuracy over {stats.ACCURACY_CLAIM_Z:g}",
                    "never on a quick run",
                    f"**{stats.TOO_FEW}**", f"**{stats.CANNOT_JUDGE}**", f"**{stats.UNDECIDED}**"):
        assert snippet in text, snippet


def test_commands():
    assert report.chapter_command("06_vulnerability_robustness") == CMD
    assert report.table_command("cifar10") == ("python -m rrlib.cli tables run --profile full "
                                               "--dataset cifar10 --out-root runs/table-cifar10 "
                                               "--json runs/table-cifar10.json")


def test_table_command_parses(monkeypatch, tmp_path):
    """The printed table command is accepted by the real command line and picks the data set."""
    from rrlib import cli, runtime
    from rrlib.experiments import downstream_tables
    from rrlib.grid import commands

    seen = {}
    monkeypatch.setattr(downstream_tables, "collect", lambda config, **kw: seen.setdefault("config", config))
    monkeypatch.setattr(commands, "save_json", lambda result, path: path)
    monkeypatch.setattr(runtime, "configure_threads", lambda *a, **k: None)
    words = report.table_command("mnist").split()
    assert words[:4] == ["python", "-m", "rrlib.cli", "tables"]
    assert cli.main(words[3:]) == 0
    assert seen["config"].dataset == "mnist" and len(seen["config"].seeds) == 4
    assert seen["config"].out_root == "runs/table-mnist"


# ----------------------------------------------------------------------------------------------- coverage
def test_every_paper_number_appears_exactly_once_without_inputs():
    r = report.build({})
    theory = r.section("theory").rows
    assert [row.paper for row in theory] == ["30.1", "77.0"]
    assert all(row.verdict == NOT_RUN for row in r.rows("value"))
    from rrlib.report.types import claim_group

    assert all(claim_group(row.verdict) == "not_judged" for row in r.rows("claim"))
    fig1 = [row.values["paper"] for row in r.section("figure_1").rows]
    assert sorted(fig1) == sorted([list(v) for p in FIGURE_1.values() for v in p.values()])
    fig2 = [row.values["paper"] for row in r.section("figure_2").rows]
    expected = [[p.worst_mi, p.normal_mi, p.adversarial_accuracy] for v in FIGURE_2.values() for p in v.values()]
    assert fig2 == expected + [[1.75], [1.25]]
    fig3 = [row.values["paper"] for row in r.section("figure_3").rows]
    assert fig3 == [q for parts in FIGURE_3.values() for q in parts.values()]
    for dataset, number in TABLE_NUMBERS.items():
        rows = r.section(f"table_{number}").rows
        keys = [(tuple(row.values["row"]), row.values["head"]) for row in rows]
        assert sorted(keys) == sorted((label, head) for label in TABLE_ROWS for head in ("mlp", "linear"))
        for row in rows:
            paper = TABLES[dataset][tuple(row.values["row"])]
            head = row.values["head"]
            assert row.values["paper"] == {"natural": list(paper[f"{head}_natural"]),
                                           "adversarial": list(paper[f"{head}_adversarial"])}
        assert report.table_command(dataset) in r.section(f"table_{number}").note
    counts = r.counts()
    assert counts["not_run_here"] == counts["values"] == 2 + 12 + 12 + 6 + 4 * 14
    assert counts["claims_not_run_here"] == counts["claims"]


def ch02():
    return {**meta(), "n_instances": 1000, "corrected_violations": 0, "printed_form_violations": 989,
            "printed_form_checked": 989, "worst_violation": 0.5623, "example_eps": 0.5, "example_ag": 0.1499,
            "example_rv": 0.0295, "example_lower": 0.0113, "example_upper": 0.0456,
            "example_printed_lower": 0.0456, "example_printed_upper": 0.0113}


def ch03(at0=30.103, at108=77.0068):
    return {**meta(), "bound_at_0_percent": at0, "bound_at_1_08_percent": at108, "n_violations": 0,
            "n_problems": 300, "paper_points_violations": 0}


def test_theory_rows_and_the_theorem_3_2_example_appear_once():
    r = report.build({"02_theorem_3_2": ch02(), "03_theorem_3_4": ch03(at108=77.2)})
    assert [row.verdict for row in r.section("theory").rows] == [REPRODUCED, DIFFERS]
    assert "ch. 03, quick profile" in r.section("theory").rows[0].source
    examples = [e for e in r.errata if "worked example" in e.evidence]
    assert len(examples) == 1 and "RV = 0.0295" in examples[0].evidence
    assert "989 of 989" in examples[0].evidence


def model(name, kind, arch, rv, gap, worst, normal, adv, se=0.0):
    return {"name": name, "kind": kind, "architecture": arch, "rv": rv, "rv_se": se, "gap": gap / 100,
            "accuracy_se": 0.001, "worst_mi": worst, "worst_mi_se": se, "normal_mi": normal, "normal_mi_se": se,
            "adversarial_accuracy": adv / 100, "adversarial_accuracy_strong": adv / 100, "bound": 1.0,
            "natural_accuracy": (adv + gap) / 100}


def ch06(profile, dataset):
    std = model("Baseline-H (standard)", "standard", "baseline_h", 0.887, 85.2, 0.21, 1.10, 0.0)
    rob = model("Baseline-H (robust)", "robust", "baseline_h", 0.80, 34.1, 1.03, 1.74, 39.6, se=0.01)
    neurons = [{"kind": "standard", "normal": [0.2, 0.25, 0.26], "worst": [0.1, 0.1, 0.2],
                "vulnerability": [0.1, 0.15, 0.06]}]
    return {**meta(profile), "dataset_title": dataset, "n_models": 2, "models": [std, rob], "neurons": neurons,
            "n_paper_fano_violations": 5, "n_paper_models": 10, "n_natural_bound_violations": 0}


def test_figures_are_compared_by_value_only_at_the_papers_scale():
    r = report.build({"06_vulnerability_robustness": ch06("full", "CIFAR-10")})
    fig1 = {row.item: row for row in r.section("figure_1").rows}
    assert fig1["Baseline-H, standard"].verdict == REPRODUCED
    # robust RV 0.80 vs 0.696: tolerance 0.01 + 2 × 0.01
    assert fig1["Baseline-H, robust (ε = 8/255)"].verdict == DIFFERS
    assert fig1["VGG16, standard"].verdict == NOT_RUN  # the chapter has no such model
    fig2 = {row.item: row for row in r.section("figure_2").rows}
    assert fig2["Baseline-H, standard"].verdict == REPRODUCED
    assert fig2["§6.1 text: largest normal MI of robust models"].verdict == REPRODUCED  # |1.74 − 1.75| ≤ 0.01 + 0.02
    for inputs in ({"06_vulnerability_robustness": ch06("quick", "Fashion-MNIST")},
                   {"06_vulnerability_robustness": ch06("quick", "CIFAR-10")},
                   {"06_vulnerability_robustness": ch06("full", "Fashion-MNIST")}):
        r = report.build(inputs)
        for key in ("figure_1", "figure_2", "figure_3"):
            assert {row.verdict for row in r.section(key).rows} == {NOT_RUN}
            assert CMD in r.section(key).note


def test_neuron_summary():
    s = report.neuron_summary([0.01, 0.03, 0.035, 0.07], bin_width=0.02)
    assert s["low"] == 0.01 and s["high"] == 0.07
    assert s["mode"] == pytest.approx(0.03)  # bin [0.02, 0.04) holds two values


def test_section_6_1_claims_use_the_chapters_rules():
    r = report.build({"06_vulnerability_robustness": ch06("medium", "Fashion-MNIST")})
    claims = {row.values.get("key"): row for row in r.section("claims").rows if row.values.get("key")}
    assert claims["training_works"].verdict == "supported"
    assert claims["robust_keeps_worst"].verdict == "supported"  # 1.03 − 0.21 > 0.2
    assert claims["standard_worst_zero"].verdict == "not supported"  # worst-case MI 0.21 ≥ 0.1
    assert claims["training_works"].detail == "Fashion-MNIST, 2 models"
    assert "medium profile" in claims["training_works"].source


def test_section_6_1_claims_are_not_judged_on_a_quick_run():
    r = report.build({"06_vulnerability_robustness": ch06("quick", "Fashion-MNIST")})
    rows = [row for row in r.section("claims").rows if row.values.get("key")]
    assert len(rows) == 7 and {row.verdict for row in rows} == {"not judged: no medium run yet"}
    assert all(row.ours == "—" for row in rows)  # one line each, no quick-run evidence


def table_metrics(dataset, shift, seeds=(0, 1), noise=None):
    """The paper's table shifted by ``shift`` points; ``noise[i]`` is added to every cell of seed ``i`` (a seed
    effect shared by every row, which pairing removes)."""
    noise = [0.0] * len(seeds) if noise is None else list(noise)
    table = {}
    for label, cells in TABLES[dataset].items():
        key = report.ROW_KEY[label]
        table[key] = {}
        for h in ("mlp", "linear"):
            table[key][h] = {}
            for c in ("natural", "adversarial", "autoattack"):
                base = cells[f"{h}_{'adversarial' if c == 'autoattack' else c}"][0] + shift
                values = [base + e for e in noise]
                table[key][h][c] = {"mean": sum(values) / len(values), "std": 0.5, "values": values}
    return {"dataset": dataset, "units": "percent", "seeds": list(seeds), "table": table,
            "flags": {"constant_predictor": ["hjelm/robust/linear"]}}


def test_tables_reduced_scale_and_claims():
    m8 = {**meta("quick"), **table_metrics("fashion-mnist", -40.0), "medium": table_metrics("fashion-mnist", 2.0)}
    r = report.build({"08_downstream": m8})
    rows = r.section("table_4").rows
    assert {row.verdict for row in rows} == {REDUCED}  # the medium run is preferred to the quick one
    assert all("natural +2.0, adversarial +2.0 points (medium scale)" == row.detail for row in rows)
    assert "committed medium-scale run" in rows[0].source and "seeds 0, 1" in rows[0].source
    assert {row.verdict for row in r.section("table_1").rows} == {NOT_RUN}
    claims = [row for row in r.section("claims").rows if row.item.startswith("§6.2")]
    assert len(claims) == 6  # one verdict per claim: the quick run judges none
    assert {row.verdict for row in claims} == {stats.TOO_FEW}  # two seeds
    assert not [e for e in r.errata if "constant predictor" in e.finding]  # collapsed heads are not errata


def test_table_claims_are_paired_and_t_based():
    # four seeds whose effect (−3, −1, +1, +3 points) is shared by every row: pairing removes it
    m8 = {**meta("quick"), "medium": table_metrics("fashion-mnist", 0.0, (0, 1, 2, 3), noise=(-3, -1, 1, 3))}
    rows = {row.item: row for row in report.build({"08_downstream": m8}).section("claims").rows}
    robust = rows["§6.2: with a robust h, ours is more robust than DIM (PGD and AutoAttack)"]
    assert robust.verdict == stats.SUPPORTED and "MLP PGD +55.5 [+55.5, +55.5]" in robust.ours
    natural = rows["§6.2: ours has higher natural accuracy than DIM with a standard h (Table 4's numbers)"]
    assert natural.verdict == stats.SUPPORTED  # the paper's +0.87 / +1.44, exactly, every seed
    comparable = rows["§6.2: ours with a robust h is comparable to the fully supervised robust model, under the "
                      "paper's PGD"]
    assert comparable.verdict == stats.CONTRADICTED  # 70.44 − 77.59 = −7.15 < −5, every seed
    ablation = [row for item, row in rows.items() if "ablation" in item][0]
    assert ablation.verdict == stats.SUPPORTED and "MLP natural -41.0" in ablation.ours
    # one seed's pair reversed: the interval of the natural-accuracy difference then contains zero
    m8["medium"]["table"]["ours/standard"]["mlp"]["natural"]["values"][0] -= 10.0
    rows = {row.item: row for row in report.build({"08_downstream": m8}).section("claims").rows}
    natural = rows["§6.2: ours has higher natural accuracy than DIM with a standard h (Table 4's numbers)"]
    assert natural.verdict == stats.UNDECIDED


def test_full_scale_table_is_reproduced():
    m8 = {**meta("full"), **table_metrics("fashion-mnist", 0.3, seeds=(0, 1, 2, 3))}
    r = report.build({"08_downstream": m8})
    assert {row.verdict for row in r.section("table_4").rows} == {REPRODUCED}
    assert r.section("table_4").note == ""


ENCODER_CLAIM = "§5: the worst-case MI encoder's RV is smaller than the DIM encoder's (fresh critics)"


def fresh(normal_rv, worst_rv, worst_mi=0.5):
    """A fresh-critic result (:mod:`rrlib.report.encoder_rv`): per seed one DIM and one worst-case encoder."""
    out = []
    for seed, (n, w) in enumerate(zip(normal_rv, worst_rv, strict=True)):
        for loss, rv in (("normal", n), ("worst", w)):
            out.append({"loss": loss, "seed": seed, "normal": [worst_mi + rv], "worst": [worst_mi], "rv": [rv],
                        "impossible": [worst_mi < 0]})
    return {"encoders": out}


def test_encoder_claim_is_judged_on_fresh_critics_only():
    # the chapter-07 quick run and the medium run's jointly trained critics never judge §5's claim
    m7 = {**meta(), "encoders": {"normal": {"rv": cell(0.5, 0.01)}, "worst": {"rv": cell(0.2, 0.01)}},
          "medium": {"encoders": {"normal": {"heldout_rv": cell(0.9, 0.01)}, "worst": {"heldout_rv": cell(0.1, 0.01)}}}}
    row = {r.item: r for r in report.build({"07_robust_encoders": m7}).section("claims").rows}[ENCODER_CLAIM]
    assert row.verdict == "not yet measured"
    rv = {"normal": [0.50, 0.62, 0.41, 0.55], "worst": [0.20, 0.30, 0.15, 0.33]}
    row = {r.item: r for r in report.build({report.FRESH_CRITIC: fresh(rv["normal"], rv["worst"])})
           .section("claims").rows}[ENCODER_CLAIM]
    assert row.verdict == stats.SUPPORTED and row.values == {"rv_normal": rv["normal"], "rv_worst": rv["worst"]}
    # a tie is not an ordering
    row = {r.item: r for r in report.build({report.FRESH_CRITIC: fresh([0.5, 0.2, 0.4], [0.4, 0.3, 0.4])})
           .section("claims").rows}[ENCODER_CLAIM]
    assert row.verdict == stats.UNDECIDED
    # two seeds are too few; an impossible (negative) worst-case estimate is no measurement
    assert {r.item: r for r in report.build({report.FRESH_CRITIC: fresh([0.5, 0.6], [0.1, 0.2])})
            .section("claims").rows}[ENCODER_CLAIM].verdict == stats.TOO_FEW
    row = {r.item: r for r in report.build({report.FRESH_CRITIC: fresh([0.5] * 4, [0.1] * 4, worst_mi=-0.2)})
           .section("claims").rows}[ENCODER_CLAIM]
    assert row.verdict.startswith(stats.CANNOT_JUDGE) and "normal seed 0" in row.verdict


def test_saliency_claim_counts_trained_models_not_images():
    m9 = {**meta(), "alignment": {"dim_mi": {"mean": 0.1, "se": 0.01, "n": 200},
                                  "ours_mi": {"mean": 0.3, "se": 0.01, "n": 200}}}
    rows = {row.item: row for row in report.build({"09_saliency": m9}).section("claims").rows}
    assert rows["Figs 4 and 6: saliency of ours is better aligned with the image than DIM's"].verdict == stats.TOO_FEW


def test_missing_chapters_give_not_run_rows_with_the_command():
    r = report.build({"03_theorem_3_4": ch03()})
    missing = [row for row in r.section("claims").rows if row.source == "chapter not run"]
    assert any("02_theorem_3_2" in row.detail for row in missing)
    assert any("09_saliency" in row.detail for row in missing)
    ran = {i["chapter"]: i["ran"] for i in r.inputs}
    assert ran["03_theorem_3_4"] and not ran["08_downstream"]


def test_paper_table_oddities():
    constant, duplicates = report.paper_table_oddities()
    hjelm_robust = ("Hjelm et al. (2018)", "Robust")
    assert constant == [("mnist", hjelm_robust, "linear"), ("fashion-mnist", hjelm_robust, "linear"),
                        ("svhn", hjelm_robust, "mlp"), ("svhn", hjelm_robust, "linear")]
    assert duplicates == [("fashion-mnist", "linear", ("Hjelm et al. (2018)", "Standard"),
                           ("Fully-Supervised", "Standard"))]


# ----------------------------------------------------------------------------------------------- rendering
def test_section_markdown():
    r = report.build({"03_theorem_3_4": ch03()})
    text = report.section_markdown(r.section("theory"))
    lines = [line for line in text.splitlines() if line.startswith("|")]
    assert lines[0] == "| item | paper | ours | run | verdict | detail |"
    assert len(lines) == 2 + 2
    assert all(line.count(" | ") == 5 for line in lines[2:])  # pipes inside cells are escaped
    assert "**reproduced**" in text and ":name: tab-report-theory" in text
    assert "Theorem 3.2 prints no number" in text
    errata = report.errata_markdown(r)
    assert errata.count("\n| ") == 1 + len(r.errata)
    counts = report.counts_markdown(r)
    assert "| value: reproduced | 2 |" in counts
    claims = report.section_markdown(r.section("claims"))
    lines = [line for line in claims.splitlines() if line.startswith("|")]
    assert lines[0] == "| claim | evidence | verdict |" and all(line.count(" | ") == 2 for line in lines[2:])
    thm = next(line for line in lines if line.startswith("| Thm 3.4: adversarial risk"))
    assert "0 violations in 300; ch. 03, quick profile, seed 0; exact (enumeration)" in thm


def test_rows_not_run_here_are_said_once_per_table_and_the_answer_comes_first():
    empty = report.build({})
    fig1 = report.section_markdown(empty.section("figure_1"))
    table = [line for line in fig1.splitlines() if line.startswith("|")]
    assert table[0] == "| item | paper |" and len(table) == 2 + len(empty.section("figure_1").rows)
    assert fig1.count(f"**{NOT_RUN}**") == 1 and f"(all {len(table) - 2} rows)" in fig1
    # a mixed table keeps its not-run rows (the paper's number beside a dash) and says their detail once
    mixed = report.build({"06_vulnerability_robustness": ch06("full", "CIFAR-10")})
    text = report.section_markdown(mixed.section("figure_1"))
    n_not_run = sum(r.verdict == NOT_RUN for r in mixed.section("figure_1").rows)
    assert 0 < n_not_run < len(mixed.section("figure_1").rows)
    assert text.count("| see below |") == n_not_run and text.count(f"**{NOT_RUN}** (") == 1
    answer = report.answer_markdown(mixed)
    counts = mixed.counts()
    assert f"**{REPRODUCED}**: {counts['reproduced']} values — " in answer
    assert "Baseline-H, standard" in answer.splitlines()[0]  # reproduced values are named
    assert f"**{NOT_RUN}**: {counts['not_run_here']} values" in answer
    assert f"claims **supported**: {counts['claims_supported']}" in answer


def test_section_6_1_is_judged_on_the_committed_medium_run_not_the_quick_chapter():
    quick, medium = ch06("quick", "Fashion-MNIST"), ch06("medium", "Fashion-MNIST")
    medium["_meta"]["file"] = "results/vulnerability_fashion_mnist_medium.json"
    r = report.build({"06_vulnerability_robustness": quick, report.VULNERABILITY_MEDIUM: medium})
    rows = [row for row in r.rows("claim") if row.values.get("key")]
    assert rows and all(row.verdict != NOT_JUDGED for row in rows)
    assert all("medium profile, committed in results/vulnerability_fashion_mnist_medium.json" in row.source
               for row in rows)
    # the chapter's own quick run alone judges nothing; a full run of the chapter outranks the committed run
    quick_only = report.build({"06_vulnerability_robustness": quick})
    assert {row.verdict for row in quick_only.rows("claim") if row.values.get("key")} == {NOT_JUDGED}
    full = report.build({"06_vulnerability_robustness": ch06("full", "CIFAR-10"), report.VULNERABILITY_MEDIUM: medium})
    assert all("full profile" in row.source for row in full.rows("claim") if row.values.get("key"))


def test_section_6_1_evidence_is_words_not_field_dumps():
    r = report.build({"06_vulnerability_robustness": ch06("medium", "Fashion-MNIST")})
    rows = [row for row in r.rows("claim") if row.values.get("key")]
    assert len(rows) >= 6
    for row in rows:
        assert "_" not in row.ours and "True" not in row.ours and "False" not in row.ours, row.ours
    tracks = next(row for row in rows if row.values["key"] == "rv_tracks_gap")
    assert "Spearman ρ" in tracks.ours and "permutation p" in tracks.ours


def test_metrics_are_plain_json(assert_plain):
    r = report.build({"02_theorem_3_2": ch02(), "03_theorem_3_4": ch03(),
                      "06_vulnerability_robustness": ch06("quick", "Fashion-MNIST")})
    m = r.metrics()
    assert_plain(m)
    c = m["counts"]
    assert c["values"] == sum(c[v.replace(" ", "_")] for v in report.VALUE_VERDICTS)
    from rrlib.report.types import CLAIM_GROUPS

    assert c["claims"] == sum(c[f"claims_{g}"] for g in CLAIM_GROUPS)
    assert c["claims_not_run_here"] == c["claims_not_judged"]
    assert not math.isnan(c["reproduced"])


# ----------------------------------------------------------------------------------------------- inputs, errata
def test_table_runs_and_their_sources():
    from rrlib.report.inputs import TableRun, best_table_runs, dataset_title, recorded_table_runs, table_number

    quick = {**meta("quick"), **table_metrics("fashion-mnist", 0.0, seeds=(0,))}
    medium = table_metrics("fashion-mnist", 1.0, seeds=(0, 1, 2))
    inputs = {"08_downstream": {**quick, "medium": medium}}
    assert [r.scale for r in recorded_table_runs(inputs)] == ["quick", "medium"]
    best = best_table_runs(inputs)["fashion-mnist"]
    assert best.scale == "medium" and best.table is medium["table"]
    assert best.source() == "ch. 08, committed medium-scale run, Fashion-MNIST, seeds 0, 1, 2"
    assert TableRun("full", table_metrics("mnist", 0.0)).source() == "ch. 08, full profile, MNIST, seeds 0, 1"
    assert (table_number("svhn"), table_number("imagenet"), dataset_title("imagenet")) == ("5", "?", "imagenet")


def test_errata_templates_are_filled():
    from rrlib.report.errata import ERRATA

    m2 = {**ch02(), "mc_printed_min_abs_z": 12.25, "mc_samples": 200000}
    r = report.build({"02_theorem_3_2": m2, "06_vulnerability_robustness": ch06("quick", "Fashion-MNIST")})
    constant, duplicates = report.paper_table_oddities()
    assert len(ERRATA) == 5 and constant  # the constant-predictor cells are correct reports, not errata
    assert len(r.errata) == 3 + len(duplicates) + 1  # ch. 02 two, Fano one, a repeated table cell, ch. 06 one
    assert not any("{" in text for e in r.errata for text in (e.where, e.printed, e.finding, e.evidence))
    evidence = [e.evidence for e in r.errata]
    assert any(e.endswith("(200,000 samples) puts the estimate at least 12.2 standard errors from ½ − P")
               for e in evidence)
    fano = next(e for e in evidence if e.startswith("with − the right-hand side is"))
    assert "1.301 > 1" in fano  # 1 + log 2 / log 10
    assert any(e.endswith("(ch. 06, quick profile)") and e.startswith("5 of 10 points") for e in evidence)


# ----------------------------------------------------------------------------------------------- chapter 08 inputs
def test_downstream_table_command_and_medium_summary():
    from rrlib.report import downstream

    assert downstream.table_command("svhn", out_root="OUT", json_path="table.json") == (
        "python -m rrlib.cli tables run --profile full --dataset svhn --out-root OUT --json "
        "table.json")
    assert report.table_command("svhn") == downstream.table_command("svhn")
    committed = {"provenance": {"git_commit": "abc", "command": "cmd", "wall_seconds_total": 5400.0,
                                "machine": "cpu", "wall_seconds_runs": {"seeds 0-1": 3600.0, "seed 2": 1800.0}},
                 "metrics": {"seeds": [0, 1, 2], "config": {"encoder_epochs": 10, "head_epochs": 8,
                                                              "supervised_epochs": 8}}}
    assert downstream.medium_run_summary(committed) == {
        "git_commit": "abc", "command": "cmd", "wall_minutes": 90.0, "machine": "cpu", "note": "", "n_seeds": 3,
        "runs": "seeds 0-1: 3,600 s and seed 2: 1,800 s", "epochs": "8–10"}
    assert downstream.medium_run_summary({**committed, "note": "n"})["note"] == "n"


def test_paper_comparison_counts_cells_above_the_paper():
    from rrlib.report import downstream

    def cell(nat, adv, paper_nat, paper_adv):
        return {"natural": {"mean": nat}, "adversarial": {"mean": adv},
                "paper": {"natural": [paper_nat, 0.1], "adversarial": [paper_adv, 0.1]}}
    metrics = {"table": {"a": {"mlp": cell(80, 40, 90, 5), "linear": cell(70, 10, 70, 10)},
                         "b": {"mlp": cell(95, 1, 90, 5)}}}
    # natural 80 < 90, 70 = 70 (not higher), 95 > 90; PGD 40 > 5, 10 = 10, 1 < 5
    assert downstream.paper_comparison(metrics) == {"cells": 6, "higher": 2, "pgd_cells": 3, "pgd_higher": 1}


# ------------------------------------------------------------------------------------------- beyond the paper
def _beyond_comparison(rep, head, loss, column, mean, half, verdict):
    return {"rep": rep, "head": head, "loss": loss, "column": column, "mean": mean,
            "interval": [mean - half, mean + half], "n": 4, "verdict": verdict}


def test_rows_beyond_the_paper_are_judged_only_on_the_medium_run_and_never_counted():
    from rrlib.report.beyond import BEYOND_KIND, NOT_JUDGED_BEYOND

    empty = report.build({})
    rows = empty.section("beyond").rows  # nothing to judge: one row, not the same verdict six times
    assert len(rows) == 1 and rows[0].verdict == NOT_JUDGED_BEYOND and rows[0].kind == BEYOND_KIND
    assert "--only 11_beyond_contrastive" in rows[0].detail and "6 comparisons" in rows[0].item
    quick_only = report.build({"11_beyond_contrastive": {"medium_comparisons": None}})
    assert [r.verdict for r in quick_only.section("beyond").rows] == [NOT_JUDGED_BEYOND]
    assert "(paper: not in the paper)" not in report.section_markdown(quick_only.section("beyond"))

    # theirs − ours: −3 ± 1.3 everywhere for the contrastive encoder (its interval below 0: "theirs higher" is
    # contradicted), +0.5 ± 2 for InfoNCE (undecided)
    comps = []
    for head in ("mlp", "linear"):
        for loss in ("standard", "standard_es", "robust"):
            for column in ("natural", "adversarial", "autoattack"):
                comps.append(_beyond_comparison("contrastive", head, loss, column, -3.0, 1.3, stats.CONTRADICTED))
                comps.append(_beyond_comparison("infonce", head, loss, column, 0.5, 2.0, stats.UNDECIDED))
    judged = report.build({"11_beyond_contrastive": {"medium_comparisons": comps}})
    by_item = {r.item: r for r in judged.section("beyond").rows}
    robust = by_item["with a robust h, the paper's worst-case MI is more robust than adversarial contrastive "
                     "learning (RoCL-style)"]
    assert robust.verdict == stats.SUPPORTED and "MLP PGD +3.0 [+1.7, +4.3]" in robust.ours
    assert len(robust.values["comparisons"]) == 4  # two heads × PGD and AutoAttack
    assert {r.verdict for item, r in by_item.items() if "InfoNCE" in item} == {stats.UNDECIDED}
    assert judged.counts() == empty.counts()  # not the paper's claims: the counts do not move
    assert "with a standard h, the paper's worst-case MI has higher natural accuracy" in report.section_markdown(
        judged.section("beyond"))
    assert not [r for r in judged.section("beyond").rows if "vulnerability" in r.item]  # no fresh critic yet


def test_fresh_critic_rv_rows_beyond_the_paper():
    from rrlib.experiments.contrastive_comparison import fresh_critic_view

    def result(loss, rvs, worst=1.0):
        return {"encoders": [{"loss": loss, "seed": s, "normal": [worst + rv], "worst": [worst], "rv": [rv],
                              "impossible": [worst < 0]} for s, rv in enumerate(rvs)]}

    # ours 0.4 on every seed; InfoNCE 0.6, 0.7, 0.5, 0.6 (theirs − ours: mean 0.2, sd 0.0816, so the t(3) interval
    # is 0.2 ± 3.182 × 0.0408 = [0.070, 0.330]: above 0); contrastive's seed 3 impossible (worst-case MI < 0)
    contrastive = result("adv-contrastive", [0.3, 0.5, 0.4, 0.1])
    contrastive["encoders"][3].update(worst=[-0.2], impossible=[True])
    fresh = fresh_critic_view({"encoders": result("normal", [0.9] * 4)["encoders"] + result("worst", [0.4] * 4)[
        "encoders"]}, {"encoders": result("worst-infonce", [0.6, 0.7, 0.5, 0.6])["encoders"] + contrastive["encoders"]})
    assert fresh["seeds"] == [0, 1, 2, 3] and fresh["objectives"]["adv-contrastive"]["impossible"] == [3]
    comps = [_beyond_comparison("contrastive", "mlp", "robust", "autoattack", 3.0, 1.0, stats.SUPPORTED)]
    rows = {r.item: r for r in report.build({"11_beyond_contrastive": {
        "medium_comparisons": comps, "medium_fresh_critic": fresh}}).section("beyond").rows}
    infonce = rows["the paper's worst-case MI encoder has a smaller representation vulnerability than worst-case "
                   "InfoNCE"]
    assert infonce.verdict == stats.SUPPORTED and infonce.ours == "RV theirs − ours +0.200 [+0.070, +0.330] nats"
    contr = rows["the paper's worst-case MI encoder has a smaller representation vulnerability than adversarial "
                 "contrastive learning (RoCL-style)"]
    assert contr.values["difference"]["n"] == 3 and "seeds [3] left out" in contr.detail
    assert contr.verdict == stats.UNDECIDED  # −0.0, 0.1, 0.0 over three seeds
