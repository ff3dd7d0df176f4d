"""Chapter 10, the reproduction report: every number of the paper beside ours, with a verdict per row.

The report is built from data only: the paper's numbers (:mod:`rrlib.paper`) and the metrics that chapters 01–09
recorded (:func:`rrlib.book.load_metrics`). Nothing is typed by hand; the rules below are applied by the functions
of this module and written into the page by :func:`rules_markdown` from the same constants.

Verdicts on a **value** (a number the paper prints or plots):

* ``reproduced`` — measured here at the paper's scale and data set (or computed exactly, for theory) and within
  the row's tolerance;
* ``differs`` — measured at the paper's scale and data set, outside the tolerance (the difference is given);
* ``reduced scale`` — measured on the paper's data set but at a smaller scale (fewer images, epochs, seeds): the
  difference is given, but such a value is neither called reproduced nor different;
* ``not run here`` — not measured at the paper's scale on the paper's data set (a chapter ran on another data set
  or did not run): the exact command that would measure it is given.

Tolerances: theory values computed in closed form, half a unit of the paper's last printed digit
(:func:`printed_tolerance`); digitised figure values, the digitisation error (``FIGURE_NATS``, ``FIGURE_POINTS``,
``FIGURE_3_NATS``) plus ``TOLERANCE_Z`` standard errors of ours; table cells, ``TOLERANCE_Z`` standard errors of
the difference (ours over its seeds, the paper's over ``PAPER_TRIALS``) but at least ``TABLE_POINTS``. Every
threshold counted in standard errors (``TOLERANCE_Z``, ``CLAIM_Z``, §6.1's ``MI_CLAIM_Z`` and ``ACCURACY_CLAIM_Z``)
is defined in :mod:`rrlib.stats`.

**Claims** (qualitative statements: orderings, signs, inequalities) get their own rows; their verdicts come from
the chapters' own rules (:mod:`rrlib.verdicts` for §6.1) or from :func:`claim_verdict`, and each says at which scale
it was judged. **Errata** are the book's findings about printed statements, each with its evidence.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from rrlib.paper import FIGURE_1, FIGURE_2, FIGURE_2_TEXT, FIGURE_3, TABLE_ROWS, TABLES
from rrlib.stats import (
    ACCURACY_CLAIM_Z,
    CLAIM_Z,
    MI_CLAIM_Z,
    TOLERANCE_Z,
    Summary,
    combined_se,
    exceeds,
    unpaired_difference,
)

__all__ = [
    "CHAPTERS", "DIFFERS", "NOT_RUN", "REDUCED", "REPRODUCED", "VALUE_VERDICTS", "Erratum", "Report", "Row",
    "Section", "build", "chapter_command", "claim_verdict", "figure_verdict", "load_inputs", "printed_tolerance",
    "rules_markdown", "table_cell_verdict", "table_command", "theory_verdict",
]

REPRODUCED = "reproduced"
DIFFERS = "differs"
REDUCED = "reduced scale"
NOT_RUN = "not run here"
VALUE_VERDICTS = (REPRODUCED, DIFFERS, REDUCED, NOT_RUN)

#: Figures 1–3 were digitised from the published bitmaps to about ±0.01 nats and ±1 percentage point.
FIGURE_NATS = 0.01
FIGURE_POINTS = 1.0
#: Figure 3's histogram ranges and modes are read more coarsely (modes as ranges up to 0.05 nats wide).
FIGURE_3_NATS = 0.03
#: Width of the bins in which the mode of our per-neuron values is taken (nats).
FIGURE_3_BIN = 0.02
#: The paper's tables are mean ± std over 4 trials.
PAPER_TRIALS = 4
#: Smallest tolerance of a table cell, in percentage points.
TABLE_POINTS = 1.0

#: Chapters the report reads, by role.
CHAPTERS = {
    "theorem_3_2": "02_theorem_3_2",
    "theorem_3_4": "03_theorem_3_4",
    "vulnerability": "06_vulnerability_robustness",
    "encoders": "07_robust_encoders",
    "downstream": "08_downstream",
    "saliency": "09_saliency",
}
_READ = ("01_preliminaries", "02_theorem_3_2", "03_theorem_3_4", "04_mine", "05_worst_case_mi",
         "06_vulnerability_robustness", "07_robust_encoders", "08_downstream", "09_saliency")

#: The paper's data set of each table, and its title.
TABLE_DATASETS = {"1": "cifar10", "3": "mnist", "4": "fashion-mnist", "5": "svhn"}
DATASET_TITLES = {"cifar10": "CIFAR-10", "mnist": "MNIST", "fashion-mnist": "Fashion-MNIST", "svhn": "SVHN"}
#: Figures 1–3 are CIFAR-10 at the paper's scale: chapter 06's full profile.
FIGURE_DATASET = "CIFAR-10"
#: The paper's "ε = 2/255" models are chapter 06's intermediate ("weak") kind.
TRAINING_KIND = {"standard": "standard", "eps2": "weak", "robust": "robust"}
TRAINING_TITLE = {"standard": "standard", "eps2": "ε = 2/255", "robust": "robust (ε = 8/255)"}
HEAD_TITLE = {"mlp": "MLP", "linear": "linear"}
_ROW_KEYS = ("hjelm/standard", "hjelm/robust", "ours/standard", "ours/standard_es", "ours/robust",
             "supervised/standard", "supervised/robust")
ROW_KEY = dict(zip(TABLE_ROWS, _ROW_KEYS, strict=True))


# ------------------------------------------------------------------------------------------------ commands
def chapter_command(chapter: str, profile: str = "full") -> str:
    """The command that executes one chapter (its metrics land in ``_build/metrics``)."""
    return f"python -m rrlib.book run --profile {profile} --only {chapter}"


def table_command(dataset: str) -> str:
    """The command that runs one of Tables 1/3/4/5 at the paper's protocol."""
    return (f"python -m rrlib.experiments.downstream_tables run --profile full --dataset {dataset} "
            f"--out-root runs/table-{dataset} --json runs/table-{dataset}.json")


