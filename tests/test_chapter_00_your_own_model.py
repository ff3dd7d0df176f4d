"""The "your own model" page (quick profile): its numbers are rrlib.own_model's, which equal the chapters' own
estimator on the same model (the logit-layer measurement is recomputed here with representation_vulnerability and
the same critic), its intervals are Student-t over the critic seeds, and impossible pairs are flagged."""

from __future__ import annotations

import pytest
import torch

from rrlib.data import load_dataset, subset
from rrlib.mi.plausibility import check_estimates
from rrlib.mi.worst_case import EstimatorConfig, representation_vulnerability
from rrlib.own_model import Interval, make_critic, threat_for

CHAPTER = "00_your_own_model"


@pytest.mark.slow
def test_the_page_reports_intervals_and_flags(chapter_metrics):
    m = chapter_metrics(CHAPTER)
    for key in ("encoder", "logits"):
        r = m[key]
        assert r["seeds"] == m["sizes"]["seeds"] and r["eps"] == 0.1
        for quantity in ("normal", "worst", "rv"):
            again = Interval.of(r[quantity]["values"])
            assert r[quantity]["mean"] == pytest.approx(again.mean)
            assert r[quantity]["low"] == pytest.approx(again.low) and r[quantity]["high"] == pytest.approx(again.high)
        for n, w, rv in zip(r["normal"]["values"], r["worst"]["values"], r["rv"]["values"], strict=True):
            assert rv == pytest.approx(n - w)
        assert m["steps"] == m["sizes"]["epochs"] * (m["sizes"]["images"] // 128)


@pytest.mark.slow
def test_the_logit_measurement_is_the_chapters_estimator(chapter_metrics):
    m = chapter_metrics(CHAPTER)
    sizes = m["sizes"]
    x_train = subset(load_dataset("fashion-mnist", "train"), sizes["images"], 1, stratified=False).tensors()[0]
    x_test = subset(load_dataset("fashion-mnist", "test"), sizes["test"], 0, stratified=False).tensors()[0]
    torch.manual_seed(m["logits"]["seeds"][0])  # the page seeds its classifier with its seed parameter
    classifier = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(28 * 28, 10)).eval()
    book = representation_vulnerability(classifier, make_critic("global", x_train, 10), x_train, x_test,
                                        threat=threat_for(0.1), config=EstimatorConfig(iterations=sizes["iterations"]),
                                        seeds=m["logits"]["seeds"])
    assert m["logits"]["normal"]["values"] == pytest.approx(book.normal.tolist(), abs=1e-6)
    assert m["logits"]["worst"]["values"] == pytest.approx(book.worst.tolist(), abs=1e-6)
    flagged = [s for s, n, w in zip(book.seeds, book.normal, book.worst, strict=True)
               if check_estimates(float(n), float(w)).impossible]
    assert flagged == m["logits"]["impossible_seeds"]  # the page flags exactly the impossible pairs
