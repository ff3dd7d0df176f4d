"""Chapter 12's table for known MI on images: per level, each critic's estimate against the exact answer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rrlib.experiments.image_mi import PAPER_RANGE, level_summaries
from rrlib.rendering.tables import captioned_table

__all__ = ["staircase_markdown"]

_SHORT = {"encode_and_dot": "paper's critic", "separable": "global critic"}


def _cell(c: Mapping[str, Any]) -> str:
    interval = "" if c["interval"] is None else f" [{c['interval'][0]:.2f}, {c['interval'][1]:.2f}]"
    return f"{c['mean']:.2f}{interval} ({100 * c['ratio']:.0f} %)"


def staircase_markdown(metrics: Mapping[str, Any], name: str, scale: str) -> str:
    """Table ``name``: per level (bits, crossover, exact MI), each critic's mean held-out DV estimate over seeds with
    its 95 % Student-t interval and the share of the exact MI it reaches, and the paper's critic's largest
    per-location value (``scale`` says which run)."""
    summaries = level_summaries(metrics)
    critics = list(dict.fromkeys(name for s in summaries for name in s["critics"]))
    n = max(c["n"] for s in summaries for c in s["critics"].values())
    rows = []
    for s, lv in zip(summaries, metrics["levels"], strict=True):
        mark = " †" if s["in_paper_range"] else ""
        best = lv.get("per_location", {}).get("max")
        rows.append([str(s["bits"]), f"{s['crossover']:g}", f"{s['true_mi']:.2f}{mark}"]
                    + [_cell(s["critics"][c]) for c in critics] + ["–" if best is None else f"{best:.2f}"])
    interval = (f"mean over {n} training seeds [95 % Student-t interval]" if n > 1 else "one training seed")
    caption = (f"Known MI on images, {scale}: each critic's held-out DV estimate (nats; {interval}; in brackets after "
               "it, the share of the exact MI), and the paper's critic's largest value at a single location on one "
               f"held-out batch. † marks levels inside the paper's Figure 2 range (0–{PAPER_RANGE[1]:.2f} nats).")
    header = ["bits", "p", "exact MI"] + [_SHORT.get(c, c) for c in critics] + ["best location"]
    return captioned_table(caption, name, header, rows)