# ------------------------------------------------------------------------------------------------ verdicts
def printed_tolerance(printed: str) -> float:
    """Half a unit of the last printed digit: ``"30.1"`` → 0.05, ``"77"`` → 0.5, ``"1.08"`` → 0.005."""
    text = printed.strip().rstrip("%")
    float(text)  # a bad number fails here, with its text
    decimals = len(text.split(".")[1]) if "." in text else 0
    return 0.5 * 10.0 ** -decimals


def theory_verdict(printed: str, ours: float | None, command: str) -> tuple[str, str]:
    """A closed-form value against the paper's printed one: reproduced within :func:`printed_tolerance`."""
    if ours is None:
        return NOT_RUN, f"`{command}`"
    diff, tol = ours - float(printed.rstrip("%")), printed_tolerance(printed)
    if abs(diff) <= tol:
        return REPRODUCED, f"|difference| {abs(diff):.2g} ≤ {tol:g}"
    return DIFFERS, f"difference {diff:+.3g} (tolerance {tol:g})"


def figure_verdict(pairs: Sequence[tuple[str, float, float | None, float, float]], comparable: bool,
                   command: str, why: str) -> tuple[str, str]:
    """A digitised figure point: ``pairs`` of ``(name, paper, ours, ours_se, digitisation)``; reproduced when every
    ``|ours − paper| ≤ digitisation + TOLERANCE_Z·ours_se``. ``comparable`` is False when the chapter did not run at the
    paper's scale and data set (``why`` says what it ran)."""
    if not comparable or any(ours is None for _, _, ours, _, _ in pairs):
        return NOT_RUN, f"{why}; command below the table"
    misses, diffs = [], []
    for name, paper, ours, se, digit in pairs:
        diff, tol = ours - paper, digit + TOLERANCE_Z * se
        diffs.append(f"{name} {diff:+.3g}")
        if abs(diff) > tol:
            misses.append(f"{name} {diff:+.3g} (tolerance {tol:.3g})")
    if misses:
        return DIFFERS, "; ".join(misses)
    return REPRODUCED, ", ".join(diffs)


def table_cell_verdict(paper: Mapping[str, tuple[float, float]], ours: Mapping[str, Mapping[str, Any]] | None,
                       scale: str | None, command: str) -> tuple[str, str]:
    """One (row, head) of a downstream table: ``paper[column] = (mean, std)`` and ``ours[column] = {"mean", "std",
    "values"}`` for columns ``natural`` and ``adversarial`` (percent). ``scale`` is the profile of our run (``None``:
    no run on this data set). Reproduced at the ``full`` scale when both columns are within ``max(TABLE_POINTS,
    TOLERANCE_Z·SE)`` of the paper (SE of the difference: ours ``std/√n``, the paper's ``std/√PAPER_TRIALS``); a
    smaller scale gives ``reduced scale`` with the differences."""
    if scale is None or ours is None:
        return NOT_RUN, "command below the table"
    parts, misses = [], []
    for col in ("natural", "adversarial"):
        mean, std = paper[col]
        cell = ours[col]
        se = combined_se(std / math.sqrt(PAPER_TRIALS), _cell_se(cell))
        diff, tol = cell["mean"] - mean, max(TABLE_POINTS, TOLERANCE_Z * se)
        parts.append(f"{col} {diff:+.1f}")
        if abs(diff) > tol:
            misses.append(f"{col} {diff:+.1f} (tolerance {tol:.1f})")
    if scale != "full":
        return REDUCED, f"{', '.join(parts)} points ({scale} scale)"
    if misses:
        return DIFFERS, "; ".join(misses) + " points"
    return REPRODUCED, ", ".join(parts) + " points"


def claim_verdict(difference: float, se: float, z: float = CLAIM_Z) -> str:
    """A claim that ``difference > 0``: ``supported`` when it exceeds ``z`` standard errors (default
    :data:`rrlib.stats.CLAIM_Z`), else ``not supported``."""
    return "supported" if exceeds(difference, se, z) else "not supported"


# ------------------------------------------------------------------------------------------------ data types
@dataclass(frozen=True)
class Row:
    """One row of the report: what is compared, the paper's number, ours, where ours came from, the verdict."""

    item: str
    paper: str
    ours: str
    source: str
    verdict: str
    detail: str
    kind: str = "value"  # "value" or "claim"
    values: dict[str, Any] = field(default_factory=dict)  # the raw numbers behind the row (for tests)


@dataclass(frozen=True)
class Section:
    """One table of the report."""

    key: str
    title: str
    rows: list[Row]
    note: str = ""


@dataclass(frozen=True)
class Erratum:
    """A printed statement the book found wrong, with the evidence and where it is."""

    where: str
    printed: str
    finding: str
    evidence: str


@dataclass(frozen=True)
class Report:
    """The whole report: the inputs it read, the sections and the errata."""

    inputs: list[dict[str, Any]]
    sections: list[Section]
    errata: list[Erratum]

    def section(self, key: str) -> Section:
        for s in self.sections:
            if s.key == key:
                return s
        raise KeyError(f"no section {key!r}; have {[s.key for s in self.sections]}")

    def rows(self, kind: str | None = None) -> list[Row]:
        return [r for s in self.sections for r in s.rows if kind is None or r.kind == kind]

    def counts(self) -> dict[str, int]:
        """Rows per value verdict (keys with ``_`` for spaces) and claims supported / not supported / not run."""
        values = Counter(r.verdict for r in self.rows("value"))
        claims = Counter(_claim_group(r.verdict) for r in self.rows("claim"))
        out = {v.replace(" ", "_"): values.get(v, 0) for v in VALUE_VERDICTS}
        out.update({f"claims_{k}": claims.get(k, 0) for k in ("supported", "not_supported", "not_run_here")})
        out["values"] = sum(values.values())
        out["claims"] = sum(claims.values())
        out["errata"] = len(self.errata)
        return out

    def metrics(self) -> dict[str, Any]:
        """Plain JSON for :func:`rrlib.book.publish`: counts, and every row by section."""
        return {"counts": self.counts(), "inputs": self.inputs,
                "sections": {s.key: [asdict(r) for r in s.rows] for s in self.sections},
                "errata": [asdict(e) for e in self.errata]}


