"""Plotting: the house style and one function per figure (sub-modules per chapter family).

Styling is applied inside a context (:func:`style`), never by changing global rc parameters.
Every figure function returns a ``matplotlib.figure.Figure``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

#: Colours used consistently across the book (colour-blind safe, Okabe–Ito).
PALETTE = {
    "standard": "#0072B2",
    "robust": "#D55E00",
    "weak": "#E69F00",
    "exact": "#000000",
    "estimate": "#009E73",
    "bound": "#CC79A7",
    "neutral": "#999999",
}

_RC = {
    "figure.dpi": 110,
    "savefig.dpi": 110,
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "legend.frameon": False,
    "lines.linewidth": 1.8,
}

#: Width (in) of a figure that the page shows at ``width: 100%`` without shrinking it: the figure box is 660 CSS px
#: (:data:`rrlib.plotting.checks.FIGURE_BOX_PX`); 5.85 in at 110 dpi is 644 px, and the notebook's PNG (cropped to the
#: drawn artists, plus 0.1 in on each side) stays within about 660 px, so 8 pt text reads as at least 9 pt on the page.
#: A figure the page shows at ``width: 75%`` is ``0.75 * PAGE_WIDTH`` wide.
PAGE_WIDTH = 5.85


@contextlib.contextmanager
def style() -> Iterator[None]:
    """Context manager applying the book's matplotlib style."""
    with plt.rc_context(_RC):
        yield


def new_figure(ncols: int = 1, nrows: int = 1, *, width: float = 4.2, height: float = 3.2, **kwargs):
    """Create ``(fig, axes)`` in the house style with ``ncols × nrows`` panels of ``width × height`` inches."""
    with style():
        fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False,
                                 constrained_layout=True, **kwargs)
    plt.close(fig)  # returned figures are displayed by the notebook explicitly, never twice
    return fig, axes


@contextlib.contextmanager
def seeded_jitter(seed: int = 0) -> Iterator[None]:
    """Seed NumPy's global generator for the duration of a seaborn call, then restore its state.

    seaborn 0.13 jitters strip plots with ``np.random.uniform`` and offers no ``seed`` for it; without this a figure
    would differ between two runs of the same chapter.
    """
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


__all__ = ["PAGE_WIDTH", "PALETTE", "Figure", "new_figure", "seeded_jitter", "style"]
