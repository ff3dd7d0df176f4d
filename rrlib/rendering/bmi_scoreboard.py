"""The bmi scoreboard's tables (:mod:`rrlib.experiments.bmi_scoreboard`): markdown from recorded metrics, nothing
computed beyond formatting and counting.

Both functions take :meth:`rrlib.experiments.bmi_scoreboard.ScoreboardResult.metrics` (plain JSON) and return a MyST
``{table}`` with a numbered caption. Estimates are in nats; the ln ratio is bmi's mean over the non-failed seeds of
``ln(estimate / true MI)`` (dimensionless; :mod:`rrlib.mi.bmi_scoring`). The heat map of the same ln ratios is
:func:`rrlib.plotting.bmi_scoreboard.ln_ratio_figure` (drawing lives in :mod:`rrlib.plotting`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rrlib.plotting.mi import BOUND_TITLES
from rrlib.rendering.tables import captioned_table

__all__ = ["FAIL_MARK", "cost_markdown", "samples_needed_markdown", "scoreboard_markdown", "summary_markdown",
           "trust_markdown"]

#: Marks a cell with failed runs (bmi's rule): ``✗k`` = k runs failed and were left out of the mean.
FAIL_MARK = "✗"


def _signed(x: float | None) -> str:
    return "–" if x is None else f"{x:+.2f}".replace("-", "−")


def _nats(x: float) -> str:
    """An estimate in nats: two decimals, or three significant digits beyond 100 nats (a blown-up estimate)."""
    return f"{x:.2f}" if abs(x) < 100 else f"{x:.3g}"


def _cell(score: Mapping[str, Any]) -> str:
    """``mean (ln ratio)``, bold when within a factor 1.5, ``✗k`` for k failed runs; ``–`` when all failed."""
    failed = f" {FAIL_MARK}{score['n_failed']}" if score["n_failed"] else ""
    if score["mean_estimate"] is None:
        return f"–{failed}"
    text = f"{_nats(score['mean_estimate'])} ({_signed(score['ln_ratio'])})"
    return (f"**{text}**" if score["within"] else text) + failed


def _bound_title(bound: str) -> str:
    return BOUND_TITLES.get(bound, bound)


def scoreboard_markdown(metrics: Mapping[str, Any], name: str, scale: str) -> str:
    """Table ``name`` (in smaller type): one row per task (its name, which gives its dimensions, and true MI in
    nats), one column per bound; each cell the mean estimate over the non-failed seeds (nats) and, in brackets, bmi's
    ln ratio; bold where the estimate is within a factor 1.5 of the truth; ``✗k`` where k runs failed. ``scale``
    names the run in the caption (e.g. "this page's quick run")."""
    bounds = list(metrics["config"]["bounds"])
    rows = []
    for task_id, task in metrics["tasks"].items():
        rows.append([task["name"], f"{task['true_mi']:.2f}"]
                    + [_cell(metrics["scores"][task_id][b]) for b in bounds])
    n_seeds = len(metrics["config"]["seeds"])
    rules = metrics["rules"]
    caption = (f"The bmi benchmark's tasks (Czyż et al., 2023) estimated with each bound, {scale}: mean estimate "
               f"(nats) over {n_seeds} seeds at n = {metrics['main_n']:,} points, with bmi's ln ratio, the mean of "
               "ln(estimate / true MI), in brackets; bold: within a factor 1.5 of the true MI "
               f"(|ln ratio| < ln 1.5 = {rules['within_ln_ratio']:.3f}). {FAIL_MARK}k: k runs failed by bmi's "
               f"rule (estimate negative, not finite, or below {rules['fail_fraction']:.0%} of the cell's best) "
               "and are left out of the mean; –: every run failed.")
    header = ["task", "true MI"] + [_bound_title(b) for b in bounds]
    return captioned_table(caption, name, header, rows, compact=True)


def _counts(metrics: Mapping[str, Any], bound: str, regime: bool | None) -> tuple[int, int, int, int]:
    """``(tasks within a factor 1.5, tasks with a failed run, failed runs, tasks)`` of ``bound`` among the tasks
    in (``True``) or out of (``False``) the paper's regime, or all (``None``)."""
    within = with_failed = failed = total = 0
    for task_id, task in metrics["tasks"].items():
        if regime is not None and task["paper_regime"] != regime:
            continue
        score = metrics["scores"][task_id][bound]
        total += 1
        within += bool(score["within"])
        with_failed += score["n_failed"] > 0
        failed += score["n_failed"]
    return within, with_failed, failed, total


