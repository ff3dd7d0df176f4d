"""The book's statistics, written once: summaries of repeated measurements and every verdict threshold.

The "mean ± sd" and "mean ± SE" over seeds, images or test batches that the chapters quote are computed here
(binomial SEs of accuracies and closed-form Monte Carlo SEs stay with the formulas they belong to).

* :func:`mean`, :func:`mean_sd`, :func:`sample_sd` (``s = sqrt(Σ (x_i − x̄)² / (n − 1))``, ``ddof = 1``),
  :func:`standard_error` (``SE = s / √n``, the standard error of the mean) and :func:`standard_errors` (the same
  along axis 0 of a ``(k, …)`` array: k repeated measurements of many quantities at once).
* :class:`Summary` — ``(mean, sd, n)`` of one sample, with its SE and Student-t interval; :func:`summarize` builds
  one from values.
* :class:`Difference` — a difference of two means with its SE and degrees of freedom: :func:`paired_difference`
  (the same units measured twice: SE from the per-pair differences, ``df = n − 1``) and
  :func:`unpaired_difference` (independent samples: ``SE = sqrt(SE_a² + SE_b²)``, Welch–Satterthwaite ``df``).
* :func:`t_interval` — the Student-t confidence interval ``mean ± t_{(1+level)/2, df} · SE``; for small ``n`` it is
  wider than the normal ``± 1.96 SE`` (``t_{0.975, 3} = 3.182`` for four seeds).
* The **claims' rule**: :func:`difference_verdict` / :func:`paired_verdict` (the Student-t interval at
  :data:`CLAIM_LEVEL` of the paired per-seed differences: supported, contradicted or undecided; "too few to judge"
  below :data:`MIN_REPLICATES` seeds) and :func:`comparable_verdict` (within :data:`COMPARABLE_POINTS`).
* The **verdict thresholds**: ``*_Z``, how many standard errors a difference must exceed in §6.1's verdicts (one
  model per kind, test-set noise only), or how many a value may be off before the report calls it different; and
  the three absolute thresholds of §6.1's Fig. 2 claims (``ZERO_WORST_MI_NATS``, ``ZERO_ADVERSARIAL_ACCURACY``,
  ``KEPT_WORST_MI_NATS``). Each is
  named once, here; the report (:mod:`rrlib.report`), the §6.1 verdicts (:mod:`rrlib.verdicts`) and the chapters'
  tables and sentences (:mod:`rrlib.rendering`, :mod:`rrlib.rendering.section5`) read them from here. The
  report's digitisation tolerances (``FIGURE_NATS``, ``TABLE_POINTS``, …) are properties of the paper's printed
  numbers and stay in :mod:`rrlib.report`.

A sample of one value has no spread: :func:`sample_sd` and :func:`standard_error` return ``of_one`` for it (NaN by
default; the tables print a single seed as "± 0", so their callers pass ``of_one=0.0``). Units are those of the
values throughout (nats, fractions or percentage points).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "ACCURACY_CLAIM_Z", "CANNOT_JUDGE", "CLAIM_LEVEL", "COMPARABLE_POINTS", "CONTRADICTED", "KEPT_WORST_MI_NATS",
    "MIN_REPLICATES", "MI_CLAIM_Z", "SUPPORTED", "TOLERANCE_Z", "TOO_FEW", "UNDECIDED", "ZERO_ADVERSARIAL_ACCURACY",
    "ZERO_WORST_MI_NATS", "Difference", "Summary", "as_array", "combined_se", "comparable_verdict",
    "difference_verdict", "exceeds", "mean", "mean_sd", "paired_difference", "paired_verdict", "sample_sd",
    "spearman_p", "standard_error", "standard_errors", "summarize", "t_interval", "t_quantile", "unpaired_difference",
]

# ------------------------------------------------------------------------------------------------- thresholds
TOLERANCE_Z: float = 2.0
"""Standard errors of our number (or of the difference) allowed on top of a value's tolerance in the reproduction
report (:mod:`rrlib.report`): a digitised figure point is reproduced when ``|ours − paper| ≤ digitisation +
TOLERANCE_Z · SE_ours``, a table cell when ``|ours − paper| ≤ max(1 point, TOLERANCE_Z · SE_diff)``."""

MI_CLAIM_Z: float = 3.0
"""Standard errors by which a difference of MI, RV or mean per-neuron vulnerability (nats) must exceed zero in the
§6.1 verdicts (:mod:`rrlib.verdicts`: ``robust_more_normal``, ``neurons_less_vulnerable``).
Counted in standard errors, not by :data:`CLAIM_LEVEL`'s interval over seeds, because the SE there is the test-batch
noise of one trained model, which leaves out
the spread over training seeds."""

ACCURACY_CLAIM_Z: float = 5.0
"""Standard errors (binomial, over test images) by which the robust model's adversarial accuracy must exceed the
standard model's for the §6.1 verdict ``training_works`` (:mod:`rrlib.verdicts`); one model per kind, so the SE
again leaves out training-seed spread."""


ZERO_WORST_MI_NATS: float = 0.1
"""Valid worst-case MI (nats) below which a standard model counts as having "worst-case MI ≈ 0" in the §6.1 verdict
``standard_worst_zero`` (:mod:`rrlib.verdicts`; Fig. 2)."""

ZERO_ADVERSARIAL_ACCURACY: float = 0.1
"""Adversarial accuracy (a fraction: 0.1 = 10 %) below which a standard model counts as having "adversarial
accuracy ≈ 0" in the §6.1 verdict ``standard_worst_zero`` (:mod:`rrlib.verdicts`; Fig. 2)."""

