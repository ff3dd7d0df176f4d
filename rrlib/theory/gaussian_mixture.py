"""The Gaussian mixture of Section 3.1 and exact results for linear sign representations (Theorem 3.2).

Model (3.1): ``y ~ Unif{-1, +1}``, ``x | y ~ N(y·θ, Σ)`` in ``R^d``. Representation ``g(x) = sgn(wᵀx)`` with
``sgn(0) = +1`` (``w`` of any non-zero scale: ``g`` is scale-invariant), threat model an ℓp ball of radius ε,
downstream classifiers ``h ∈ {z, -z}``. All information quantities are in nats.

Closed forms (derived in the book's chapter 2 and ``book/verification.md``; every one is checked against Monte
Carlo and numerical integration in the tests). Write ``s = wᵀx``, ``m = wᵀθ``, ``σ = sqrt(wᵀΣw)``, so
``s | y ~ N(y·m, σ²)``, and the standardised quantities

    a = |m| / σ                  (margin of the representation)
    b = ε ‖w‖_q / σ              (perturbation budget: Hölder, 1/p + 1/q = 1)

- ``I(X; g(X)) = H(g(X)) = H2(P[s ≥ 0]) = log 2`` (the mixture is symmetric: ``P[s ≥ 0] = 1/2``).
- Any ``μ' ∈ B_W∞(μ_X, ε)`` moves each ``s`` by at most ``ε‖w‖_q``, and moving every sample by ``∓ε u`` (``u``
  Hölder-optimal) attains both ends, so ``P[g(X') = 1]`` ranges exactly over ``[1/2 - P/2, 1/2 + P/2]`` with
  ``P = Φ(a + b) - Φ(a - b)``.
- Worst-case MI ``= H2(1/2 - P/2)`` and ``RV_ε = log 2 - H2(1/2 - P/2)`` (Definition 3.1). The supplement's
  (A.1) prints ``H2(1/2 - P)``: the factor 1/2 is missing there.
- ``f* = h∘g`` with ``h(z) = sgn(m)·z``: ``Risk = Φ(-a)``, ``AdvRisk_ε = Φ(b - a)``, ``AG_ε = Φ(a) - Φ(a - b)``.
- ``AG ≤ P ≤ 2·AG`` (the normal density is larger on ``[a - b, a]`` than on ``[a, a + b]`` for ``a ≥ 0``), hence
  Theorem 3.2 in the form that holds (:func:`theorem_3_2_bounds_from_gap`):
  ``∫_{1/2 - AG/2}^{1/2} H2' ≤ RV_ε ≤ ∫_{1/2 - AG}^{1/2} H2'``; the paper prints the two limits swapped.

>>> import numpy as np
>>> gm = GaussianMixture(theta=[1.0, 0.0], cov=np.eye(2))
>>> round(gm.adversarial_risk([1.0, 0.0], 0.5, 2), 6)  # Φ(0.5 - 1)
0.308538
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import ndtr

from rrlib.theory.information import binary_entropy, binary_entropy_deficit
from rrlib.theory.norms import dual_norm, holder_direction, parse_p

#: The two forms of Theorem 3.2's bounds, the one that holds and the one the paper prints (limits swapped).
BOUND_FORMS = ("corrected", "printed")

__all__ = [
    "BOUND_FORMS",
    "GaussianMixture",
    "normal_interval_probability",
    "theorem_3_2_bounds_from_gap",
]


def _scalar_or_array(array: np.ndarray) -> float | np.ndarray:
    return float(array) if np.ndim(array) == 0 else array


def normal_interval_probability(lower: ArrayLike, upper: ArrayLike) -> np.ndarray:
    """``P[lower ≤ Z ≤ upper]`` for ``Z ~ N(0, 1)``, without cancellation in either tail (vectorised)."""
    lo = np.asarray(lower, dtype=np.float64)
    hi = np.asarray(upper, dtype=np.float64)
    right_tail = ndtr(-lo) - ndtr(-hi)  # accurate when both limits are positive
    left_tail = ndtr(hi) - ndtr(lo)  # accurate when both are negative (and in the middle)
    return np.maximum(np.where(lo > 0, right_tail, left_tail), 0.0)


def _check_eps(eps: ArrayLike) -> np.ndarray:
    try:
        value = np.asarray(eps, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise TypeError(f"eps must be a non-negative real number or array, got {eps!r}") from error
    if not np.isfinite(value).all() or (value < 0).any():
        raise ValueError(f"eps must be finite and non-negative (the radius of the threat ball), got {eps!r}")
    return value


def _check_form(form: str) -> str:
    if form not in BOUND_FORMS:
        raise ValueError(f"unknown form={form!r}; valid choices: {BOUND_FORMS}")
    return form


def theorem_3_2_bounds_from_gap(
    gap: ArrayLike, form: Literal["corrected", "printed"] = "corrected"
) -> tuple[float | np.ndarray, float | np.ndarray]:
    """Theorem 3.2's sandwich for ``RV_ε`` as a function of the adversarial gap ``AG_ε(f*)`` in [0, 1].

    ``form="corrected"`` (the version that holds, proved from ``AG ≤ P ≤ 2·AG``)::

        lower = ∫_{1/2 - AG/2}^{1/2} H2'(θ) dθ = log 2 - H2(1/2 - AG/2)
        upper = ∫_{1/2 - AG}^{1/2}   H2'(θ) dθ = log 2 - H2(1/2 - AG)

    ``form="printed"`` swaps the two integration limits, as printed in the paper and supplement; since
    ``H2`` increases on [0, 1/2], the printed lower bound is then ≥ the printed upper bound, so the printed
    sandwich fails whenever ``AG > 0`` (the book shows counterexamples).

    Domain: when ``AG > 1/2`` the limit ``1/2 - AG`` leaves [0, 1/2] where ``H2'`` is defined; the integral is
    capped at its value at ``AG = 1/2``, i.e. ``log 2``, which is a valid (trivial) upper bound because
    ``RV_ε ≤ I(X; g(X)) = H(g(X)) ≤ log 2`` for a binary representation. Returns ``(lower, upper)`` in nats,
    floats for scalar input.
    """
    _check_form(form)
    ag = np.asarray(gap, dtype=np.float64)
    if np.isnan(ag).any() or (ag < 0).any() or (ag > 1).any():
        raise ValueError(f"gap must be an adversarial gap in [0, 1], got {gap!r}")
    half_width = np.asarray(binary_entropy_deficit(ag))  # ∫_{1/2 - AG/2}^{1/2} H2'
    full_width = np.asarray(binary_entropy_deficit(np.minimum(2.0 * ag, 1.0)))  # ∫_{1/2 - AG}^{1/2}, capped
    if form == "corrected":
        return _scalar_or_array(half_width), _scalar_or_array(full_width)
    return _scalar_or_array(full_width), _scalar_or_array(half_width)


class GaussianMixture:
    """The symmetric Gaussian mixture (3.1) with exact quantities for ``g(x) = sgn(wᵀx)``.

    Args:
        theta:
            Class mean ``θ*``, shape ``(d,)``.
        cov:
            Shared covariance ``Σ*``, shape ``(d, d)``, symmetric positive definite.

    Methods taking ``(w, eps, p)`` accept ``w`` of shape ``(d,)`` (any non-zero scale), ``eps ≥ 0`` as a float
    or an array (results broadcast over ``eps``), and ``p`` in {1, 2, ∞} (``math.inf``, ``numpy.inf`` or
    ``"inf"``). Results are in nats (information) or probabilities (risks).
    """

    def __init__(self, theta: ArrayLike, cov: ArrayLike) -> None:
        theta_arr = np.array(theta, dtype=np.float64)
        cov_arr = np.array(cov, dtype=np.float64)
        if theta_arr.ndim != 1 or theta_arr.shape[0] < 1:
            raise ValueError(f"theta must have shape (d,) with d >= 1, got shape {theta_arr.shape}")
        d = theta_arr.shape[0]
        if cov_arr.shape != (d, d):
            raise ValueError(f"cov must have shape ({d}, {d}) to match theta of shape ({d},), got {cov_arr.shape}")
        if not (np.isfinite(theta_arr).all() and np.isfinite(cov_arr).all()):
            raise ValueError("theta and cov must be finite")
        if not np.allclose(cov_arr, cov_arr.T, atol=1e-10, rtol=1e-8):
            raise ValueError(f"cov must be symmetric; max |cov - cov.T| = {np.abs(cov_arr - cov_arr.T).max():.3g}")
        cov_arr = 0.5 * (cov_arr + cov_arr.T)
        try:
            self._cholesky = np.linalg.cholesky(cov_arr)
        except np.linalg.LinAlgError as error:
            raise ValueError(
                "cov must be positive definite; smallest eigenvalue is "
                f"{np.linalg.eigvalsh(cov_arr).min():.3g} (valid: all eigenvalues > 0)"
            ) from error
        theta_arr.setflags(write=False)
        cov_arr.setflags(write=False)
        self.theta = theta_arr
        self.cov = cov_arr

    def __repr__(self) -> str:
        return f"GaussianMixture(d={self.dim}, |theta|_2={np.linalg.norm(self.theta):.4g})"

    @property
    def dim(self) -> int:
        """Input dimension ``d``."""
        return int(self.theta.shape[0])

    # ----------------------------------------------------------------------------------------------- sampling
    def sample(self, n: int, generator: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``n`` pairs from (3.1): ``x`` of shape ``(n, d)`` float64 and ``y`` of shape ``(n,)`` in {-1, +1}."""
        if not isinstance(generator, np.random.Generator):
            raise TypeError(f"generator must be a numpy.random.Generator (see rrlib.runtime.numpy_rng), got "
                            f"{type(generator).__name__}")
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        y = np.where(generator.random(n) < 0.5, -1, 1).astype(np.int64)
        noise = generator.standard_normal((n, self.dim)) @ self._cholesky.T
        return y[:, None] * self.theta[None, :] + noise, y

    # ------------------------------------------------------------------------------------- the representation
    def _check_w(self, w: ArrayLike) -> np.ndarray:
        w_arr = np.asarray(w, dtype=np.float64)
        if w_arr.shape != (self.dim,):
            raise ValueError(f"w must have shape ({self.dim},) to match the mixture, got shape {w_arr.shape}")
        if not np.isfinite(w_arr).all():
            raise ValueError("w must be finite")
        if not np.any(w_arr):
            raise ValueError("w must be non-zero: g(x) = sgn(wᵀx) is constant for w = 0")
        return w_arr

    def _check_x(self, x: ArrayLike) -> np.ndarray:
        x_arr = np.asarray(x, dtype=np.float64)
        if x_arr.ndim != 2 or x_arr.shape[1] != self.dim:
            raise ValueError(f"x must have shape (n, {self.dim}), got shape {x_arr.shape}")
        return x_arr

    def projected_moments(self, w: ArrayLike) -> tuple[float, float]:
        """``(m, σ) = (wᵀθ, sqrt(wᵀΣw))``: ``wᵀx | y ~ N(y·m, σ²)``."""
        w_arr = self._check_w(w)
        return float(w_arr @ self.theta), float(math.sqrt(w_arr @ self.cov @ w_arr))

    def standardized_margin(self, w: ArrayLike) -> float:
        """``a = |wᵀθ| / sqrt(wᵀΣw)`` (scale-invariant in ``w``)."""
        m, sigma = self.projected_moments(w)
        return abs(m) / sigma

    def perturbation_budget(self, w: ArrayLike, eps: ArrayLike, p: object) -> float | np.ndarray:
        """``b = ε ‖w‖_q / sqrt(wᵀΣw)``: how far an ℓp perturbation of size ε moves ``wᵀx``, in units of σ."""
        eps_arr = _check_eps(eps)
        w_arr = self._check_w(w)
        _, sigma = self.projected_moments(w_arr)
        return _scalar_or_array(eps_arr * dual_norm(w_arr, p) / sigma)

    def downstream_sign(self, w: ArrayLike) -> int:
        """The optimal downstream classifier ``h*(z) = s·z``: ``s = +1`` if ``wᵀθ ≥ 0`` else ``-1`` (for every ε)."""
        m, _ = self.projected_moments(w)
        return 1 if m >= 0 else -1

    def represent(self, x: ArrayLike, w: ArrayLike) -> np.ndarray:
        """``g(x) = sgn(wᵀx)`` with ``sgn(0) = +1``; ``x`` of shape ``(n, d)`` → int64 array of shape ``(n,)``."""
        return np.where(self._check_x(x) @ self._check_w(w) >= 0, 1, -1).astype(np.int64)

    def predict(self, x: ArrayLike, w: ArrayLike) -> np.ndarray:
        """``f*(x) = h*(g(x))`` in {-1, +1}, shape ``(n,)``."""
        return self.downstream_sign(w) * self.represent(x, w)

    # ---------------------------------------------------------------------------- optimal transport maps
    def adversarial_transport(
        self, x: ArrayLike, y: ArrayLike, w: ArrayLike, eps: float, p: object
    ) -> np.ndarray:
        """Per-sample worst-case perturbation of ``f*``: ``x' = x - ε·y·s·u`` (Lemma 3.3's transport map).

        ``u`` is the Hölder-optimal unit-ℓp direction for ``w`` and ``s`` the downstream sign, so each
        ``y·s·wᵀx`` drops by exactly ``ε‖w‖_q`` — the most any point of the ℓp ball can achieve. The pairs
        ``(x, x')`` are a coupling with ``‖x' - x‖_p = ε``, so ``law(x') ∈ B_W∞(μ_X, ε)`` and the risk of ``f*`` on
        ``x'`` equals ``AdvRisk_ε(f*)``. Returns a new array of shape ``(n, d)``.
        """
        x_arr = self._check_x(x)
        y_arr = np.asarray(y)
        if y_arr.shape != (x_arr.shape[0],) or not np.isin(y_arr, (-1, 1)).all():
            raise ValueError(f"y must have shape ({x_arr.shape[0]},) with labels in {{-1, +1}}")
        eps_value = float(_check_eps(eps))
        u = holder_direction(self._check_w(w), p)
        return x_arr - eps_value * (self.downstream_sign(w) * y_arr)[:, None] * u[None, :]

    def worst_case_transport(self, x: ArrayLike, w: ArrayLike, eps: float, p: object) -> np.ndarray:
        """The label-free transport ``x' = x - ε·u`` attaining the worst-case MI: ``P[g(X') = 1] = 1/2 - P/2``.

        (``x + ε·u`` attains the other end, ``1/2 + P/2``, with the same entropy.) Returns a new ``(n, d)`` array.
        """
        x_arr = self._check_x(x)
        eps_value = float(_check_eps(eps))
        return x_arr - eps_value * holder_direction(self._check_w(w), p)[None, :]

    # ------------------------------------------------------------------------------------ exact quantities
    def _ab(self, w: ArrayLike, eps: ArrayLike, p: object) -> tuple[float, np.ndarray]:
        parse_p(p)
        return self.standardized_margin(w), np.asarray(self.perturbation_budget(w, eps, p))

    def flip_probability_width(self, w: ArrayLike, eps: ArrayLike, p: object) -> float | np.ndarray:
        """``P = Φ(a + b) - Φ(a - b)``: the width of the interval that ``P[g(X') = 1]`` sweeps over the W∞ ball."""
        a, b = self._ab(w, eps, p)
        return _scalar_or_array(normal_interval_probability(a - b, a + b))

    def positive_probability_range(
        self, w: ArrayLike, eps: ArrayLike, p: object
    ) -> tuple[float | np.ndarray, float | np.ndarray]:
        """``(min, max)`` of ``P[g(X') = 1]`` over ``law(X') ∈ B_W∞(μ_X, ε)``: ``1/2 ∓ P/2``.

        The minimum is ``P[wᵀx ≥ ε‖w‖_q] = (Φ(a - b) + Φ(-a - b)) / 2``, computed in that form for accuracy.
        """
        a, b = self._ab(w, eps, p)
        low = 0.5 * (ndtr(a - b) + ndtr(-a - b))
        return _scalar_or_array(low), _scalar_or_array(1.0 - low)

    def mutual_information(self, w: ArrayLike) -> float:
        """``I(X; g(X)) = H(g(X)) = H2(P[wᵀX ≥ 0])`` in nats; equals ``log 2`` because the mixture is symmetric."""
        m, sigma = self.projected_moments(w)
        positive = 0.5 * (ndtr(m / sigma) + ndtr(-m / sigma))
        return float(binary_entropy(positive))

    def worst_case_mutual_information(self, w: ArrayLike, eps: ArrayLike, p: object) -> float | np.ndarray:
        """``inf_{μ' ∈ B_W∞(μ_X, ε)} I(X'; g(X')) = H2(1/2 - P/2)`` in nats."""
        low, _ = self.positive_probability_range(w, eps, p)
        return _scalar_or_array(np.asarray(binary_entropy(low)))

    def representation_vulnerability(self, w: ArrayLike, eps: ArrayLike, p: object) -> float | np.ndarray:
        """``RV_ε(g) = I(X; g(X)) - worst-case MI = log 2 - H2(1/2 - P/2)`` (Definition 3.1), in nats."""
        width = np.minimum(np.asarray(self.flip_probability_width(w, eps, p)), 1.0)
        return _scalar_or_array(np.asarray(binary_entropy_deficit(width)))

    def risk(self, w: ArrayLike) -> float:
        """Standard risk of ``f* = h*∘g``: ``Φ(-a)``."""
        return float(ndtr(-self.standardized_margin(w)))

    def adversarial_risk(self, w: ArrayLike, eps: ArrayLike, p: object) -> float | np.ndarray:
        """``AdvRisk_ε(f*) = Φ(b - a)`` (Definition 2.3); ``f*`` minimises it over ``h ∈ {z, -z}``."""
        a, b = self._ab(w, eps, p)
        return _scalar_or_array(ndtr(b - a))

    def adversarial_gap(self, w: ArrayLike, eps: ArrayLike, p: object) -> float | np.ndarray:
        """``AG_ε(f*) = AdvRisk_ε(f*) - Risk(f*) = Φ(a) - Φ(a - b)``."""
        a, b = self._ab(w, eps, p)
        return _scalar_or_array(normal_interval_probability(a - b, a + 0.0 * b))

    def theorem_3_2_bounds(
        self, w: ArrayLike, eps: ArrayLike, p: object, form: Literal["corrected", "printed"] = "corrected"
    ) -> tuple[float | np.ndarray, float | np.ndarray]:
        """Theorem 3.2's ``(lower, upper)`` bounds on ``RV_ε(g)`` from ``AG_ε(f*)``; see
        :func:`theorem_3_2_bounds_from_gap` for the two forms and the cap at ``log 2``."""
        _check_form(form)
        return theorem_3_2_bounds_from_gap(self.adversarial_gap(w, eps, p), form)