def _claim_group(verdict: str) -> str:
    if verdict == NOT_RUN:
        return "not_run_here"
    return "not_supported" if verdict.startswith(("not supported", "violated")) else "supported"


# ------------------------------------------------------------------------------------------------ inputs
def load_inputs(directory: Path | None = None,
                loader: Callable[[str, Path | None], dict[str, Any]] | None = None) -> dict[str, dict[str, Any]]:
    """The metrics of chapters 01–09 that exist (a missing chapter is left out; the report says so)."""
    if loader is None:
        from rrlib.book import load_metrics as loader
    out = {}
    for chapter in _READ:
        try:
            out[chapter] = loader(chapter, directory)
        except FileNotFoundError:
            continue
    return out


def _profile(metrics: Mapping[str, Any] | None) -> str | None:
    if metrics is None:
        return None
    return metrics.get("_meta", {}).get("profile", "unknown")


def _source(chapter: str, metrics: Mapping[str, Any], extra: str = "") -> str:
    meta = metrics.get("_meta", {})
    seeds = metrics.get("seeds")
    seed_text = (f"seeds {', '.join(str(s) for s in seeds)}" if seeds is not None
                 else f"seed {meta.get('seed', '?')}")
    return f"ch. {chapter[:2]}, {meta.get('profile', 'unknown')} profile{extra}, {seed_text}"


# ------------------------------------------------------------------------------------------------ sections
def _theory(inputs: Mapping[str, Any]) -> Section:
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
                        "chapter not run" if m is None else _source(chapter, m, ", exact"), verdict, detail,
                        values={"paper": float(text), "ours": ours, "tolerance": printed_tolerance(text)}))
    return Section("theory", "Theorem 3.4's worked examples (§6.1), computed in closed form.", rows,
                   "Theorem 3.2 prints no number; its worked example is in the errata below.")


def _vulnerability(inputs: Mapping[str, Any]) -> tuple[Mapping[str, Any] | None, bool, str, str]:
    chapter = CHAPTERS["vulnerability"]
    m = inputs.get(chapter)
    command = chapter_command(chapter)
    if m is None:
        return None, False, "chapter 06 not run", command
    dataset = m.get("dataset_title", "unknown data")
    profile = _profile(m)
    comparable = profile == "full" and dataset == FIGURE_DATASET
    why = f"ch. 06 ran the {profile} profile on {dataset}" + ("" if comparable else f", not {FIGURE_DATASET} at "
                                                                                  "the paper's scale")
    return m, comparable, why, command


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


def _figure_1(inputs: Mapping[str, Any]) -> Section:
    m, comparable, why, command = _vulnerability(inputs)
    rows = []
    for model, points in FIGURE_1.items():
        for training, (rv, gap) in points.items():
            ours = _model(m, model, TRAINING_KIND[training]) if comparable else None
            pairs = [("RV", rv, None if ours is None else ours["rv"], 0.0 if ours is None else ours["rv_se"],
                      FIGURE_NATS),
                     ("gap", gap, None if ours is None else 100 * ours["gap"],
                      0.0 if ours is None else 100 * ours["accuracy_se"], FIGURE_POINTS)]
            verdict, detail = figure_verdict(pairs, comparable and ours is not None, command, why)
            rows.append(Row(f"{model}, {TRAINING_TITLE[training]}", f"{rv:.3f} / {gap:.1f}",
                            "—" if ours is None else f"{ours['rv']:.3f} / {100 * ours['gap']:.1f}",
                            "—" if m is None else _source(CHAPTERS["vulnerability"], m), verdict, detail,
                            values={"paper": [rv, gap]}))
    return Section("figure_1", "Figure 1 (CIFAR-10, logit layer): representation vulnerability RV (nats) / "
                   "natural − adversarial accuracy gap (points).", rows, _figure_note(rows, command))


def _figure_2(inputs: Mapping[str, Any]) -> Section:
    m, comparable, why, command = _vulnerability(inputs)
    rows = []
    for model, points in FIGURE_2.items():
        for training, p in points.items():
            ours = _model(m, model, training) if comparable else None
            get = (lambda key, scale=1.0, o=ours: None if o is None else scale * o[key])  # noqa: E731
            pairs = [("worst", p.worst_mi, get("worst_mi"), get("worst_mi_se") or 0.0, FIGURE_NATS),
                     ("normal", p.normal_mi, get("normal_mi"), get("normal_mi_se") or 0.0, FIGURE_NATS),
                     ("adv. acc.", p.adversarial_accuracy, get("adversarial_accuracy", 100.0),
                      get("accuracy_se", 100.0) or 0.0, FIGURE_POINTS)]
            verdict, detail = figure_verdict(pairs, comparable and ours is not None, command, why)
            note = " (the text: 1.08)" if (model, training) == ("DenseNet121", "robust") else ""
            rows.append(Row(f"{model}, {training}", f"{p.worst_mi:.2f}{note} / {p.normal_mi:.2f} / "
                            f"{p.adversarial_accuracy:.1f}",
                            "—" if ours is None else f"{ours['worst_mi']:.2f} / {ours['normal_mi']:.2f} / "
                            f"{100 * ours['adversarial_accuracy']:.1f}",
                            "—" if m is None else _source(CHAPTERS["vulnerability"], m), verdict, detail,
                            values={"paper": [p.worst_mi, p.normal_mi, p.adversarial_accuracy]}))
    for kind, key in (("robust", "robust_normal_mi_up_to"), ("standard", "standard_normal_mi_up_to")):
        paper = FIGURE_2_TEXT[key]
        models = [x for x in (m or {}).get("models", []) if x.get("kind") == kind] if comparable else []
        best = max(models, key=lambda x: x["normal_mi"]) if models else None
        pairs = [("max", paper, None if best is None else best["normal_mi"],
                  0.0 if best is None else best["normal_mi_se"], FIGURE_NATS)]
        verdict, detail = figure_verdict(pairs, comparable and best is not None, command, why)
        rows.append(Row(f"§6.1 text: largest normal MI of {kind} models", f"up to {paper:.2f}",
                        "—" if best is None else f"{best['normal_mi']:.2f}",
                        "—" if m is None else _source(CHAPTERS["vulnerability"], m), verdict, detail,
                        values={"paper": [paper]}))
    return Section("figure_2", "Figure 2 (CIFAR-10, logit layer): worst-case MI / normal MI (nats) / adversarial "
                   "accuracy (%).", rows, _figure_note(rows, command))


