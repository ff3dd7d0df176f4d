"""Threat models: the attacker's budget (:class:`ThreatModel`) and its geometry (:class:`Ball`).

:class:`ThreatModel` is the one type for "what the adversary may do" that travels through attacks, training, the
MI estimators, the per-dataset settings of :mod:`rrlib.data` and the CLI: an ℓp ball of radius ε (``norm``,
``eps``) intersected with the valid input ``box``, searched by PGD with ``steps`` steps of length ``step_size``
(the book's η), optionally from a random start and with ``restarts`` further random restarts. It is a frozen
dataclass validated at construction; ``dataclasses.replace`` (or :meth:`ThreatModel.with_eps`) derives variants.

A :class:`Ball` (``threat.ball()``) owns the three geometric operations of projected gradient methods, so that the
PGD loop in :mod:`rrlib.attacks.pgd` never branches on the norm:

* :meth:`Ball.step` — the steepest-ascent step of length ``step_size`` for the norm
  (ℓ∞: ``step_size · sign(∇)``, the step of Madry et al. 2018; ℓ2: ``step_size · ∇ / ‖∇‖₂``);
* :meth:`Ball.project` — back into ``B_p(x, ε) ∩ box``;
* :meth:`Ball.random_start` — a uniform draw from the ball (then clipped to the box).

Norms are taken **per example** over all dimensions but the first (the batch dimension), so a batch of
images ``(B, C, H, W)`` has one ball per image. This is the set ``B(x_i, ε)`` of the paper's Algorithm 1
(supplement App. B) and the per-example version of the W∞ ball of Definition 3.1: moving every sample of a
distribution by at most ε gives a distribution within W∞ distance ε.

Projection onto ``B_∞(x, ε) ∩ [lo, hi]^d`` is exact (both sets are boxes). For ℓ2 the map used is "project onto
the ball, then clip to the box", as in MadryLab's ``robustness``: the result always lies in both sets (clipping
moves each coordinate towards ``x_i``, which is inside the box, so the distance to ``x`` can only shrink), but it
is not always the *Euclidean* projection onto the intersection.

>>> import torch
>>> threat = ThreatModel("linf", 0.1, steps=10, step_size=0.02)
>>> x = torch.tensor([[0.05, 0.5]])
>>> threat.ball().project(torch.tensor([[-1.0, 2.0]]), x)
tensor([[0.0000, 0.6000]])
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch

from rrlib.validation import check_bool, check_int, check_nonnegative_float

#: The norms of a :class:`ThreatModel`, ℓ∞ and ℓ2.
NORM_CHOICES = ("linf", "l2")
_NORM_ALIASES = {"linf": "linf", "inf": "linf", "l_inf": "linf", "l2": "l2", "2": "l2", "l_2": "l2"}
_TINY = 1e-12


def canonical_norm(norm: str | float) -> str:
    """Map ``"linf"``, ``"inf"``, ``math.inf``, ``"l2"``, ``"2"`` or ``2`` to ``"linf"`` / ``"l2"``."""
    if isinstance(norm, (int, float)) and not isinstance(norm, bool):
        if norm == math.inf:
            return "linf"
        if norm == 2:
            return "l2"
    elif isinstance(norm, str) and norm.strip().lower() in _NORM_ALIASES:
        return _NORM_ALIASES[norm.strip().lower()]
    raise ValueError(f"unknown norm {norm!r}; valid choices: {NORM_CHOICES} (or math.inf, 2)")


def _check_box(box: tuple[float, float] | None) -> tuple[float, float] | None:
    if box is None:
        return None
    try:
        lo, hi = (float(v) for v in box)
    except (TypeError, ValueError):
        raise ValueError(f"box must be None or a pair (low, high) of numbers, got {box!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo >= hi:
        raise ValueError(f"box must satisfy low < high with finite bounds, got {box!r}")
    return (lo, hi)


def _per_example_norm(t: torch.Tensor, norm: str) -> torch.Tensor:
    """Per-example norm of ``t`` (shape ``(B, ...)``), returned with shape ``(B, 1, ..., 1)`` for broadcasting."""
    flat = t.reshape(t.shape[0], -1)
    value = flat.abs().amax(dim=1) if norm == "linf" else flat.norm(p=2, dim=1)
    return value.reshape((t.shape[0],) + (1,) * (t.dim() - 1))


class Ball(ABC):
    """The set ``B_p(x, ε) ∩ box`` of allowed perturbed inputs, with its step and projection.

    Args:
        eps:
            Radius ε ≥ 0 of the ball, in the units of the input (for pixels in [0, 1], 8/255 for CIFAR-10).
        box:
            ``(low, high)`` valid range of every input coordinate, or ``None`` for an unbounded input space
            (the Gaussian mixture of Section 3.1).
    """

    norm: str = ""

    def __init__(self, eps: float, box: tuple[float, float] | None = (0.0, 1.0)) -> None:
        self.eps = check_nonnegative_float("eps", eps)
        self.box = _check_box(box)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(eps={self.eps}, box={self.box})"

    # --- checks -------------------------------------------------------------------------------------------
    def check_inputs(self, x: torch.Tensor) -> None:
        """Raise ``ValueError`` if ``x`` is not a finite floating batch inside the box."""
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"inputs must be a torch.Tensor, got {type(x).__name__}")
        if not x.is_floating_point():
            raise TypeError(f"inputs must be a floating-point tensor, got dtype {x.dtype}")
        if x.dim() < 1 or x.shape[0] == 0:
            raise ValueError(f"inputs must be a non-empty batch with the batch dimension first, got shape "
                             f"{tuple(x.shape)}")
        if not torch.isfinite(x).all():
            raise ValueError("inputs contain NaN or infinite values")
        if self.box is not None:
            lo, hi = self.box
            x_min, x_max = float(x.min()), float(x.max())
            if x_min < lo or x_max > hi:
                raise ValueError(
                    f"inputs lie outside the valid box {self.box}: min {x_min:.6g}, max {x_max:.6g}; "
                    "rescale the data (e.g. pixels to [0, 1]) or pass box=None for an unbounded input space"
                )

    # --- geometry -----------------------------------------------------------------------------------------
    def clip_to_box(self, x_adv: torch.Tensor) -> torch.Tensor:
        """Clip every coordinate into the valid box (identity when ``box is None``)."""
        if self.box is None:
            return x_adv
        return x_adv.clamp(self.box[0], self.box[1])

    @abstractmethod
    def direction(self, grad: torch.Tensor) -> torch.Tensor:
        """Unit-norm steepest-ascent direction for the norm (per example); zero where the gradient is zero."""

    def step(self, x_adv: torch.Tensor, grad: torch.Tensor, step_size: float, *, ascend: bool) -> torch.Tensor:
        """One step of length ``step_size``: ``x' ± step_size · direction(∇)`` (``+`` to ascend)."""
        return torch.add(x_adv, self.direction(grad), alpha=step_size if ascend else -step_size)

    @abstractmethod
    def project_ball(self, x_adv: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Euclidean projection of ``x_adv`` onto ``B_p(x, ε)`` (per example), ignoring the box."""

    def project(self, x_adv: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Map ``x_adv`` into ``B_p(x, ε) ∩ box``: project onto the ball, then clip to the box."""
        return self.clip_to_box(self.project_ball(x_adv, x))

    def projector(self, x: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
        """``x_adv ↦ project(x_adv, x)`` for a fixed centre ``x``, with whatever can be precomputed done once."""
        return lambda x_adv: self.project(x_adv, x)

    def contains(self, x_adv: torch.Tensor, x: torch.Tensor, *, atol: float = 1e-6) -> torch.Tensor:
        """Boolean ``(B,)``: is each ``x_adv[i]`` inside ``B_p(x[i], ε) ∩ box`` (up to ``atol``)?"""
        inside = _per_example_norm(x_adv - x, self.norm).reshape(-1) <= self.eps + atol
        if self.box is not None:
            flat = x_adv.reshape(x_adv.shape[0], -1)
            inside &= (flat >= self.box[0] - atol).all(dim=1) & (flat <= self.box[1] + atol).all(dim=1)
        return inside

    @abstractmethod
    def _uniform_ball(self, shape: torch.Size, generator: torch.Generator | None) -> torch.Tensor:
        """Draws ``δ`` uniform in the ε-ball, shape ``shape``, on the generator's device (float64)."""

    def random_start(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """``x + δ`` with ``δ`` uniform in the ball, clipped to the box. ``generator=None`` uses torch's global RNG."""
        delta = self._uniform_ball(x.shape, generator).to(device=x.device, dtype=x.dtype)
        return self.clip_to_box(x + delta)


def _device_of(generator: torch.Generator | None) -> torch.device:
    return generator.device if generator is not None else torch.device("cpu")


class LinfBall(Ball):
    """ℓ∞ ball: sign step (the FGSM/PGD step of Madry et al.) and coordinate-wise clipping."""

    norm = "linf"

    def direction(self, grad: torch.Tensor) -> torch.Tensor:
        return grad.sign()

    def project_ball(self, x_adv: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return torch.minimum(torch.maximum(x_adv, x - self.eps), x + self.eps)

    def projector(self, x: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
        # B_∞(x, ε) ∩ box is the box [max(x − ε, lo), min(x + ε, hi)]: one clamp per step
        lower, upper = x - self.eps, x + self.eps
        if self.box is not None:
            lower, upper = lower.clamp_min(self.box[0]), upper.clamp_max(self.box[1])
        return lambda x_adv: torch.clamp(x_adv, lower, upper)

    def _uniform_ball(self, shape: torch.Size, generator: torch.Generator | None) -> torch.Tensor:
        u = torch.rand(shape, generator=generator, device=_device_of(generator), dtype=torch.float64)
        return (2.0 * u - 1.0) * self.eps


class L2Ball(Ball):
    """ℓ2 ball: normalised-gradient step and radial projection ``x + δ · min(1, ε / ‖δ‖₂)``."""

    norm = "l2"

    def direction(self, grad: torch.Tensor) -> torch.Tensor:
        norm = _per_example_norm(grad, "l2")
        return torch.where(norm > _TINY, grad / norm.clamp_min(_TINY), torch.zeros_like(grad))

    def project_ball(self, x_adv: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        delta = x_adv - x
        norm = _per_example_norm(delta, "l2")
        factor = torch.where(norm > self.eps, self.eps / norm.clamp_min(_TINY), torch.ones_like(norm))
        return x + delta * factor

    def _uniform_ball(self, shape: torch.Size, generator: torch.Generator | None) -> torch.Tensor:
        device = _device_of(generator)
        batch, dim = shape[0], math.prod(shape[1:])
        direction = torch.randn((batch, dim), generator=generator, device=device, dtype=torch.float64)
        direction = direction / direction.norm(dim=1, keepdim=True).clamp_min(_TINY)
        # radius ε·U^{1/d} makes the point uniform in the d-dimensional ball
        radius = self.eps * torch.rand((batch, 1), generator=generator, device=device,
                                       dtype=torch.float64) ** (1.0 / dim)
        return (direction * radius).reshape(shape)


def ball(norm: str | float, eps: float, box: tuple[float, float] | None = (0.0, 1.0)) -> Ball:
    """The ball for ``norm`` (``"linf"`` or ``"l2"``) with radius ``eps`` and input ``box``."""
    canonical = canonical_norm(norm)
    return LinfBall(eps, box) if canonical == "linf" else L2Ball(eps, box)


def _check_step_size(step_size: object, eps: float) -> float:
    if isinstance(step_size, bool) or not isinstance(step_size, (int, float)) or not math.isfinite(step_size) \
            or step_size <= 0:
        raise ValueError(f"step_size must be a finite number > 0, got {step_size!r}")
    if eps > 0 and step_size > 2 * eps:
        raise ValueError(
            f"step_size={step_size!r} exceeds the diameter 2*eps={2 * eps!r} of the ball: every step would jump "
            "across it and be projected back onto its boundary (check the units of eps and step_size; a common "
            "choice is step_size = 2.5 * eps / steps)"
        )
    return float(step_size)


@dataclass(frozen=True)
class ThreatModel:
    """The adversary: the ℓp ball ``B_p(x, ε) ∩ box`` and the PGD search of it (Algorithm 1, Madry et al. 2018).

    Attributes:
        norm: ``"linf"`` or ``"l2"`` (aliases such as ``"inf"``, ``math.inf``, ``2`` are canonicalised).
        eps: radius ε ≥ 0 in input units (pixels in [0, 1]: 8/255 for CIFAR-10). ε = 0 means "no attack".
        steps: number S ≥ 1 of gradient steps.
        step_size: their length η, ``0 < η ≤ 2ε`` (ℓ∞: per coordinate; ℓ2: Euclidean).
        box: ``(low, high)`` valid range of every input coordinate, or ``None`` (unbounded, e.g. the Gaussian
            mixture of Section 3.1).
        random_start: start the first run from a uniform point of the ball (off in the paper).
        restarts: further runs from random starts; the best over runs is kept.

    >>> ThreatModel("inf", 0.1, 10, 0.02)
    ThreatModel(norm='linf', eps=0.1, steps=10, step_size=0.02, box=(0.0, 1.0), random_start=False, restarts=0)
    """

    norm: str
    eps: float
    steps: int
    step_size: float
    box: tuple[float, float] | None = (0.0, 1.0)
    random_start: bool = False
    restarts: int = 0

    def __post_init__(self) -> None:
        # the order of the checks is the order of the former pgd(): geometry, then the search
        object.__setattr__(self, "norm", canonical_norm(self.norm))
        object.__setattr__(self, "eps", check_nonnegative_float("eps", self.eps))
        object.__setattr__(self, "box", _check_box(self.box))
        check_int("steps", self.steps, 1)
        check_int("restarts", self.restarts, 0)
        object.__setattr__(self, "step_size", _check_step_size(self.step_size, self.eps))
        check_bool("random_start", self.random_start)

    def ball(self) -> Ball:
        """The geometry ``B_p(x, ε) ∩ box`` (step, projection, random start, membership)."""
        return ball(self.norm, self.eps, self.box)

    def with_eps(self, eps: float) -> ThreatModel:
        """The same search with another radius ε (steps and step size unchanged)."""
        return replace(self, eps=eps)


__all__ = ["NORM_CHOICES", "Ball", "L2Ball", "LinfBall", "ThreatModel", "ball", "canonical_norm"]
