"""Chapter 12 (quick profile) and its library: the bmi scoreboard and the image staircase the page runs, the exact
worst case it states, and the sentences it writes from a run's numbers."""

from __future__ import annotations

import math

import pytest

from rrlib.experiments import bmi_scoreboard as sb
from rrlib.experiments import image_mi as im
from rrlib.rendering import image_mi as pages
from rrlib.synthetic_images import binary_entropy

CHAPTER = "12_outside_ground_truth"


@pytest.mark.slow
def test_the_page_runs_the_quick_scoreboard_and_staircase(chapter_metrics):
    m = chapter_metrics(CHAPTER)
    quick = sb.ScoreboardConfig.quick()
    assert sorted(m["scoreboard"]["tasks"]) == sorted(quick.tasks)  # the metrics file sorts its keys
    assert len(m["scoreboard"]["runs"]) == quick.n_runs
    levels = im.ImageMIConfig.quick().levels
    assert [(lv["bits"], lv["crossover"]) for lv in m["images"]["levels"]] == list(levels)
    for lv in m["images"]["levels"]:
        assert lv["true_mi"] == pytest.approx(lv["bits"] * (math.log(2) - binary_entropy(lv["crossover"])))
    assert m["medium_images_committed"] == (im.load_result() is not None)
    assert m["medium_scoreboard_committed"] == (sb.load_result() is not None)


@pytest.mark.slow
def test_the_worst_case_statement_follows_the_measured_distances(chapter_metrics):
    w = chapter_metrics(CHAPTER)["worst_case"]
    assert w["eps"] == 0.1  # Fashion-MNIST's threat model (supplement D.1)
    for tile in ("tile14", "tile7"):
        assert 0 < w[f"distance_{tile}"] <= 1 and w[f"half_distance_{tile}"] == pytest.approx(w[f"distance_{tile}"] / 2)
        assert w[f"exact_{tile}"] == (2 * w["eps"] < w[f"distance_{tile}"])
    # the page says: exact at up to 4 bits (14x14 tiles), not computed with 7x7 tiles
    assert w["exact_tile14"] and not w["exact_tile7"]


@pytest.mark.slow
def test_the_image_findings_are_the_run_they_name(chapter_metrics):
    m = chapter_metrics(CHAPTER)
    shown = m["images"] if not m["medium_images_committed"] else im.load_result()["metrics"]
    _assert_close(m["image_findings"], pages.findings(shown))


def _assert_close(recorded, computed, where="findings"):
    """``recorded`` (read back from the metrics JSON) equals ``computed`` at every leaf: floats to 1e-9 relative
    (JSON keeps 17 digits), tuples as lists, strings and counts exactly."""
    if isinstance(computed, dict):
        assert sorted(recorded) == sorted(computed), where
        for key in computed:
            _assert_close(recorded[key], computed[key], f"{where}.{key}")
    elif isinstance(computed, (list, tuple)):
        assert len(recorded) == len(computed), where
        for i, (r, c) in enumerate(zip(recorded, computed, strict=True)):
            _assert_close(r, c, f"{where}[{i}]")
    elif isinstance(computed, float):
        assert recorded == pytest.approx(computed, rel=1e-9, nan_ok=True), where
    else:
        assert recorded == computed, where


def _metrics():
    # the paper's critic: 0.1/0.2/0.3 at ln 2 (1 bit), 0.5/0.5/0.5 at 9 ln 2; the global critic close to the truth
    return {"levels": [
        {"bits": 1, "crossover": 0.0, "true_mi": math.log(2),
         "estimates": {"encode_and_dot": [0.1, 0.2, 0.3], "separable": [0.6, 0.7, 0.65]},
         "per_location": {"mean": 0.2, "min": 0.0, "max": 0.4, "grid": [[0.2]]}},
        {"bits": 9, "crossover": 0.0, "true_mi": 9 * math.log(2),
         "estimates": {"encode_and_dot": [0.5, 0.5, 0.5], "separable": [5.0, 5.5, 6.0]},
         "per_location": {"mean": 0.45, "min": 0.1, "max": 1.25, "grid": [[0.45]]}}]}


def test_findings_state_shares_of_the_exact_mi_per_region():
    found = pages.findings(_metrics())
    assert found["paper_range"]["levels"] == 1 and found["beyond"]["levels"] == 1
    assert found["paper_range"]["encode_and_dot"]["ratio_low"] == pytest.approx(0.2 / math.log(2))
    assert found["beyond"]["separable"]["ratio_high"] == pytest.approx(5.5 / (9 * math.log(2)))
    assert found["top"]["location_max"] == 1.25 and found["top"]["encode_and_dot"] == pytest.approx(0.5)
    text = pages.findings_markdown(found, "a test run")
    # 0.2 / ln 2 = 29 %, 0.65 / ln 2 = 94 %; 0.5 / 6.24 = 8 %, 5.5 / 6.24 = 88 %
    assert ("inside the paper's range (1 level, 0.69–0.69 nats) the paper's critic 29 % and the global critic 94 %"
            in text)
    assert "beyond it (1 level, 6.24–6.24 nats) the paper's critic 8 % and the global critic 88 %" in text
    assert "the best single location reaches 1.25" in text and "The global critic reports 5.50 nats there." in text
    assert pages.per_location_levels(_metrics()) == [0, 1]


def test_the_staircase_table_has_every_level_and_critic():
    text = pages.staircase_markdown(_metrics(), "tab-x", "a test run")
    assert text.count("\n| 1 | 0 | 0.69 † |") == 1 and "| 9 | 0 | 6.24 |" in text
    assert "0.20 [" in text and "(29 %)" in text and "mean over 3 training seeds" in text
