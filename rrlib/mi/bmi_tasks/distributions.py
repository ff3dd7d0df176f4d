"""Base distributions of the bmi benchmark, each with its closed-form mutual information in nats.

* :class:`MultinormalTask` – jointly Gaussian (X, Y) with a given covariance (bmi: ``SplitMultinormal`` and
  ``BivariateNormalSampler`` in ``src/bmi/samplers/_splitmultinormal.py``);
* :class:`StudentTTask` – multivariate Student-t (bmi: ``SplitStudentT`` in ``src/bmi/samplers/_split_student_t.py``);
* :class:`AdditiveUniformTask` – ``Y = X + N`` with uniform X and N (bmi: ``AdditiveUniformSampler`` in
  ``src/bmi/samplers/_additive_uniform.py``).

Also the covariance matrices of bmi's dense and 2-pair ("sparse") Gaussian tasks
(``src/bmi/benchmark/tasks/multinormal.py``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import digamma, gammaln

from rrlib.mi.bmi_tasks.task import Task


def gaussian_mi(covariance: np.ndarray, dim_x: int) -> float:
    """``I(X; Y) = (log det S_XX + log det S_YY - log det S) / 2`` for a joint Gaussian with covariance ``S``.

    bmi evaluates the same expression as ``h(X) + h(Y) - h(X, Y)`` and clips it at 0.
    """
    cov = np.asarray(covariance, dtype=np.float64)
    logdet = {}
    for key, block in (("x", cov[:dim_x, :dim_x]), ("y", cov[dim_x:, dim_x:]), ("xy", cov)):
        sign, value = np.linalg.slogdet(block)
        if sign <= 0:
            raise ValueError(f"covariance block {key!r} is not positive definite")
        logdet[key] = value
    return max(0.0, 0.5 * (logdet["x"] + logdet["y"] - logdet["xy"]))


def dense_covariance(dim_x: int, dim_y: int, off_diag: float = 0.5) -> np.ndarray:
    """bmi's dense task: unit variances and the same correlation ``off_diag`` between every two coordinates."""
    d = dim_x + dim_y
    return np.full((d, d), float(off_diag)) + (1.0 - off_diag) * np.eye(d)


def sparse_correlation(dim_x: int, dim_y: int, n_interacting: int = 2, strength: float = 2.0) -> np.ndarray:
    """bmi's sparse ("2-pair" for ``n_interacting=2``) task: ``corr(X_i, Y_i) = s^2 / (1 + s^2)`` for ``i < k``.

    bmi builds it from a latent-variable model (``GaussianLVMParametrization`` with alpha = beta = 0 and
    lambda = eta = ``strength``, noise epsilon = 1): ``X_i = s Z_i + E_i`` and ``Y_i = s Z_i + F_i`` for the first
    ``k`` coordinates, ``X_i = s V_i + E_i`` (and likewise for Y) for the rest, all latents i.i.d. N(0, 1). Every
    coordinate then has variance ``1 + s^2`` and the only non-zero covariances are ``cov(X_i, Y_i) = s^2``; bmi
    uses the correlation matrix. With s = 2 each of the two pairs has correlation 0.8.
    """
    if not 0 <= n_interacting <= min(dim_x, dim_y):
        raise ValueError(f"n_interacting={n_interacting} must lie in [0, min(dim_x, dim_y)]")
    rho = strength**2 / (1.0 + strength**2)
    corr = np.eye(dim_x + dim_y)
    for i in range(n_interacting):
        corr[i, dim_x + i] = corr[dim_x + i, i] = rho
    return corr


