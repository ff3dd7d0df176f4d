"""The report's rows beyond the paper (issue 20): the paper's worst-case MI against worst-case InfoNCE and adversarial
contrastive learning, judged like a claim but kept out of the paper's counts (rows of kind ``"beyond"``).

Read from chapter 11's metrics (:mod:`rrlib.experiments.contrastive_comparison`): only its comparisons on the
committed medium run are evidence (``medium_comparisons``); its own quick run never is. One row per objective and
head training (standard, robust): "ours is more robust than it", judged on the paired per-seed differences
ours − theirs under the paper's PGD and AutoAttack for both heads, combined by
:func:`rrlib.report.rules.combine_verdicts` (every interval above zero: supported; every one below: contradicted);
and one row per objective for natural accuracy with a standard head. Where chapter 11 also holds the fresh-critic
judge of the medium run's encoders (``medium_fresh_critic``, :func:`rrlib.experiments.contrastive_comparison.
fresh_critic_view`), one row per objective for §5's quantity: "ours has the smaller RV", judged on the paired
differences theirs − ours (an objective with an impossible estimate on some seed is judged without that seed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rrlib.grid.config import ENCODER_LOSS
from rrlib.rendering.section5 import HEAD_NAMES
from rrlib.report.inputs import CHAPTERS, chapter_command
from rrlib.report.rules import combine_verdicts
from rrlib.report.types import Row, Section
from rrlib.stats import CONTRADICTED, SUPPORTED

__all__ = ["BEYOND_KIND", "NOT_IN_PAPER", "NOT_JUDGED_BEYOND", "beyond"]

#: The kind of these rows: not a value or a claim of the paper, so :meth:`Report.counts` leaves them out.
BEYOND_KIND = "beyond"
#: The paper column of these rows (claims_markdown shows no "(paper: ...)" for it).
NOT_IN_PAPER = "not in the paper"
#: Verdict while the committed medium run holds no rows beyond the paper.
NOT_JUDGED_BEYOND = "not judged: no medium run of these rows yet"
_NAMES = {"infonce": "worst-case InfoNCE", "contrastive": "adversarial contrastive learning (RoCL-style)"}
_COLUMNS = {"natural": "natural", "adversarial": "PGD", "autoattack": "AutoAttack"}
_FLIP = {SUPPORTED: CONTRADICTED, CONTRADICTED: SUPPORTED}


def _texts() -> dict[tuple[str, str], str]:
    out = {}
    for rep, name in _NAMES.items():
        out[(rep, "standard")] = f"with a standard h, the paper's worst-case MI is more robust than {name}"
        out[(rep, "robust")] = f"with a robust h, the paper's worst-case MI is more robust than {name}"
        out[(rep, "natural")] = f"with a standard h, the paper's worst-case MI has higher natural accuracy than {name}"
    return out


def _row(text: str, comps: Sequence[Mapping[str, Any]], n_seeds: int) -> Row:
    """One row from chapter 11's comparisons (theirs − ours), turned to ours − theirs."""
    parts, verdicts = [], []
    for c in comps:
        low, high = c["interval"]
        parts.append(f"{HEAD_NAMES[c['head']]} {_COLUMNS[c['column']]} {-c['mean']:+.1f} [{-high:+.1f}, {-low:+.1f}]")
        verdicts.append(_FLIP.get(c["verdict"], c["verdict"]))
    return Row(text, NOT_IN_PAPER, "; ".join(parts), "ch. 11, committed medium-scale run, Fashion-MNIST",
               combine_verdicts(verdicts), f"ours − theirs, paired, {n_seeds} seeds; every interval above 0",
               kind=BEYOND_KIND, values={"comparisons": list(comps)})


def _rv_rows(fresh: Mapping[str, Any] | None) -> list[Row]:
    """One row per objective: the paper's encoder has the smaller fresh-critic RV (theirs − ours > 0)."""
    if not fresh:
        return []
    rows = []
    for rep, name in _NAMES.items():
        d = next((d for d in fresh["differences"] if d["loss"] == ENCODER_LOSS[rep] and d["quantity"] == "rv"), None)
        if d is None:
            continue
        low, high = d["interval"]
        left_out = fresh["objectives"][ENCODER_LOSS[rep]]["impossible"] + fresh["objectives"]["worst"]["impossible"]
        detail = f"theirs − ours, paired, {d['n']} seeds; the interval above 0"
        if left_out:
            detail += f" (seeds {sorted(set(left_out))} left out: impossible estimates)"
        rows.append(Row(f"the paper's worst-case MI encoder has a smaller representation vulnerability than {name}",
                        NOT_IN_PAPER, f"RV theirs − ours {d['mean']:+.3f} [{low:+.3f}, {high:+.3f}] nats",
                        "ch. 11, fresh critics on the committed medium-scale run's encoders", d["verdict"], detail,
                        kind=BEYOND_KIND, values={"difference": dict(d)}))
    return rows


def beyond(inputs: Mapping[str, Any]) -> Section:
    """The section ``beyond``: chapter 11's comparisons on the committed medium run, one row per comparison of
    :func:`_texts`, or the same rows "not judged" while the medium run lacks them or chapter 11 did not run."""
    title = ("Beyond the paper: its worst-case MI against two other objectives on the same protocol (chapter 11); "
             "not claims of the paper, and not counted with them.")
    texts = _texts()
    m = inputs.get(CHAPTERS["beyond"])
    comps = None if m is None else m.get("medium_comparisons")
    if not comps:
        # nothing to judge yet: one row for all of them, not the same verdict six times
        item = (f"The {len(texts)} comparisons of chapter 11: the paper's worst-case MI against worst-case InfoNCE and "
                "against adversarial contrastive learning, in robustness with a standard and with a robust h and in "
                "natural accuracy")
        where, detail = (("chapter not run", chapter_command(CHAPTERS["beyond"])) if m is None
                         else ("ch. 11 (its quick run is not evidence)", ""))
        return Section("beyond", title, [Row(item, NOT_IN_PAPER, "—", where, NOT_JUDGED_BEYOND, detail,
                                             kind=BEYOND_KIND)])
    n = max(c["n"] for c in comps)
    rows = []
    for (rep, what), text in texts.items():
        if what == "natural":
            chosen = [c for c in comps if c["rep"] == rep and c["loss"] == "standard" and c["column"] == "natural"]
        else:
            chosen = [c for c in comps if c["rep"] == rep and c["loss"] == what
                      and c["column"] in ("adversarial", "autoattack")]
        if chosen:
            rows.append(_row(text, chosen, n))
    return Section("beyond", title, rows + _rv_rows(m.get("medium_fresh_critic")))
