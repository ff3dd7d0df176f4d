"""The shared pieces of every rendered table: plain and captioned MyST markdown tables, the marker of an impossible
MI estimate, the ℓp names and line-break opportunities in long words. Nothing here knows a chapter."""

from __future__ import annotations

import re

__all__ = ["IMPOSSIBLE_MARK", "breakable", "captioned_table", "markdown_table", "norm_name", "nowrap",
           "table_or_captioned"]

#: The marker of an impossible MI estimate (below zero, or worst case above normal) in the tables of chapters 06–07.
IMPOSSIBLE_MARK = "†"


def norm_name(key: str) -> str:
    """``"1"``, ``"2"``, ``"inf"`` → ``ℓ1``, ``ℓ2``, ``ℓ∞``."""
    return f"ℓ{'∞' if key == 'inf' else key}"


# after "/", "::", "." or "_" and before a letter or digit (never before "_" or "*", which could open emphasis)
_BREAK_AFTER = re.compile(r"(?:(?<=[/._])|(?<=::))(?=[A-Za-z0-9])")


def breakable(text: str, longer_than: int = 30) -> str:
    """``text`` with a line-break opportunity (``<wbr>``: raw HTML that adds no character, so copied text is
    unchanged) after each ``/``, ``::``, ``.`` and ``_`` inside every word longer than ``longer_than`` characters
    (file paths, test names, dotted names); a table column then needs only the width of the longest piece, not of
    the whole word. Words holding markdown (a backtick, a link, a role, HTML) are left as they are.

    >>> breakable("see tests/test_theory_gaussian_mixture.py::test_a1 now")
    'see tests/<wbr>test_<wbr>theory_<wbr>gaussian_<wbr>mixture.<wbr>py::<wbr>test_<wbr>a1 now'
    """
    def split(match: re.Match[str]) -> str:
        word = match.group(0)
        return word if any(mark in word for mark in "`[{<") else _BREAK_AFTER.sub("<wbr>", word)

    return re.sub(rf"\S{{{longer_than + 1},}}", split, text)


def nowrap(text: str) -> str:
    """``text`` kept on one line in HTML (a date in a narrow column: ``2026-11-30``, not ``2026-`` / ``11-30``), its
    characters unchanged, so copied text is too.

    >>> nowrap("2026-11-30")
    '<span style="white-space: nowrap">2026-11-30</span>'
    """
    return f'<span style="white-space: nowrap">{text}</span>'


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A plain markdown table, one string per cell."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def captioned_table(caption: str, name: str | None, header: list[str], rows: list[list[str]], *,
                    compact: bool = False) -> str:
    """A MyST ``{table}`` with a numbered caption (and, given ``name``, a label for ``{numref}`name```) around a
    markdown table; ``compact`` sets it in smaller type (class ``compact``, book/_static/rrbook.css), for a table of
    many numeric columns that would not fit the text column otherwise."""
    label = f":name: {name}\n" if name else ""
    css = ":class: compact\n" if compact else ""
    return f":::{{table}} {caption}\n{label}{css}:align: center\n\n{markdown_table(header, rows)}\n:::"


def table_or_captioned(head: list[str], rows: list[list[str]], caption: str | None = None,
                       name: str | None = None) -> str:
    """A markdown table (chapters 4–5), inside a captioned MyST ``table`` directive when ``caption`` is given
    (``name`` is its label for ``{numref}``)."""
    return markdown_table(head, rows) if caption is None else captioned_table(caption, name, head, rows)