def neuron_summary(values: Sequence[float], bin_width: float = FIGURE_3_BIN) -> dict[str, float]:
    """``{"low", "high", "mode"}`` of per-neuron values: range, and the centre of the fullest bin of width
    ``bin_width`` (bins start at a multiple of the width; the lowest fullest bin wins a tie)."""
    if not values:
        raise ValueError("no per-neuron values")
    start = math.floor(min(values) / bin_width)
    counts = Counter(math.floor(v / bin_width) - start for v in values)
    fullest = min(counts, key=lambda b: (-counts[b], b))
    return {"low": float(min(values)), "high": float(max(values)), "mode": (start + fullest + 0.5) * bin_width}


def _figure_3(inputs: Mapping[str, Any]) -> Section:
    m, comparable, why, command = _vulnerability(inputs)
    neurons = {n["kind"]: n for n in (m or {}).get("neurons", [])} if comparable else {}
    names = {"normal_mi": "normal", "worst_mi": "worst", "vulnerability": "vulnerability"}
    rows = []
    for kind, parts in FIGURE_3.items():
        for quantity, paper in parts.items():
            ours = neuron_summary(neurons[kind][names[quantity]]) if kind in neurons else None
            pairs = [(k, paper[k], None if ours is None else ours[k], 0.0, FIGURE_3_NATS)
                     for k in ("low", "high", "mode")]
            verdict, detail = figure_verdict(pairs, comparable and ours is not None, command, why)
            fmt = "{low:.2f}–{high:.2f} (mode {mode:.3f})"
            rows.append(Row(f"{kind}, {quantity.replace('_', ' ')}", fmt.format(**paper),
                            "—" if ours is None else fmt.format(**ours),
                            "—" if m is None else _source(CHAPTERS["vulnerability"], m), verdict, detail,
                            values={"paper": dict(paper)}))
    return Section("figure_3", "Figure 3 (CIFAR-10, 128 second-layer neurons of Baseline-H): histogram range and "
                   "mode, nats.", rows, _figure_note(rows, command))


def _table_runs(inputs: Mapping[str, Any]) -> dict[str, tuple[str, Mapping[str, Any], Mapping[str, Any]]]:
    """Per data set, our best run of chapter 08: ``(scale, table metrics, the chapter's metrics)``, the paper's
    scale (``full``) first, then ``medium``, then ``quick``."""
    m = inputs.get(CHAPTERS["downstream"])
    if m is None:
        return {}
    runs = []
    if "table" in m:
        runs.append((_profile(m), m))
    if isinstance(m.get("medium"), Mapping) and "table" in m["medium"]:
        runs.append(("medium", m["medium"]))
    rank = {"full": 0, "medium": 1, "quick": 2}
    out: dict[str, tuple[str, Mapping[str, Any], Mapping[str, Any]]] = {}
    for scale, run in sorted(runs, key=lambda r: rank.get(r[0], 3)):
        out.setdefault(run["dataset"], (scale, run, m))
    return out


def _table_source(scale: str, run: Mapping[str, Any], chapter_metrics: Mapping[str, Any]) -> str:
    seeds = ", ".join(str(s) for s in run.get("seeds", []))
    where = "committed medium-scale run" if scale == "medium" else f"{scale} profile"
    return f"ch. 08, {where}, {DATASET_TITLES.get(run['dataset'], run['dataset'])}, seeds {seeds}"


def _tables(inputs: Mapping[str, Any]) -> list[Section]:
    runs = _table_runs(inputs)
    sections = []
    for number, dataset in TABLE_DATASETS.items():
        scale, run, _ = runs.get(dataset, (None, None, None))
        source = "—" if run is None else _table_source(scale, run, inputs[CHAPTERS["downstream"]])
        rows = []
        for label, cells in TABLES[dataset].items():
            for head in ("mlp", "linear"):
                paper = {c: cells[f"{head}_{c}"] for c in ("natural", "adversarial")}
                ours = None
                if run is not None:
                    ours = run.get("table", {}).get(ROW_KEY[label], {}).get(head)
                verdict, detail = table_cell_verdict(paper, ours, None if ours is None else scale,
                                                     table_command(dataset))
                rows.append(Row(f"{label[0]} / {label[1]} / {HEAD_TITLE[head]}",
                                " / ".join(f"{mean:.2f} ± {std:.2f}" for mean, std in paper.values()),
                                "—" if ours is None else " / ".join(
                                    f"{ours[c]['mean']:.2f} ± {ours[c]['std']:.2f}" for c in paper),
                                source, verdict, detail, values={"paper": {c: list(v) for c, v in paper.items()},
                                                                 "table": number, "head": head, "row": list(label)}))
        missing = [r for r in rows if r.verdict == NOT_RUN]
        note = (f"Not run here at the paper's scale: `{table_command(dataset)}`." if missing else "")
        sections.append(Section(f"table_{number}", f"Table {number} ({DATASET_TITLES[dataset]}): natural / "
                                f"adversarial accuracy (%), mean ± std; rows g / h / head.", rows, note))
    return sections