KEPT_WORST_MI_NATS: float = 0.2
"""Nats by which the robust model's valid worst-case MI must exceed the standard model's for the §6.1 verdict
``robust_keeps_worst`` (:mod:`rrlib.verdicts`; Fig. 2: "much more")."""


CLAIM_LEVEL: float = 0.95
"""Confidence level of the Student-t interval by which the reproduction report and chapters 07–09 judge a claimed
difference (:func:`difference_verdict`): the interval ``mean ± t_{(1+CLAIM_LEVEL)/2, n−1} · SE`` of the per-seed
differences (paired where the design pairs) must lie wholly on the claimed side of zero. With four seeds
``t_{0.975, 3} = 3.18``, 1.6 times the normal 1.96."""

MIN_REPLICATES: int = 3
"""Fewest independent replicates (trained models: seeds) on which a claim about training is judged; with fewer
(n ≤ 2: a t interval of 1 degree of freedom or none) the verdict is "too few to judge". Images, test batches or
critic seeds of one trained model are not replicates of training."""

COMPARABLE_POINTS: float = 5.0
"""Percentage points within which two accuracies count as "comparable" (§6.2: ours with a robust head against the
fully supervised robust model): the whole :data:`CLAIM_LEVEL` t interval of their paired difference must lie in
``[−COMPARABLE_POINTS, +COMPARABLE_POINTS]`` (:func:`comparable_verdict`)."""

EXACT_PERMUTATION_MAX_N: int = 9
"""Up to this many pairs :func:`spearman_p` enumerates all ``n!`` orderings (9! = 362,880); above it, it draws
:data:`PERMUTATION_DRAWS` random orderings."""

PERMUTATION_DRAWS: int = 200_000
"""Random orderings of :func:`spearman_p` above :data:`EXACT_PERMUTATION_MAX_N` pairs (the p-value's Monte Carlo
SE is at most ``sqrt(p(1 − p) / draws)``, 5e-4 at p = 0.05)."""

#: The verdicts of a claim judged from repeated measurements (:func:`difference_verdict`, :func:`comparable_verdict`).
SUPPORTED = "supported"
CONTRADICTED = "contradicted"
UNDECIDED = "undecided"
TOO_FEW = "too few to judge"
CANNOT_JUDGE = "cannot judge"


