"""Distributions with known mutual information, for checking MI estimators against the truth.

Every distribution here offers the same four things:

* ``mi`` – the exact mutual information ``I(X; Z)`` in **nats**;
* ``sample(n, generator)`` – ``n`` joint pairs ``(x, z)`` drawn with an explicit ``torch.Generator`` (the
  samples live on the generator's device);
* ``log_ratio(x, z)`` – the true log density ratio ``log p(x, z) / (p(x) p(z))`` for *matched* rows;
* ``oracle_scores(x, z)`` – the ``(n, n)`` matrix ``S[i, j] = log p(x_i, z_j) / (p(x_i) p(z_j))``.
  Fed to a bound of :mod:`rrlib.mi.bounds` this is the *oracle critic*: the best critic any network could
  learn (up to the constant shift that each bound's optimum needs, see ``rrlib.mi.bounds.Bound.oracle_shift``).

Distributions:

* :class:`CorrelatedGaussian` – ``x ~ N(0, I_d)``, ``z = ρ x + sqrt(1 − ρ²) ε`` with ``ε ~ N(0, I_d)``;
  ``I = −d/2 · log(1 − ρ²)`` (Poole et al. 2019; Song & Ermon 2020). With ``cubic=True`` the observed ``z`` is
  ``z³`` (element-wise): an invertible map, so the MI is unchanged but the critic's job is harder.
* :class:`DiscreteJoint` – any strictly positive joint probability table; samples are one-hot vectors.
  :func:`symmetric_channel` builds the uniform-input ``k``-ary symmetric channel.

>>> g = CorrelatedGaussian.from_mi(2.0, dim=20)
>>> round(g.mi, 6)
2.0
>>> x, z = g.sample(8, torch.Generator().manual_seed(0))
>>> g.oracle_scores(x, z).shape
torch.Size([8, 8])
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import torch

from rrlib.validation import check_bool, check_int, check_paired_samples

__all__ = [
    "CorrelatedGaussian",
    "DeterministicCode",
    "DiscreteJoint",
    "KnownMIDistribution",
    "mi_from_rho",
    "rho_from_mi",
    "symmetric_channel",
]


class KnownMIDistribution(Protocol):
    """What an estimator check needs from a distribution with known MI."""

    @property
    def mi(self) -> float: ...

    def sample(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]: ...

    def log_ratio(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor: ...

    def oracle_scores(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor: ...


def mi_from_rho(rho: float, dim: int) -> float:
    """MI (nats) of ``d`` independent pairs of unit Gaussians with correlation ``ρ``: ``−d/2 · log(1 − ρ²)``.

    >>> round(mi_from_rho(0.5, 1), 6)
    0.143841
    """
    _check_dim(dim)
    if not isinstance(rho, (int, float)) or not -1.0 < float(rho) < 1.0:
        raise ValueError(f"rho must be a number in the open interval (-1, 1), got {rho!r}")
    return -0.5 * dim * math.log1p(-float(rho) ** 2)


def rho_from_mi(mi: float, dim: int) -> float:
    """The non-negative correlation ``ρ = sqrt(1 − exp(−2 I / d))`` giving MI ``I`` nats in dimension ``d``.

    >>> round(mi_from_rho(rho_from_mi(4.0, 20), 20), 9)
    4.0
    """
    _check_dim(dim)
    if not isinstance(mi, (int, float)) or not math.isfinite(mi) or mi < 0:
        raise ValueError(f"mi must be a finite non-negative number of nats, got {mi!r}")
    return math.sqrt(-math.expm1(-2.0 * float(mi) / dim))


def _check_dim(dim: int) -> None:
    check_int("dim", dim, 1, what="a positive integer")


def _check_n(n: int) -> None:
    check_int("n (number of samples)", n, 1, what="a positive integer")


def _check_generator(generator: torch.Generator) -> None:
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator (see rrlib.runtime.torch_generator), got {generator!r}")


@dataclass(frozen=True)
class CorrelatedGaussian:
    """``x ~ N(0, I_d)``, ``z = ρ x + sqrt(1 − ρ²) ε`` (optionally observed as ``z³``); ``I = −d/2 log(1 − ρ²)``.

    The log density ratio of one pair is
    ``log r(x, z) = Σ_k [ −½ log(1 − ρ²) − (z_k − ρ x_k)² / (2(1 − ρ²)) + z_k² / 2 ]``
    (computed on ``cbrt(z)`` in the cubic case: an invertible per-coordinate map leaves the ratio unchanged,
    the Jacobians of ``p(x, z)`` and ``p(z)`` cancel). Under the product of marginals ``q = p(x)p(z)``,
    ``E_q[r] = 1`` and ``E_q[r²] = (1 − ρ²)^{−d} = e^{2I}``: the variance of the partition terms of DV and NWJ
    grows like ``e^{2I}``.
    """

    dim: int
    rho: float
    cubic: bool = False

    def __post_init__(self) -> None:
        _check_dim(self.dim)
        mi_from_rho(self.rho, self.dim)  # validates rho
        check_bool("cubic", self.cubic)

    @classmethod
    def from_mi(cls, mi: float, dim: int, *, cubic: bool = False) -> CorrelatedGaussian:
        """The Gaussian pair with exactly ``mi`` nats in dimension ``dim``."""
        return cls(dim=dim, rho=rho_from_mi(mi, dim), cubic=cubic)

    @property
    def mi(self) -> float:
        """Exact ``I(X; Z)`` in nats."""
        return mi_from_rho(self.rho, self.dim)

    def sample(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` joint pairs, float32 tensors of shape ``(n, dim)`` on ``generator.device``."""
        _check_n(n)
        _check_generator(generator)
        x = torch.randn(n, self.dim, generator=generator, device=generator.device)
        eps = torch.randn(n, self.dim, generator=generator, device=generator.device)
        z = self.rho * x + math.sqrt(1.0 - self.rho**2) * eps
        return x, (z**3 if self.cubic else z)

    def _latent(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sign(z) * z.abs().pow(1.0 / 3.0) if self.cubic else z

    def log_ratio(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """True ``log p(x_i, z_i) / (p(x_i) p(z_i))`` for each row: shape ``(n,)``, nats."""
        check_paired_samples(x, z, self.dim, self.dim)
        x64, z64 = x.double(), self._latent(z.double())
        one_m = 1.0 - self.rho**2
        per_dim = -0.5 * math.log(one_m) - (z64 - self.rho * x64) ** 2 / (2 * one_m) + z64**2 / 2
        return per_dim.sum(dim=1).to(x.dtype)

    def oracle_scores(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """``S[i, j] = log r(x_i, z_j)``: shape ``(n, n)``, diagonal = joint pairs (computed in float64)."""
        check_paired_samples(x, z, self.dim, self.dim)
        x64, z64 = x.double(), self._latent(z.double())
        one_m = 1.0 - self.rho**2
        sq = torch.cdist(self.rho * x64, z64, compute_mode="donot_use_mm_for_euclid_dist") ** 2
        scores = -0.5 * self.dim * math.log(one_m) - sq / (2 * one_m) + (z64**2).sum(dim=1)[None, :] / 2
        return scores.to(x.dtype)


@dataclass(frozen=True)
class DiscreteJoint:
    """A joint distribution of two discrete variables given by a strictly positive table ``pmf[a, b]``.

    Samples are one-hot float vectors ``x ∈ {0,1}^{kx}``, ``z ∈ {0,1}^{kz}`` so that the same critics as for
    continuous data apply. ``I = Σ_ab p(a,b) log p(a,b) / (p(a) p(b))``. Strict positivity keeps every oracle
    score finite (a zero cell would give a score of −∞, which the bounds reject).
    """

    pmf: np.ndarray = field(repr=False)

    def __post_init__(self) -> None:
        table = np.asarray(self.pmf, dtype=np.float64)
        if table.ndim != 2 or min(table.shape) < 2:
            raise ValueError(f"pmf must be a 2-d table with at least 2 rows and 2 columns, got shape {table.shape}")
        if not np.all(np.isfinite(table)) or np.any(table <= 0):
            raise ValueError("pmf must be strictly positive and finite in every cell (zero cells give -inf scores)")
        if abs(table.sum() - 1.0) > 1e-9:
            raise ValueError(f"pmf must sum to 1, got {table.sum()!r}")
        table = table.copy()
        table.setflags(write=False)
        object.__setattr__(self, "pmf", table)

    @property
    def shape(self) -> tuple[int, int]:
        return self.pmf.shape  # type: ignore[return-value]

    @property
    def log_ratio_table(self) -> np.ndarray:
        """``log p(a, b) − log p(a) − log p(b)`` for every cell (float64, nats)."""
        px = self.pmf.sum(axis=1, keepdims=True)
        pz = self.pmf.sum(axis=0, keepdims=True)
        return np.log(self.pmf) - np.log(px) - np.log(pz)

    @property
    def mi(self) -> float:
        """Exact ``I(X; Z)`` in nats."""
        return float(np.sum(self.pmf * self.log_ratio_table))

    def sample(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` joint pairs as one-hot float32 tensors ``(n, kx)`` and ``(n, kz)`` on ``generator.device``."""
        _check_n(n)
        _check_generator(generator)
        kx, kz = self.shape
        probs = torch.tensor(self.pmf.reshape(-1).copy(), dtype=torch.float64, device=generator.device)
        cells = torch.multinomial(probs, n, replacement=True, generator=generator)
        x = torch.nn.functional.one_hot(cells // kz, kx).float()
        z = torch.nn.functional.one_hot(cells % kz, kz).float()
        return x, z

    def _indices(self, x: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        kx, kz = self.shape
        check_paired_samples(x, z, kx, kz)
        for name, t in (("x", x), ("z", z)):
            if not bool(((t == 0) | (t == 1)).all()) or not bool((t.sum(dim=1) == 1).all()):
                raise ValueError(f"{name} must be one-hot rows (as returned by sample)")
        return x.argmax(dim=1), z.argmax(dim=1)

    def log_ratio(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """True log density ratio of each matched row: shape ``(n,)``, nats."""
        a, b = self._indices(x, z)
        table = torch.as_tensor(self.log_ratio_table, dtype=x.dtype, device=x.device)
        return table[a, b]

    def oracle_scores(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """``S[i, j] = log p(a_i, b_j) / (p(a_i) p(b_j))``: shape ``(n, n)``."""
        a, b = self._indices(x, z)
        table = torch.as_tensor(self.log_ratio_table, dtype=x.dtype, device=x.device)
        return table[a[:, None], b[None, :]]


def symmetric_channel(k: int, flip: float) -> DiscreteJoint:
    """Uniform ``X`` on ``k`` symbols sent through a ``k``-ary symmetric channel with error probability ``flip``.

    ``Z = X`` with probability ``1 − flip``, otherwise one of the other ``k − 1`` symbols uniformly, so
    ``I = log k − H₂(flip) − flip · log(k − 1)`` nats.

    >>> round(symmetric_channel(2, 0.11).mi, 4)
    0.3466
    """
    check_int("k", k, 2)
    if not isinstance(flip, (int, float)) or not 0.0 < float(flip) < 1.0:
        raise ValueError(f"flip must be in the open interval (0, 1) (so every cell is positive), got {flip!r}")
    table = np.full((k, k), float(flip) / (k * (k - 1)))
    np.fill_diagonal(table, (1.0 - float(flip)) / k)
    return DiscreteJoint(table)


@dataclass(frozen=True)
class DeterministicCode:
    """``x ~ N(0, I_d)`` and the *deterministic* code ``z = g(x) = x W`` with a fixed ``d × k`` matrix ``W``.

    For any deterministic ``g`` whose output is continuously distributed (here: the identity by default, or any
    ``W ≠ 0``), ``I(X; g(X)) = H(g(X))`` is the discrete entropy of a continuous variable, i.e. ``∞``; the pair has
    no joint density with respect to ``p(x) p(z)``. This is the situation of the paper's "logit-layer MI" (a
    deterministic network output). There is no density ratio and hence no oracle critic; an estimator's output
    here measures its own ceiling (critic capacity, batch size, training time), not a property of ``g``.
    """

    dim: int
    weight: torch.Tensor | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        _check_dim(self.dim)
        if self.weight is not None:
            w = self.weight
            if not isinstance(w, torch.Tensor) or w.ndim != 2 or w.shape[0] != self.dim:
                raise ValueError(f"weight must be a ({self.dim}, k) tensor, got {getattr(w, 'shape', w)!r}")
            object.__setattr__(self, "weight", w.detach().clone())

    @property
    def mi(self) -> float:
        """``I(X; g(X)) = ∞`` for a deterministic injective continuous code."""
        return math.inf

    @property
    def z_dim(self) -> int:
        return self.dim if self.weight is None else int(self.weight.shape[1])

    def sample(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` pairs ``(x, g(x))`` on ``generator.device``."""
        _check_n(n)
        _check_generator(generator)
        x = torch.randn(n, self.dim, generator=generator, device=generator.device)
        z = x.clone() if self.weight is None else x @ self.weight.to(x.device)
        return x, z