# ------------------------------------------------------------------------------------------------ claims
_CLAIM_TEXT = {
    "rv_tracks_gap": "Fig. 1: lower RV goes with a smaller natural − adversarial gap",
    "standard_worst_zero": "Fig. 2: standard models have worst-case MI ≈ 0 and adversarial accuracy ≈ 0",
    "robust_keeps_worst": "Fig. 2: robust models keep much more worst-case MI",
    "robust_more_normal": "§6.1: robust logit layers carry more normal MI than standard ones",
    "ceiling_holds": "Thm 3.4: the ceiling from the estimated worst-case MI is above the adversarial accuracy",
    "training_works": "Adversarial training makes the model robust",
    "neurons_less_vulnerable": "Fig. 3: second-layer neurons of the robust model are less vulnerable",
}


def vulnerability_view(m: Mapping[str, Any]) -> SimpleNamespace:
    """Chapter 06's recorded metrics in the shape :func:`rrlib.verdicts.section_6_1` reads from a result, so the
    report judges §6.1's claims by the chapter's own rules (valid values: :func:`rrlib.mi.plausibility`)."""
    from rrlib.mi.plausibility import check_estimates, clip_to_valid

    models = []
    for x in m["models"]:
        normal_v, worst_v, rv_v = clip_to_valid(x["normal_mi"], x["worst_mi"])
        models.append(SimpleNamespace(**{**x, "normal_mi_valid": normal_v, "worst_mi_valid": worst_v,
                                         "rv_valid": rv_v, "flags": check_estimates(x["normal_mi"], x["worst_mi"])}))
    neurons = []
    for n in m.get("neurons", []):
        prefix = {"standard": "std", "robust": "rob"}.get(n["kind"])
        se = m.get(f"{prefix}_neuron_vuln_se")
        if prefix is None or se is None:
            continue
        import numpy as np

        neurons.append(SimpleNamespace(kind=n["kind"], normal=np.asarray(n["normal"], dtype=float),
                                       vulnerability=np.asarray(n["vulnerability"], dtype=float),
                                       mean_vulnerability_se=se))

    def pick(items, kind, architecture=None):
        for item in items:
            if item.kind == kind and (architecture is None or item.architecture == architecture):
                return item
        raise KeyError(kind)

    return SimpleNamespace(models=models, neurons=neurons,
                           model=lambda kind, architecture="baseline_h": pick(models, kind, architecture),
                           neuron=lambda kind: pick(neurons, kind))


def _claims(inputs: Mapping[str, Any]) -> Section:
    rows: list[Row] = []
    # theory
    m2, m3 = inputs.get(CHAPTERS["theorem_3_2"]), inputs.get(CHAPTERS["theorem_3_4"])
    if m2 is None:
        rows.append(_missing_claim("Thm 3.2 (corrected form) holds", CHAPTERS["theorem_3_2"]))
    else:
        n = m2["n_instances"]
        rows.append(Row("Thm 3.2 (corrected form): lower ≤ RV ≤ upper on random Gaussian mixtures", "statement",
                        f"{m2['corrected_violations']} violations in {n}", _source(CHAPTERS["theorem_3_2"], m2),
                        "supported" if m2["corrected_violations"] == 0 else "not supported", "exact (closed form)",
                        kind="claim"))
    if m3 is None:
        rows.append(_missing_claim("Thm 3.4 holds", CHAPTERS["theorem_3_4"]))
    else:
        rows.append(Row("Thm 3.4: adversarial risk ≥ the bound, brute force on small problems", "statement",
                        f"{m3['n_violations']} violations in {m3['n_problems']}", _source(CHAPTERS["theorem_3_4"], m3),
                        "supported" if m3["n_violations"] == 0 else "not supported", "exact (enumeration)",
                        kind="claim"))
        rows.append(Row("Fig. 2's own points lie under their Thm 3.4 ceilings", "paper's numbers",
                        f"{m3['paper_points_violations']} violations", _source(CHAPTERS["theorem_3_4"], m3),
                        "supported" if m3["paper_points_violations"] == 0 else "not supported",
                        "from the digitised Fig. 2", kind="claim"))
    # §6.1, by chapter 06's own rules
    m6 = inputs.get(CHAPTERS["vulnerability"])
    if m6 is None:
        rows += [_missing_claim(text, CHAPTERS["vulnerability"]) for text in _CLAIM_TEXT.values()]
    else:
        from rrlib.verdicts import section_6_1

        scale = f"{_profile(m6)} profile, {m6.get('dataset_title', '?')}, {m6.get('n_models', '?')} models"
        for c in section_6_1(vulnerability_view(m6)):
            evidence = ", ".join(f"{k} {_fmt(v)}" for k, v in c.evidence.items() if not isinstance(v, list))
            rows.append(Row(_CLAIM_TEXT.get(c.key, c.key), "figure / text", evidence,
                            _source(CHAPTERS["vulnerability"], m6), c.verdict, f"judged at {scale}", kind="claim",
                            values={"key": c.key}))
    rows += _encoder_claims(inputs.get(CHAPTERS["encoders"]))
    rows += _table_claims(inputs)
    rows += _saliency_claims(inputs.get(CHAPTERS["saliency"]))
    return Section("claims", "The paper's qualitative claims, judged on our runs at the scale named in each row.",
                   rows)


def _fmt(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, float):
        return str(value)
    return f"{value:.3g}"


def _missing_claim(text: str, chapter: str) -> Row:
    command = chapter_command(chapter, "quick")
    return Row(text, "statement", "—", "chapter not run", NOT_RUN, f"`{command}`", kind="claim")


