"""The reproduction report's inputs: the metrics that chapters 01–09 and 11 recorded (``_build/metrics/NN_name.json``,
read by :func:`load_inputs`), and the typed views the sections read of them — where a number came from
(:func:`source`), chapter 06's figures context (:class:`FigureContext`) and chapter 08's table runs
(:class:`TableRun`). Nothing is re-computed here; missing chapters are allowed everywhere (``None``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rrlib.data import get_spec
from rrlib.paper import TABLE_NUMBERS

__all__ = ["CHAPTERS", "FIGURE_DATASET", "FRESH_CRITIC", "READ", "FigureContext", "TableRun", "best_table_runs",
           "VULNERABILITY_MEDIUM", "chapter_command", "dataset_title", "figure_context", "judged_table_runs",
           "load_inputs", "profile", "recorded_table_runs", "source", "table_number", "vulnerability_metrics"]

#: Chapters the report reads, by role.
CHAPTERS = {
    "theorem_3_2": "02_theorem_3_2",
    "theorem_3_4": "03_theorem_3_4",
    "vulnerability": "06_vulnerability_robustness",
    "encoders": "07_robust_encoders",
    "downstream": "08_downstream",
    "saliency": "09_saliency",
    "beyond": "11_beyond_contrastive",
}
#: Every chapter whose metrics the report lists, in book order.
READ = ("01_preliminaries", "02_theorem_3_2", "03_theorem_3_4", "04_mine", "05_worst_case_mi",
        "06_vulnerability_robustness", "07_robust_encoders", "08_downstream", "09_saliency", "11_beyond_contrastive")
#: The key of the committed fresh-critic measurement of the medium encoders (:mod:`rrlib.report.encoder_rv`) among
#: the inputs.
FRESH_CRITIC = "encoders_medium_fresh_critic"
#: The key of chapter 06's committed medium run (:mod:`rrlib.experiments.vulnerability.committed`) among the inputs:
#: its metrics, with ``_meta`` naming the medium profile, its seed and the file.
VULNERABILITY_MEDIUM = "vulnerability_medium_committed"
#: Figures 1–3 are CIFAR-10 at the paper's scale: chapter 06's full profile.
FIGURE_DATASET = get_spec("cifar10").title
#: Preference among our runs of one table: the paper's scale first.
_SCALE_RANK = {"full": 0, "medium": 1, "quick": 2}


def load_inputs(directory: Path | None = None,
                loader: Callable[[str, Path | None], dict[str, Any]] | None = None) -> dict[str, dict[str, Any]]:
    """The metrics of chapters 01–09 and 11 that exist (a missing chapter is left out; the report says so) and, under
    :data:`FRESH_CRITIC`, the committed fresh-critic result of :mod:`rrlib.report.encoder_rv` when it exists."""
    from rrlib.report.encoder_rv import load_result

    if loader is None:
        from rrlib.book import load_metrics as loader
    out = {}
    for chapter in READ:
        try:
            out[chapter] = loader(chapter, directory)
        except FileNotFoundError:
            continue
    fresh = load_result()
    if fresh is not None:
        out[FRESH_CRITIC] = fresh
    committed = _committed_vulnerability()
    if committed is not None:
        out[VULNERABILITY_MEDIUM] = committed
    return out


def _committed_vulnerability() -> dict[str, Any] | None:
    """Chapter 06's committed medium run as chapter metrics (``None`` when the file does not exist)."""
    from rrlib.experiments.vulnerability.committed import RESULT_PATH, load_result

    result = load_result()
    if result is None:
        return None
    meta = {"profile": "medium", "seed": result.config.seed, "file": f"results/{RESULT_PATH.name}"}
    return {**result.metrics(), "_meta": meta}