def _fraction(k: int, n: int) -> str:
    return "–" if n == 0 else f"{k} / {n}"


def summary_markdown(metrics: Mapping[str, Any], name: str, scale: str) -> str:
    """Table ``name``: per bound, the tasks whose mean estimate is within a factor 1.5 of the truth (|ln ratio| <
    ln 1.5) in the paper's regime (true MI <= 2 nats) and out of it (two columns when the run has tasks in both;
    every bmi task is in it) and in all; the tasks with a failed run and the failed runs; and, where some tasks ran
    at several sizes, on how many of them a size was enough (bmi's "samples needed")."""
    bounds = list(metrics["config"]["bounds"])
    needed = metrics.get("samples_needed") or {}
    runs_per_cell = len(metrics["config"]["seeds"])
    threshold = metrics["rules"]["paper_regime_nats"]
    regimes = {task["paper_regime"] for task in metrics["tasks"].values()}
    split = regimes == {True, False}  # both regimes present: a column for each
    rows = []
    for b in bounds:
        w_all, tasks_failed, runs_failed, n_all = _counts(metrics, b, None)
        row = [_bound_title(b)]
        if split:
            for regime in (True, False):
                w, _, _, n = _counts(metrics, b, regime)
                row.append(_fraction(w, n))
        row += [_fraction(w_all, n_all), _fraction(tasks_failed, n_all),
                _fraction(runs_failed, n_all * runs_per_cell)]
        if needed:
            sizes = [by[b]["needed"] for by in needed.values() if b in by]
            row.append(_fraction(sum(s is not None for s in sizes), len(sizes)))
        rows.append(row)
    header = ["bound"]
    if split:
        header += [f"within 1.5×, MI ≤ {threshold:g}", f"within 1.5×, MI > {threshold:g}"]
    header += ["within 1.5×, all tasks", "tasks with a failure", "failed runs"]
    n_tasks = len(metrics["tasks"])
    if split:
        regime_text = (f"among the tasks in the paper's regime (true MI ≤ {threshold:g} nats; the paper's Figures 2–3 "
                       "measure 0–1.74 nats), beyond it, and all")
    else:
        where = "within" if regimes == {True} else "beyond"
        regime_text = (f"among all {n_tasks} tasks, every one {where} the paper's regime (true MI ≤ {threshold:g} "
                       "nats; the paper's Figures 2–3 measure 0–1.74 nats)")
    caption = (f"Each bound on the bmi tasks, {scale}, at n = {metrics['main_n']:,}: tasks whose mean estimate is "
               f"within a factor 1.5 of the true MI (|ln ratio| < ln 1.5), {regime_text}; tasks with at least one "
               "failed run, and failed runs in all (bmi's rule).")
    if needed:
        sizes = sorted({n for by in needed.values() for cell in by.values() for n in cell["sizes"]})
        header.append("solved by some n")
        tasks = "the task" if len(needed) == 1 else f"the {len(needed)} tasks"
        caption += (f" Solved by some n: of {tasks} run at n = "
                    f"{', '.join(f'{n:,}' for n in sizes)}, those where bmi's samples-needed exists (within 1.5× "
                    "from some size on).")
    return captioned_table(caption, name, header, rows)