class MultinormalTask(Task):
    """Zero-mean jointly Gaussian (X, Y) with covariance ``covariance`` (X first)."""

    def __init__(
        self,
        task_id: str,
        task_name: str,
        dim_x: int,
        dim_y: int,
        covariance: np.ndarray,
        params: dict[str, Any] | None = None,
    ):
        super().__init__(task_id, task_name, dim_x, dim_y, params)
        self.covariance = np.array(covariance, dtype=np.float64)
        if self.covariance.shape != (dim_x + dim_y,) * 2 or not np.allclose(self.covariance, self.covariance.T):
            raise ValueError(f"covariance must be a symmetric {dim_x + dim_y}x{dim_x + dim_y} matrix")
        self._cholesky = np.linalg.cholesky(self.covariance)
        self._mi = gaussian_mi(self.covariance, dim_x)

    @property
    def mutual_information(self) -> float:
        return self._mi

    def _draw(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        xy = rng.standard_normal((n, self.dim_x + self.dim_y)) @ self._cholesky.T
        return xy[:, : self.dim_x], xy[:, self.dim_x :]


class BivariateNormalTask(MultinormalTask):
    """Standard bivariate normal with correlation ``rho``: ``I = -log(1 - rho^2) / 2`` (bmi's formula for it)."""

    def __init__(self, task_id: str, task_name: str, correlation: float):
        if not -1.0 < correlation < 1.0:
            raise ValueError(f"correlation must lie in (-1, 1), got {correlation}")
        cov = np.array([[1.0, correlation], [correlation, 1.0]])
        super().__init__(task_id, task_name, 1, 1, cov, {"gaussian_correlation": correlation})
        self._mi = -0.5 * float(np.log1p(-(correlation**2)))


def student_t_entropy(dim: int, df: float) -> float:
    """Differential entropy (nats) of the standard ``dim``-variate Student-t with ``df`` degrees of freedom.

    ``h = log G(df/2) - log G((df + k)/2) + (k/2) log(df pi) + ((df + k)/2) (psi((df + k)/2) - psi(df/2))``,
    Eq. (7) of Arellano-Valle, Contreras-Reyes and Genton (2013), as used by bmi's ``_differential_entropy``.
    """
    half = 0.5 * (df + dim)
    return float(
        gammaln(0.5 * df) - gammaln(half) + 0.5 * dim * np.log(df * np.pi) + half * (digamma(half) - digamma(0.5 * df))
    )


def student_t_mi_correction(dim_x: int, dim_y: int, df: float) -> float:
    """The part of a Student-t's MI that does not depend on the dispersion: ``h_x + h_y - h_xy`` of standard ones."""
    return student_t_entropy(dim_x, df) + student_t_entropy(dim_y, df) - student_t_entropy(dim_x + dim_y, df)


class StudentTTask(MultinormalTask):
    """Multivariate Student-t: ``(X, Y) = G / sqrt(W / df)`` with ``G ~ N(0, dispersion)``, ``W ~ chi^2(df)``.

    ``I(X; Y)`` = (MI of the Gaussian with covariance ``dispersion``) + :func:`student_t_mi_correction`; for
    the identity dispersion of bmi's ``student-identity`` tasks the first term is 0, yet X and Y are dependent
    through the shared W.
    """

    def __init__(self, task_id: str, task_name: str, dim_x: int, dim_y: int, df: int, dispersion: np.ndarray):
        if df <= 0:
            raise ValueError(f"degrees of freedom must be positive, got {df}")
        super().__init__(task_id, task_name, dim_x, dim_y, dispersion, {"dof": df})
        self.df = df
        self._mi = gaussian_mi(self.covariance, dim_x) + student_t_mi_correction(dim_x, dim_y, df)

    @property
    def dispersion(self) -> np.ndarray:
        """The scale matrix (not the covariance, which is ``df / (df - 2)`` times it for ``df > 2``)."""
        return self.covariance

    def _draw(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        g = rng.standard_normal((n, self.dim_x + self.dim_y)) @ self._cholesky.T
        w = rng.chisquare(self.df, size=n)
        xy = g / np.sqrt(w / self.df)[:, None]
        return xy[:, : self.dim_x], xy[:, self.dim_x :]


def additive_uniform_mi(epsilon: float) -> float:
    """MI of ``X ~ U(0, 1)``, ``Y = X + N``, ``N ~ U(-eps, eps)``: ``eps - log(2 eps)`` if ``eps <= 1/2``, else
    ``1 / (4 eps)``.

    ``I = h(Y) - h(N)`` with ``h(N) = log(2 eps)``. Y's density is a trapezoid: for ``eps <= 1/2`` of height 1
    with linear ramps of width ``2 eps`` (``h(Y) = eps``), for ``eps > 1/2`` of height ``1 / (2 eps)`` with ramps of
    width 1 (``h(Y) = log(2 eps) + 1 / (4 eps)``). bmi states the result in ``AdditiveUniformSampler``.
    """
    if epsilon <= 0:
        raise ValueError(f"epsilon must be positive, got {epsilon}")
    return 0.25 / epsilon if epsilon > 0.5 else float(epsilon - np.log(2.0 * epsilon))


class AdditiveUniformTask(Task):
    """``X ~ Uniform(0, 1)``, ``N ~ Uniform(-epsilon, epsilon)`` independent, ``Y = X + N``; 1 x 1."""

    def __init__(self, task_id: str, task_name: str, epsilon: float):
        super().__init__(task_id, task_name, 1, 1, {"epsilon": epsilon})
        self.epsilon = float(epsilon)
        self._mi = additive_uniform_mi(self.epsilon)

    @property
    def mutual_information(self) -> float:
        return self._mi

    def _draw(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        x = rng.uniform(0.0, 1.0, size=(n, 1))
        noise = rng.uniform(-self.epsilon, self.epsilon, size=(n, 1))
        return x, x + noise