def vulnerability_metrics(inputs: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The chapter-06 metrics that judge §6.1: a full run of the chapter, else the committed medium run, else
    whatever the chapter ran (a quick run, which judges nothing), else ``None``."""
    ran = inputs.get(CHAPTERS["vulnerability"])
    if profile(ran) == "full":
        return ran
    return inputs.get(VULNERABILITY_MEDIUM) or ran


def chapter_command(chapter: str, profile: str = "full") -> str:
    """The command that executes one chapter (its metrics land in ``_build/metrics``)."""
    return f"python -m rrlib.book run --profile {profile} --only {chapter}"


def profile(metrics: Mapping[str, Any] | None) -> str | None:
    """The profile a chapter ran in (``None`` for a chapter that did not run)."""
    if metrics is None:
        return None
    return metrics.get("_meta", {}).get("profile", "unknown")


def source(chapter: str, metrics: Mapping[str, Any], extra: str = "") -> str:
    """Where a number came from: chapter, profile (``extra`` after it) and seeds."""
    meta = metrics.get("_meta", {})
    seeds = metrics.get("seeds")
    seed_text = (f"seeds {', '.join(str(s) for s in seeds)}" if seeds is not None
                 else f"seed {meta.get('seed', '?')}")
    committed = f", committed in {meta['file']}" if meta.get("file") else ""
    return f"ch. {chapter[:2]}, {meta.get('profile', 'unknown')} profile{extra}{committed}, {seed_text}"


def dataset_title(dataset: str) -> str:
    """The data set's title (:func:`rrlib.data.get_spec`), or its key for one the library does not know."""
    try:
        return get_spec(dataset).title
    except (KeyError, ValueError):
        return dataset


def table_number(dataset: str) -> str:
    """The paper's number of the downstream table on ``dataset`` (``"?"`` for another data set)."""
    return str(TABLE_NUMBERS.get(dataset, "?"))


@dataclass(frozen=True)
class FigureContext:
    """What Figures 1–3 are compared against: chapter 06's metrics (``None``: not run), whether it ran at the paper's
    scale and data set (``comparable``), what it ran instead (``why``) and the command that runs it."""

    metrics: Mapping[str, Any] | None
    comparable: bool
    why: str
    command: str


def figure_context(inputs: Mapping[str, Any]) -> FigureContext:
    """Chapter 06 as Figures 1–3 see it."""
    chapter = CHAPTERS["vulnerability"]
    m = inputs.get(chapter)
    command = chapter_command(chapter)
    if m is None:
        return FigureContext(None, False, "chapter 06 not run", command)
    dataset = m.get("dataset_title", "unknown data")
    ran = profile(m)
    comparable = ran == "full" and dataset == FIGURE_DATASET
    why = f"ch. 06 ran the {ran} profile on {dataset}" + ("" if comparable else f", not {FIGURE_DATASET} at "
                                                                             "the paper's scale")
    return FigureContext(m, comparable, why, command)


@dataclass(frozen=True)
class TableRun:
    """One of our runs of a downstream table recorded by chapter 08: its ``scale`` (the chapter's profile, or
    ``medium`` for the committed run) and its metrics block (``dataset``, ``table``, ``seeds``, ``flags``)."""

    scale: str
    metrics: Mapping[str, Any]

    @property
    def dataset(self) -> str:
        return self.metrics["dataset"]

    @property
    def table(self) -> Mapping[str, Any]:
        return self.metrics["table"]

    def source(self) -> str:
        """Where the run's numbers came from, for the report's ``run`` column."""
        seeds = ", ".join(str(s) for s in self.metrics.get("seeds", []))
        where = "committed medium-scale run" if self.scale == "medium" else f"{self.scale} profile"
        return f"ch. 08, {where}, {dataset_title(self.dataset)}, seeds {seeds}"


def recorded_table_runs(inputs: Mapping[str, Any]) -> list[TableRun]:
    """Chapter 08's table runs in the order it recorded them: its own run, then the committed medium run."""
    m = inputs.get(CHAPTERS["downstream"])
    if m is None:
        return []
    runs = []
    if "table" in m:
        runs.append(TableRun(profile(m), m))
    if isinstance(m.get("medium"), Mapping) and "table" in m["medium"]:
        runs.append(TableRun("medium", m["medium"]))
    return runs


def best_table_runs(inputs: Mapping[str, Any]) -> dict[str, TableRun]:
    """Per data set, our best run of chapter 08: the paper's scale (``full``) first, then ``medium``, then
    ``quick``."""
    out: dict[str, TableRun] = {}
    for run in sorted(recorded_table_runs(inputs), key=lambda r: _SCALE_RANK.get(r.scale, 3)):
        out.setdefault(run.dataset, run)
    return out


def judged_table_runs(inputs: Mapping[str, Any]) -> list[TableRun]:
    """The table runs that may judge the paper's claims: one per data set, medium scale or larger (the best by
    :func:`best_table_runs`); a quick run never judges a claim."""
    return [run for run in best_table_runs(inputs).values() if run.scale in ("medium", "full")]
