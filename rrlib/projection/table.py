"""Projected hours per chapter and per table cell from counted work and measured seconds, and their Markdown table."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rrlib.projection.work import Unit, WorkItem


# ------------------------------------------------------------------------------------------------------ projection
def project(items: Iterable[WorkItem], seconds: dict[Unit, float], trials: tuple[int, ...] = (1, 4)
            ) -> list[dict[str, Any]]:
    """Rows ``{"chapter", "part", "hours": {t: h or None}, "per_trial", "missing"}``: per chapter a total
    (``part = "total"``), then each of its parts (a table cell is a part). Hours for ``t`` trials are
    ``(fixed + t × per-trial seconds) / 3600``; a row any of whose units is not in ``seconds`` has ``None`` hours
    and names the units in ``missing``."""
    groups: dict[str, dict[str, list[WorkItem]]] = {}
    for it in items:
        groups.setdefault(it.chapter, {}).setdefault(it.part, []).append(it)

    def row(chapter: str, part: str, work: list[WorkItem]) -> dict[str, Any]:
        missing = sorted({w.unit.label() for w in work if w.count and w.unit not in seconds})
        fixed = sum(w.count * seconds.get(w.unit, 0.0) for w in work if not w.per_trial)
        each = sum(w.count * seconds.get(w.unit, 0.0) for w in work if w.per_trial)
        hours = {t: None if missing else (fixed + t * each) / 3600 for t in trials}
        return {"chapter": chapter, "part": part, "hours": hours, "per_trial": any(w.per_trial for w in work),
                "missing": missing}

    rows = []
    for chapter, parts in groups.items():
        rows.append(row(chapter, "total", [w for work in parts.values() for w in work]))
        rows += [row(chapter, part, work) for part, work in parts.items()]
    return rows


def _fmt(hours: float | None) -> str:
    if hours is None:
        return "not measured"
    if hours >= 48:
        return f"{hours / 24:.1f} d"
    return f"{hours:.2f} h" if hours >= 0.1 else f"{hours * 60:.1f} min"


def projection_markdown(rows: list[dict[str, Any]], device: str = "") -> str:
    """A Markdown table of :func:`project`'s rows (hours, or days from 48 h), with a caption saying what counts."""
    trials = list(rows[0]["hours"]) if rows else [1, 4]
    head = "| chapter | part | " + " | ".join(f"{t} trial{'s' * (t > 1)}" for t in trials) + " |"
    lines = [f"Projected wall time of the `full` profile{f' on {device}' if device else ''}: measured seconds per "
             "step × the number of steps the full configs run (training steps, attack and estimator iterations, "
             "periodic evaluations, AutoAttack per image). Not counted: data loading, checkpoints, plots. Trials "
             "multiply only the table cells (one seed each); other chapters do not depend on them.", "",
             head, "|---|---|" + "---|" * len(trials)]
    for r in rows:
        chapter = f"**{r['chapter']}**" if r["part"] == "total" else ""
        lines.append(f"| {chapter} | {r['part']} | " + " | ".join(_fmt(r["hours"][t]) for t in trials) + " |")
    return "\n".join(lines) + "\n"

