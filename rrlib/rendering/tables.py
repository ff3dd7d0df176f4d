"""The shared pieces of every rendered table: plain and captioned MyST markdown tables, the marker of an impossible
MI estimate, and the ℓp names. Nothing here knows a chapter."""

from __future__ import annotations

__all__ = ["IMPOSSIBLE_MARK", "captioned_table", "markdown_table", "norm_name", "table_or_captioned"]

#: The marker of an impossible MI estimate (below zero, or worst case above normal) in the tables of chapters 06–07.
IMPOSSIBLE_MARK = "†"


def norm_name(key: str) -> str:
    """``"1"``, ``"2"``, ``"inf"`` → ``ℓ1``, ``ℓ2``, ``ℓ∞``."""
    return f"ℓ{'∞' if key == 'inf' else key}"


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A plain markdown table, one string per cell."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def captioned_table(caption: str, name: str | None, header: list[str], rows: list[list[str]]) -> str:
    """A MyST ``{table}`` with a numbered caption (and, given ``name``, a label for ``{numref}`name```) around a
    markdown table."""
    label = f":name: {name}\n" if name else ""
    return f":::{{table}} {caption}\n{label}:align: center\n\n{markdown_table(header, rows)}\n:::"


def table_or_captioned(head: list[str], rows: list[list[str]], caption: str | None = None,
                       name: str | None = None) -> str:
    """A markdown table (chapters 4–5), inside a captioned MyST ``table`` directive when ``caption`` is given
    (``name`` is its label for ``{numref}``)."""
    return markdown_table(head, rows) if caption is None else captioned_table(caption, name, head, rows)
