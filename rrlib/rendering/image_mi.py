"""Chapter 12's table for known MI on images: per level, each critic's estimate against the exact answer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rrlib.experiments.image_mi import PAPER_RANGE, level_summaries
from rrlib.rendering.tables import captioned_table

__all__ = ["findings", "findings_markdown", "per_location_levels", "staircase_markdown"]

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
    caption = (f"Known MI on images, {scale}: each critic's held-out DV estimate (nats; {interval}; in "
               "parentheses, the share of the exact MI it reaches), and the paper's critic's largest value at a "
               "single location on one held-out batch. † marks levels inside the paper's Figure 2 range "
               f"(0–{PAPER_RANGE[1]:.2f} nats).")
    header = ["bits", "p", "exact MI"] + [_SHORT.get(c, c) for c in critics] + ["best location"]
    return captioned_table(caption, name, header, rows)


def per_location_levels(metrics: Mapping[str, Any]) -> list[int]:
    """Indices in ``metrics["levels"]`` of the levels the per-location figure shows: the highest MI on 14×14 tiles
    (up to 4 bits) and the highest overall (the same one when every level has at most 4 bits)."""
    levels = metrics["levels"]
    top = max(range(len(levels)), key=lambda i: levels[i]["true_mi"])
    small = [i for i, lv in enumerate(levels) if lv["bits"] <= 4]
    wide = max(small, key=lambda i: levels[i]["true_mi"]) if small else top
    return [wide] if wide == top else [wide, top]


def findings(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """The numbers the page states about a run: per critic, the smallest and largest share of the exact MI reached
    inside the paper's range and beyond it, and the top level's exact MI, estimates and the paper's critic's
    location mean and best location (nats)."""
    summaries = level_summaries(metrics)
    critics = list(dict.fromkeys(name for s in summaries for name in s["critics"]))
    out: dict[str, Any] = {"critics": critics}
    for region, inside in (("paper_range", True), ("beyond", False)):
        chosen = [s for s in summaries if s["in_paper_range"] == inside]
        out[region] = None if not chosen else {
            "levels": len(chosen), "true_low": min(s["true_mi"] for s in chosen),
            "true_high": max(s["true_mi"] for s in chosen),
            **{c: {"ratio_low": min(s["critics"][c]["ratio"] for s in chosen),
                   "ratio_high": max(s["critics"][c]["ratio"] for s in chosen)} for c in critics}}
    top = max(range(len(summaries)), key=lambda i: summaries[i]["true_mi"])
    level = metrics["levels"][top]
    out["top"] = {"bits": level["bits"], "crossover": level["crossover"], "true_mi": level["true_mi"],
                  **{c: summaries[top]["critics"][c]["mean"] for c in critics},
                  "location_mean": level.get("per_location", {}).get("mean"),
                  "location_max": level.get("per_location", {}).get("max")}
    return out


def _share(entry: Mapping[str, Any]) -> str:
    low, high = 100 * entry["ratio_low"], 100 * entry["ratio_high"]
    return f"{low:.0f} %" if round(low) == round(high) else f"{low:.0f} to {high:.0f} %"


def findings_markdown(found: Mapping[str, Any], scale: str) -> str:
    """What :func:`findings` says, in sentences (every number from the run; ``scale`` names it)."""
    parts = []
    names = {"encode_and_dot": "the paper's critic", "separable": "the global critic"}
    for region, words in (("paper_range", "inside the paper's range"), ("beyond", "beyond it")):
        entry = found.get(region)
        if not entry:
            continue
        shares = " and ".join(f"{names.get(c, c)} {_share(entry[c])}" for c in found["critics"])
        parts.append(f"{words} ({entry['levels']} level{'s' if entry['levels'] > 1 else ''}, "
                     f"{entry['true_low']:.2f}–{entry['true_high']:.2f} nats) {shares}")
    text = f"In {scale}, the mean estimate reaches, as a share of the exact MI, " + "; ".join(parts) + "."
    top = found["top"]
    if top.get("location_mean") is not None and "encode_and_dot" in found["critics"]:
        text += (f" At the top level ({top['bits']} bits, p = {top['crossover']:g}, exact "
                 f"{top['true_mi']:.2f} nats) the paper's critic reports {top['encode_and_dot']:.2f} nats; on one "
                 f"held-out batch its locations average {top['location_mean']:.2f} and the best single location "
                 f"reaches {top['location_max']:.2f}.")
    if "separable" in found["critics"]:
        text += f" The global critic reports {top['separable']:.2f} nats there."
    return text
