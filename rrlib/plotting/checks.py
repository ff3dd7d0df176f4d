"""How a figure reads on the book's page: the size of its smallest text as displayed, and what sticks out of it.

A chapter shows a figure as the PNG that IPython's inline backend writes: ``fig.dpi`` pixels per inch, cropped to
the drawn artists (``bbox_inches="tight"``) plus ``pad_inches`` (0.1 in) on every side (:func:`png_width_px`).
Chromium shows that PNG ``shown_px`` CSS px wide: where the notebook gives the figure a width (``width: 80%`` in the
cell's ``mystnb.image`` metadata, as every chapter does) that share of the figure's box, which is the text column
(:data:`COLUMN_WIDTH_PX`) less the theme's figure margins (:data:`FIGURE_BOX_PX`, measured in Chromium), scaled up
or down (:func:`shown_width_px`); without one, its natural size, scaled down to the column when it is wider. A font
of ``s`` pt in a PNG ``W`` px wide of ``d`` dpi shown at scale ``k = shown_px / W`` is ``s · d/72 · k`` CSS px
tall, that is ``s · d/72 · k · 0.75`` pt on the page (CSS: 1 px = 0.75 pt).

:func:`drawn_texts` draws the figure once and records every text that is actually drawn (visible, non-empty:
tick labels, titles, axis labels, legend entries and titles, annotations, colorbar labels, heatmap cells) with its
font size; :func:`smallest_text` is the smallest of them as displayed; :func:`clipped_artists` lists the texts,
legends and axes whose window extent leaves the figure canvas.

>>> from rrlib.plotting import new_figure
>>> from rrlib.plotting.checks import shown_width_px, smallest_text
>>> fig, axes = new_figure(1, width=4.0, height=3.0)
>>> _ = axes[0, 0].set_title("a title", fontsize=12)
>>> smallest_text(fig).text  # the tick labels: 10 pt at 110 dpi, shown at natural size, 11.5 pt on the page
'0.0'
>>> shown_width_px("80%")  # the page's CSS px for a figure the notebook shows at width 80%
528.0
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass

from matplotlib.artist import Artist
from matplotlib.backends.backend_agg import RendererAgg
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.text import Text
from matplotlib.transforms import Bbox

__all__ = ["COLUMN_WIDTH_PX", "CSS_PT_PER_PX", "FIGURE_BOX_PX", "FIGURE_MARGIN_PX", "MIN_TEXT_PT", "Clipped",
           "DrawnText", "clipped_artists", "display_scale", "drawn_texts", "png_width_px", "shown_width_px",
           "smallest_text"]

#: Width (CSS px) of the book's main text column in Chromium at a 1280 px window (:data:`rrlib.layout.WINDOW_WIDTH`),
#: as :func:`rrlib.layout.find_overflows` measures it. A wider image is scaled down to it.
COLUMN_WIDTH_PX = 676
#: The theme's margin (CSS px) on either side of a numbered figure's image (sphinx-book-theme, measured in Chromium).
FIGURE_MARGIN_PX = 8
#: Width (CSS px) of the box a numbered figure's image sits in at that window; ``width: 100%`` is this wide.
FIGURE_BOX_PX = COLUMN_WIDTH_PX - 2 * FIGURE_MARGIN_PX
#: Points per CSS pixel (CSS defines 1 px = 1/96 in and 1 pt = 1/72 in).
CSS_PT_PER_PX = 0.75
#: The smallest text a figure may show on the page (pt, as displayed).
MIN_TEXT_PT = 9.0
#: IPython's inline backend crops to the drawn artists and adds this margin (in) on every side.
INLINE_PAD_INCHES = 0.1

_CSS_WIDTH = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(%|px)\s*$")


def shown_width_px(width: str | None, *, column_px: float = COLUMN_WIDTH_PX) -> float | None:
    """CSS px at which the page shows a figure given ``width`` (a notebook's ``mystnb.image.width``: ``"80%"`` of
    the figure box, the column less the figure margins, or ``"400px"``); ``None`` for no width (natural size)."""
    if width is None:
        return None
    match = _CSS_WIDTH.match(str(width))
    if match is None:
        raise ValueError(f"cannot read the figure width {width!r}; expected e.g. '80%' or '400px'")
    value, unit = float(match.group(1)), match.group(2)
    return value / 100.0 * (column_px - 2 * FIGURE_MARGIN_PX) if unit == "%" else value


@dataclass(frozen=True)
class DrawnText:
    """One text as drawn: its string, its font size in the figure (pt at ``fig.dpi``) and on the page (pt)."""

    text: str
    font_pt: float
    displayed_pt: float
    artist: Text

    def __str__(self) -> str:
        return f"{self.text!r} ({self.font_pt:g} pt in the figure, {self.displayed_pt:.2f} pt displayed)"


@dataclass(frozen=True)
class Clipped:
    """An artist whose window extent (px) leaves the figure canvas, and by how many px on each side."""

    kind: str
    label: str
    left: float
    right: float
    bottom: float
    top: float

    def __str__(self) -> str:
        sides = ", ".join(f"{side} {px:.1f} px" for side, px in
                          (("left", self.left), ("right", self.right), ("bottom", self.bottom), ("top", self.top))
                          if px > 0)
        return f"{self.kind} {self.label!r} sticks out of the canvas: {sides}"


class _RecordingRenderer(RendererAgg):
    """An Agg renderer that records, for every string it is asked to draw, the :class:`Text` being drawn."""

    def __init__(self, width: float, height: float, dpi: float) -> None:
        super().__init__(width, height, dpi)
        self.current: list[Text] = []
        self.recorded: dict[int, tuple[Text, str, float]] = {}

    def draw_text(self, gc, x, y, s, prop, angle, ismath=False, mtext=None):  # noqa: ANN001, D102 (Agg's API)
        if self.current and s.strip():
            text = self.current[-1]
            known = self.recorded.get(id(text))
            line = s if known is None else f"{known[1]}\n{s}"
            self.recorded[id(text)] = (text, line, float(prop.get_size_in_points()))
        return super().draw_text(gc, x, y, s, prop, angle, ismath=ismath, mtext=mtext)


@contextlib.contextmanager
def _tracking(renderer: _RecordingRenderer) -> Iterator[None]:
    """While active, every :meth:`Text.draw` (annotations included) tells ``renderer`` which text it draws."""
    original = Text.draw

    def draw(self: Text, r) -> None:  # noqa: ANN001
        if r is not renderer:
            return original(self, r)
        renderer.current.append(self)
        try:
            return original(self, r)
        finally:
            renderer.current.pop()

    Text.draw = draw
    try:
        yield
    finally:
        Text.draw = original


def _draw(fig: Figure) -> _RecordingRenderer:
    """Draw ``fig`` (layout included) on a recording renderer of the figure's pixel size and return it."""
    width, height = fig.bbox.width, fig.bbox.height
    renderer = _RecordingRenderer(width, height, fig.dpi)
    with _tracking(renderer):
        fig.draw(renderer)
    return renderer