# ------------------------------------------------------------------------------------------------- one sample
def as_array(values: Any, *, finite_only: bool = False) -> np.ndarray:
    """``values`` (a sequence, NumPy array or torch tensor, any shape) as a float64 NumPy array; with
    ``finite_only`` the finite entries alone, flattened (NaN and ±inf dropped)."""
    if hasattr(values, "detach"):  # a torch tensor, without importing torch here
        values = values.detach().cpu().numpy()
    elif not isinstance(values, np.ndarray) and not np.isscalar(values):
        values = list(values)  # generators and other iterables
    arr = np.asarray(values, dtype=np.float64)
    return arr[np.isfinite(arr)] if finite_only else arr


def _nonempty(values: Any) -> np.ndarray:
    arr = as_array(values)
    if arr.size == 0:
        raise ValueError("statistics of an empty sample are undefined; need at least one value")
    return arr


def mean(values: Any) -> float:
    """Arithmetic mean ``x̄ = Σ x_i / n`` of all entries (same units as the values)."""
    return float(_nonempty(values).mean())


def sample_sd(values: Any, *, of_one: float = math.nan) -> float:
    """Sample standard deviation ``s = sqrt(Σ (x_i − x̄)² / (n − 1))`` (``ddof = 1``) of all entries; ``of_one``
    for a single value, whose spread is undefined.

    >>> sample_sd([1.0, 2.0, 3.0])
    1.0
    """
    arr = _nonempty(values)
    return float(arr.std(ddof=1)) if arr.size > 1 else float(of_one)


def standard_error(values: Any, *, of_one: float = math.nan) -> float:
    """Standard error of the mean ``SE = s / √n`` with ``s`` the sample sd (``ddof = 1``); ``of_one`` for one value.

    >>> round(standard_error([0.2, 0.4, 0.6]), 4)
    0.1155
    """
    arr = _nonempty(values)
    return float(arr.std(ddof=1) / math.sqrt(arr.size)) if arr.size > 1 else float(of_one)


def standard_errors(values: Any, *, of_one: float = 0.0) -> np.ndarray:
    """Per-quantity standard errors of ``k`` repeated measurements: ``values`` of shape ``(k, …)`` gives
    ``s / √k`` along axis 0, shape ``(…)`` (``ddof = 1``); with ``k = 1``, an array of ``of_one`` (0 by default: a
    single test batch is reported without noise). Unlike the scalar functions, a floating input keeps its dtype
    (the per-neuron estimates of :mod:`rrlib.mi.neurons` are float32, and their SEs are computed in float32)."""
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    arr = np.asarray(values)
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    if arr.ndim == 0 or arr.shape[0] == 0:
        raise ValueError(f"need a (k, ...) array with k ≥ 1, got shape {arr.shape}")
    k = arr.shape[0]
    return arr.std(axis=0, ddof=1) / math.sqrt(k) if k > 1 else np.full(arr.shape[1:], float(of_one))


def mean_sd(values: Any, *, of_one: float = math.nan) -> tuple[float, float]:
    """``(mean, sample sd)`` of all entries, the pair a table prints as "mean ± sd"; sd is ``of_one`` for one value.

    >>> [round(v, 4) for v in mean_sd([0.5, 0.7])]
    [0.6, 0.1414]
    """
    arr = _nonempty(values)
    return float(arr.mean()), sample_sd(arr, of_one=of_one)


def t_quantile(level: float, df: float) -> float:
    """Two-sided Student-t critical value ``t_{(1 + level)/2, df}`` (e.g. 12.706 for ``level = 0.95``, ``df = 1``);
    NaN when ``df`` is not positive or not finite (infinite ``df`` gives the normal quantile)."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    from scipy import stats as scipy_stats

    if math.isnan(df) or df <= 0:
        return math.nan
    q = (1.0 + level) / 2.0
    return float(scipy_stats.norm.ppf(q) if math.isinf(df) else scipy_stats.t.ppf(q, df))


def t_interval(center: float, se: float, df: float, level: float = 0.95) -> tuple[float, float]:
    """Student-t confidence interval ``center ± t_{(1+level)/2, df} · se`` (``(NaN, NaN)`` when ``df ≤ 0``)."""
    half = t_quantile(level, df) * se
    return center - half, center + half


@dataclass(frozen=True)
class Summary:
    """One sample of ``n`` values: ``mean`` and sample sd ``sd`` (``ddof = 1``), both in the values' units."""

    mean: float
    sd: float
    n: int

    @property
    def se(self) -> float:
        """Standard error of the mean, ``sd / √n``."""
        return self.sd / math.sqrt(self.n)

    @property
    def df(self) -> int:
        """Degrees of freedom of ``sd``: ``n − 1``."""
        return self.n - 1

    def interval(self, level: float = 0.95) -> tuple[float, float]:
        """Student-t confidence interval for the population mean, ``mean ± t_{(1+level)/2, n−1} · se``."""
        return t_interval(self.mean, self.se, self.df, level)


