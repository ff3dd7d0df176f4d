"""rrlib.projection: counts follow the full configs, timing runs every unit's real step, projection arithmetic."""

from __future__ import annotations

import math
import re
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from rrlib.grid.config import TablesConfig
from rrlib.projection import Unit, WorkItem, full_profile_work, project, projection_markdown, table_work, time_units

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def work() -> list[WorkItem]:
    return full_profile_work()


def _count(items: list[WorkItem], part: str, kind: str, **params) -> int:
    hits = [w for w in items if w.part == part and w.unit.kind == kind
            and all(w.unit.get(k) == v for k, v in params.items())]
    assert len(hits) == 1, (part, kind, params, hits)
    return hits[0].count


def test_table_4_counts_match_hand_derived_formulas() -> None:
    items = table_work(TablesConfig.full(dataset="fashion-mnist"))
    assert {w.chapter for w in items} == {"08_downstream"} and all(w.per_trial for w in items)
    # encoders: 300 epochs × ⌊60000 / 128⌋ full batches (the loader drops the last partial batch)
    assert _count(items, "Table 4 / encoder/worst", "encoder_step", attack_steps=10) == 300 * (60000 // 128)
    assert _count(items, "Table 4 / encoder/normal", "encoder_step", attack_steps=0) == 300 * 468
    assert _count(items, "Table 4 / encoder/worst", "encoder_heldout") == 300 * 4
    # heads: 500 epochs × ⌊(60000 − 5000) / 128⌋; PGD evaluation every 5 epochs on 5000 val + 10000 test images
    part = "Table 4 / head/ours/mlp/robust"
    assert _count(items, part, "head_step", attack_steps=10) == 500 * (55000 // 128)
    assert _count(items, part, "head_eval_batch") == (500 // 5) * (5000 // 500 + 10000 // 500)
    assert _count(items, part, "autoattack_image") == 1000  # the best head only
    assert _count(items, "Table 4 / head/ours/mlp/standard", "autoattack_image") == 2000  # final and E.S.
    assert _count(items, "Table 4 / head/hjelm/linear/standard", "autoattack_image") == 1000
    # supervised Baseline-H: 300 epochs × ⌈60000 / 128⌉, one evaluation at the end
    part = "Table 4 / model/supervised/linear/robust"
    assert _count(items, part, "supervised_step", attack_steps=10) == 300 * math.ceil(60000 / 128)
    assert _count(items, part, "supervised_eval_batch") == 10000 // 500
    # 2 encoders + 8 head runs (E.S. shares the standard one) + 4 supervised = 14 cells per seed
    assert len({w.part for w in items}) == 14


def test_counts_follow_the_config() -> None:
    base = TablesConfig.full(dataset="mnist")
    half = replace(base, encoder_epochs=150, head_epochs=250, supervised_epochs=30, autoattack_n=0)
    a = {(w.part, w.unit): w.count for w in table_work(base)}
    b = {(w.part, w.unit): w.count for w in table_work(half)}
    for key, n in b.items():
        kind = key[1].kind
        if kind in ("encoder_step", "encoder_heldout", "head_step"):
            assert n * 2 == a[key]
        elif kind == "supervised_step":
            assert n * 10 == a[key]
    assert not any(u.kind == "autoattack_image" for _, u in b)


def test_every_chapter_and_table_appears(work: list[WorkItem]) -> None:
    toc = re.findall(r"file: notebooks/(\S+)", (ROOT / "_toc.yml").read_text())
    chapters = {w.chapter for w in work}
    assert toc and set(toc) <= chapters
    tables = {w.part.split(" / ")[0] for w in work if w.per_trial}
    assert tables == {"Table 1", "Table 3", "Table 4", "Table 5"}
    assert all(w.count >= 0 for w in work) and all(isinstance(hash(w.unit), int) for w in work)


def _check_shrunk(work: list[WorkItem], units: list[Unit], budget: float) -> None:
    errors: dict[Unit, str] = {}
    start = time.monotonic()
    seconds = time_units(units, torch.device("cpu"), repeats=1, shrink=True, deadline=start + budget, errors=errors)
    assert not errors, errors
    assert set(seconds) == set(units), f"not measured within {budget} s: {set(units) - set(seconds)}"
    if len(units) < len({w.unit for w in work}):
        return
    assert all(math.isfinite(s) and s >= 0 for s in seconds.values())
    assert all(s > 0 for u, s in seconds.items() if u.kind != "none")
    rows = project(work, seconds)
    assert all(r["hours"][1] is not None and r["hours"][4] >= r["hours"][1] for r in rows)
    text = projection_markdown(rows, "cpu (shrunk: meaningless)")
    assert "Table 4" in text and "09_saliency" in text


def test_time_units_shrunk_on_cpu_one_unit_of_each_kind(work: list[WorkItem]) -> None:
    """Every kind of timed step runs on the CPU: one unit per kind (shrunk, Baseline-H stands in for the zoo)."""
    first = {w.unit.kind: w.unit for w in reversed(work)}
    _check_shrunk(work, list(first.values()), 120)


@pytest.mark.slow
def test_time_units_shrunk_on_cpu_times_every_unit(work: list[WorkItem]) -> None:
    """All ~100 distinct units (about 2 min on one idle CPU core)."""
    _check_shrunk(work, list(dict.fromkeys(w.unit for w in work)), 600)


def test_time_units_stops_at_the_deadline() -> None:
    units = [Unit("none", ()), Unit("none", (("x", 1),))]
    assert time_units(units, torch.device("cpu"), deadline=time.monotonic() - 1) == {}


def test_project_exact_hours_and_missing_units() -> None:
    a, b, c = Unit("a", ()), Unit("b", (("n", 1),)), Unit("c", ())
    items = [WorkItem("ch1", "p", a, 3600, False), WorkItem("ch1", "cell", b, 1800, True),
             WorkItem("ch2", "q", c, 10, False)]
    rows = {(r["chapter"], r["part"]): r for r in project(items, {a: 2.0, b: 4.0}, trials=(1, 4))}
    assert rows[("ch1", "p")]["hours"] == {1: 2.0, 4: 2.0}
    assert rows[("ch1", "cell")]["hours"] == {1: 2.0, 4: 8.0}
    assert rows[("ch1", "total")]["hours"] == {1: 4.0, 4: 10.0}
    assert rows[("ch2", "q")]["hours"] == {1: None, 4: None} and rows[("ch2", "q")]["missing"] == ["c()"]
    assert rows[("ch2", "total")]["hours"][1] is None
    text = projection_markdown(list(rows.values()))
    assert "not measured" in text and "2.00 h" in text and "10.00 h" in text
