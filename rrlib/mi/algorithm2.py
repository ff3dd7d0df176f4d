"""Algorithm 2 of the supplement (App. B), written once: alternate an adversary with a critic ascent step.

Both worst-case estimators — the representation-level one (:func:`rrlib.mi.worst_case.estimate_mutual_information`)
and the per-neuron one (:func:`rrlib.mi.neurons.estimate_neuron_mi`) — run the same loop:

1. **Training** for ``t = 1..T``: every ``⌊n_train / B⌋`` iterations draw a fresh random permutation of the
   training set cut into full batches of ``B``; take the next batch (``draw``), let the adversary perturb it and
   take one ascent step of the critic on the MI estimate (``train_step``, which reports the training value
   ``V1(t)`` to the selector *before* the parameters change).
2. **Selection**: ``select="best"`` restores the critic with the largest training value (``θ_opt``); the
   :class:`ScalarBest` selector keeps one critic, :class:`PerUnitBest` one critic per unit (neuron) when the
   critics share no parameters. ``select="last"`` keeps the final critic.
3. **Testing**: one fresh permutation of the test set, the first ``K`` full batches (``test_batches``; all when
   ``None``), each drawn with ``draw``, attacked afresh against ``θ_opt`` and scored (``test_step``).

What differs between the estimators — how a batch is drawn (images, or images and one patch location each), how
the attack and the values are computed (a scalar, or one value per neuron) and how the best critic is kept — is
passed in as functions, so the random streams are consumed in one fixed order: the permutation, then whatever
``draw`` samples, then whatever the attack samples, per batch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import numpy as np
import torch
from torch import nn

from rrlib.runtime import progress

Batch = TypeVar("Batch")
Value = TypeVar("Value")
TestOut = TypeVar("TestOut")

__all__ = ["Algorithm2Run", "PerUnitBest", "ScalarBest", "Selector", "alternate", "full_batches"]


def full_batches(n: int, batch_size: int, generator: torch.Generator) -> torch.Tensor:
    """A random permutation of ``range(n)`` cut into ``n // batch_size`` full batches: ``(K, B)`` indices."""
    perm = torch.randperm(n, generator=generator)
    k = n // batch_size
    return perm[: k * batch_size].reshape(k, batch_size)


class Selector(Protocol[Value]):
    """Keeps ``θ_opt = argmax_t V1(t)`` while training (``offer``) and puts it back (``restore``)."""

    def offer(self, value: Value, iteration: int) -> None: ...

    def restore(self) -> Any: ...

    def last(self, iteration: int) -> Any: ...


class ScalarBest:
    """One critic, one training value per iteration: keeps a copy of the state with the largest value."""

    def __init__(self, critic: nn.Module) -> None:
        self.critic = critic
        self.state: dict[str, torch.Tensor] | None = None
        self.value = -math.inf
        self.iteration = -1

    def offer(self, value: float, iteration: int) -> None:
        if value > self.value:
            self.state = {k: v.detach().clone() for k, v in self.critic.state_dict().items()}
            self.value, self.iteration = value, iteration

    def restore(self) -> int:
        assert self.state is not None
        self.critic.load_state_dict(self.state)
        return int(self.iteration)

    def last(self, iteration: int) -> int:
        return iteration


class PerUnitBest:
    """``K`` independent critics whose every parameter has the unit axis first: keeps ``θ_opt,k`` per unit."""

    def __init__(self, critic: nn.Module, device: torch.device) -> None:
        self.params = list(critic.parameters())
        n_units = self.params[0].shape[0]
        self.saved = [p.detach().clone() for p in self.params]
        self.value = torch.full((n_units,), -math.inf, device=device)
        self.iteration = np.zeros(n_units, dtype=np.int64)

    def offer(self, value: torch.Tensor, iteration: int) -> None:
        better = value > self.value
        if bool(better.any()):
            for saved, p in zip(self.saved, self.params, strict=True):
                saved[better] = p.detach()[better]
            self.value = torch.where(better, value, self.value)
            self.iteration[better.cpu().numpy()] = iteration

    def restore(self) -> np.ndarray:
        with torch.no_grad():
            for saved, p in zip(self.saved, self.params, strict=True):
                p.copy_(saved)
        return self.iteration

    def last(self, iteration: int) -> np.ndarray:
        self.iteration[:] = iteration
        return self.iteration


@dataclass
class Algorithm2Run(Generic[TestOut]):
    """The raw output of :func:`alternate`: ``train_values`` ``(T,)`` or ``(T, K)`` (float64, nats), the
    selected iteration(s) and whatever ``test_step`` returned for each test batch, in order."""

    train_values: np.ndarray
    best_iteration: Any
    tests: list[TestOut]


def alternate(
    *,
    n_train: int,
    n_test: int,
    iterations: int,
    batch_size: int,
    test_batches: int | None,
    select: str,
    generator: torch.Generator,
    draw_train: Callable[[torch.Tensor], Batch],
    draw_test: Callable[[torch.Tensor], Batch],
    train_step: Callable[[int, Batch, Callable[[Any], None] | None], Any],
    test_step: Callable[[Batch], TestOut],
    selector: Selector,
    desc: str | None = None,
) -> Algorithm2Run[TestOut]:
    """Run Algorithm 2's training, selection and test phases (see the module docstring).

    ``draw_*(indices)`` turns a ``(B,)`` index batch into a batch; ``train_step(t, batch, before_update)`` attacks
    the batch, takes one critic step and returns ``V1(t)`` (a float or a ``(K,)`` array), calling
    ``before_update(V1)`` before the parameters change (``None`` when ``select="last"``); ``test_step(batch)``
    attacks and scores one test batch. ``generator`` draws the permutations; ``desc`` labels a progress bar.
    """
    order = torch.empty(0, batch_size, dtype=torch.int64)
    values: list[Any] = []
    steps: Sequence[int] | Any = range(iterations) if desc is None else progress(range(iterations), desc=desc,
                                                                                   total=iterations, leave=False)
    for t in steps:
        if t % max(order.shape[0], 1) == 0:
            order = full_batches(n_train, batch_size, generator)
        batch = draw_train(order[t % order.shape[0]])
        offer = (lambda value, t=t: selector.offer(value, t)) if select == "best" else None
        values.append(train_step(t, batch, offer))
    best_iteration = selector.restore() if select == "best" else selector.last(iterations - 1)
    test_order = full_batches(n_test, batch_size, generator)
    if test_batches is not None:
        if test_batches > test_order.shape[0]:
            raise ValueError(f"test_batches={test_batches} but x_test holds only {test_order.shape[0]} "
                             f"full batches of {batch_size}")
        test_order = test_order[:test_batches]
    tests = [test_step(draw_test(idx)) for idx in test_order]
    return Algorithm2Run(train_values=np.asarray(values, dtype=np.float64), best_iteration=best_iteration,
                         tests=tests)
