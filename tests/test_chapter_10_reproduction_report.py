"""Chapter 10 (reproduction report): its verdicts agree with the metrics the other chapters recorded.

The report reads the metrics of chapters 01–09 and 11 from the metrics folder it runs in, so the chapters it depends
on are executed first (through the same ``chapter_metrics`` fixture, which writes into one folder)."""

from __future__ import annotations

import pytest

from rrlib import report
from rrlib.book import chapters

CHAPTER = "10_reproduction_report"


@pytest.fixture(scope="module")
def metrics(chapter_metrics):
    """Every chapter the report reads (``report.READ``; chapter 11 too: its comparisons have a section) runs first;
    then the report; returns both."""
    before = [name for name in chapters() if name in report.READ]
    others = {name: chapter_metrics(name) for name in before}
    return chapter_metrics(CHAPTER), others


def rows(m, key):
    return m["sections"][key]


@pytest.mark.slow
def test_every_chapter_it_read_is_listed(metrics):
    m, others = metrics
    ran = {i["chapter"]: i["ran"] for i in m["inputs"]}
    for name in ran:
        assert ran[name] == (name in others), name
    for name, other in others.items():
        listed = next(i for i in m["inputs"] if i["chapter"] == name)
        assert listed["profile"] == other["_meta"]["profile"] == "quick"


@pytest.mark.slow
def test_reproduced_theory_rows_are_within_tolerance_of_the_chapters_values(metrics):
    m, others = metrics
    ch3 = others["03_theorem_3_4"]
    theory = rows(m, "theory")
    assert [r["values"]["ours"] for r in theory] == [ch3["bound_at_0_percent"], ch3["bound_at_1_08_percent"]]
    assert [r["values"]["paper"] for r in theory] == [ch3["paper_bound_at_0_percent"],
                                                      ch3["paper_bound_at_1_08_percent"]]
    for r in theory:
        within = abs(r["values"]["ours"] - r["values"]["paper"]) <= r["values"]["tolerance"]
        assert (r["verdict"] == report.REPRODUCED) == within
        assert r["verdict"] == report.REPRODUCED  # the closed form meets the paper's printed precision


@pytest.mark.slow
def test_quick_figures_are_not_called_reproduced(metrics):
    m, others = metrics
    ch6 = others["06_vulnerability_robustness"]
    assert ch6["_meta"]["profile"] == "quick"
    for key in ("figure_1", "figure_2", "figure_3"):
        assert {r["verdict"] for r in rows(m, key)} == {report.NOT_RUN}
        assert all(ch6["dataset_title"] in r["detail"] for r in rows(m, key))


@pytest.mark.slow
def test_claims_are_judged_once_and_never_on_a_quick_run(metrics):
    m, others = metrics
    ch6 = others["06_vulnerability_robustness"]
    assert ch6["_meta"]["profile"] == "quick"
    claims = rows(m, "claims")
    section_6_1 = [r for r in claims if r["values"].get("key")]
    # §6.1 is judged on chapter 06's committed medium run, not on the quick run the chapter made here
    assert len(section_6_1) == 7
    assert all("medium profile, committed in results/vulnerability_fashion_mnist_medium.json" in r["source"]
               for r in section_6_1)
    assert not {r["verdict"] for r in section_6_1} & {"not judged: no medium run yet"}
    assert len({r["item"] for r in claims}) == len(claims)  # one verdict per claim
    # a claim whose only run is a quick one says so in its source and is not judged (the theorems are exact)
    from_quick = [r for r in claims if "quick profile" in r["source"] and not r["item"].startswith(("Thm", "Fig. 2's"))]
    assert {r["verdict"] for r in from_quick} <= {"not judged: no medium run yet"}
    downstream = others.get("08_downstream")
    if downstream is not None and "medium" in downstream:
        natural = next(r for r in claims if "higher natural accuracy" in r["item"])
        assert natural["verdict"] == "contradicted"  # the committed run: ours below DIM in every seed pair


@pytest.mark.slow
def test_tables_and_counts(metrics):
    m, others = metrics
    downstream = others.get("08_downstream")
    for number in ("1", "3", "5"):
        assert {r["verdict"] for r in rows(m, f"table_{number}")} == {report.NOT_RUN}
    table_4 = {r["verdict"] for r in rows(m, "table_4")}
    if downstream is None:
        assert table_4 == {report.NOT_RUN}
    else:  # quick or medium scale: never reproduced by value
        assert table_4 == {report.REDUCED}
    c = m["counts"]
    n_values = sum(len(v) for k, v in m["sections"].items() if k not in ("claims", "beyond"))
    assert c["values"] == n_values == 2 + 12 + 12 + 6 + 4 * 14
    assert c["reproduced"] == 2 and c["differs"] == 0
    assert c["claims"] == len(rows(m, "claims"))
    assert c["errata"] == len(m["errata"]) > 0