def summarize(values: Any, *, of_one: float = math.nan, finite_only: bool = False) -> Summary:
    """:class:`Summary` of ``values`` (all entries; with ``finite_only`` NaN and ±inf are dropped first); ``sd`` is
    ``of_one`` for a single value."""
    arr = as_array(values, finite_only=finite_only)
    return Summary(mean(arr), sample_sd(arr, of_one=of_one), int(arr.size))


# ------------------------------------------------------------------------------------------------ differences
@dataclass(frozen=True)
class Difference:
    """``mean`` = mean(a) − mean(b) with standard error ``se`` and the ``df`` of its t interval; ``n`` counts pairs
    (paired) or both samples together (unpaired)."""

    mean: float
    se: float
    df: float
    n: int

    @property
    def z(self) -> float:
        """The difference in standard errors, ``mean / se`` (±inf when ``se = 0`` and the difference is not 0)."""
        if self.se == 0:
            return math.copysign(math.inf, self.mean) if self.mean else math.nan
        return self.mean / self.se

    def interval(self, level: float = 0.95) -> tuple[float, float]:
        """Student-t confidence interval ``mean ± t_{(1+level)/2, df} · se``."""
        return t_interval(self.mean, self.se, self.df, level)


def paired_difference(a: Any, b: Any) -> Difference:
    """Mean of the per-pair differences ``d_i = a_i − b_i`` (e.g. two models evaluated with the same seeds), its
    SE ``s_d / √n`` and ``df = n − 1``. Pairing removes what the two share (the seed's effect), so this SE can be
    much smaller than the unpaired one of the same numbers."""
    xa, xb = as_array(a), as_array(b)
    if xa.shape != xb.shape:
        raise ValueError(f"paired samples need one shape, got {xa.shape} and {xb.shape}")
    d = summarize(xa - xb)
    return Difference(d.mean, d.se, float(d.df), d.n)


def combined_se(*ses: float) -> float:
    """Standard error of a sum or difference of independent estimates: ``sqrt(Σ SE_i²)``."""
    return math.hypot(*ses)


def unpaired_difference(a: Summary, b: Summary) -> Difference:
    """``a.mean − b.mean`` of two independent samples: ``SE = sqrt(SE_a² + SE_b²)`` and the Welch–Satterthwaite
    ``df = (v_a + v_b)² / (v_a²/(n_a − 1) + v_b²/(n_b − 1))`` with ``v = SE²`` (NaN when a sample has one value or
    both have zero spread)."""
    va, vb = a.se ** 2, b.se ** 2
    denominator = ((va ** 2 / a.df) if a.df > 0 else math.nan) + ((vb ** 2 / b.df) if b.df > 0 else math.nan)
    df = (va + vb) ** 2 / denominator if denominator > 0 else math.nan
    return Difference(a.mean - b.mean, combined_se(a.se, b.se), df, a.n + b.n)


def exceeds(difference: float, se: float, z: float) -> bool:
    """Whether ``difference > z · se``: the one rule behind every "supported" of the book (``z`` one of the
    thresholds above)."""
    return difference > z * se


