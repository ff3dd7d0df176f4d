"""rrlib: the library behind rrbook.

An executable companion to *Learning Adversarially Robust Representations via Worst-Case Mutual
Information Maximization* (Zhu, Zhang & Evans, ICML 2020). Every chapter of the book imports this
package; all mathematics, attacks and training live here and are tested, notebooks only configure,
call, plot and explain.

Layers (imports point down only)::

    theory  ->  synthetic  ->  mi  ->  attacks  ->  data/models  ->  train  ->  experiments  ->  verdicts, rendering
    paper  ->  analysis (what the paper's own numbers imply; used by experiments and rendering)
    runtime, profiles, jsonable, plotting, book: infrastructure used by the layers above

All mutual-information values are in nats.
"""

__version__ = "0.1.0"

#: The public API for a reader's own model (:mod:`rrlib.own_model`), importable as ``from rrlib import measure``;
#: the packages' public names are listed in their own ``__all__`` (:mod:`rrlib.theory`, :mod:`rrlib.mi`,
#: :mod:`rrlib.attacks`, :mod:`rrlib.data`) and in each module's.
__all__ = ["Interval", "Vulnerability", "measure", "threat_for", "train_worst_case"]


def __getattr__(name: str):
    """Import :mod:`rrlib.own_model` on first use of one of its public names (``import rrlib`` stays light)."""
    if name in __all__:
        from rrlib import own_model

        return getattr(own_model, name)
    raise AttributeError(f"module 'rrlib' has no attribute {name!r}")
