"""Injective maps applied to one side of a task's sample; they leave the mutual information unchanged.

If ``f`` and ``g`` are injective and measurable, ``I(f(X); g(Y)) = I(X; Y)``. The bmi benchmark builds most of its
non-Gaussian tasks by pushing a Gaussian (or Student-t) sample through such maps. Each map here has a ``forward``
(what the task applies) and an ``inverse`` (so the tests can check injectivity on samples by a round trip).

All maps act on arrays of shape ``(n, d)`` and return float64 arrays.

Reference: bmi ``src/bmi/transforms/simple.py`` (normal CDF, half-cube, Swiss roll), ``src/bmi/transforms/_rotate.py``
(spiral), ``src/bmi/transforms/_invert_cdf.py`` and ``src/bmi/benchmark/tasks/bimodal_gaussians.py`` (bimodal
marginals), ``src/bmi/benchmark/tasks/wiggly.py`` and ``src/bmi/benchmark/tasks/asinh.py``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

import numpy as np
from scipy.special import log_ndtr, ndtr, ndtri

FloatArray = np.ndarray
ScalarMap = Callable[[FloatArray], FloatArray]

# Bisection halves a bracket; 64 halvings shrink any bracket used here (width <= 5) to 5 / 2**64 ~ 3e-19, an absolute
# error below the float64 spacing of any root larger than ~1e-3 in magnitude.
_BISECTION_STEPS = 64


class Transform(ABC):
    """A map applied row by row to samples of shape ``(n, dim_in)``; injective, so MI-preserving."""

    #: short name used in task ids of the form ``f"{name}-{base_id}"``.
    name: str = ""
    #: True when the map acts on each coordinate separately with one strictly increasing function.
    coordinatewise: bool = False

    def output_dim(self, dim_in: int) -> int:
        """Dimension of the output for an input of dimension ``dim_in`` (the same unless the map embeds)."""
        return dim_in

    @abstractmethod
    def forward(self, v: FloatArray) -> FloatArray:
        """Apply the map to every row of ``v``."""

    @abstractmethod
    def inverse(self, w: FloatArray) -> FloatArray:
        """Undo :meth:`forward` (on its image)."""


def _bisect_increasing(
    below: Callable[[FloatArray], FloatArray], lo: FloatArray, hi: FloatArray, steps: int = _BISECTION_STEPS
) -> FloatArray:
    """Elementwise root of an increasing function given by ``below(t) = (f(t) < target)``, bracketed by lo, hi."""
    lo = np.array(lo, dtype=np.float64)
    hi = np.array(hi, dtype=np.float64)
    for _ in range(steps):
        mid = 0.5 * (lo + hi)
        go_right = below(mid)
        lo = np.where(go_right, mid, lo)
        hi = np.where(go_right, hi, mid)
    return 0.5 * (lo + hi)


class Elementwise(Transform):
    """The same strictly increasing scalar function applied to every coordinate."""

    coordinatewise = True

    def __init__(self, name: str, forward: ScalarMap, inverse: ScalarMap):
        self.name = name
        self._forward = forward
        self._inverse = inverse

    def forward(self, v: FloatArray) -> FloatArray:
        return np.asarray(self._forward(np.asarray(v, dtype=np.float64)), dtype=np.float64)

    def inverse(self, w: FloatArray) -> FloatArray:
        return np.asarray(self._inverse(np.asarray(w, dtype=np.float64)), dtype=np.float64)

    def __repr__(self) -> str:
        return f"Elementwise({self.name!r})"


def normal_cdf() -> Elementwise:
    """Standard normal CDF ``Phi`` on each coordinate: turns N(0, 1) marginals into Uniform(0, 1) ones."""
    return Elementwise("normal_cdf", ndtr, ndtri)


def _half_cube(v: FloatArray) -> FloatArray:
    return v * np.sqrt(np.abs(v))


def _half_cube_inverse(w: FloatArray) -> FloatArray:
    return np.sign(w) * np.abs(w) ** (2.0 / 3.0)


def half_cube() -> Elementwise:
    """Signed power ``x |x|^(1/2)`` on each coordinate (heavier tails than the input)."""
    return Elementwise("half_cube", _half_cube, _half_cube_inverse)


def asinh() -> Elementwise:
    """``arcsinh`` on each coordinate (log-like: shortens the heavy tails of Student-t samples)."""
    return Elementwise("asinh", np.arcsinh, np.sinh)


class Wiggly(Elementwise):
    """``x + sum_k a_k sin(b_k x + c_k)`` on each coordinate; strictly increasing when ``sum_k |a_k b_k| < 1``.

    bmi uses two such maps in ``wiggly.py``: ``wiggly_x`` on X and ``wiggly_y`` on Y (see :func:`wiggly_x`).
    """

    def __init__(self, terms: Sequence[tuple[float, float, float]]):
        self.terms = tuple((float(a), float(b), float(c)) for a, b, c in terms)
        slope_loss = sum(abs(a * b) for a, b, _ in self.terms)
        if slope_loss >= 1.0:
            raise ValueError(f"sum |a_k b_k| = {slope_loss} >= 1: the wiggly map would not be monotone.")
        #: |f(x) - x| never exceeds this, so f^{-1}(w) lies in [w - reach, w + reach].
        self.reach = sum(abs(a) for a, _, _ in self.terms)
        super().__init__("wiggly", self._apply, self._invert)

    def _apply(self, v: FloatArray) -> FloatArray:
        out = np.array(v, dtype=np.float64)
        for a, b, c in self.terms:
            out = out + a * np.sin(b * v + c)
        return out

    def derivative(self, v: FloatArray) -> FloatArray:
        """``f'(v) = 1 + sum_k a_k b_k cos(b_k v + c_k)``; at least ``1 - sum_k |a_k b_k| > 0``."""
        out = np.ones_like(np.asarray(v, dtype=np.float64))
        for a, b, c in self.terms:
            out = out + a * b * np.cos(b * v + c)
        return out

    def _invert(self, w: FloatArray) -> FloatArray:
        return _bisect_increasing(lambda t: self._apply(t) < w, w - self.reach, w + self.reach)

    def __repr__(self) -> str:
        return f"Wiggly({self.terms})"


