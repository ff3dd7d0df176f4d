"""What is wider than the text column: every rendered page of the book, measured in a real headless Chromium.

:func:`find_overflows` opens every page of a rendered book (``_build/html``) in Chromium through Selenium at a
window 1280 px wide and returns one :class:`Overflow` for every table, code block (``div.highlight``, or a ``pre``
outside one), figure, image outside a figure and display equation whose rendered width exceeds the width of the
main text column (the content box of the page's ``article``). An element's width is the larger of its bounding
box and its ``scrollWidth``, so a code block that scrolls inside the column counts with its full width; a display
equation also counts the box of the formula MathJax drew. Hidden elements (width 0) are not measured.

>>> from rrlib.layout import find_overflows, missing_browser
>>> if missing_browser() is None:                                     # doctest: +SKIP
...     for overflow in find_overflows("_build/html"):
...         print(overflow)                                         # before issue 19's fixes, e.g.
notebooks/05_worst_case_mi.html: table <table#tab-ch5-masking> "Table 5.1 Algorithm 1 against one critic trained \
on clean data, one held-out batch of 512, ε = 1 (ℓ∞" is 782 px wide, the column 676 px

:func:`missing_browser` says in one line what is missing (the ``selenium`` package, Debian's ``chromium`` or
``chromium-driver``) and returns ``None`` when everything is there. Nothing here is mocked: the widths are what
Chromium lays out, with the book's own CSS and fonts, after MathJax has typeset the page.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from selenium.webdriver.remote.webdriver import WebDriver

__all__ = ["WINDOW_WIDTH", "Overflow", "find_overflows", "find_raised_math", "missing_browser", "pages"]

#: The window width (px) at which pages are measured: a laptop screen, where the book shows its side bars.
WINDOW_WIDTH = 1280

_REDIRECT = re.compile(r"<meta[^>]+http-equiv=[\"']?refresh", re.IGNORECASE)
_BROWSERS = ("chromium", "chromium-browser", "google-chrome")
_DRIVERS = ("chromedriver", "chromium-driver")

# Runs in the page. Returns the column's width and, for every measured element wider than 0 px, its kind, a name
# (tag#id), a label (caption, first text or TeX source, <= 100 characters) and its width in px.
_MEASURE = r"""
const article = document.querySelector('article.bd-article') || document.querySelector('[role=main]')
    || document.body;
const style = getComputedStyle(article);
const column = article.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
// the text a reader reads: without the "#" of header links and with TeX source instead of MathJax's drawing
const text = (el) => {
  if (!el) return '';
  const copy = el.cloneNode(true);
  for (const drawn of copy.querySelectorAll('a.headerlink, .MathJax, .MathJax_Preview, .MathJax_Display')) {
    drawn.remove();
  }
  return copy.textContent;
};
const squash = (el) => text(el).replace(/\s+/g, ' ').trim().slice(0, 100);
const width = (el) => Math.max(el.getBoundingClientRect().width, el.scrollWidth);
const found = [];
const add = (kind, el, label, w) => {
  if (w > 0) found.push({kind: kind, element: el.tagName.toLowerCase() + (el.id ? '#' + el.id : ''),
                         label: label, width: w});
};
for (const el of article.querySelectorAll('table')) {
  const caption = el.querySelector('caption');
  add('table', el, squash(caption || el), width(el));
}
for (const el of article.querySelectorAll('div.highlight, pre')) {
  if (el.tagName === 'PRE' && el.closest('div.highlight')) continue;
  const inner = Array.from(el.querySelectorAll('pre')).map(width);
  add('code', el, squash(el), Math.max(width(el), ...inner));
}
for (const el of article.querySelectorAll('figure')) {
  const caption = el.querySelector('figcaption');
  const inner = Array.from(el.querySelectorAll('img')).map(width);
  add('figure', el, squash(caption), Math.max(width(el), ...inner));
}
for (const el of article.querySelectorAll('img')) {
  if (el.closest('figure')) continue;
  add('image', el, (el.getAttribute('alt') || el.getAttribute('src') || '').slice(0, 100), width(el));
}
for (const el of article.querySelectorAll('div.math')) {
  const source = el.querySelector('script[type^="math/tex"]');
  const drawn = Array.from(el.querySelectorAll('.MathJax, .MathJax_SVG, mjx-container')).map(width);
  add('math', el, squash(source || el), Math.max(width(el), ...drawn));
}
return {column: column, elements: found};
"""

# Runs in the page (asynchronously): calls back once MathJax 2 (if the page loads it) has typeset everything.
_WAIT_FOR_MATHJAX = r"""
const done = arguments[arguments.length - 1];
if (window.MathJax && window.MathJax.Hub && window.MathJax.Hub.Queue) {
  window.MathJax.Hub.Queue(() => done(true));
} else {
  done(false);
}
"""


@dataclass(frozen=True)
class Overflow:
    """One element wider than the text column.

    ``page`` is the page's path inside the rendered book, ``kind`` one of ``table``, ``code``, ``figure``,
    ``image``, ``math``; ``element`` the tag and id (``table#id1``), ``label`` its caption or first text;
    ``width_px`` and ``column_px`` are CSS pixels at a :data:`WINDOW_WIDTH` window.
    """

    page: str
    kind: str
    element: str
    label: str
    width_px: float
    column_px: float

    def __str__(self) -> str:
        element = self.kind if self.element == self.kind else f"{self.kind} <{self.element}>"
        return (f'{self.page}: {element} "{self.label}" is {self.width_px:.0f} px wide, '
                f"the column {self.column_px:.0f} px")


def _which(names: tuple[str, ...]) -> str | None:
    return next((path for path in map(shutil.which, names) if path), None)


def missing_browser() -> str | None:
    """``None`` when Selenium, Chromium and its driver are all installed; else one line saying what to install."""
    missing = []
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("the Python package selenium (pip install selenium==4.50.0)")
    if _which(_BROWSERS) is None:
        missing.append("Chromium (Debian: apt-get install chromium)")
    if _which(_DRIVERS) is None:
        missing.append("ChromeDriver (Debian: apt-get install chromium-driver)")
    if not missing:
        return None
    listed = missing[0] if len(missing) == 1 else ", ".join(missing[:-1]) + " and " + missing[-1]
    return f"the layout check needs {listed}; `make` installs them where it can (as root on Debian)"


def pages(html_dir: str | Path) -> list[Path]:
    """The book's pages under ``html_dir``: every ``.html`` file outside the build's own folders (``_static``,
    ``_sources``, ``_images``, … and the bundled ``mathjax``), in path order, except pages that only redirect to
    another (``<meta http-equiv="Refresh">``: the book's ``index.html``), which have nothing to measure."""
    html_dir = Path(html_dir)
    return sorted(path for path in html_dir.rglob("*.html")
                  if not any(part.startswith("_") or part == "mathjax"
                             for part in path.relative_to(html_dir).parts[:-1])
                  and not _REDIRECT.search(path.read_text(errors="replace")))


def _driver(window_width: int) -> WebDriver:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = _which(_BROWSERS) or ""
    # scroll bars stay, as a reader's browser shows them: the page's vertical one takes 15 px of the window
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     f"--window-size={window_width},1000"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=_which(_DRIVERS)))
    # the window's inner width is window_width CSS px (a window's frame would otherwise take some of it)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": window_width, "height": 1000, "deviceScaleFactor": 1, "mobile": False})
    driver.set_script_timeout(60)
    return driver