def _png_width_px(fig: Figure, renderer: RendererAgg, pad_inches: float = INLINE_PAD_INCHES) -> float:
    tight = fig.get_tightbbox(renderer)  # inches
    return (tight.width + 2 * pad_inches) * fig.dpi


def png_width_px(fig: Figure, *, pad_inches: float = INLINE_PAD_INCHES) -> float:
    """Width (px) of the PNG a notebook shows for ``fig``: the tight bounding box of the drawn artists plus
    ``pad_inches`` on either side, at ``fig.dpi`` (what IPython's inline backend writes)."""
    return _png_width_px(fig, _draw(fig), pad_inches)


def _scale(png_px: float, shown_px: float | None, column_px: float) -> float:
    return min(1.0, column_px / png_px) if shown_px is None else shown_px / png_px


def display_scale(fig: Figure, shown_px: float | None = None, *, column_px: float = COLUMN_WIDTH_PX) -> float:
    """Factor by which the page scales ``fig``'s PNG: to ``shown_px`` CSS px (:func:`shown_width_px`; up or down)
    where given, else natural size scaled down to fit a text column ``column_px`` CSS px wide (≤ 1)."""
    return _scale(png_width_px(fig), shown_px, column_px)


def drawn_texts(fig: Figure, shown_px: float | None = None, *, column_px: float = COLUMN_WIDTH_PX) -> list[DrawnText]:
    """Every visible, non-empty text of ``fig`` that a draw puts on the canvas, smallest displayed size first.

    ``font_pt`` is the size the text is drawn with (pt at ``fig.dpi``); ``displayed_pt`` its size on the page,
    ``font_pt · dpi/72 · k · 0.75`` with ``k`` = :func:`display_scale` (``shown_px``, ``column_px``: CSS px).
    """
    renderer = _draw(fig)
    scale = _scale(_png_width_px(fig, renderer), shown_px, column_px)
    found = [DrawnText(line, size, size * fig.dpi / 72.0 * scale * CSS_PT_PER_PX, text)
             for text, line, size in renderer.recorded.values()]
    return sorted(found, key=lambda t: (t.displayed_pt, t.text))


def smallest_text(fig: Figure, shown_px: float | None = None, *, column_px: float = COLUMN_WIDTH_PX) -> DrawnText:
    """The text of ``fig`` that appears smallest on the page (:func:`drawn_texts`); ``ValueError`` if it has none."""
    texts = drawn_texts(fig, shown_px, column_px=column_px)
    if not texts:
        raise ValueError("the figure draws no text")
    return texts[0]


def _label(artist: Artist) -> str:
    if isinstance(artist, Text):
        return artist.get_text()
    if isinstance(artist, Legend):
        return " / ".join(t.get_text() for t in artist.get_texts())
    return artist.get_label() or type(artist).__name__


def clipped_artists(fig: Figure, *, tolerance_px: float = 0.5) -> list[Clipped]:
    """The drawn texts, the legends and the axes of ``fig`` whose window extent (after a draw with the renderer,
    constrained layout included) leaves the figure canvas by more than ``tolerance_px`` px on some side."""
    renderer = _draw(fig)
    canvas = fig.bbox
    candidates: list[tuple[str, Artist]] = [("text", text) for text, _, _ in renderer.recorded.values()]
    legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    candidates += [("legend", legend) for legend in legends if legend.get_visible()]
    candidates += [("axes", ax) for ax in fig.axes if ax.get_visible()]
    out = []
    for kind, artist in candidates:
        box: Bbox = artist.get_window_extent(renderer)
        over = (canvas.x0 - box.x0, box.x1 - canvas.x1, canvas.y0 - box.y0, box.y1 - canvas.y1)
        if max(over) > tolerance_px:
            out.append(Clipped(kind, _label(artist), *(max(0.0, v) for v in over)))
    return out