def wiggly_x() -> Wiggly:
    """bmi's ``wiggly_x``: ``x + 0.4 sin(x) + 0.2 sin(1.7 x + 1) + 0.03 sin(3.3 x - 2.5)``."""
    return Wiggly([(0.4, 1.0, 0.0), (0.2, 1.7, 1.0), (0.03, 3.3, -2.5)])


def wiggly_y() -> Wiggly:
    """bmi's ``wiggly_y``: ``x - 0.4 sin(0.4 x) + 0.17 sin(1.3 x + 3.5) + 0.02 sin(4.3 x - 2.5)``."""
    return Wiggly([(-0.4, 0.4, 0.0), (0.17, 1.3, 3.5), (0.02, 4.3, -2.5)])


class GaussianToMixture(Elementwise):
    """Maps N(0, 1) coordinates to a mixture of unit-variance normals: ``v -> F_mix^{-1}(Phi(v))``.

    ``F_mix(t) = sum_k w_k Phi(t - m_k)``. bmi (``bimodal_gaussians.py``) applies ``normal_cdf`` and then a numerical
    inverse of ``F_mix`` (bisection on [-10, 10] in float32, so its samples are clipped to that interval, an event of
    probability ~2e-7 for X); this is the same map without the clipping, computed in one step: the equation
    ``F_mix(t) = Phi(v)`` is solved by bisection with both sides in log space (lower tails for ``v <= 0``, upper tails
    for ``v > 0``), so the far tails keep full float64 precision. The root lies in ``[v + min m, v + max m]``: at
    ``t = v + min m`` every term has ``Phi(t - m_k) <= Phi(v)``, so ``F_mix(t) <= Phi(v)``, and at ``t = v + max m``
    every term is ``>= Phi(v)``.
    """

    def __init__(self, weights: Sequence[float], means: Sequence[float]):
        w = np.asarray(weights, dtype=np.float64)
        if np.any(w <= 0) or abs(w.sum() - 1.0) > 1e-12:
            raise ValueError(f"mixture weights must be positive and sum to 1, got {list(weights)}")
        self.weights = w
        self.means = np.asarray(means, dtype=np.float64)
        super().__init__("gaussian_to_mixture", self._apply, self._invert)

    def log_cdf(self, t: FloatArray) -> FloatArray:
        """``log F_mix(t)``."""
        t = np.asarray(t, dtype=np.float64)[..., None]
        return np.logaddexp.reduce(np.log(self.weights) + log_ndtr(t - self.means), axis=-1)

    def log_sf(self, t: FloatArray) -> FloatArray:
        """``log (1 - F_mix(t))``."""
        t = np.asarray(t, dtype=np.float64)[..., None]
        return np.logaddexp.reduce(np.log(self.weights) + log_ndtr(self.means - t), axis=-1)

    def _apply(self, v: FloatArray) -> FloatArray:
        v = np.asarray(v, dtype=np.float64)
        out = np.empty_like(v)
        lower = v <= 0
        lo, hi = self.means.min(), self.means.max()
        # F_mix(t) < Phi(v), compared on the side of the distribution where both are small:
        # log F_mix(t) < log Phi(v) for v <= 0, log(1 - F_mix(t)) > log(1 - Phi(v)) = log Phi(-v) for v > 0.
        vl, vu = v[lower], v[~lower]
        log_pl, log_pu = log_ndtr(vl), log_ndtr(-vu)
        out[lower] = _bisect_increasing(lambda t: self.log_cdf(t) < log_pl, vl + lo, vl + hi)
        out[~lower] = _bisect_increasing(lambda t: self.log_sf(t) > log_pu, vu + lo, vu + hi)
        return out

    def _invert(self, t: FloatArray) -> FloatArray:
        log_f, log_s = self.log_cdf(t), self.log_sf(t)
        lower = log_f <= log_s  # F_mix(t) <= 1/2
        # Phi^{-1} of the smaller tail probability: ndtri stays accurate down to p ~ 1e-308, so neither tail saturates.
        return np.where(lower, ndtri(np.exp(log_f)), -ndtri(np.exp(log_s)))

    def __repr__(self) -> str:
        return f"GaussianToMixture(weights={self.weights.tolist()}, means={self.means.tolist()})"


