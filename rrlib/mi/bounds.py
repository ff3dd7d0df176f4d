"""Variational lower bounds on mutual information as pure functions of a score matrix.

Convention (all functions): ``scores[i, j] = T(x_i, z_j)`` for a batch of ``n`` joint samples
``(x_i, z_i) ~ p(x, z)``. The **diagonal** holds the ``n`` joint pairs, the ``n(n − 1)`` **off-diagonal** entries
are pairs ``(x_i, z_j), i ≠ j``, distributed as the product of marginals ``p(x) p(z)``. Rows index ``x``,
columns index ``z``. Every bound returns a 0-dim tensor in **nats**.

A leading *location* axis is accepted: ``scores`` of shape ``(L, n, n)`` (one score matrix per spatial location,
as in the paper's encode-and-dot-product critic, Hjelm et al. 2018's local DIM) gives the bound per location,
averaged over locations (``reduction="mean"``) or returned per location (``reduction="none"``, shape ``(L,)``).

Bounds (``E_p`` = mean over the diagonal, ``E_q`` = mean over the off-diagonal; ``r = p(x,z)/(p(x)p(z))``):

===========  =======================================================================  =====================
name         reported value                                                           optimal critic ``T*``
===========  =======================================================================  =====================
``dv``       ``E_p[T] − log E_q[e^T]`` (Donsker–Varadhan; the paper's Eq. in §4)      ``log r + c``
``nwj``      ``E_p[T] − e^{-1} E_q[e^T]`` (Nguyen–Wainwright–Jordan, "f-GAN KL")      ``1 + log r``
``infonce``  ``log n + (1/n) Σ_i [T_ii − log Σ_j e^{T_ij}]`` (≤ log n always)         ``log r + c(x)``
``js``       trained on the Jensen–Shannon objective, reported with NWJ at ``T + 1``  ``log r``
``smile``    trained on JS, reported with DV whose ``E_q`` uses ``clip(T, −τ, τ)``    ``log r`` (τ → ∞)
``mine``     DV value, gradient with a moving-average denominator (:class:`MINE`)     ``log r + c``
===========  =======================================================================  =====================

*Objective vs reported value.* For ``js``, ``smile`` and ``mine`` the quantity whose gradient trains the
critic is not the number reported as the MI estimate. :class:`Bound` and :class:`MINE` make this explicit: calling
one returns a :class:`BoundResult` with ``.objective`` (maximise it) and ``.value`` (report it).

Errors: scores that are not a floating tensor of shape ``(n, n)`` or ``(L, n, n)`` with ``n ≥ 2``, or that contain
NaN/±inf, raise ``TypeError``/``ValueError``. The caller's tensor is never modified in place.

References: Donsker & Varadhan (1983); Nguyen, Wainwright & Jordan (2010); van den Oord et al. (2018);
Belghazi et al. (2018, MINE); Poole et al. (2019); Song & Ermon (2020, SMILE); Hjelm et al. (2018, DIM).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F

from rrlib.runtime import flush_subnormal_grad
from rrlib.validation import check_positive_float

__all__ = [
    "BOUND_NAMES",
    "MINE",
    "Bound",
    "BoundResult",
    "check_scores",
    "dv",
    "infonce",
    "js",
    "js_objective",
    "make_bound",
    "nwj",
    "smile",
]

REDUCTIONS = ("mean", "none")
#: The bounds :func:`make_bound` knows, by name.
BOUND_NAMES = ("dv", "nwj", "infonce", "js", "smile", "mine")


# ----------------------------------------------------------------------------------------------------------- checks
def check_scores(scores: torch.Tensor) -> torch.Tensor:
    """Validate a score matrix and return it viewed as ``(L, n, n)`` (``L = 1`` for a 2-d input).

    Raises ``TypeError`` for a non-tensor or non-floating dtype and ``ValueError`` for a wrong rank, a
    non-square matrix, ``n < 2`` or non-finite entries. The entries are checked through their sum (NaN and ±inf
    make it non-finite; only then, or when a finite sum overflows, is every entry looked at): one pass over the
    scores instead of five, which every PGD iterate of Algorithm 1 pays (``benchmarks/official_critic.py``).

    On the CPU the returned view passes its gradient back through ``rrlib.runtime.flush_subnormal_grad``:
    every bound's log-sum-exp gradient reaches the critic without subnormal entries (values are unchanged).
    """
    if not isinstance(scores, torch.Tensor):
        raise TypeError(f"scores must be a torch.Tensor of shape (n, n) or (L, n, n), got {type(scores).__name__}")
    if not scores.is_floating_point():
        raise TypeError(f"scores must have a floating dtype, got {scores.dtype}")
    if scores.ndim not in (2, 3):
        raise ValueError(
            f"scores must have shape (n, n) or (L, n, n) [L = locations], got {scores.ndim}-d shape "
            f"{tuple(scores.shape)}"
        )
    n_rows, n_cols = scores.shape[-2:]
    if n_rows != n_cols:
        raise ValueError(
            f"scores must be square in its last two axes (scores[..., i, j] = T(x_i, z_j) over one batch), "
            f"got shape {tuple(scores.shape)}"
        )
    if n_rows < 2:
        raise ValueError(f"scores needs a batch of n >= 2 (off-diagonal pairs are the negatives), got n = {n_rows}")
    if scores.ndim == 3 and scores.shape[0] < 1:
        raise ValueError(f"scores has an empty location axis: shape {tuple(scores.shape)}")
    with torch.no_grad():  # one reduction: its sum is finite unless an entry is non-finite or the sum overflows
        checked = bool(torch.isfinite(scores.sum()))
    if not checked and not bool((finite := torch.isfinite(scores)).all()):
        bad = int((~finite).sum())
        raise ValueError(
            f"scores contains {bad} non-finite value(s) (NaN or ±inf) out of {scores.numel()}; a critic must "
            "output finite scores (diverging training? lower the learning rate or use a bounded bound)"
        )
    return flush_subnormal_grad(scores if scores.ndim == 3 else scores.unsqueeze(0))


def _reduce(per_location: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return per_location.mean()
    if reduction == "none":
        return per_location
    raise ValueError(f"unknown reduction {reduction!r}; valid choices: {REDUCTIONS}")


def _diag_mean(s: torch.Tensor) -> torch.Tensor:
    """Mean of the diagonal of each ``(n, n)`` slice: shape ``(L,)``."""
    return torch.diagonal(s, dim1=-2, dim2=-1).mean(dim=-1)


def _offdiag_logmeanexp(s: torch.Tensor) -> torch.Tensor:
    """``log( (1 / (n(n−1))) Σ_{i≠j} exp s_ij )`` per location: shape ``(L,)``.

    The diagonal is masked with ``−inf`` (``exp(−inf) = 0`` exactly), not with a large negative constant: a
    finite mask such as DIM's ``−10`` still contributes ``e^{−10}`` per entry and shifts the bound whenever the
    scores themselves are small.
    """
    n = s.shape[-1]
    eye = torch.eye(n, dtype=torch.bool, device=s.device)
    masked = torch.where(eye, torch.full_like(s, -math.inf), s)
    return torch.logsumexp(masked.flatten(-2), dim=-1) - math.log(n * (n - 1))


# ----------------------------------------------------------------------------------------------------------- bounds
def dv(scores: torch.Tensor, *, dim_filler: bool = False, reduction: str = "mean") -> torch.Tensor:
    """Donsker–Varadhan lower bound (the MINE estimator of the paper, §4):

    ``I_DV = (1/n) Σ_i T_ii − log( (1/(n(n−1))) Σ_{i≠j} exp T_ij )``   [nats].

    Invariant to adding a constant to all scores; optimal critic ``log r + c``.

    ``dim_filler=True`` reproduces the official implementation (DIM's ``donsker_varadhan_loss``, used by the
    paper's code): the masked diagonal enters the log-sum-exp as ``exp(0) = 1``, i.e. the negative term becomes
    ``log( (Σ_{i≠j} exp T_ij + n) / (n(n−1)) )``. This is no longer shift invariant and biases the estimate down.

    Args:
        scores: ``(n, n)`` or ``(L, n, n)``; ``scores[..., i, j] = T(x_i, z_j)``.
        reduction: ``"mean"`` over locations (0-dim result) or ``"none"`` (shape ``(L,)``).

    >>> round(float(dv(torch.eye(3) * 2.0)), 4)   # 2 − log(1) = 2
    2.0
    """
    s = check_scores(scores)
    negative = _offdiag_logmeanexp(s)
    if dim_filler:
        n = s.shape[-1]
        log_sum = negative + math.log(n * (n - 1))
        negative = torch.logaddexp(log_sum, torch.full_like(log_sum, math.log(n))) - math.log(n * (n - 1))
    return _reduce(_diag_mean(s) - negative, reduction)


def nwj(scores: torch.Tensor, *, reduction: str = "mean") -> torch.Tensor:
    """Nguyen–Wainwright–Jordan lower bound (f-GAN KL, "MINE-f"):

    ``I_NWJ = (1/n) Σ_i T_ii − e^{−1} (1/(n(n−1))) Σ_{i≠j} exp T_ij``   [nats].

    Optimal critic ``T* = 1 + log r``, for which the estimate is **unbiased** (but its variance grows like
    ``e^I``). Not shift invariant.

    >>> round(float(nwj(torch.ones(2, 2))), 4)   # 1 − e^{-1}·e = 0
    0.0
    """
    s = check_scores(scores)
    return _reduce(_diag_mean(s) - torch.exp(_offdiag_logmeanexp(s) - 1.0), reduction)


def infonce(scores: torch.Tensor, *, reduction: str = "mean") -> torch.Tensor:
    """InfoNCE (CPC) lower bound, contrasting each ``x_i`` with all ``z_j`` of the batch (rows):

    ``I_NCE = log n + (1/n) Σ_i [ T_ii − log Σ_j exp T_ij ]``   [nats].

    Every term in brackets is ≤ 0, so ``I_NCE ≤ log n`` for **any** scores: the estimate cannot exceed the log
    batch size however large the true MI. Optimal critic ``log r + c(x)``.
    """
    s = check_scores(scores)
    n = s.shape[-1]
    per_row = torch.diagonal(s, dim1=-2, dim2=-1) - torch.logsumexp(s, dim=-1)
    return _reduce(math.log(n) + per_row.mean(dim=-1), reduction)


def js_objective(scores: torch.Tensor, *, reduction: str = "mean") -> torch.Tensor:
    """The Jensen–Shannon (f-GAN) training objective — **not** an MI estimate:

    ``J_JS = (1/n) Σ_i −softplus(−T_ii) − (1/(n(n−1))) Σ_{i≠j} softplus(T_ij)``.

    Its maximiser is ``T* = log r`` (the logit of the optimal joint-vs-product classifier), where it equals
    ``2·JSD(p(x,z) ‖ p(x)p(z)) − 2 log 2``. It is bounded and low-variance, hence a good objective to *train* on.
    """
    s = check_scores(scores)
    n = s.shape[-1]
    diag = torch.diagonal(s, dim1=-2, dim2=-1)
    joint = -F.softplus(-diag).mean(dim=-1)
    marginal = (F.softplus(s).sum(dim=(-2, -1)) - F.softplus(diag).sum(dim=-1)) / (n * (n - 1))
    return _reduce(joint - marginal, reduction)


def js(scores: torch.Tensor, *, reduction: str = "mean") -> torch.Tensor:
    """The MI value *reported* for a critic trained on :func:`js_objective`: NWJ evaluated at ``T + 1``:

    ``I_JS = 1 + (1/n) Σ_i T_ii − (1/(n(n−1))) Σ_{i≠j} exp T_ij``   [nats].

    The JS optimum is ``T* = log r`` while NWJ's optimum is ``1 + log r``; the shift makes the reported value
    unbiased at the JS optimum. (Reporting ``nwj(T)`` instead, as some reference code does, is biased low by
    exactly ``e^{−1}`` nats at the optimum.) Train with ``make_bound("js")``, which pairs the two.
    """
    return nwj(check_scores(scores) + 1.0, reduction=reduction)


def smile(scores: torch.Tensor, tau: float = 5.0, *, reduction: str = "mean") -> torch.Tensor:
    """SMILE value (Song & Ermon 2020): DV with the partition term computed on clipped scores:

    ``I_SMILE = (1/n) Σ_i T_ii − log( (1/(n(n−1))) Σ_{i≠j} exp clip(T_ij, −τ, τ) )``   [nats].

    Clipping bounds the variance of the partition term (at most ``e^{2τ}``) at the price of a bias; ``τ → ∞``
    recovers :func:`dv`. The critic is trained on :func:`js_objective` (``make_bound("smile", tau=...)``).
    """
    check_positive_float("tau (clipping threshold)", tau, what="a positive finite number")
    s = check_scores(scores)
    clipped = s.clamp(-float(tau), float(tau))
    return _reduce(_diag_mean(s) - _offdiag_logmeanexp(clipped), reduction)


# ------------------------------------------------------------------------------------------------- objective/value
class BoundResult(NamedTuple):
    """What a trainable bound returns for one batch of scores.

    Attributes:
        value: the MI estimate to report, 0-dim, nats.
        objective: the differentiable quantity to **maximise** when training the critic (for ``dv``, ``nwj``,
            ``infonce`` the same tensor as ``value``).
    """

    value: torch.Tensor
    objective: torch.Tensor

    @property
    def loss(self) -> torch.Tensor:
        """``−objective``, for optimisers that minimise."""
        return -self.objective


@dataclass(frozen=True)
class Bound:
    """A stateless bound: a training objective paired with a reported value.

    Attributes:
        name: one of :data:`BOUND_NAMES` (except ``"mine"``, which is stateful, see :class:`MINE`).
        objective_fn: ``scores -> 0-dim tensor`` to maximise.
        value_fn: ``scores -> 0-dim tensor``, the MI estimate in nats.
        oracle_shift: constant ``c`` such that ``log r + c`` is the optimal critic for this bound's *value*
            (1 for NWJ, 0 for the others); use it to form the oracle score matrix.
    """

    name: str
    objective_fn: Callable[[torch.Tensor], torch.Tensor]
    value_fn: Callable[[torch.Tensor], torch.Tensor]
    oracle_shift: float = 0.0

    def __call__(self, scores: torch.Tensor) -> BoundResult:
        value = self.value_fn(scores)
        objective = value if self.objective_fn is self.value_fn else self.objective_fn(scores)
        return BoundResult(value=value, objective=objective)

    def value(self, scores: torch.Tensor) -> torch.Tensor:
        """The reported MI estimate only (nats)."""
        return self.value_fn(scores)


class MINE:
    """Donsker–Varadhan with the bias-corrected gradient of Belghazi et al. (2018, MINE, Sec. 3.2).

    The DV gradient is ``E_p[∇T] − E_q[e^T ∇T] / E_q[e^T]``. Its mini-batch estimate is biased because the
    denominator is a batch mean. MINE replaces the denominator by an exponential moving average
    ``m ← (1 − rate)·m + rate·Ê_q[e^T]`` (kept in log space, per location, initialised with the first batch).
    Calling the object returns a :class:`BoundResult` whose ``value`` is the plain DV estimate and whose
    ``objective`` has the **same forward value** but the gradient ``E_p[∇T] − Ê_q[e^T ∇T] / m``. The moving
    average is updated on every call (one call per training step); :meth:`value` evaluates without updating.

    Args:
        rate: moving-average rate in (0, 1]; 0.01 as in Belghazi et al.

    >>> mine = MINE(rate=0.01)
    >>> result = mine(torch.eye(4))
    >>> bool(torch.isclose(result.value, result.objective))
    True
    """

    name = "mine"
    oracle_shift = 0.0

    def __init__(self, rate: float = 0.01) -> None:
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.0 < float(rate) <= 1.0:
            raise ValueError(f"rate must be in (0, 1], got {rate!r}")
        self.rate = float(rate)
        self.log_moving_average: torch.Tensor | None = None

    def reset(self) -> None:
        """Forget the moving average (e.g. before training a new critic)."""
        self.log_moving_average = None

    def value(self, scores: torch.Tensor) -> torch.Tensor:
        """The DV estimate (nats), without touching the moving average."""
        return dv(scores)

    def __call__(self, scores: torch.Tensor) -> BoundResult:
        s = check_scores(scores)
        log_batch = _offdiag_logmeanexp(s)  # (L,)
        current = log_batch.detach()
        if self.log_moving_average is None or self.log_moving_average.shape != current.shape:
            if self.log_moving_average is not None:
                raise ValueError(
                    f"MINE moving average has {self.log_moving_average.shape[0]} location(s) but the scores have "
                    f"{current.shape[0]}; call reset() before changing the critic"
                )
            self.log_moving_average = current.clone()
        else:
            previous = self.log_moving_average.to(current.device, current.dtype)
            self.log_moving_average = torch.logaddexp(
                previous + math.log1p(-self.rate) if self.rate < 1 else torch.full_like(previous, -math.inf),
                current + math.log(self.rate),
            )
        joint = _diag_mean(s)
        value = (joint - log_batch).mean()
        # surrogate: d/dθ [E_p T − Ê_q e^T / m] = E_p ∇T − Ê_q[e^T ∇T] / m
        surrogate = (joint - torch.exp(log_batch - self.log_moving_average)).mean()
        objective = value.detach() + (surrogate - surrogate.detach())
        return BoundResult(value=value, objective=objective)


def make_bound(name: str, **kwargs) -> Bound | MINE:
    """Build a trainable bound by name: one of :data:`BOUND_NAMES`.

    Keyword arguments: ``tau`` for ``"smile"`` (default 5.0), ``rate`` for ``"mine"`` (default 0.01),
    ``dim_filler`` for ``"dv"`` (default False).

    >>> make_bound("js").oracle_shift
    0.0
    """
    allowed = {"dv": {"dim_filler"}, "smile": {"tau"}, "mine": {"rate"}}
    if name not in BOUND_NAMES:
        raise ValueError(f"unknown bound {name!r}; valid choices: {BOUND_NAMES}")
    extra = set(kwargs) - allowed.get(name, set())
    if extra:
        raise ValueError(
            f"bound {name!r} takes no option(s) {sorted(extra)}; valid: {sorted(allowed.get(name, set())) or 'none'}"
        )
    if name == "mine":
        return MINE(**kwargs)
    if name == "dv":
        filler = bool(kwargs.get("dim_filler", False))
        fn = dv if not filler else _dv_with_filler
        return Bound("dv", fn, fn, 0.0)
    if name == "nwj":
        return Bound("nwj", nwj, nwj, 1.0)
    if name == "infonce":
        return Bound("infonce", infonce, infonce, 0.0)
    if name == "js":
        return Bound("js", js_objective, js, 0.0)
    tau = kwargs.get("tau", 5.0)
    smile(torch.zeros(2, 2), tau)  # validate tau early with a clear error
    return Bound("smile", js_objective, _SmileValue(float(tau)), 0.0)


def _dv_with_filler(scores: torch.Tensor) -> torch.Tensor:
    return dv(scores, dim_filler=True)


@dataclass(frozen=True)
class _SmileValue:
    tau: float

    def __call__(self, scores: torch.Tensor) -> torch.Tensor:
        return smile(scores, self.tau)
