"""Brute-force ground truth for Theorem 3.4 and Lemma 3.3 on small discrete problems.

A problem is a finite input space ``X = {0, …, N-1}`` with a metric given by its ε-neighbourhoods
(``neighbours[x, x'] = Δ(x, x') ≤ ε``), a joint table ``P[X = x, Y = y]`` over ``K`` labels, and a deterministic
representation ``g: X → Z = {0, …, M-1}`` (``codes[x] = g(x)``). Everything is computed exactly by enumeration:

- ``I(X; g(X)) = H(g(X))`` because ``g`` is deterministic, and likewise ``I(X'; g(X')) = H(g(X'))``.
- The ∞-Wasserstein ball ``B_W∞(μ_X, ε)`` is the set of laws ``μ'(x') = Σ_x μ(x) Q(x' | x)`` for kernels ``Q``
  supported on neighbourhoods. The law of ``g(X')`` is linear in ``Q`` and the entropy is concave, so the
  worst-case MI ``min H(g(X'))`` is attained at a vertex of that polytope. Points whose sets of reachable codes
  ``R(x) = {g(x') : x' ∈ B(x, ε)}`` coincide are pooled (their joint contribution ranges over
  ``μ(group)·simplex(R)``, whose vertices send the whole group to one code), and the vertices are enumerated.
- ``AdvRisk_ε(h∘g) = Σ_{x,y} P[x, y] · 1[∃ z ∈ R(x): h(z) ≠ y]`` (Definition 2.3) and ``inf_h`` over all
  ``K^M`` maps ``h: Z → Y`` by enumeration.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from rrlib.theory.information import LOG2, discrete_mutual_information, entropy
from rrlib.theory.risk_bounds import adversarial_risk_lower_bound

#: Refuse enumerations larger than this (vertices of the transport polytope, or maps h: Z → Y).
MAX_ENUMERATION = 2_000_000

__all__ = ["MAX_ENUMERATION", "DiscreteRobustnessProblem", "FanoCheck"]


@dataclass(frozen=True)
class FanoCheck:
    """Fano's inequality and data processing along one adversarial coupling ``(X, Y, X')`` (nats).

    With ``Z' = g(X')`` and a classifier ``h``, ``Y → X' → Z' → h(Z')`` is a Markov chain for *every* coupling, label
    -aware or not, because ``Z'`` is a function of ``X'``. Fano's inequality with uniform labels then gives
    ``P[h(Z') ≠ Y] ≥ 1 - (I(Y; Z') + log 2) / log K`` and data processing gives ``I(Y; Z') ≤ I(X'; Z') = H(Z')``.

    Attributes:
        error: ``P[h(Z') ≠ Y]`` under the coupling (for the optimal label-aware coupling: ``AdvRisk_ε(h∘g)``).
        label_information: ``I(Y; Z')``.
        code_information: ``I(X'; Z') = H(Z')`` (``≥`` the worst-case MI, since the law of ``X'`` is in the ball).
        fano_bound: ``1 - (I(Y; Z') + log 2) / log K`` (unclipped).
        data_processing_bound: ``1 - (H(Z') + log 2) / log K`` (unclipped), ``≤ fano_bound``.
    """

    error: float
    label_information: float
    code_information: float
    fano_bound: float
    data_processing_bound: float

    @property
    def slack(self) -> float:
        """``error - data_processing_bound``, which is ``≥ 0`` when Fano and data processing hold along the coupling."""
        return self.error - self.data_processing_bound


class DiscreteRobustnessProblem:
    """A finite robustness problem with exact worst-case MI and exact adversarial risks.

    Args:
        joint:
            ``(N, K)`` table ``P[X = x, Y = y]``, non-negative, summing to 1.
        neighbours:
            ``(N, N)`` boolean matrix, ``neighbours[x, x']`` true iff ``x'`` is in the ε-ball of ``x`` (must be
            reflexive: every point is in its own ball).
        codes:
            ``(N,)`` integers, ``codes[x] = g(x)`` in ``{0, …, n_codes - 1}``.
        n_codes:
            ``M = |Z|``; defaults to ``max(codes) + 1``.
    """

    def __init__(self, joint: ArrayLike, neighbours: ArrayLike, codes: ArrayLike, n_codes: int | None = None):
        table = np.array(joint, dtype=np.float64)
        if table.ndim != 2 or table.shape[1] < 2:
            raise ValueError(f"joint must be an (N, K) table with K >= 2 labels, got shape {table.shape}")
        if (table < 0).any() or not np.isclose(table.sum(), 1.0, atol=1e-9, rtol=0.0):
            raise ValueError(f"joint must be non-negative and sum to 1; sum is {table.sum()!r}")
        n_points = table.shape[0]
        graph = np.array(neighbours, dtype=bool)
        if graph.shape != (n_points, n_points):
            raise ValueError(f"neighbours must have shape ({n_points}, {n_points}), got {graph.shape}")
        if not graph.diagonal().all():
            raise ValueError("neighbours must be reflexive (x is in its own ε-ball)")
        code_arr = np.array(codes)
        if code_arr.shape != (n_points,) or not np.issubdtype(code_arr.dtype, np.integer) or (code_arr < 0).any():
            raise ValueError(f"codes must be {n_points} non-negative integers g(x), got {codes!r}")
        m = int(code_arr.max()) + 1 if n_codes is None else int(n_codes)
        if m <= int(code_arr.max()):
            raise ValueError(f"n_codes={n_codes!r} is too small for codes up to {int(code_arr.max())}")
        self.joint = table
        self.neighbours = graph
        self.codes = code_arr.astype(np.int64)
        self.n_codes = m
        # reachable[x, z]: some x' in B(x, ε) has g(x') = z
        self.reachable = np.zeros((n_points, m), dtype=bool)
        rows, cols = np.nonzero(graph)
        self.reachable[rows, self.codes[cols]] = True

    @classmethod
    def on_a_line(
        cls, joint: ArrayLike, positions: ArrayLike, eps: float, codes: ArrayLike, n_codes: int | None = None
    ) -> DiscreteRobustnessProblem:
        """Points at ``positions`` on the real line with ``Δ(x, x') = |x - x'|`` and radius ``eps ≥ 0``."""
        pos = np.asarray(positions, dtype=np.float64)
        if pos.ndim != 1:
            raise ValueError(f"positions must be 1-D, got shape {pos.shape}")
        if not math.isfinite(eps) or eps < 0:
            raise ValueError(f"eps must be finite and non-negative, got {eps!r}")
        graph = np.abs(pos[:, None] - pos[None, :]) <= eps + 1e-12
        return cls(joint, graph, codes, n_codes)

    @classmethod
    def random_on_a_line(
        cls,
        generator: np.random.Generator,
        *,
        n_points: int = 9,
        n_classes: int = 3,
        n_codes: int = 3,
        eps: float = 1.0,
        spread: float = 1.5,
        random_codes: bool = False,
    ) -> DiscreteRobustnessProblem:
        """A random problem on ``{0, …, n_points - 1}`` with uniform labels.

        Class ``y`` puts mass ``∝ exp(-(x - c_y)² / (2·spread²))·D`` on point ``x`` (centres ``c_y`` evenly spaced,
        ``D`` a Dirichlet(1) jitter); ``g`` is a monotone quantiser with random cut points, or random codes.
        """
        if not isinstance(generator, np.random.Generator):
            raise TypeError(f"generator must be a numpy.random.Generator, got {type(generator).__name__}")
        if n_points < 2 or n_classes < 2 or not 1 <= n_codes <= n_points:
            raise ValueError(f"need n_points >= 2, n_classes >= 2 and 1 <= n_codes <= n_points; got "
                             f"n_points={n_points}, n_classes={n_classes}, n_codes={n_codes}")
        x = np.arange(n_points, dtype=np.float64)
        centres = np.linspace(0, n_points - 1, n_classes + 2)[1:-1]
        weights = np.exp(-((x[:, None] - centres[None, :]) ** 2) / (2 * spread**2))
        weights = weights * generator.dirichlet(np.ones(n_points), size=n_classes).T
        joint = weights / weights.sum(axis=0, keepdims=True) / n_classes
        if random_codes:
            codes = generator.permutation(np.arange(n_points) % n_codes)
        else:
            cuts = np.sort(generator.choice(np.arange(1, n_points), size=n_codes - 1, replace=False))
            codes = np.searchsorted(cuts, x, side="right")
        return cls.on_a_line(joint, x, eps, codes, n_codes)

    # --------------------------------------------------------------------------------------------- sizes
    @property
    def n_points(self) -> int:
        return int(self.joint.shape[0])

    @property
    def n_classes(self) -> int:
        return int(self.joint.shape[1])

    @property
    def input_marginal(self) -> np.ndarray:
        """``μ_X``, shape ``(N,)``."""
        return self.joint.sum(axis=1)

    def labels_uniform(self, atol: float = 1e-9) -> bool:
        """Whether ``μ_Y`` is uniform (Theorem 3.4's assumption)."""
        return bool(np.allclose(self.joint.sum(axis=0), 1.0 / self.n_classes, atol=atol, rtol=0.0))

    # ----------------------------------------------------------------------------------------- information
    def mutual_information(self) -> float:
        """``I(X; g(X)) = H(g(X))`` in nats."""
        q = np.bincount(self.codes, weights=self.input_marginal, minlength=self.n_codes)
        return float(entropy(q / q.sum()))

    def mutual_information_under_kernel(self, kernel: ArrayLike) -> float:
        """``I(X'; g(X')) = H(g(X'))`` for ``X' ~ Σ_x μ(x) Q(· | x)``; ``kernel`` is ``(N, N)`` row-stochastic and
        supported on neighbourhoods (else ``ValueError``: the law would leave the W∞ ball)."""
        q_kernel = np.asarray(kernel, dtype=np.float64)
        if q_kernel.shape != (self.n_points, self.n_points):
            raise ValueError(f"kernel must have shape ({self.n_points}, {self.n_points}), got {q_kernel.shape}")
        if (q_kernel < 0).any() or not np.allclose(q_kernel.sum(axis=1), 1.0, atol=1e-9):
            raise ValueError("kernel must be non-negative with rows summing to 1")
        if (q_kernel[~self.neighbours] > 0).any():
            raise ValueError("kernel moves mass outside the ε-neighbourhoods (not in the W∞ ball)")
        perturbed = self.input_marginal @ q_kernel
        q = np.bincount(self.codes, weights=perturbed, minlength=self.n_codes)
        return float(entropy(q / q.sum()))

    def _groups(self) -> tuple[np.ndarray, list[np.ndarray]]:
        """Masses and reachable-code lists of the groups of points sharing the same reachable set."""
        keys, inverse = np.unique(self.reachable, axis=0, return_inverse=True)
        masses = np.bincount(inverse.ravel(), weights=self.input_marginal, minlength=keys.shape[0])
        return masses, [np.flatnonzero(row) for row in keys]

    def n_vertices(self) -> int:
        """How many vertices the worst-case-MI enumeration visits (product of reachable-set sizes over groups)."""
        _, options = self._groups()
        return int(np.prod([len(o) for o in options], dtype=np.float64))

    def worst_case(self) -> tuple[float, np.ndarray]:
        """``(min H(g(X')), law of g(X'))`` over the W∞ ball, by enumerating the polytope's vertices."""
        masses, options = self._groups()
        total = self.n_vertices()
        if total > MAX_ENUMERATION:
            raise ValueError(f"{total} vertices to enumerate exceeds MAX_ENUMERATION={MAX_ENUMERATION}")
        choices = np.array(list(itertools.product(*options)), dtype=np.int64).reshape(total, len(options))
        laws = np.zeros((total, self.n_codes))
        for group, mass in enumerate(masses):
            np.add.at(laws, (np.arange(total), choices[:, group]), mass)
        laws /= laws.sum(axis=1, keepdims=True)
        values = np.asarray(entropy(laws, axis=1))
        best = int(np.argmin(values))
        return float(values[best]), laws[best]

    def worst_case_mutual_information(self) -> float:
        """``inf_{μ' ∈ B_W∞(μ_X, ε)} I(X'; g(X'))`` in nats, exact."""
        return self.worst_case()[0]

    def representation_vulnerability(self) -> float:
        """``RV_ε(g) = I(X; g(X)) - worst-case MI`` (Definition 3.1), in nats."""
        return max(self.mutual_information() - self.worst_case_mutual_information(), 0.0)

    # --------------------------------------------------------------------------------------------- risks
    def _all_maps(self) -> np.ndarray:
        total = self.n_classes**self.n_codes
        if total > MAX_ENUMERATION:
            raise ValueError(f"{total} maps h: Z -> Y exceeds MAX_ENUMERATION={MAX_ENUMERATION}")
        return np.array(list(itertools.product(range(self.n_classes), repeat=self.n_codes)), dtype=np.int64)

    def _check_maps(self, h: ArrayLike) -> np.ndarray:
        maps = np.atleast_2d(np.asarray(h))
        if maps.shape[1] != self.n_codes or (maps < 0).any() or (maps >= self.n_classes).any():
            raise ValueError(f"h must map each of the {self.n_codes} codes to a label in [0, {self.n_classes})")
        return maps.astype(np.int64)

    def adversarial_risks(self, h: ArrayLike) -> np.ndarray:
        """``AdvRisk_ε(h∘g)`` for maps ``h`` of shape ``(n_maps, M)`` (or one map of shape ``(M,)``).

        A point ``(x, y)`` is safe iff every reachable code is mapped to ``y``.
        """
        maps = self._check_maps(h)
        onehot = maps[:, :, None] == np.arange(self.n_classes)[None, None, :]  # (H, M, K)
        hits = np.einsum("xm,hmk->hxk", self.reachable.astype(np.int64), onehot.astype(np.int64))
        safe = hits == self.reachable.sum(axis=1)[None, :, None]
        return 1.0 - np.einsum("xk,hxk->h", self.joint, safe.astype(np.float64))

    def label_free_adversarial_risks(self, h: ArrayLike) -> np.ndarray:
        """``sup`` over label-free transport maps ``x ↦ x'`` of ``P[h(g(X')) ≠ Y]``, shape ``(n_maps,)``.

        The adversary sees ``x`` but not ``y``; per point it picks ``z ∈ R(x)`` maximising
        ``Σ_y P[x, y]·1[h(z) ≠ y]``. This is ≤ ``AdvRisk_ε``; Lemma 3.3's equality holds for the label-aware maps
        its proof builds.
        """
        maps = self._check_maps(h)
        wrong = self.input_marginal[:, None, None] - self.joint[:, maps.T]  # (N, M, H): P[x] - P[x, h(z)]
        per_point = np.where(self.reachable[:, :, None], wrong, -np.inf)
        return per_point.max(axis=1).sum(axis=0)

    def min_adversarial_risk(self) -> tuple[float, np.ndarray]:
        """``(inf_h AdvRisk_ε(h∘g), argmin h)`` over all ``K^M`` maps ``h: Z → Y``."""
        maps = self._all_maps()
        risks = self.adversarial_risks(maps)
        best = int(np.argmin(risks))
        return float(risks[best]), maps[best]

    def min_label_free_adversarial_risk(self) -> float:
        """``inf_h sup_{label-free T} P[h(g(T(X))) ≠ Y]``, never above ``inf_h AdvRisk_ε``.

        Fano plus data processing bounds this quantity, but it bounds ``AdvRisk_ε`` itself too: along *any*
        coupling ``Y → X' → g(X')`` is a Markov chain, label-aware adversaries included (:meth:`fano_check`).
        """
        return float(self.label_free_adversarial_risks(self._all_maps()).min())

    def theorem_3_4_bound(self) -> float:
        """Theorem 3.4's lower bound ``1 - (I_worst + log 2) / log K`` (clipped at 0); needs uniform labels."""
        if not self.labels_uniform():
            raise ValueError(f"Theorem 3.4 assumes uniform labels; label marginal is {self.joint.sum(axis=0)}")
        mi = self.mutual_information()
        return float(adversarial_risk_lower_bound(mi, self.representation_vulnerability(), self.n_classes))

    # ------------------------------------------------------------------------------------ label-aware Fano
    def label_aware_coupling(self, h: ArrayLike) -> np.ndarray:
        """The optimal label-aware adversary against ``h∘g`` as a kernel ``Q[x, y, x']`` (shape ``(N, K, N)``).

        The adversary sees ``(x, y)``: it moves ``x`` to the first ``x' ∈ B(x, ε)`` with ``h(g(x')) ≠ y`` when one
        exists (then ``(x, y)`` is misclassified, as in Definition 2.3) and leaves ``x`` in place otherwise. The
        coupling attains ``AdvRisk_ε(h∘g)`` and its ``X'``-marginal lies in the W∞ ball (every move stays in a
        neighbourhood). This is the label-aware transport of Lemma 3.3's proof, which builds ``T`` from ``(x, y)``.
        """
        (labels,) = self._check_maps(h)
        n, k = self.n_points, self.n_classes
        kernel = np.zeros((n, k, n))
        wrong = labels[self.codes][:, None] != np.arange(k)[None, :]  # (N, K): h(g(x')) ≠ y
        for x in range(n):
            for y in range(k):
                targets = np.flatnonzero(self.neighbours[x] & wrong[:, y])
                kernel[x, y, targets[0] if targets.size else x] = 1.0
        return kernel

    def fano_check(self, h: ArrayLike) -> FanoCheck:
        """Fano and data processing along :meth:`label_aware_coupling` of ``h`` (needs uniform labels)."""
        if not self.labels_uniform():
            raise ValueError(f"the Fano check assumes uniform labels; label marginal is {self.joint.sum(axis=0)}")
        (labels,) = self._check_maps(h)
        kernel = self.label_aware_coupling(labels)
        # joint law of (Y, X') and then of (Y, Z'), Z' = g(X')
        y_x = np.einsum("xy,xyv->yv", self.joint, kernel)
        y_z = np.zeros((self.n_classes, self.n_codes))
        np.add.at(y_z.T, self.codes, y_x.T)
        error = float(1.0 - y_z[labels, np.arange(self.n_codes)].sum())
        label_information = discrete_mutual_information(y_z)
        code_information = float(entropy(y_z.sum(axis=0)))
        log_k = math.log(self.n_classes)
        return FanoCheck(error=error, label_information=label_information, code_information=code_information,
                         fano_bound=1.0 - (label_information + LOG2) / log_k,
                         data_processing_bound=1.0 - (code_information + LOG2) / log_k)