def bimodal_x() -> GaussianToMixture:
    """X marginal of bmi's bimodal task: ``0.3 N(0, 1) + 0.7 N(5, 1)``."""
    return GaussianToMixture([0.3, 0.7], [0.0, 5.0])


def bimodal_y() -> GaussianToMixture:
    """Y marginal of bmi's bimodal task: ``0.5 N(-1, 1) + 0.5 N(3, 1)``."""
    return GaussianToMixture([0.5, 0.5], [-1.0, 3.0])


class Spiral(Transform):
    """``v -> R(speed * |v|^2) v``: rotation in the plane of coordinates (i, j) by an angle growing with ``|v|^2``.

    bmi's ``Spiral`` is ``expm(speed * G * |v|^2) @ v`` with ``G`` the so(n) generator having ``G[i, j] = -1`` and
    ``G[j, i] = 1``; that exponential is the plane rotation by ``theta = speed * |v|^2`` (``cos`` on the diagonal
    entries i and j, ``-sin`` at (i, j), ``sin`` at (j, i)), computed here in closed form. A rotation keeps ``|v|``,
    so the angle can be read off the output and undone: the map is a bijection of R^n.
    """

    def __init__(self, dim: int, i: int, j: int, speed: float):
        if not 0 <= i < j < dim:
            raise ValueError(f"need 0 <= i < j < dim, got i={i}, j={j}, dim={dim}")
        self.name = "spiral"
        self.dim, self.i, self.j, self.speed = dim, i, j, float(speed)

    def generator(self) -> FloatArray:
        """The scaled so(n) generator ``speed * G`` (for comparison with a matrix exponential)."""
        g = np.zeros((self.dim, self.dim))
        g[self.i, self.j], g[self.j, self.i] = -self.speed, self.speed
        return g

    def _rotate(self, v: FloatArray, sign: float) -> FloatArray:
        v = np.asarray(v, dtype=np.float64)
        if v.shape[-1] != self.dim:
            raise ValueError(f"spiral built for dimension {self.dim}, got samples of dimension {v.shape[-1]}")
        theta = sign * self.speed * np.einsum("nd,nd->n", v, v)
        c, s = np.cos(theta), np.sin(theta)
        out = v.copy()
        out[:, self.i] = c * v[:, self.i] - s * v[:, self.j]
        out[:, self.j] = s * v[:, self.i] + c * v[:, self.j]
        return out

    def forward(self, v: FloatArray) -> FloatArray:
        return self._rotate(v, +1.0)

    def inverse(self, w: FloatArray) -> FloatArray:
        return self._rotate(w, -1.0)

    def __repr__(self) -> str:
        return f"Spiral(dim={self.dim}, i={self.i}, j={self.j}, speed={self.speed})"


def spiral_pair(dim_x: int, dim_y: int, speed: float = 1.0) -> tuple[Spiral, Spiral]:
    """The two spirals of bmi's ``transform_spiral_task``: plane (0, 1) for X and (1, 2) for Y, speed / dim each."""
    if dim_x < 2 or dim_y < 3:
        raise ValueError(f"the spiral needs dim_x >= 2 and dim_y >= 3, got {dim_x} and {dim_y}")
    return Spiral(dim_x, 0, 1, speed / dim_x), Spiral(dim_y, 1, 2, speed / dim_y)


class SwissRoll(Transform):
    """Embeds [0, 1] in the plane: ``u -> (t cos t, t sin t) / 21`` with ``t = 1.5 pi (1 + 2 u)``.

    ``t`` runs over [1.5 pi, 4.5 pi] and the point's distance from the origin is ``t / 21``, so the map is injective
    (the inverse reads ``t`` off the norm). bmi: ``swissroll2d`` in ``transforms/simple.py``.
    """

    name = "swissroll"

    def output_dim(self, dim_in: int) -> int:
        if dim_in != 1:
            raise ValueError(f"the Swiss roll embeds a 1-dimensional variable, got dimension {dim_in}")
        return 2

    def forward(self, v: FloatArray) -> FloatArray:
        u = np.asarray(v, dtype=np.float64)[:, 0]
        t = 1.5 * np.pi * (1.0 + 2.0 * u)
        return np.stack([t * np.cos(t), t * np.sin(t)], axis=1) / 21.0

    def inverse(self, w: FloatArray) -> FloatArray:
        t = 21.0 * np.hypot(w[:, 0], w[:, 1])
        return ((t / (1.5 * np.pi) - 1.0) / 2.0)[:, None]

    def __repr__(self) -> str:
        return "SwissRoll()"
