"""Tables and sentences of chapter 04 (MINE and the other variational bounds): the oracle critic's estimates and
the trained staircases' bias, variance and MSE, in nats."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from rrlib.experiments.mine import ORACLE_BOUNDS
from rrlib.rendering.tables import table_or_captioned as _mi_table

if TYPE_CHECKING:  # pragma: no cover
    from rrlib.experiments.mine import MineResult

__all__ = ["STAIRCASE_QUANTITIES", "best_at_top_markdown", "nwj_check_markdown", "oracle_table_markdown",
           "oracle_tables_markdown", "staircase_table_markdown"]


def _fmt(x: float, digits: int = 2) -> str:
    return "–" if not math.isfinite(x) else f"{x:.{digits}f}"


def oracle_table_markdown(result: MineResult, *, caption: str | None = None, name: str | None = None) -> str:
    """Long table, one number per cell: for each oracle bound and true MI level, the mean and standard deviation
    (sd, across batches) at every batch size (nats)."""
    batches = result.config.oracle_batches
    head = ["estimator", "true MI"] + [h for n in batches for h in (f"mean, n = {n}", f"sd, n = {n}")]
    rows = []
    for b in ORACLE_BOUNDS:
        for v in result.config.levels:
            cells = [b, f"{v:g}"]
            for n in batches:
                r = result.oracle_row(b, n, v)
                cells += [_fmt(r.mean), _fmt(r.std)]
            rows.append(cells)
    return _mi_table(head, rows, caption, name)


#: The quantities of :func:`staircase_table_markdown`: attribute of ``LevelStats`` and its unit.
STAIRCASE_QUANTITIES = {"bias": "nats", "variance": "nats²", "mse": "nats²"}


def staircase_table_markdown(result: MineResult, quantity: str = "mse", *, caption: str | None = None,
                             name: str | None = None) -> str:
    """Table: one of bias / variance / MSE (``quantity``) per MI level for every trained run, one number per
    cell; ``–`` where a run diverged before the level."""
    if quantity not in STAIRCASE_QUANTITIES:
        raise ValueError(f"unknown quantity {quantity!r}; valid choices: {tuple(STAIRCASE_QUANTITIES)}")
    levels = result.config.levels
    head = ["critic", "estimator", "steps per level"] + [f"I = {v:g}" for v in levels]
    rows = [[r.critic, r.bound, f"{r.config.steps_per_level}"] + [_fmt(getattr(s, quantity)) for s in r.stats]
            for r in result.staircases]
    return _mi_table(head, rows, caption, name)


def oracle_tables_markdown(result: MineResult) -> str:
    """:func:`oracle_table_markdown` with its caption (label ``tab-ch4-oracle``)."""
    log_n = ", ".join(f"log {n} = {math.log(n):.2f}" for n in result.config.oracle_batches)
    return oracle_table_markdown(
        result, name="tab-ch4-oracle",
        caption=(f"Oracle critic: mean and standard deviation (sd) across {result.config.oracle_trials} batches of "
                 f"each estimator, per true MI and batch size n (nats; {log_n})."))


def best_at_top_markdown(result: MineResult) -> str:
    """One sentence: the bound with the smallest MSE at the top MI level, per critic."""
    h = result.metrics()["headline"]
    critics = dict.fromkeys(r.critic for r in result.staircases)
    pieces = [f"{c} critic: **{h[c + '_best_hi']}** (MSE {h[c + '_best_mse_hi']:.2f})" for c in critics
              if c + "_best_hi" in h]
    return f"Smallest MSE at the top level, I = {max(result.config.levels):g} nats: " + "; ".join(pieces) + "."


def nwj_check_markdown(headline: dict[str, Any]) -> str:
    """One sentence: the oracle NWJ mean at the lowest level and largest batch, in standard errors from the truth
    (``headline`` is ``MineResult.metrics()["headline"]``)."""
    h = headline
    return (f"Oracle NWJ at $I = {h['level_lo']:g}$ nats, $n = {h['n_large']:.0f}$: "
            f"{h['nwj_mean_lo']:.3f} ± {h['nwj_se_lo']:.3f} (standard error), i.e. "
            f"{h['nwj_z']:+.2f} standard errors from the truth.")