def _typeset_pages(html_dir: Path, window_width: int) -> Iterator[tuple[WebDriver, str]]:
    """Open every page under ``html_dir`` in one browser, in page order, and yield ``(driver, name)`` once MathJax
    has typeset it; the browser is closed when the pages are done. The checks (a page to open, a browser) run at the
    first step, before any page is opened."""
    found = pages(html_dir)
    if not found:
        raise FileNotFoundError(f"no rendered page (*.html) under {html_dir}; build the book first")
    reason = missing_browser()
    if reason is not None:
        raise RuntimeError(reason)
    driver = _driver(window_width)
    try:
        for page in found:
            driver.get(page.resolve().as_uri())
            driver.execute_async_script(_WAIT_FOR_MATHJAX)
            yield driver, page.relative_to(html_dir).as_posix()
    finally:
        driver.quit()


def _measure(driver: WebDriver, name: str) -> Iterator[Overflow]:
    measured = driver.execute_script(_MEASURE)
    column = float(measured["column"])
    for element in measured["elements"]:
        if element["width"] > column:
            yield Overflow(name, element["kind"], element["element"], element["label"], float(element["width"]),
                           column)


def find_overflows(html_dir: str | Path, *, window_width: int = WINDOW_WIDTH,
                   tolerance_px: float = 0.0) -> list[Overflow]:
    """Every table, code block, figure, image and display equation of every page under ``html_dir`` that is more
    than ``tolerance_px`` wider than the page's text column, at a ``window_width`` px window, in page order.

    Raises :class:`FileNotFoundError` when ``html_dir`` holds no page and :class:`RuntimeError` (with
    :func:`missing_browser`'s line) when Selenium, Chromium or its driver is missing.
    """
    overflows = [overflow for driver, name in _typeset_pages(Path(html_dir), window_width)
                 for overflow in _measure(driver, name)]
    return [overflow for overflow in overflows if overflow.width_px > overflow.column_px + tolerance_px]


# Runs in the page. The TeX source of every inline formula drawn inside a `span.math` box that is inline-level
# (inline-block or inline-flex) and clips its overflow: such a box sits with its bottom edge on the baseline (CSS 2.1
# §10.8.1), so the formula rides high by its depth. MathJax 2 draws each formula in an inline-block `span.math`.
_RAISED_MATH = r"""
const found = [];
for (const outer of document.querySelectorAll('span.math')) {
  if (outer.closest('div.math') || outer.parentElement.closest('span.math')) continue;
  for (const box of [outer, ...outer.querySelectorAll('span.math')]) {
    const style = getComputedStyle(box);
    if (style.display.startsWith('inline-') && style.overflow !== 'visible') {
      const source = outer.querySelector('script[type^="math/tex"]');
      found.push((source ? source.textContent : outer.textContent).trim().slice(0, 100));
      break;
    }
  }
}
return found;
"""


def find_raised_math(html_dir: str | Path, *, window_width: int = WINDOW_WIDTH) -> list[str]:
    """``"page: TeX"`` for every inline formula of every page under ``html_dir`` that rides above the baseline
    because a box it is drawn in clips its overflow (see ``_RAISED_MATH``), after MathJax has typeset the page.

    Raises like :func:`find_overflows`."""
    return [f"{name}: {tex}" for driver, name in _typeset_pages(Path(html_dir), window_width)
            for tex in driver.execute_script(_RAISED_MATH)]