def _encoder_claims(m: Mapping[str, Any] | None) -> list[Row]:
    text = "§5: the worst-case MI encoder has a smaller RV than the DIM encoder"
    if m is None:
        return [_missing_claim(text, CHAPTERS["encoders"])]
    rows = []
    enc = m["encoders"]
    # valid (clipped) RV where the chapter has it: an impossible estimate is not a measurement (rrlib.mi.plausibility)
    key = "rv_valid" if "rv_valid" in enc["normal"] else "rv"
    normal, worst = enc["normal"][key], enc["worst"][key]
    se = unpaired_difference(_summary(normal), _summary(worst)).se
    rows.append(Row(text, "no number", f"RV: DIM {normal['mean']:.3f}, ours {worst['mean']:.3f} nats",
                    _source(CHAPTERS["encoders"], m), claim_verdict(normal["mean"] - worst["mean"], se),
                    f"difference {normal['mean'] - worst['mean']:+.3f} vs {CLAIM_Z:g} SE = {CLAIM_Z * se:.3f}",
                    kind="claim"))
    medium = m.get("medium")
    if isinstance(medium, Mapping) and "encoders" in medium:
        key = "heldout_rv_valid" if "heldout_rv_valid" in medium["encoders"]["normal"] else "heldout_rv"
        en, ew = medium["encoders"]["normal"][key], medium["encoders"]["worst"][key]
        se = unpaired_difference(_summary(en), _summary(ew)).se
        rows.append(Row(text + " (held-out)", "no number", f"RV: DIM {en['mean']:.3f}, ours {ew['mean']:.3f} nats",
                        "ch. 07, committed medium-scale run", claim_verdict(en["mean"] - ew["mean"], se),
                        f"difference {en['mean'] - ew['mean']:+.3f} vs {CLAIM_Z:g} SE = {CLAIM_Z * se:.3f}",
                        kind="claim"))
    return rows


def _summary(cell: Mapping[str, Any]) -> Summary:
    """A recorded ``{"mean", "std", "values"}`` cell (sample sd over its seeds) as a :class:`rrlib.stats.Summary`."""
    return Summary(cell["mean"], cell["std"], len(cell["values"]))


def _cell_se(cell: Mapping[str, Any]) -> float:
    """Standard error ``std/√n`` of a recorded cell's mean; 0 for a cell without values."""
    return _summary(cell).se if cell["values"] else 0.0


def _table_claims(inputs: Mapping[str, Any]) -> list[Row]:
    m = inputs.get(CHAPTERS["downstream"])
    texts = ("§6.2: with a standard head, ours is more robust than DIM", "§6.2: with a robust head, ours is more "
             "robust than DIM", "§6.2: the rows are ordered by adversarial accuracy as in the paper")
    if m is None:
        return [_missing_claim(t, CHAPTERS["downstream"]) for t in texts]
    runs = []
    if "table" in m:
        runs.append((_profile(m), m))
    if isinstance(m.get("medium"), Mapping) and "table" in m["medium"]:
        runs.append(("medium", m["medium"]))
    rows = []
    for scale, run in runs:
        source = _table_source(scale, run, m)
        table = run["table"]
        for text, h in zip(texts[:2], ("standard", "robust"), strict=True):
            diffs, ses, parts = [], [], []
            for head in ("mlp", "linear"):
                try:
                    a, b = table[f"ours/{h}"][head]["adversarial"], table[f"hjelm/{h}"][head]["adversarial"]
                except (KeyError, TypeError):
                    continue
                diffs.append(a["mean"] - b["mean"])
                ses.append(combined_se(_cell_se(a), _cell_se(b)))
                parts.append(f"{HEAD_TITLE[head]} {a['mean'] - b['mean']:+.1f} ± {ses[-1]:.1f}")
            verdict = ("supported" if diffs and all(claim_verdict(d, s) == "supported" for d, s in
                                                     zip(diffs, ses, strict=True)) else "not supported")
            rows.append(Row(text, "Table " + _table_number(run["dataset"]), "; ".join(parts) + " points", source,
                            verdict, f"every head > {CLAIM_Z:g} SE", kind="claim"))
        agree, total = row_order_agreement(run)
        rows.append(Row(texts[2], "Table " + _table_number(run["dataset"]), f"{agree} of {total} pairs agree",
                        source, "supported" if total and agree == total else "not supported",
                        f"pairs the paper separates by > {TABLE_POINTS:g} point", kind="claim"))
    return rows


def _table_number(dataset: str) -> str:
    return {v: k for k, v in TABLE_DATASETS.items()}.get(dataset, "?")


def row_order_agreement(run: Mapping[str, Any]) -> tuple[int, int]:
    """Pairs of rows (per head, adversarial column) that the paper separates by more than ``TABLE_POINTS`` and that
    our run orders the same way: ``(agreeing, compared)``."""
    paper = TABLES[run["dataset"]]
    agree = total = 0
    for head in ("mlp", "linear"):
        ours = {}
        for label in TABLE_ROWS:
            cell = run["table"].get(ROW_KEY[label], {}).get(head)
            if cell is not None and cell.get("adversarial") is not None:
                ours[label] = cell["adversarial"]["mean"]
        labels = list(ours)
        for i, a in enumerate(labels):
            for b in labels[i + 1:]:
                pa, pb = paper[a][f"{head}_adversarial"][0], paper[b][f"{head}_adversarial"][0]
                if abs(pa - pb) <= TABLE_POINTS:
                    continue
                total += 1
                agree += (pa > pb) == (ours[a] > ours[b])
    return agree, total


