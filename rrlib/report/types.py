"""The reproduction report's data types: a row (one compared number or claim), a section (one table), an erratum,
and the whole report with its verdict counts and plain-JSON metrics."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from rrlib.report.rules import NOT_RUN, VALUE_VERDICTS

__all__ = ["Erratum", "Report", "Row", "Section"]


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
    """A printed statement the book found wrong, with the evidence and where it is."""

    where: str
    printed: str
    finding: str
    evidence: str


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
        """Rows per value verdict (keys with ``_`` for spaces) and claims supported / not supported / not run."""
        values = Counter(r.verdict for r in self.rows("value"))
        claims = Counter(claim_group(r.verdict) for r in self.rows("claim"))
        out = {v.replace(" ", "_"): values.get(v, 0) for v in VALUE_VERDICTS}
        out.update({f"claims_{k}": claims.get(k, 0) for k in ("supported", "not_supported", "not_run_here")})
        out["values"] = sum(values.values())
        out["claims"] = sum(claims.values())
        out["errata"] = len(self.errata)
        return out

    def metrics(self) -> dict[str, Any]:
        """Plain JSON for :func:`rrlib.book.publish`: counts, and every row by section."""
        return {"counts": self.counts(), "inputs": self.inputs,
                "sections": {s.key: [asdict(r) for r in s.rows] for s in self.sections},
                "errata": [asdict(e) for e in self.errata]}


def claim_group(verdict: str) -> str:
    """The count a claim's verdict falls in: ``supported``, ``not_supported`` (also "violated …") or
    ``not_run_here``."""
    if verdict == NOT_RUN:
        return "not_run_here"
    return "not_supported" if verdict.startswith(("not supported", "violated")) else "supported"