# --------------------------------------------------------------------------------------------------- verdicts
def difference_verdict(difference: Difference, level: float = CLAIM_LEVEL) -> str:
    """The verdict on a claim that ``difference.mean > 0`` (orient the difference so that the claim is "> 0"):

    * :data:`TOO_FEW` when it rests on fewer than :data:`MIN_REPLICATES` pairs (or values);
    * :data:`SUPPORTED` when the Student-t interval at ``level`` lies wholly above zero;
    * :data:`CONTRADICTED` when it lies wholly below zero;
    * :data:`UNDECIDED` when it contains zero (a tie is never "ordered").

    >>> difference_verdict(paired_difference([2.0, 3.0, 4.0], [0.0, 0.0, 0.0]))
    'supported'
    >>> difference_verdict(paired_difference([1.0, 1.0], [0.0, 0.0]))
    'too few to judge'
    """
    if difference.n < MIN_REPLICATES:
        return TOO_FEW
    low, high = difference.interval(level)
    if low > 0:
        return SUPPORTED
    if high < 0:
        return CONTRADICTED
    return UNDECIDED


def paired_verdict(a: Any, b: Any, level: float = CLAIM_LEVEL) -> tuple[str, Difference]:
    """:func:`difference_verdict` on the claim ``a > b`` from paired measurements (``a_i`` and ``b_i`` share the
    seed), with the :func:`paired_difference` it rests on."""
    d = paired_difference(a, b)
    return difference_verdict(d, level), d


def comparable_verdict(a: Any, b: Any, margin: float = COMPARABLE_POINTS,
                       level: float = CLAIM_LEVEL) -> tuple[str, Difference]:
    """The claim "``a`` is comparable to ``b``" from paired measurements: :data:`SUPPORTED` when the t interval of
    the paired difference lies inside ``[−margin, margin]``, :data:`CONTRADICTED` when it lies wholly outside it
    (above ``margin`` or below ``−margin``), :data:`UNDECIDED` otherwise; :data:`TOO_FEW` below
    :data:`MIN_REPLICATES` pairs.

    >>> comparable_verdict([50.0, 51.0, 52.0], [70.0, 70.5, 71.0])[0]
    'contradicted'
    """
    d = paired_difference(a, b)
    if d.n < MIN_REPLICATES:
        return TOO_FEW, d
    low, high = d.interval(level)
    if -margin <= low and high <= margin:
        return SUPPORTED, d
    if low > margin or high < -margin:
        return CONTRADICTED, d
    return UNDECIDED, d


def spearman_p(x: Any, y: Any) -> tuple[float, float]:
    """Spearman's rank correlation ρ of ``x`` and ``y`` (1-d, equal length n ≥ 2) and its one-sided permutation
    p-value for ρ > 0: the fraction of the ``n!`` orderings of ``y`` against ``x`` whose ρ is at least the observed
    one (the observed ordering included, so ``p ≥ 1/n!``). Exact up to :data:`EXACT_PERMUTATION_MAX_N` pairs; above,
    ``(1 + #{ρ* ≥ ρ}) / (1 + draws)`` over :data:`PERMUTATION_DRAWS` seeded random orderings. Ties get average
    ranks. The unit of replication is the pair (e.g. one trained model); the test assumes nothing about the
    distribution of either variable.

    >>> spearman_p([1, 2, 3, 4], [10, 20, 30, 40])
    (1.0, 0.041666666666666664)
    """
    from itertools import permutations

    from scipy.stats import rankdata

    a, b = as_array(x), as_array(y)
    if a.ndim != 1 or a.shape != b.shape or a.size < 2:
        raise ValueError(f"x and y must be 1-d of equal length >= 2, got shapes {a.shape} and {b.shape}")
    ra, rb = rankdata(a), rankdata(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    scale = math.sqrt(float((ra**2).sum() * (rb**2).sum()))
    if scale == 0:
        return math.nan, math.nan
    rho = float(ra @ rb) / scale
    n = a.size
    if n <= EXACT_PERMUTATION_MAX_N:
        orderings = np.array(list(permutations(range(n))))
        rhos = rb[orderings] @ ra / scale
        return rho, float(np.mean(rhos >= rho - 1e-12))
    shuffled = np.random.default_rng(0).permuted(np.tile(rb, (PERMUTATION_DRAWS, 1)), axis=1)
    rhos = shuffled @ ra / scale
    return rho, float((1 + np.sum(rhos >= rho - 1e-12)) / (1 + PERMUTATION_DRAWS))