def _saliency_claims(m: Mapping[str, Any] | None) -> list[Row]:
    text = "Figs 4 and 6: saliency of ours is better aligned with the image than DIM's"
    if m is None:
        return [_missing_claim(text, CHAPTERS["saliency"])]
    a = m["alignment"]
    ours, dim = a["ours_mi"], a["dim_mi"]
    se = combined_se(ours["se"], dim["se"])
    return [Row(text, "images only", f"alignment: ours {ours['mean']:.3f}, DIM {dim['mean']:.3f}",
                _source(CHAPTERS["saliency"], m), claim_verdict(ours["mean"] - dim["mean"], se),
                f"difference {ours['mean'] - dim['mean']:+.3f} vs {CLAIM_Z:g} SE = {CLAIM_Z * se:.3f}", kind="claim")]


# ------------------------------------------------------------------------------------------------ errata
def paper_table_oddities() -> tuple[list[tuple[str, tuple[str, str], str]], list[tuple[str, str, tuple, tuple]]]:
    """From :data:`rrlib.paper.TABLES`: cells with equal natural and adversarial accuracy and zero std (``(dataset,
    row, head)``), and (row, head) cells whose natural and adversarial entries repeat another row's exactly
    (``(dataset, head, row_a, row_b)``), excluding the all-zero adversarial pattern alone."""
    constant, duplicates = [], []
    for dataset, table in TABLES.items():
        for head in ("mlp", "linear"):
            entries = {label: (cells[f"{head}_natural"], cells[f"{head}_adversarial"]) for label, cells in
                       table.items()}
            for label, (nat, adv) in entries.items():
                if nat == adv and nat[1] == 0.0 and nat[0] > 0:
                    constant.append((dataset, label, head))
            labels = list(entries)
            for i, a in enumerate(labels):
                for b in labels[i + 1:]:
                    if entries[a] == entries[b]:
                        duplicates.append((dataset, head, a, b))
    return constant, duplicates


def _errata(inputs: Mapping[str, Any]) -> list[Erratum]:
    out = []
    m2 = inputs.get(CHAPTERS["theorem_3_2"])
    if m2 is not None:
        out.append(Erratum(
            "Theorem 3.2 (main text and supplement A.1)",
            "∫ from ½ − AG to ½ of H₂′ ≤ RV ≤ ∫ from ½ − AG/2 to ½ of H₂′",
            "the two integration limits are swapped; the corrected form holds",
            f"worked example (d = 1, θ* = Σ* = w = 1, ℓ₂, ε = {m2['example_eps']:g}): AG = {m2['example_ag']:.4f}, "
            f"RV = {m2['example_rv']:.4f} nats, printed \"lower\" {m2['example_printed_lower']:.4f} > printed "
            f"\"upper\" {m2['example_printed_upper']:.4f}; corrected {m2['example_lower']:.4f} ≤ RV ≤ "
            f"{m2['example_upper']:.4f}. The printed form fails on {m2['printed_form_violations']} of "
            f"{m2['printed_form_checked']} random instances with AG > 1e-4 (worst miss {m2['worst_violation']:.3f} "
            f"nats); the corrected form on {m2['corrected_violations']} (ch. 02, {_profile(m2)} profile)"))
        z = m2.get("mc_printed_min_abs_z")
        mc = (f"; ch. 02's Monte Carlo ({m2.get('mc_samples', '?'):,} samples) puts the estimate at least "
              f"{z:.1f} standard errors from ½ − P" if z is not None else "")
        out.append(Erratum(
            "supplement (A.1)", "RV = H₂(½) − H₂(½ − P)", "a factor ½ is missing: RV = H₂(½) − H₂(½ − P/2)",
            "the proof's two preceding displays give Pr[wᵀX′ ≥ 0] ∈ [½ − P/2, ½ + P/2]; "
            "tests/test_theory_gaussian_mixture.py::test_printed_equation_a1_is_refuted_by_monte_carlo" + mc))
    fano_at_zero = 1 + math.log(2) / math.log(10)
    out.append(Erratum(
        "supplement Lemma A.1 (Fano), as extracted", "Pr(error) ≥ 1 − (I − log 2)/log|X|",
        "the sign of log 2 must be +, as (A.6) and Theorem 3.4 use (possibly a text-extraction artefact)",
        f"with − the right-hand side is {fano_at_zero:.3f} > 1 for an independent estimate (I = 0, |X| = 10); "
        "tests/test_theory_risk_bounds.py checks the + form on random channels"))
    constant, duplicates = paper_table_oddities()
    for dataset, head, a, b in duplicates:
        nat, adv = TABLES[dataset][a][f"{head}_natural"], TABLES[dataset][a][f"{head}_adversarial"]
        out.append(Erratum(
            f"Table {_table_number(dataset)} ({DATASET_TITLES[dataset]}), {a[0]} / {a[1]} and {b[0]} / {b[1]}, "
            f"{HEAD_TITLE[head]} head", f"{nat[0]:.2f} ± {nat[1]:.2f} / {adv[0]:.2f} ± {adv[1]:.2f} in both rows",
            "probably a copy error: two different models with identical mean and std in both columns",
            "rrlib.paper.TABLES; found by rrlib.report.paper_table_oddities"))
    ours_flags = _our_constant_cells(inputs)
    for dataset, label, head in constant:
        cell = TABLES[dataset][label][f"{head}_natural"]
        out.append(Erratum(
            f"Table {_table_number(dataset)} ({DATASET_TITLES[dataset]}), {label[0]} / {label[1]}, "
            f"{HEAD_TITLE[head]} head", f"{cell[0]:.2f} ± 0.00 natural and adversarial",
            "the pattern of a constant predictor (a head that predicts one class for every input): adversarial "
            "training of h collapsed",
            "equal natural and adversarial accuracy with zero std over 4 trials" + ours_flags))
    m6 = inputs.get(CHAPTERS["vulnerability"])
    if m6 is not None and "n_paper_fano_violations" in m6:
        out.append(Erratum(
            "Figure 2's normal-MI estimates", "normal MI per model (digitised)",
            "too low for the models' own natural accuracies (Theorem 3.4 at ε = 0, i.e. Fano)",
            f"{m6['n_paper_fano_violations']} of {m6['n_paper_models']} points have more natural accuracy than "
            f"(I + log 2)/log 10 allows; so do {m6.get('n_natural_bound_violations', '?')} of our "
            f"{m6.get('n_models', '?')} models (ch. 06, {_profile(m6)} profile)"))
    return out


