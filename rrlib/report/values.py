"""The report's value sections: every number the paper prints or plots beside ours, one row each — Theorem 3.4's
worked examples (closed form), the digitised Figures 1–3 (chapter 06) and Tables 1/3/4/5 (chapter 08). Verdicts by
:mod:`rrlib.report.rules`; MI in nats, accuracies in percent."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rrlib.paper import FIGURE_1, FIGURE_2, FIGURE_2_TEXT, FIGURE_3, TABLE_NUMBERS, TABLES
from rrlib.rendering.section5 import HEAD_NAMES
from rrlib.report.downstream import table_command
from rrlib.report.inputs import (
    CHAPTERS,
    best_table_runs,
    chapter_command,
    dataset_title,
    figure_context,
    source,
)
from rrlib.report.rules import (
    FIGURE_3_NATS,
    FIGURE_NATS,
    FIGURE_POINTS,
    NOT_RUN,
    ROW_KEY,
    figure_verdict,
    neuron_summary,
    printed_tolerance,
    table_cell_verdict,
    theory_verdict,
)
from rrlib.report.types import Row, Section

__all__ = ["TRAINING_KIND", "TRAINING_TITLE", "figure_1", "figure_2", "figure_3", "tables", "theory"]

#: The paper's "ε = 2/255" models are chapter 06's intermediate ("weak") kind.
TRAINING_KIND = {"standard": "standard", "eps2": "weak", "robust": "robust"}
TRAINING_TITLE = {"standard": "standard", "eps2": "ε = 2/255", "robust": "robust (ε = 8/255)"}


def theory(inputs: Mapping[str, Any]) -> Section:
    """Theorem 3.4's two worked examples of §6.1 against chapter 03's closed form."""
    chapter = CHAPTERS["theorem_3_4"]
    m = inputs.get(chapter)
    command = chapter_command(chapter, "quick")
    rows = []
    for label, printed, key in (
        ("Thm 3.4 ceiling at zero worst-case MI, |Y| = 10 (%)", FIGURE_2_TEXT["bound_at_zero_worst_mi_percent"],
         "bound_at_0_percent"),
        (f"Thm 3.4 ceiling at {FIGURE_2_TEXT['densenet121_worst_mi']:g} nats, |Y| = 10 (%)",
         FIGURE_2_TEXT["densenet121_bound_percent"], "bound_at_1_08_percent"),
    ):
        text = f"{printed:.1f}"
        ours = None if m is None else m.get(key)
        verdict, detail = theory_verdict(text, ours, command)
        rows.append(Row(label, text, "—" if ours is None else f"{ours:.3f}",
                        "chapter not run" if m is None else source(chapter, m, ", exact"), verdict, detail,
                        values={"paper": float(text), "ours": ours, "tolerance": printed_tolerance(text)}))
    return Section("theory", "Theorem 3.4's worked examples (§6.1), computed in closed form.", rows,
                   "Theorem 3.2 prints no number; its worked example is in the errata below.")


def _figure_note(rows: Sequence[Row], command: str) -> str:
    if any(r.verdict == NOT_RUN for r in rows):
        return f"Not run here at the paper's scale: `{command}`."
    return ""


def _model(m: Mapping[str, Any] | None, title: str, kind: str) -> Mapping[str, Any] | None:
    if m is None:
        return None
    for model in m.get("models", []):
        if model.get("name") == f"{title} ({kind})":
            return model
    return None


def _source6(m: Mapping[str, Any] | None) -> str:
    return "—" if m is None else source(CHAPTERS["vulnerability"], m)


def figure_1(inputs: Mapping[str, Any]) -> Section:
    """Figure 1: RV and natural − adversarial gap per CIFAR-10 model."""
    ctx = figure_context(inputs)
    m, comparable = ctx.metrics, ctx.comparable
    rows = []
    for model, points in FIGURE_1.items():
        for training, (rv, gap) in points.items():
            ours = _model(m, model, TRAINING_KIND[training]) if comparable else None
            pairs = [("RV", rv, None if ours is None else ours["rv"], 0.0 if ours is None else ours["rv_se"],
                      FIGURE_NATS),
                     ("gap", gap, None if ours is None else 100 * ours["gap"],
                      0.0 if ours is None else 100 * ours["accuracy_se"], FIGURE_POINTS)]
            verdict, detail = figure_verdict(pairs, comparable and ours is not None, ctx.command, ctx.why)
            rows.append(Row(f"{model}, {TRAINING_TITLE[training]}", f"{rv:.3f} / {gap:.1f}",
                            "—" if ours is None else f"{ours['rv']:.3f} / {100 * ours['gap']:.1f}",
                            _source6(m), verdict, detail, values={"paper": [rv, gap]}))
    return Section("figure_1", "Figure 1 (CIFAR-10, logit layer): representation vulnerability RV (nats) / "
                   "natural − adversarial accuracy gap (points).", rows, _figure_note(rows, ctx.command))


def figure_2(inputs: Mapping[str, Any]) -> Section:
    """Figure 2: worst-case MI, normal MI and adversarial accuracy per model, and §6.1's largest normal MI."""
    ctx = figure_context(inputs)
    m, comparable = ctx.metrics, ctx.comparable
    rows = []
    for model, points in FIGURE_2.items():
        for training, p in points.items():
            ours = _model(m, model, training) if comparable else None
            get = (lambda key, scale=1.0, o=ours: None if o is None else scale * o[key])  # noqa: E731
            pairs = [("worst", p.worst_mi, get("worst_mi"), get("worst_mi_se") or 0.0, FIGURE_NATS),
                     ("normal", p.normal_mi, get("normal_mi"), get("normal_mi_se") or 0.0, FIGURE_NATS),
                     ("adv. acc.", p.adversarial_accuracy, get("adversarial_accuracy", 100.0),
                      get("accuracy_se", 100.0) or 0.0, FIGURE_POINTS)]
            verdict, detail = figure_verdict(pairs, comparable and ours is not None, ctx.command, ctx.why)
            note = " (the text: 1.08)" if (model, training) == ("DenseNet121", "robust") else ""
            rows.append(Row(f"{model}, {training}", f"{p.worst_mi:.2f}{note} / {p.normal_mi:.2f} / "
                            f"{p.adversarial_accuracy:.1f}",
                            "—" if ours is None else f"{ours['worst_mi']:.2f} / {ours['normal_mi']:.2f} / "
                            f"{100 * ours['adversarial_accuracy']:.1f}",
                            _source6(m), verdict, detail,
                            values={"paper": [p.worst_mi, p.normal_mi, p.adversarial_accuracy]}))
    for kind, key in (("robust", "robust_normal_mi_up_to"), ("standard", "standard_normal_mi_up_to")):
        paper = FIGURE_2_TEXT[key]
        models = [x for x in (m or {}).get("models", []) if x.get("kind") == kind] if comparable else []
        best = max(models, key=lambda x: x["normal_mi"]) if models else None
        pairs = [("max", paper, None if best is None else best["normal_mi"],
                  0.0 if best is None else best["normal_mi_se"], FIGURE_NATS)]
        verdict, detail = figure_verdict(pairs, comparable and best is not None, ctx.command, ctx.why)
        rows.append(Row(f"§6.1 text: largest normal MI of {kind} models", f"up to {paper:.2f}",
                        "—" if best is None else f"{best['normal_mi']:.2f}", _source6(m), verdict, detail,
                        values={"paper": [paper]}))
    return Section("figure_2", "Figure 2 (CIFAR-10, logit layer): worst-case MI / normal MI (nats) / adversarial "
                   "accuracy (%).", rows, _figure_note(rows, ctx.command))


