"""Exact information measures in nats: binary entropy, discrete and Gaussian mutual information.

Everything here is float64 NumPy and exact (no estimation). These are the ground truths that the sampling
estimators of later chapters are checked against.

>>> round(float(binary_entropy(0.5)), 6)  # log 2
0.693147
>>> round(float(gaussian_mutual_information(rho=0.5, dim=2)), 6)  # -dim/2 * log(1 - rho^2)
0.287682
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

#: ``log 2`` in nats, the entropy of a fair bit.
LOG2 = float(np.log(2.0))

__all__ = [
    "LOG2",
    "binary_entropy",
    "binary_entropy_derivative",
    "binary_entropy_deficit",
    "discrete_mutual_information",
    "entropy",
    "gaussian_mutual_information",
]


def _as_float_array(value: ArrayLike, name: str) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} must be a real number or an array of real numbers, got {value!r}") from error
    if np.isnan(array).any():
        raise ValueError(f"{name} contains NaN: {value!r}")
    return array


def _scalar_or_array(array: np.ndarray) -> float | np.ndarray:
    return float(array) if array.ndim == 0 else array


def _check_unit_interval(t: np.ndarray, name: str, *, open_interval: bool = False) -> None:
    bad = (t <= 0.0) | (t >= 1.0) if open_interval else (t < 0.0) | (t > 1.0)
    if bad.any():
        interval = "(0, 1)" if open_interval else "[0, 1]"
        raise ValueError(f"{name} must lie in {interval}; got {t[bad].ravel()[:5].tolist()}")


def binary_entropy(t: ArrayLike) -> float | np.ndarray:
    """Binary entropy ``H2(t) = -t log t - (1 - t) log(1 - t)`` in nats, with ``0 log 0 = 0``.

    ``t`` is a probability (scalar or array, any shape) in [0, 1]; values outside raise ``ValueError``.
    Returns a float for scalar input, else an array of the same shape. ``H2(1/2) = log 2`` is the maximum.
    """
    t = _as_float_array(t, "t")
    _check_unit_interval(t, "t")
    with np.errstate(divide="ignore", invalid="ignore"):
        left = np.where(t > 0.0, -t * np.log(np.where(t > 0.0, t, 1.0)), 0.0)
        right = np.where(t < 1.0, -(1.0 - t) * np.log1p(-np.where(t < 1.0, t, 0.0)), 0.0)
    return _scalar_or_array(left + right)


def binary_entropy_derivative(t: ArrayLike) -> float | np.ndarray:
    """``H2'(t) = log((1 - t) / t)`` in nats, for ``t`` in [0, 1] (``+inf`` at 0, ``-inf`` at 1).

    Positive on (0, 1/2), zero at 1/2, negative on (1/2, 1): this monotonicity is what Theorem 3.2 uses.
    """
    t = _as_float_array(t, "t")
    _check_unit_interval(t, "t")
    with np.errstate(divide="ignore"):
        return _scalar_or_array(np.log1p(-t) - np.log(t))


def binary_entropy_deficit(t: ArrayLike) -> float | np.ndarray:
    """``log 2 - H2(1/2 - t/2) = ∫_{1/2 - t/2}^{1/2} H2'(θ) dθ`` for ``t`` in [0, 1], in nats.

    This is the loss of entropy of a fair bit pushed to ``P[Z = 1] = 1/2 - t/2``; it is the closed form of the
    representation vulnerability in the Gaussian mixture (see :class:`rrlib.theory.GaussianMixture`). It is
    computed without cancellation for small ``t`` as ``t·atanh(t) + log(1 - t²)/2`` (≈ t²/2), and as
    ``log 2 - H2((1 - t)/2)`` for ``t ≥ 1/2``. Increasing in ``t``, from 0 at ``t = 0`` to ``log 2`` at ``t = 1``.
    """
    t = _as_float_array(t, "t")
    _check_unit_interval(t, "t")
    small = np.minimum(t, 0.5)
    series = small * np.arctanh(small) + 0.5 * np.log1p(-small * small)
    direct = LOG2 - np.asarray(binary_entropy(0.5 - 0.5 * np.maximum(t, 0.5)))
    return _scalar_or_array(np.where(t < 0.5, series, direct))


def entropy(pmf: ArrayLike, axis: int | None = None) -> float | np.ndarray:
    """Shannon entropy ``-Σ p log p`` in nats of a probability table (summed over ``axis``; all axes if None).

    Entries must be non-negative and sum to 1 (tolerance 1e-9) over the summed axes.
    """
    p = _as_float_array(pmf, "pmf")
    if (p < 0).any():
        raise ValueError(f"pmf must be non-negative; smallest entry is {p.min()!r}")
    total = p.sum(axis=axis)
    if not np.allclose(total, 1.0, atol=1e-9, rtol=0.0):
        raise ValueError(f"pmf must sum to 1 over axis={axis}; sums are {np.ravel(total)[:5].tolist()}")
    terms = np.where(p > 0, -p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    return _scalar_or_array(np.asarray(terms.sum(axis=axis)))


def discrete_mutual_information(joint: ArrayLike) -> float:
    """Mutual information ``I(X; Y) = Σ p(x, y) log[p(x, y) / (p(x) p(y))]`` in nats (Definition 2.1).

    ``joint`` is a 2-D table with ``joint[i, j] = P[X = i, Y = j]``, non-negative, summing to 1.

    >>> round(discrete_mutual_information([[0.5, 0.0], [0.0, 0.5]]), 6)  # I(X; X) = H(X) = log 2
    0.693147
    """
    p = _as_float_array(joint, "joint")
    if p.ndim != 2:
        raise ValueError(f"joint must be a 2-D table P[X = i, Y = j]; got shape {p.shape}")
    if (p < 0).any():
        raise ValueError(f"joint must be non-negative; smallest entry is {p.min()!r}")
    if not np.isclose(p.sum(), 1.0, atol=1e-9, rtol=0.0):
        raise ValueError(f"joint must sum to 1; it sums to {p.sum()!r}")
    px = p.sum(axis=1, keepdims=True)
    py = p.sum(axis=0, keepdims=True)
    mask = p > 0
    ratio = np.where(mask, p, 1.0) / np.where(mask, px * py, 1.0)
    value = float(np.sum(np.where(mask, p * np.log(ratio), 0.0)))
    return max(value, 0.0)  # rounding can give -1e-17 for independent tables


def gaussian_mutual_information(
    rho: ArrayLike | None = None,
    dim: int = 1,
    *,
    cov: ArrayLike | None = None,
    dim_x: int | None = None,
) -> float | np.ndarray:
    """Mutual information of jointly Gaussian vectors, in nats. Give either ``rho`` or ``cov``.

    - ``rho`` (scalar or array in (-1, 1)) with ``dim``: ``dim`` independent pairs ``(X_i, Y_i)`` each with
      correlation ``rho``: ``I = -dim/2 · log(1 - rho²)``. Vectorised over ``rho``.
    - ``cov`` (shape ``(d, d)``, symmetric positive definite) with ``dim_x``: the joint covariance of
      ``(X, Y)`` with ``X`` the first ``dim_x`` coordinates: ``I = 1/2 · log(det Σ_XX · det Σ_YY / det Σ)``
      (the log-det form; computed with ``slogdet``).

    >>> round(float(gaussian_mutual_information(cov=[[1.0, 0.5], [0.5, 1.0]], dim_x=1)), 6)
    0.143841
    """
    if (rho is None) == (cov is None):
        raise ValueError("give exactly one of rho (correlation per pair) or cov (joint covariance with dim_x)")
    if rho is not None:
        if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool) or dim < 1:
            raise ValueError(f"dim must be a positive integer, got {dim!r}")
        r = _as_float_array(rho, "rho")
        if ((r <= -1.0) | (r >= 1.0)).any():
            raise ValueError(f"rho must lie in the open interval (-1, 1); got {r[(r <= -1) | (r >= 1)][:5]}")
        return _scalar_or_array(-0.5 * dim * np.log1p(-r * r))
    sigma = _as_float_array(cov, "cov")
    if sigma.ndim != 2 or sigma.shape[0] != sigma.shape[1] or sigma.shape[0] < 2:
        raise ValueError(f"cov must be a square matrix of size at least 2, got shape {sigma.shape}")
    d = sigma.shape[0]
    if not isinstance(dim_x, (int, np.integer)) or isinstance(dim_x, bool) or not 1 <= dim_x <= d - 1:
        raise ValueError(f"dim_x must be an integer in [1, {d - 1}] for a {d}x{d} covariance, got {dim_x!r}")
    if not np.allclose(sigma, sigma.T, atol=1e-10, rtol=1e-8):
        raise ValueError("cov must be symmetric; max |cov - cov.T| = " f"{np.abs(sigma - sigma.T).max():.3g}")
    try:
        np.linalg.cholesky(sigma)
    except np.linalg.LinAlgError as error:
        raise ValueError(
            f"cov must be positive definite; smallest eigenvalue is {np.linalg.eigvalsh(sigma).min():.3g}"
        ) from error
    _, logdet = np.linalg.slogdet(sigma)
    _, logdet_x = np.linalg.slogdet(sigma[:dim_x, :dim_x])
    _, logdet_y = np.linalg.slogdet(sigma[dim_x:, dim_x:])
    return max(0.5 * float(logdet_x + logdet_y - logdet), 0.0)