def _our_constant_cells(inputs: Mapping[str, Any]) -> str:
    runs = _table_runs(inputs)
    parts = []
    for _, (scale, run, _) in runs.items():
        flagged = run.get("flags", {}).get("constant_predictor", [])
        parts.append(f"{scale} run of Table {_table_number(run['dataset'])}: "
                     + (", ".join(flagged) if flagged else "none"))
    return ("; cells our chapter 08 flags as constant predictors: " + "; ".join(parts)) if parts else ""


# ------------------------------------------------------------------------------------------------ build, render
def build(inputs: Mapping[str, dict[str, Any]]) -> Report:
    """The report from the chapters' metrics (``{chapter: metrics}``; missing chapters are allowed)."""
    listing = []
    for chapter in _READ:
        m = inputs.get(chapter)
        meta = {} if m is None else m.get("_meta", {})
        listing.append({"chapter": chapter, "ran": m is not None, "profile": meta.get("profile"),
                        "seed": meta.get("seed"), "device": meta.get("device"),
                        "finished_at": meta.get("finished_at")})
    sections = [_theory(inputs), _figure_1(inputs), _figure_2(inputs), _figure_3(inputs), *_tables(inputs),
                _claims(inputs)]
    return Report(listing, sections, _errata(inputs))


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|")


def section_markdown(section: Section) -> str:
    """A captioned table (item, paper, ours, run, verdict, detail) and the section's note."""
    from rrlib.rendering import captioned_table

    header = ["item", "paper", "ours", "run", "verdict", "detail"]
    rows = [[_cell(r.item), _cell(r.paper), _cell(r.ours), _cell(r.source), f"**{r.verdict}**", _cell(r.detail)]
            for r in section.rows]
    out = captioned_table(section.title, f"tab-report-{section.key.replace('_', '-')}", header, rows)
    return out + (f"\n\n{section.note}" if section.note else "")


def inputs_markdown(report: Report) -> str:
    from rrlib.rendering import captioned_table

    rows = [[i["chapter"], "yes" if i["ran"] else "**no**", str(i["profile"] or "—"), str(i["seed"] if i["seed"]
             is not None else "—"), str(i["finished_at"] or "—")] for i in report.inputs]
    return captioned_table("The chapters' metrics this report read.", "tab-report-inputs",
                           ["chapter", "metrics found", "profile", "seed", "finished"], rows)


def errata_markdown(report: Report) -> str:
    from rrlib.rendering import captioned_table

    rows = [[_cell(e.where), _cell(e.printed), _cell(e.finding), _cell(e.evidence)] for e in report.errata]
    return captioned_table("Errata found by the book, with their evidence.", "tab-report-errata",
                           ["where", "as printed", "finding", "evidence"], rows)


def counts_markdown(report: Report) -> str:
    from rrlib.rendering import captioned_table

    c = report.counts()
    rows = [[f"value: {v}", str(c[v.replace(' ', '_')])] for v in VALUE_VERDICTS]
    rows += [[f"claim: {k.replace('_', ' ')}", str(c[f"claims_{k}"])] for k in ("supported", "not_supported",
                                                                                   "not_run_here")]
    rows.append(["errata", str(c["errata"])])
    return captioned_table("Rows of this report per verdict.", "tab-report-counts", ["verdict", "rows"], rows)


def rules_markdown() -> str:
    """The verdict rules as a bullet list, written from the constants the code uses."""
    return "\n".join([
        f"* **{REPRODUCED}**: measured at the paper's scale and on its data set (or computed exactly) and within "
        "the row's tolerance;",
        f"* **{DIFFERS}**: measured at the paper's scale and on its data set but outside the tolerance; the detail "
        "gives the difference;",
        f"* **{REDUCED}**: measured on the paper's data set at a smaller scale (fewer images, epochs or seeds); the "
        "detail gives the difference, and such a value is neither called reproduced nor different;",
        f"* **{NOT_RUN}**: not measured at the paper's scale on the paper's data set; the detail or the note under "
        "the table gives the command that would measure it.",
        "",
        "Tolerances:",
        "",
        "* theory (closed form): half a unit of the paper's last printed digit (e.g. "
        f"{printed_tolerance('30.1'):g} for 30.1);",
        f"* Figures 1–2 (digitised): {FIGURE_NATS:g} nats or {FIGURE_POINTS:g} percentage point (the digitisation "
        f"error) plus {TOLERANCE_Z:g} standard errors of our number as its chapter records them; Figure 3: "
        f"{FIGURE_3_NATS:g} nats on range ends and modes, our mode being the centre of the fullest "
        f"{FIGURE_3_BIN:g}-nat bin; Figures 1–3 are {FIGURE_DATASET} at the paper's scale, so only chapter 06's full "
        "profile is compared by value;",
        f"* Tables 1, 3, 4, 5: each of the natural and adversarial columns within {TOLERANCE_Z:g} standard errors of "
        f"the difference (ours: std/√seeds; the paper's: std/√{PAPER_TRIALS}) and at least {TABLE_POINTS:g} point; "
        "only the full profile (the paper's protocol) is compared by value.",
        "",
        "Claims: supported when the effect exceeds its threshold (for differences: "
        f"{CLAIM_Z:g} standard errors); §6.1's claims by chapter 06's own rules (`rrlib.verdicts`: differences of MI "
        f"over {MI_CLAIM_Z:g} and of adversarial accuracy over {ACCURACY_CLAIM_Z:g} standard errors); the row "
        f"ordering of a table by the pairs of rows the paper separates by more than {TABLE_POINTS:g} point, all of "
        "which must be ordered alike.",
    ])
