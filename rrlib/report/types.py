"""The reproduction report's data types: a row (one compared number or claim), a section (one table), an erratum,
and the whole report with its verdict counts and plain-JSON metrics."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from rrlib.report.rules import VALUE_VERDICTS
from rrlib.stats import CONTRADICTED, SUPPORTED, UNDECIDED

__all__ = ["CLAIM_GROUPS", "Erratum", "Report", "Row", "Section", "claim_group"]


@dataclass(frozen=True)
class Row:
    """One row of the report: what is compared, the paper's number, ours, where ours came from, the verdict."""

    item: str
    paper: str
    ours: str
    source: str
    verdict: str
    detail: str
    kind: str = "value"  # "value" or "claim"
    values: dict[str, Any] = field(default_factory=dict)  # the raw numbers behind the row (for tests)


@dataclass(frozen=True)
class Section:
    """One table of the report."""

    key: str
    title: str
    rows: list[Row]
    note: str = ""


@dataclass(frozen=True)
class Erratum:
    """A printed statement the book found wrong, with the evidence and where it is; ``key`` names its template in
    :data:`rrlib.report.errata.ERRATA`."""

    where: str
    printed: str
    finding: str
    evidence: str
    key: str = ""


@dataclass(frozen=True)
class Report:
    """The whole report: the inputs it read, the sections and the errata."""

    inputs: list[dict[str, Any]]
    sections: list[Section]
    errata: list[Erratum]

    def section(self, key: str) -> Section:
        for s in self.sections:
            if s.key == key:
                return s
        raise KeyError(f"no section {key!r}; have {[s.key for s in self.sections]}")

    def rows(self, kind: str | None = None) -> list[Row]:
        return [r for s in self.sections for r in s.rows if kind is None or r.kind == kind]

    def counts(self) -> dict[str, int]:
        """Rows per value verdict (keys with ``_`` for spaces) and claims per group of :func:`claim_group`
        (``claims_supported``, ``claims_contradicted``, ``claims_undecided``, ``claims_not_supported``,
        ``claims_not_judged``; ``claims_not_run_here`` is kept as the same count as ``claims_not_judged``)."""
        values = Counter(r.verdict for r in self.rows("value"))
        claims = Counter(claim_group(r.verdict) for r in self.rows("claim"))
        out = {v.replace(" ", "_"): values.get(v, 0) for v in VALUE_VERDICTS}
        out.update({f"claims_{k}": claims.get(k, 0) for k in CLAIM_GROUPS})
        out["claims_not_run_here"] = out["claims_not_judged"]
        out["values"] = sum(values.values())
        out["claims"] = sum(claims.values())
        out["errata"] = len(self.errata)
        return out

    def metrics(self) -> dict[str, Any]:
        """Plain JSON for :func:`rrlib.book.publish`: counts, and every row by section."""
        return {"counts": self.counts(), "inputs": self.inputs,
                "sections": {s.key: [asdict(r) for r in s.rows] for s in self.sections},
                "errata": [asdict(e) for e in self.errata]}


#: The groups a claim's verdict is counted in, in the order the page lists them.
CLAIM_GROUPS = ("supported", "contradicted", "undecided", "not_supported", "not_judged")


def claim_group(verdict: str) -> str:
    """The count a claim's verdict falls in: ``supported`` (also "supported (3 models only)"), ``contradicted``
    (also "violated …"), ``undecided``, ``not_supported`` (a §6.1 threshold not met) or ``not_judged`` (not run,
    not judged at medium scale, not yet measured, too few to judge, cannot judge)."""
    if verdict.startswith(SUPPORTED):
        return "supported"
    if verdict.startswith((CONTRADICTED, "violated")):
        return "contradicted"
    if verdict == UNDECIDED:
        return "undecided"
    if verdict.startswith("not supported"):
        return "not_supported"
    return "not_judged"
