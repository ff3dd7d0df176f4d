"""The reproduction report's verdict rules (chapter 10), each written once: what a value's verdict is, its
tolerance, and when a claim is supported. Pure functions of numbers and recorded metric cells; the thresholds
counted in standard errors (``TOLERANCE_Z``) and the claims' interval rule are :mod:`rrlib.stats`'s.

Claims (the paper's orderings, signs and inequalities) are judged by :mod:`rrlib.stats`'s rule: a Student-t interval
of the paired per-seed differences (:func:`rrlib.stats.difference_verdict`), several comparisons of one claim
combined by :func:`combine_verdicts`.

Verdicts on a **value** (a number the paper prints or plots):

* ``reproduced`` — measured here at the paper's scale and data set (or computed exactly, for theory) and within
  the row's tolerance;
* ``differs`` — measured at the paper's scale and data set, outside the tolerance (the difference is given);
* ``reduced scale`` — measured on the paper's data set but at a smaller scale (fewer images, epochs, seeds): the
  difference is given, but such a value is neither called reproduced nor different;
* ``not run here`` — not measured at the paper's scale on the paper's data set: the command that would measure
  it is given.

Tolerances: theory values computed in closed form, half a unit of the paper's last printed digit
(:func:`printed_tolerance`); digitised figure values, the digitisation error (``FIGURE_NATS``, ``FIGURE_POINTS``,
``FIGURE_3_NATS``) plus ``TOLERANCE_Z`` standard errors of ours; table cells, ``TOLERANCE_Z`` standard errors of
the difference (ours over its seeds, the paper's over ``PAPER_TRIALS``) but at least ``TABLE_POINTS``. MI in nats,
accuracies in percent.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from rrlib.grid.config import ROW_LABELS
from rrlib.stats import CONTRADICTED, SUPPORTED, TOLERANCE_Z, TOO_FEW, UNDECIDED, Summary, combined_se

__all__ = [
    "DIFFERS", "FIGURE_3_BIN", "FIGURE_3_NATS", "FIGURE_NATS", "FIGURE_POINTS", "NOT_RUN", "PAPER_TRIALS", "REDUCED",
    "REPRODUCED", "ROW_KEY", "TABLE_POINTS", "VALUE_VERDICTS", "cell_se", "cell_summary", "combine_verdicts",
    "figure_verdict", "neuron_summary", "printed_tolerance", "table_cell_verdict", "theory_verdict",
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

#: The key of each of the paper's table rows in chapter 08's metrics (the inverse of ``downstream_tables.ROW_LABELS``).
ROW_KEY = {label: key for key, label in ROW_LABELS.items()}


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


def cell_summary(cell: Mapping[str, Any]) -> Summary:
    """A recorded ``{"mean", "std", "values"}`` cell (sample sd over its seeds) as a :class:`rrlib.stats.Summary`."""
    return Summary(cell["mean"], cell["std"], len(cell["values"]))


def cell_se(cell: Mapping[str, Any]) -> float:
    """Standard error ``std/√n`` of a recorded cell's mean; 0 for a cell without values."""
    return cell_summary(cell).se if cell["values"] else 0.0


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
        se = combined_se(std / math.sqrt(PAPER_TRIALS), cell_se(cell))
        diff, tol = cell["mean"] - mean, max(TABLE_POINTS, TOLERANCE_Z * se)
        parts.append(f"{col} {diff:+.1f}")
        if abs(diff) > tol:
            misses.append(f"{col} {diff:+.1f} (tolerance {tol:.1f})")
    if scale != "full":
        return REDUCED, f"{', '.join(parts)} points ({scale} scale)"
    if misses:
        return DIFFERS, "; ".join(misses) + " points"
    return REPRODUCED, ", ".join(parts) + " points"


def combine_verdicts(verdicts: Sequence[str]) -> str:
    """One claim judged by several paired comparisons (heads, attacks): ``supported`` when every comparison supports
    it, ``contradicted`` when every one contradicts it, ``too few to judge`` when any rests on too few seeds,
    otherwise ``undecided``."""
    if not verdicts:
        raise ValueError("a claim needs at least one comparison")
    if TOO_FEW in verdicts:
        return TOO_FEW
    if all(v == SUPPORTED for v in verdicts):
        return SUPPORTED
    if all(v == CONTRADICTED for v in verdicts):
        return CONTRADICTED
    return UNDECIDED


def neuron_summary(values: Sequence[float], bin_width: float = FIGURE_3_BIN) -> dict[str, float]:
    """``{"low", "high", "mode"}`` of per-neuron values: range, and the centre of the fullest bin of width
    ``bin_width`` (bins start at a multiple of the width; the lowest fullest bin wins a tie)."""
    if not values:
        raise ValueError("no per-neuron values")
    start = math.floor(min(values) / bin_width)
    counts = Counter(math.floor(v / bin_width) - start for v in values)
    fullest = min(counts, key=lambda b: (-counts[b], b))
    return {"low": float(min(values)), "high": float(max(values)), "mode": (start + fullest + 0.5) * bin_width}
