"""One projected-gradient routine for any objective of a perturbed batch.

:func:`pgd` maximises (or minimises) ``objective(x')`` over ``x'`` in ``B_p(x, ε) ∩ box`` by iterating

.. math::
    x'_{s+1} = \\Pi_{B_p(x, ε) ∩ \\text{box}}\\big[x'_s \\pm η \\cdot \\mathrm{dir}_p(∇_{x'} J(x'_s))\\big],

with ``dir_∞ = sign`` and ``dir_2 = ∇/‖∇‖₂`` (see :mod:`rrlib.attacks.threat_models`); the ball, the number of steps
S, the step size η, the random start and the restarts are one :class:`~rrlib.attacks.ThreatModel`. The objective is
either

* **per example** — it returns a tensor of shape ``(B,)``, ``J_i`` depending only on ``x'_i`` (e.g. the
  cross-entropy of each example with the model in eval mode); the best iterate is kept *per example*; or
* **one scalar for the batch** — it returns a 0-d tensor, e.g. a mutual-information estimate over the whole batch
  (Algorithm 1 of the supplement, App. B); the best iterate is kept *for the whole batch*.

The gradient of a per-example objective is that of its sum, which is the per-example gradient exactly when
``J_i`` depends only on ``x'_i`` (true for models in eval mode, false for batch-norm in train mode).

Cost: ``steps`` forward+backward passes through the objective per run, plus one forward pass to score the last
iterate (the returned :class:`AttackResult` always carries the objective at the returned batch). Gradients are
taken with :func:`torch.autograd.grad` with respect to the input only, so the models' ``.grad`` fields
are never touched.

The modules passed as ``modules`` are put in eval mode during the attack (``eval_mode=True``, the default, as in
the paper's code) and every sub-module's train/eval flag is restored afterwards, also when the objective raises
(:func:`rrlib.runtime.managed_modes`).

:func:`adversarial_examples` and :func:`adversarial_accuracy` are the classification special cases (cross-entropy
maximised per example).

>>> import torch
>>> w = torch.tensor([1.0, -2.0])
>>> x = torch.tensor([[0.5, 0.5]])
>>> pgd(lambda xa: xa @ w, x, ThreatModel("linf", 0.1, steps=3, step_size=0.05)).x
tensor([[0.6000, 0.4000]])
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from rrlib.attacks.threat_models import Ball, ThreatModel
from rrlib.runtime import managed_modes
from rrlib.validation import check_int

Objective = Callable[[torch.Tensor], torch.Tensor]


class NonFiniteObjectiveError(ValueError):
    """The attacked objective (or the model behind it) produced NaN or infinite values."""


class ZeroGradientWarning(RuntimeWarning):
    """The objective's gradient with respect to the input was exactly zero for the whole batch.

    PGD then cannot move: a sign of gradient masking (a step function such as ``sgn(wᵀx)`` in the forward pass,
    a saturated softmax, a detached branch). Chapter 05 ("Measuring representation vulnerability") shows an
    example and the straight-through fix.
    """


class AttackResult(NamedTuple):
    """What :func:`pgd` returns: the attacked batch and the objective there.

    ``x``: detached, same shape, dtype and device as the clean batch. ``value``: the objective at ``x``, shape
    ``(B,)`` for a per-example objective or ``()`` for a batch scalar (detached).
    """

    x: torch.Tensor
    value: torch.Tensor


def _better(new: torch.Tensor, old: torch.Tensor, maximize: bool) -> torch.Tensor:
    return new > old if maximize else new < old


class _Run:
    """Best-iterate bookkeeping for one batch (per example or per batch)."""

    def __init__(self, maximize: bool) -> None:
        self.maximize = maximize
        self.x: torch.Tensor | None = None
        self.value: torch.Tensor | None = None

    def offer(self, x: torch.Tensor, value: torch.Tensor) -> None:
        if self.x is None or self.value is None:
            self.x, self.value = x, value
            return
        better = _better(value, self.value, self.maximize)
        if value.dim() == 0:  # one scalar for the batch: keep the whole batch's iterate together
            self.x = torch.where(better, x, self.x)
        else:  # per example
            self.x = torch.where(better.reshape((-1,) + (1,) * (x.dim() - 1)), x, self.x)
        self.value = torch.where(better, value, self.value)


def _evaluate(objective: Objective, x_adv: torch.Tensor, batch: int) -> torch.Tensor:
    value = objective(x_adv)
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"objective must return a torch.Tensor, got {type(value).__name__}")
    if value.dim() == 0 or tuple(value.shape) == (batch,):
        return value
    raise ValueError(
        f"objective must return a scalar (one value for the batch) or a tensor of shape ({batch},) "
        f"(one value per example), got shape {tuple(value.shape)}"
    )


def _single_run(objective: Objective, tm: Ball, x: torch.Tensor, start: torch.Tensor, *, steps: int,
                step_size: float, maximize: bool, keep_best: bool, check_zero_grad: bool
                ) -> tuple[torch.Tensor, torch.Tensor]:
    batch = x.shape[0]
    finite = torch.ones((), dtype=torch.bool, device=x.device)
    project = tm.projector(x)
    best = _Run(maximize)
    x_adv = start
    value: torch.Tensor | None = None
    for s in range(steps):
        x_req = x_adv.detach().requires_grad_(True)
        value = _evaluate(objective, x_req, batch)
        if value.requires_grad:
            (grad,) = torch.autograd.grad(value.sum(), x_req, allow_unused=True)
        else:
            grad = None
        if grad is None:
            grad = torch.zeros_like(x_req)
        if s == 0 and check_zero_grad and not bool((grad != 0).any()):
            warnings.warn(
                "pgd: the objective's gradient with respect to the input is exactly zero for the whole batch, "
                "so the attack cannot move (gradient masking?). See the book's chapter 05, 'Measuring "
                "representation vulnerability', for the straight-through fix.",
                ZeroGradientWarning, stacklevel=4,
            )
        value = value.detach()
        finite &= torch.isfinite(value).all()
        if keep_best:
            best.offer(x_req.detach(), value)
        x_adv = project(tm.step(x_req.detach(), grad, step_size, ascend=maximize))
    with torch.no_grad():
        final_value = _evaluate(objective, x_adv, batch).detach()
    finite &= torch.isfinite(final_value).all()
    if not bool(finite):
        raise NonFiniteObjectiveError(
            "pgd: the objective returned non-finite values (NaN or inf) during the attack; check the model's outputs "
            "and the objective (e.g. a log of zero)"
        )
    if keep_best:
        best.offer(x_adv, final_value)
        assert best.x is not None
        return best.x, best.value
    return x_adv, final_value


def pgd(
    objective: Objective,
    x: torch.Tensor,
    threat: ThreatModel,
    *,
    maximize: bool = True,
    generator: torch.Generator | None = None,
    keep_best: bool = True,
    modules: nn.Module | Iterable[nn.Module] | None = None,
    eval_mode: bool = True,
    warn_zero_grad: bool = True,
) -> AttackResult:
    """Projected gradient ascent (``maximize=True``) or descent on ``objective`` inside ``B_p(x, ε) ∩ box``.

    Args:
        objective:
            ``objective(x') -> J``, differentiable in ``x'`` (shape of ``x``). ``J`` has shape ``(B,)`` (per-example
            objective, best iterate kept per example) or ``()`` (one scalar for the batch, best iterate kept for the
            whole batch, as in Algorithm 1 of the supplement).
        x:
            Clean batch ``(B, ...)``, batch dimension first, inside ``threat.box``. Never modified. The device of the
            attack is ``x.device``.
        threat:
            The :class:`~rrlib.attacks.ThreatModel`: the ball (norm, ε, box) and the search (S steps of length η,
            random start, restarts; the best result over runs is kept, per example or per batch).
        maximize:
            ``True`` ascends ``J`` (an attack on a loss), ``False`` descends it (Algorithm 1 descends the MI estimate).
        generator:
            A ``torch.Generator`` for the random starts; ``None`` uses torch's global RNG.
        keep_best:
            Return the best iterate seen (the start, every step and the last point are scored), as ``use_best`` in
            MadryLab's ``robustness``; ``False`` returns the last iterate.
        modules, eval_mode:
            The ``nn.Module`` (s) inside ``objective`` whose train/eval mode is managed: set to eval during the attack
            when ``eval_mode`` (default) and restored afterwards.
        warn_zero_grad:
            Emit :class:`ZeroGradientWarning` when the first gradient is exactly zero for the whole batch.

    Returns:
        An :class:`AttackResult` ``(x, value)``, the attacked batch (detached) and the objective there.
    """
    if not isinstance(threat, ThreatModel):
        raise TypeError(f"threat must be a rrlib.attacks.ThreatModel, got {type(threat).__name__}")
    tm = threat.ball()
    tm.check_inputs(x)
    if not callable(objective):
        raise TypeError(f"objective must be callable, got {type(objective).__name__}")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    x0 = x.detach()
    overall = _Run(maximize)
    last: tuple[torch.Tensor, torch.Tensor] | None = None
    with managed_modes(modules, eval_mode), torch.enable_grad():
        for run in range(threat.restarts + 1):
            start = tm.random_start(x0, generator) if (threat.random_start or run > 0) else x0.clone()
            last = _single_run(objective, tm, x0, start, steps=threat.steps, step_size=threat.step_size,
                               maximize=maximize, keep_best=keep_best, check_zero_grad=warn_zero_grad and run == 0)
            if threat.restarts > 0:
                overall.offer(*last)
    if threat.restarts > 0:
        assert overall.x is not None and overall.value is not None
        x_adv, values = overall.x, overall.value
    else:
        assert last is not None
        x_adv, values = last
    return AttackResult(x_adv.detach(), values)


# --- classification -----------------------------------------------------------------------------------------
def _check_labels(x: torch.Tensor, y: torch.Tensor) -> None:
    if not isinstance(y, torch.Tensor) or y.dtype not in (torch.int64, torch.int32, torch.int16, torch.uint8):
        raise TypeError(f"labels y must be an integer torch.Tensor, got {getattr(y, 'dtype', type(y).__name__)}")
    if y.dim() != 1 or y.shape[0] != x.shape[0]:
        raise ValueError(f"labels y must have shape ({x.shape[0]},), got {tuple(y.shape)}")


def _logits(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    out = model(x)
    if not isinstance(out, torch.Tensor) or out.dim() != 2 or out.shape[0] != x.shape[0] or out.shape[1] < 2:
        raise ValueError(
            f"model must return logits of shape (B, C) with C >= 2 classes, got "
            f"{tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__}"
        )
    return out


def _cross_entropy_objective(model: nn.Module, y: torch.Tensor) -> Objective:
    def objective(x_adv: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(_logits(model, x_adv), y.long(), reduction="none")

    return objective


def adversarial_examples(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    threat: ThreatModel,
    *,
    generator: torch.Generator | None = None,
    keep_best: bool = True,
    eval_mode: bool = True,
) -> torch.Tensor:
    """PGD that maximises the per-example cross-entropy ``CE(model(x'), y)`` (Madry et al. 2018).

    ``model`` maps ``(B, ...)`` to logits ``(B, C)``; it is put in eval mode during the attack (unless
    ``eval_mode=False``) and its modes are restored. ``threat`` and the other arguments are those of :func:`pgd`.
    Returns the adversarial batch (detached, same shape as ``x``).
    """
    _check_labels(x, y)
    try:
        return pgd(_cross_entropy_objective(model, y), x, threat, maximize=True, generator=generator,
                   keep_best=keep_best, modules=model, eval_mode=eval_mode).x
    except NonFiniteObjectiveError:
        raise NonFiniteObjectiveError(
            "the model returned non-finite outputs (NaN or inf logits) on the attacked inputs"
        ) from None


def adversarial_accuracy(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    threat: ThreatModel,
    *,
    generator: torch.Generator | None = None,
    batch_size: int | None = None,
    eval_mode: bool = True,
) -> float:
    """Accuracy of ``model`` on PGD adversarial examples (cross-entropy maximised, best iterate per example).

    This is an *upper bound* on the true adversarial accuracy ``1 - AdvRisk_ε`` (a stronger attack can only lower
    it); for a linear classifier it is exact (Chapter 05 checks it against Theorem 3.2's closed form).
    ``batch_size`` splits the data into chunks (``None``: one batch). Returns a float in [0, 1]: the
    ``adversarial_accuracy`` of :func:`rrlib.attacks.accuracy.evaluate_accuracy`, the one evaluator.
    """
    from rrlib.attacks.accuracy import evaluate_accuracy  # the one evaluator (it imports this module)

    _check_labels(x, y)
    if batch_size is not None:
        check_int("batch_size", batch_size, 1)
    scored = evaluate_accuracy(model, (x, y), threat, batch_size=batch_size, natural=False, generator=generator,
                               eval_mode=eval_mode)
    return scored.adversarial_count / x.shape[0]


__all__ = [
    "AttackResult",
    "NonFiniteObjectiveError",
    "ZeroGradientWarning",
    "adversarial_accuracy",
    "adversarial_examples",
    "pgd",
]