def figure_3(inputs: Mapping[str, Any]) -> Section:
    """Figure 3: range and mode of the per-neuron histograms (:func:`rrlib.report.rules.neuron_summary`)."""
    ctx = figure_context(inputs)
    m, comparable = ctx.metrics, ctx.comparable
    neurons = {n["kind"]: n for n in (m or {}).get("neurons", [])} if comparable else {}
    names = {"normal_mi": "normal", "worst_mi": "worst", "vulnerability": "vulnerability"}
    rows = []
    for kind, parts in FIGURE_3.items():
        for quantity, paper in parts.items():
            ours = neuron_summary(neurons[kind][names[quantity]]) if kind in neurons else None
            pairs = [(k, paper[k], None if ours is None else ours[k], 0.0, FIGURE_3_NATS)
                     for k in ("low", "high", "mode")]
            verdict, detail = figure_verdict(pairs, comparable and ours is not None, ctx.command, ctx.why)
            fmt = "{low:.2f}–{high:.2f} (mode {mode:.3f})"
            rows.append(Row(f"{kind}, {quantity.replace('_', ' ')}", fmt.format(**paper),
                            "—" if ours is None else fmt.format(**ours), _source6(m), verdict, detail,
                            values={"paper": dict(paper)}))
    return Section("figure_3", "Figure 3 (CIFAR-10, 128 second-layer neurons of Baseline-H): histogram range and "
                   "mode, nats.", rows, _figure_note(rows, ctx.command))


def tables(inputs: Mapping[str, Any]) -> list[Section]:
    """Tables 1, 3, 4, 5: every (row, head) cell beside our best run of its data set (:func:`best_table_runs`)."""
    runs = best_table_runs(inputs)
    sections = []
    for dataset, number in TABLE_NUMBERS.items():
        run = runs.get(dataset)
        run_source = "—" if run is None else run.source()
        rows = []
        for label, cells in TABLES[dataset].items():
            for head in ("mlp", "linear"):
                paper = {c: cells[f"{head}_{c}"] for c in ("natural", "adversarial")}
                ours = None
                if run is not None:
                    ours = run.metrics.get("table", {}).get(ROW_KEY[label], {}).get(head)
                verdict, detail = table_cell_verdict(paper, ours, None if ours is None else run.scale,
                                                     table_command(dataset))
                rows.append(Row(f"{label[0]} / {label[1]} / {HEAD_NAMES[head]}",
                                " / ".join(f"{mean:.2f} ± {std:.2f}" for mean, std in paper.values()),
                                "—" if ours is None else " / ".join(
                                    f"{ours[c]['mean']:.2f} ± {ours[c]['std']:.2f}" for c in paper),
                                run_source, verdict, detail,
                                values={"paper": {c: list(v) for c, v in paper.items()}, "table": str(number),
                                        "head": head, "row": list(label)}))
        missing = [r for r in rows if r.verdict == NOT_RUN]
        note = (f"Not run here at the paper's scale: `{table_command(dataset)}`." if missing else "")
        sections.append(Section(f"table_{number}", f"Table {number} ({dataset_title(dataset)}): natural / "
                                f"adversarial accuracy (%), mean ± std; rows g / h / head.", rows, note))
    return sections
