"""The bmi benchmark's scoring rules (Czyż et al., "Beyond Normal", NeurIPS 2023) as pure functions, in nats.

bmi scores an estimator on a task from the estimates of several runs ("seeds": one sample of ``n`` points and
one estimator run each). The rules below are those of the paper's benchmark figures, whose code is
``workflows/projects/Beyond_Normal/_common_figure_utils.py`` in github.com/cbg-ethz/bmi
(``preprocess_benchmark_results``, ``plot_benchmark_mi_estimate``, ``n_samples_needed``,
``plot_benchmark_neural_fails``):

1. **Failed run** (:func:`failed_runs`). Per (estimator, task, n), over the seeds:
   ``fail = (mi_estimate < 0) | (mi_estimate < 0.1 * max over seeds of mi_estimate)``. bmi applies it to neural
   estimators only (``neural_fail``); every estimator here is neural. Failed runs are dropped before any mean, and
   the figure ``neural.pdf`` shows their count per cell.
2. **Per-run log ratio** (:func:`log_ratio`): ``log_relative_error = ln(mi_estimate / mi_true)`` (``np.log``:
   natural logarithm).
3. **Cell score** (:func:`score_cell`): the mean over the non-failed seeds of ``mi_estimate`` and, separately, of
   ``log_relative_error``. The ln ratio bmi shows is therefore the **mean of the per-run log ratios**, not the log
   of the mean estimate; by Jensen's inequality it is never larger. :class:`CellScore` carries both
   (``ln_ratio`` is bmi's; ``ln_ratio_of_mean = ln(mean_estimate / true_mi)`` is given for reference).
4. **Samples needed** (:func:`samples_needed`): a cell is *solved* at size ``n`` when its mean log ratio at ``n``
   satisfies ``|ln ratio| < ln 1.5`` (the estimate within a factor 1.5 of the truth). The number of samples needed
   is the smallest ``n`` **above the largest unsolved size** (so that every larger size run is solved too); if no
   size is unsolved, the smallest size; if the largest size is unsolved, none (bmi: ``np.inf``, drawn as
   "> max n").

Where this module is more explicit than bmi (documented choices, not silent ones):

* a non-finite estimate (NaN from a diverged run, or ±inf) fails; it does not enter the maximum of rule 1 (pandas'
  ``max`` skips NaN; an infinite estimate would otherwise fail every other seed);
* a size at which every run failed counts as unsolved in rule 4 (bmi's ``groupby`` would drop that size silently,
  so a size where the estimator never worked could not block a smaller one).

bmi's lighter "standard benchmark" summary (``workflows/benchmark/_utils.py``) differs in two details that are not
followed here: it takes ``np.log2`` of the ratio and calls a run converged when ``mi_estimate > 0.1 * max`` (no
separate ``< 0`` rule). bmi's benchmark sample size and seeds (``workflows/benchmark/v1/config.py`` and
``v2/config.py``): ``N_SAMPLES = [5_000]``, ``SEEDS = list(range(10))``; the paper's own figure workflow
(``workflows/projects/Beyond_Normal/benchmark.smk``) runs ``N_SAMPLES = [100, 500, 1_000, 3_000, 5_000, 10_000]``
and shows the table at the largest size.

>>> score = score_cell([0.40, 0.42, 0.01], true_mi=0.41)   # the third run is below 10 % of the best: failed
>>> score.n_failed, round(score.mean_estimate, 6)
(1, 0.41)
>>> samples_needed({1000: -0.9, 5000: -0.3, 10000: -0.1})
5000
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = ["FAIL_FRACTION", "WITHIN_LN_RATIO", "CellScore", "failed_runs", "log_ratio", "samples_needed",
           "score_cell", "solved"]

#: Rule 1: a run fails when its estimate is below this fraction of the best estimate of its cell (bmi's ``0.1``).
FAIL_FRACTION = 0.1
#: Rule 4: a cell is solved when ``|ln ratio| < ln 1.5`` (bmi's ``np.log(1.5)``), i.e. within a factor 1.5.
WITHIN_LN_RATIO = math.log(1.5)


def _check_true_mi(true_mi: float) -> float:
    value = float(true_mi)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"true_mi must be a finite number > 0 (nats), got {true_mi!r}")
    return value


def failed_runs(estimates: Iterable[float]) -> list[bool]:
    """bmi's rule 1 for the runs of one cell (estimates in nats, one per seed): ``True`` where the run failed.

    A run fails when its estimate is non-finite, negative, or below :data:`FAIL_FRACTION` times the largest finite
    estimate of the cell.

    >>> failed_runs([1.0, 0.09, 0.1, -0.01, float("nan")])
    [False, True, False, True, True]
    """
    values = [float(v) for v in estimates]
    finite = [v for v in values if math.isfinite(v)]
    best = max(finite, default=math.nan)
    return [not math.isfinite(v) or v < 0 or v < FAIL_FRACTION * best for v in values]


def log_ratio(estimate: float, true_mi: float) -> float:
    """bmi's ``log_relative_error`` of one run: ``ln(estimate / true_mi)`` (dimensionless; both in nats).

    ``-inf`` for an estimate of 0 and NaN for a negative or NaN one (bmi computes it under
    ``np.errstate(all="ignore")``; such runs fail rule 1 and never reach a mean).

    >>> round(log_ratio(0.5, 0.25), 6) == round(math.log(2), 6)
    True
    """
    true_mi = _check_true_mi(true_mi)
    estimate = float(estimate)
    if math.isnan(estimate) or estimate < 0:
        return math.nan
    if estimate == 0:
        return -math.inf
    return math.log(estimate / true_mi)


@dataclass(frozen=True)
class CellScore:
    """The score of one (task, estimator, n) cell over its seeds.

    Attributes:
        n_runs: runs (seeds) in the cell.
        n_failed: runs that failed rule 1.
        mean_estimate: mean estimate over the non-failed runs, nats (NaN when all failed).
        ln_ratio: bmi's log ratio: mean over the non-failed runs of ``ln(estimate / true_mi)`` (NaN when all
            failed; ``-inf`` if a non-failed estimate is exactly 0).
        ln_ratio_of_mean: ``ln(mean_estimate / true_mi)`` (reference only; ``>= ln_ratio`` by Jensen).
        within: ``|ln_ratio| < ln 1.5`` (rule 4's "solved"; ``False`` when all runs failed).
    """

    n_runs: int
    n_failed: int
    mean_estimate: float
    ln_ratio: float
    ln_ratio_of_mean: float
    within: bool


def score_cell(estimates: Iterable[float], true_mi: float) -> CellScore:
    """Score the runs of one cell (estimates in nats, one per seed) against the true MI (nats > 0).

    >>> s = score_cell([0.5, 1.0], true_mi=1.0)
    >>> s.n_failed, s.mean_estimate, round(s.ln_ratio, 6) == round(0.5 * math.log(0.5), 6)
    (0, 0.75, True)
    """
    true_mi = _check_true_mi(true_mi)
    values = [float(v) for v in estimates]
    if not values:
        raise ValueError("a cell needs at least one run's estimate, got none")
    failed = failed_runs(values)
    kept = [v for v, f in zip(values, failed, strict=True) if not f]
    if not kept:
        return CellScore(len(values), len(values), math.nan, math.nan, math.nan, False)
    mean_estimate = sum(kept) / len(kept)
    ratios = [log_ratio(v, true_mi) for v in kept]
    ln_ratio = sum(ratios) / len(ratios)
    return CellScore(len(values), sum(failed), mean_estimate, ln_ratio, log_ratio(mean_estimate, true_mi),
                     solved(ln_ratio))


def solved(ln_ratio: float | None) -> bool:
    """Rule 4's test: ``|ln_ratio| < ln 1.5``; ``None`` or NaN (no non-failed run) is not solved.

    >>> solved(math.log(1.49)), solved(-math.log(1.5)), solved(None)
    (True, False, False)
    """
    return ln_ratio is not None and math.isfinite(ln_ratio) and abs(ln_ratio) < WITHIN_LN_RATIO


def samples_needed(ln_ratios: Mapping[int, float | None]) -> int | None:
    """bmi's ``n_samples_needed``: the smallest sample size from which on every size run is solved.

    ``ln_ratios`` maps each sample size run to the cell's ln ratio there (:attr:`CellScore.ln_ratio`; ``None`` or
    NaN where every run failed). Returns the smallest size above the largest unsolved one, the smallest size when
    all are solved, and ``None`` when the largest size is unsolved (bmi's ``np.inf``, "> max n").

    >>> samples_needed({1000: 0.1, 5000: 0.7, 10000: 0.2})   # solved at 1,000 but not at 5,000
    10000
    >>> samples_needed({1000: 0.1, 5000: 0.7}) is None
    True
    """
    if not ln_ratios:
        raise ValueError("samples_needed needs the ln ratio of at least one sample size, got none")
    sizes = sorted(ln_ratios)
    unsolved = [n for n in sizes if not solved(ln_ratios[n])]
    if not unsolved:
        return sizes[0]
    later = [n for n in sizes if n > max(unsolved)]
    return later[0] if later else None
