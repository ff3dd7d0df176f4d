"""Nothing in the book is wider than its text column (issue 19): every table, code block, figure and display equation
of every rendered page, measured in headless Chromium at a 1280 px window (:mod:`rrlib.layout`).

The pages are the book's own: the chapters this session executed in the quick profile (``chapter_metrics``; the
chapter tests, which run before this file, have executed them already) and ``book/``, rendered with Jupyter Book
exactly as ``python -m rrlib.book build`` renders them, into a throw-away folder, once per session (the
``built_book`` fixture, which tests/test_api_reference.py reads too). Without Selenium, Chromium or
chromium-driver the test is skipped with one line saying what to install (``make`` installs them where it can).
"""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from rrlib.book import REPO_ROOT
from rrlib.layout import find_overflows, find_raised_math, missing_browser, pages
from rrlib.rendering.tables import breakable

#: Borders and sub-pixel rounding: a table's 1 px borders on either side and the rounding of fractional widths.
TOLERANCE_PX = 3.0

PAGE = """<!DOCTYPE html><html><body><article class="bd-article" style="width: 600px; padding: 0 20px">
<table id="wide"><caption>Table 1: wide</caption><tr><td style="white-space: nowrap">{long}</td></tr></table>
<table id="narrow"><caption>Table 2: narrow</caption><tr><td>{words}</td></tr></table>
<div class="highlight"><pre style="overflow: auto">{long}</pre></div>
<pre style="white-space: pre-wrap; overflow-wrap: anywhere">{long}</pre>
</article></body></html>"""


def _needs_browser() -> None:
    reason = missing_browser()
    if reason is not None:
        pytest.skip(reason)


def test_a_page_that_only_redirects_is_not_measured(tmp_path):
    (tmp_path / "index.html").write_text('<meta http-equiv="Refresh" content="0; url=book/intro.html" />')
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "intro.html").write_text("<html><body>intro</body></html>")
    (tmp_path / "_static").mkdir()
    (tmp_path / "_static" / "x.html").write_text("<html><body>theme file</body></html>")
    assert pages(tmp_path) == [tmp_path / "book" / "intro.html"]


def test_long_paths_break_and_markdown_is_left_alone():
    path = "tests/test_theory_gaussian_mixture.py::test_printed_equation"
    assert breakable(path).replace("<wbr>", "") == path
    assert breakable(path).count("<wbr>") == 8  # after / :: . and each _ (8 of them), nothing added
    assert breakable("short/words stay as_they_are") == "short/words stay as_they_are"
    for markdown in ("`tests/test_theory_gaussian_mixture.py::test`", "[tests/test_theory_gaussian_mixture.py](x)"):
        assert breakable(markdown) == markdown
    assert "/<wbr>_" not in breakable("a/very/long/path/to/rrlib/__init__.py/and/more")  # "_" could open emphasis


def test_the_browser_measures_what_is_wider_than_the_column(tmp_path):
    """A hand-written page in the real browser: a table that cannot wrap and a scrolling code block are found with
    their widths; a table and a code block that wrap are not."""
    _needs_browser()
    (tmp_path / "page.html").write_text(PAGE.format(long="x" * 120, words="wrap " * 40))
    found = find_overflows(tmp_path)
    assert [(o.kind, o.element, o.label) for o in found] == [("table", "table#wide", "Table 1: wide"),
                                                             ("code", "div", "x" * 100)]
    assert all(o.page == "page.html" and o.column_px == 600 and o.width_px > 800 for o in found)


MATH_PAGE = """<!DOCTYPE html><html><head><style>{theme}</style><link rel="stylesheet" href="{css}"></head><body>
<article class="bd-article"><p>Text <span class="math"><span class="MathJax"><nobr><span class="math"
style="display: inline-block; width: 1em">x</span></nobr></span><script type="math/tex">\\epsilon</script></span>
and more text.</p></article></body></html>"""
#: The theme's rule that lifted inline formulas (pydata-sphinx-theme 0.17.1: ``div.math, span.math``).
THEME_MATH_RULE = "span.math { overflow: hidden; max-width: 100%; display: inline-flex; align-items: baseline }"


def test_inline_math_under_the_themes_rule_rides_high_and_the_book_css_sets_it_down(tmp_path):
    """MathJax 2's inline-block ``span.math`` inside the theme's rule is found; with the book's CSS it is not."""
    _needs_browser()
    css = (REPO_ROOT / "book" / "_static" / "rrbook.css").as_uri()
    (tmp_path / "theme_only.html").write_text(MATH_PAGE.format(theme=THEME_MATH_RULE, css="missing.css"))
    (tmp_path / "with_book_css.html").write_text(MATH_PAGE.format(theme=THEME_MATH_RULE, css=css))
    assert find_raised_math(tmp_path) == ["theme_only.html: \\epsilon"]


@pytest.mark.slow
@pytest.mark.timeout(3600)  # run alone, it first executes every chapter (about 15 minutes on one busy CPU thread)
def test_no_table_code_block_figure_or_equation_is_wider_than_the_text_column(request):
    _needs_browser()
    html = request.getfixturevalue("built_book")  # the session's one rendering of the book (after the skip)

    # each element may be TOLERANCE_PX wider than the column (its borders and rounding), no more
    too_wide = find_overflows(html, tolerance_px=TOLERANCE_PX)
    assert not too_wide, "wider than the text column at a 1280 px window:\n" + "\n".join(map(str, too_wide))
    raised = find_raised_math(html)
    assert not raised, "inline formulas riding above the baseline:\n" + "\n".join(raised)


#: Pages Sphinx generates (its index of names lays out in tables), not the book's figures or tables.
SPHINX_PAGES = {"genindex.html", "py-modindex.html", "search.html"}


class _Shown(HTMLParser):
    """Counts a page's outermost ``<figure>`` and ``<table>`` elements and its ``<p class="made-by">`` lines, and
    whether each figure or table is followed (after its closing tag, whitespace aside) by such a line."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0  # inside how many figures/tables
        self.shown = 0
        self.followed = 0
        self.waiting = False  # an outermost figure/table just closed; is the next element a made-by line?

    def handle_starttag(self, tag, attrs):
        if self.waiting:
            self.waiting = False
            if tag == "p" and "made-by" in (dict(attrs).get("class") or "").split():
                self.followed += 1
        if tag in ("figure", "table"):
            self.depth += 1

    def handle_endtag(self, tag):
        if tag in ("figure", "table"):
            self.depth -= 1
            if self.depth == 0:
                self.shown += 1
                self.waiting = True


@pytest.mark.slow
def test_every_figure_and_table_of_the_rendered_book_has_its_made_by_line(built_book):
    """On every page of the whole book as ``make book`` renders it (the chapters, ``book/`` and the API reference),
    each outermost figure and table is followed directly by its ``<p class="made-by">`` line."""
    missing, total = [], 0
    for page in sorted(built_book.rglob("*.html")):
        if "_static" in page.parts or "_sources" in page.parts or page.name in SPHINX_PAGES:
            continue
        parser = _Shown()
        parser.feed(page.read_text(encoding="utf-8"))
        total += parser.shown
        if parser.followed != parser.shown:
            missing.append(f"{page.relative_to(built_book)}: {parser.shown - parser.followed} of {parser.shown}")
    assert total > 90  # the chapters show about a hundred figures and tables
    assert not missing, "figures or tables without a made-by line right after them:\n" + "\n".join(missing)
