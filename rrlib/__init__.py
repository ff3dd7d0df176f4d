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