def samples_needed_markdown(metrics: Mapping[str, Any], name: str, scale: str) -> str:
    """Table ``name``: bmi's "samples needed" per task run at several sizes (rows) and bound (columns): the
    smallest n from which on the mean estimate stays within a factor 1.5 of the truth, "> max n" when it is not
    within at the largest size. ``scale`` names the run in the caption."""
    bounds = list(metrics["config"]["bounds"])
    needed = metrics.get("samples_needed") or {}
    rows, sizes = [], set()
    for task_id, by_bound in needed.items():
        task = metrics["tasks"][task_id]
        cells = []
        for b in bounds:
            cell = by_bound[b]
            sizes.update(cell["sizes"])
            cells.append(f"> {max(cell['sizes']):,}" if cell["needed"] is None else f"{cell['needed']:,}")
        rows.append([task["name"], f"{task['true_mi']:.2f}"] + cells)
    shown = ", ".join(f"{n:,}" for n in sorted(sizes)) or "–"
    caption = (f"Samples needed (bmi's rule), {scale}: the smallest sample size n, among n = {shown}, from which on "
               "the mean estimate over the seeds is within a factor 1.5 of the true MI (|ln ratio| < ln 1.5) at "
               "every larger size run; \"> n\": not within at the largest size.")
    return captioned_table(caption, name, ["task", "true MI"] + [_bound_title(b) for b in bounds], rows)


def trust_markdown(metrics: Mapping[str, Any], bound: str, scale: str) -> str:
    """Sentences on where ``bound`` (e.g. the paper's ``"dv"``) is within a factor 1.5 of the truth in ``metrics``
    (at its main n) and where it is not, naming each task of the second kind with its ln ratio and failures; every
    number from the run (``scale`` names it)."""
    within, missed = [], []
    for task_id, task in metrics["tasks"].items():
        score = metrics["scores"][task_id][bound]
        (within if score["within"] else missed).append((task, score))
    title = _bound_title(bound)
    text = (f"In {scale}, {title} is within a factor 1.5 of the true MI on {len(within)} of the "
            f"{len(metrics['tasks'])} tasks")
    in_regime = sum(task["paper_regime"] for task, _ in within)
    text += f" ({in_regime} of them in the paper's regime)." if in_regime != len(within) else "."
    if missed:
        shown = []
        for task, score in missed:
            ratio = "every run failed" if score["ln_ratio"] is None else f"ln ratio {_signed(score['ln_ratio'])}"
            failed = f", {score['n_failed']} of {score['n_runs']} runs failed" if score["n_failed"] and \
                score["ln_ratio"] is not None else ""
            shown.append(f"{task['name']} ({task['true_mi']:.2f} nats: {ratio}{failed})")
        text += f" It misses on {len(missed)}: " + "; ".join(shown) + "."
    return text


def cost_markdown(metrics: Mapping[str, Any], full_runs: int, full_steps: int, scale: str, threads: int,
                  shared: bool = False) -> str:
    """A sentence on what ``metrics``' runs cost (their own recorded seconds, on ``threads`` torch threads; with
    ``shared``, on a machine that other runs shared, so the seconds overstate the cost) and, when they had the full
    protocol's step budget ``full_steps``, what bmi's full protocol of ``full_runs`` runs takes at that rate on the
    same machine (``scale`` names the run)."""
    t = metrics["timing"]
    per_run, budget = t["seconds_per_run"], metrics["config"]["steps"]
    early = sum(r["steps"] < budget for r in metrics["runs"])
    where = f"{threads} torch thread{'s' if threads != 1 else ''}" + (
        " of a machine that other runs shared at the time (so these seconds overstate the cost)" if shared else "")
    return (f"The {t['runs']:,} runs of {scale} took {t['total_seconds'] / 3600:.2f} hours in all on {where}, "
            f"{per_run:.1f} s per run and {t['seconds_per_1000_steps']:.1f} s per 1,000 critic steps; {early:,} of "
            f"them stopped early, before their {budget:,}-step budget. "
            + (f"At {per_run:.1f} s per run, the full profile's {full_runs:,} runs (bmi's protocol: 10 seeds) would "
               f"take {full_runs * per_run / 3600:.1f} hours at the same rate." if budget == full_steps else
               f"With a budget other than the full protocol's {full_steps:,} steps these runs do not measure its "
               "cost."))
