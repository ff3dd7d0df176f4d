"""Several critics trained on the same batches, evaluated as one network (``torch.func``: stacked weights + vmap).

The staircase benchmark trains one critic per bound, and with the same seed every bound sees the same batches and
starts from the same weights (:func:`rrlib.mi.estimator.run_staircase`). Those ``K`` critics can run as one:
:class:`StackedCritics` stacks their parameters along a new leading axis (``torch.func.stack_module_state``) and
maps the critic's own ``forward`` over that axis (``torch.vmap`` of ``torch.func.functional_call``), so one step
launches each layer's kernels once for all ``K`` critics instead of ``K`` times; on a GPU, where a critic of width
256 on a batch of 64 leaves most of the device idle, that is where the gain lies. On one CPU thread the step is
compute-bound and stacking gains little (see ``benchmarks/results/mi_staircase_notes.md``).

Nothing changes mathematically: critic ``k`` sees only its own slice of the stacked weights, the loss is the sum
of the ``K`` bounds' losses (so critic ``k``'s gradient is that of its own bound), and Adam acts element by
element, so one Adam over the stacked parameters is ``K`` independent Adams. :func:`run_staircase_batched` gives
the results of ``K`` calls of :func:`~rrlib.mi.estimator.run_staircase` up to float32 rounding (batched instead of
single matrix products; ``tests/test_mi_batched.py`` states the tolerance). A critic whose scores or bound become
non-finite stops (its later values are NaN, as in the sequential loop) while the others go on.

>>> from rrlib.mi.estimator import build_critic
>>> critics = [build_critic("separable", 3, 3, hidden=8, embed=4, seed=0) for _ in range(2)]
>>> StackedCritics(critics)(torch.zeros(5, 3), torch.zeros(5, 3)).shape
torch.Size([2, 5, 5])
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import nn

from rrlib.mi.bounds import MINE, Bound, make_bound
from rrlib.mi.estimator import (
    Sampler,
    StaircaseConfig,
    StaircaseResult,
    build_critic,
    level_stats,
)
from rrlib.runtime import progress, select_device, torch_generator
from rrlib.synthetic import CorrelatedGaussian

__all__ = ["StackedCritics", "run_staircase_batched", "train_steps_batched"]


class StackedCritics(nn.Module):
    """``K`` critics of one architecture as one module: ``forward(x, z)`` returns scores of shape ``(K, n, n)``
    (``(K, L, n, n)`` for critics with ``L`` locations), ``scores[k] = critics[k](x, z)``.

    The parameters are copies of the critics' (stacked along a new axis 0); the given modules are not modified
    and are not trained. :meth:`critic` rebuilds critic ``k`` as an ordinary module.

    Args:
        critics: a non-empty sequence of modules of the same class with parameters of the same names and shapes.
    """

    def __init__(self, critics: Sequence[nn.Module]) -> None:
        super().__init__()
        critics = list(critics)
        if not critics or not all(isinstance(c, nn.Module) for c in critics):
            raise ValueError(f"critics must be a non-empty sequence of torch modules, got {critics!r}")
        shapes = [{k: tuple(v.shape) for k, v in c.state_dict().items()} for c in critics]
        if any(type(c) is not type(critics[0]) for c in critics) or any(s != shapes[0] for s in shapes):
            raise ValueError("critics must share one architecture (same class, same parameter names and shapes); "
                             f"got {[type(c).__name__ for c in critics]}")
        params, buffers = torch.func.stack_module_state(critics)
        self._param_names = list(params)
        self._buffer_names = list(buffers)
        self.stacked = nn.ParameterList([nn.Parameter(params[name]) for name in self._param_names])
        for i, name in enumerate(self._buffer_names):
            self.register_buffer(f"buffer_{i}", buffers[name])
        # the template whose forward is mapped: on the meta device and not registered (holds no state)
        object.__setattr__(self, "_template", copy.deepcopy(critics[0]).to("meta"))
        self.num_critics = len(critics)

    def _state(self) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        params = dict(zip(self._param_names, self.stacked, strict=True))
        buffers = {name: getattr(self, f"buffer_{i}") for i, name in enumerate(self._buffer_names)}
        return params, buffers

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        template = self._template

        def one(params: dict, buffers: dict, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
            return torch.func.functional_call(template, (params, buffers), (x, z))

        params, buffers = self._state()
        return torch.vmap(one, in_dims=(0, 0, None, None))(params, buffers, x, z)

    def critic(self, k: int) -> nn.Module:
        """Critic ``k`` (``0 <= k < K``) as an ordinary module holding a copy of its current weights."""
        if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k < self.num_critics:
            raise ValueError(f"critic index must be an integer in [0, {self.num_critics}), got {k!r}")
        params, buffers = self._state()
        module = copy.deepcopy(self._template).to_empty(device=self.stacked[0].device)
        state = {name: t[k].detach().clone() for name, t in {**params, **buffers}.items()}
        module.load_state_dict(state)
        return module


def train_steps_batched(
    critics: StackedCritics,
    bounds: Sequence[Bound | MINE],
    optimizer: torch.optim.Optimizer,
    sampler: Sampler,
    generator: torch.Generator,
    steps: int,
    batch: int,
    active: list[bool],
    bar=None,
) -> np.ndarray:
    """``steps`` Adam steps of all still-active critics on shared batches; returns values of shape ``(K, steps)``.

    The batched counterpart of the sequential loop of :func:`rrlib.mi.estimator.run_staircase`: per step one
    batch ``(x, z) = sampler(batch, generator)``, scores ``(K, n, n)``, bound ``k`` on ``scores[k]``, one backward
    of the sum of the active critics' losses, one optimizer step. ``active[k]`` is set to False (in place) when
    critic ``k``'s scores, value or objective are non-finite; its values are NaN from that step on. One
    device-to-host transfer per step.
    """
    if len(bounds) != critics.num_critics or len(active) != critics.num_critics:
        raise ValueError(f"need one bound and one active flag per critic ({critics.num_critics}), got "
                         f"{len(bounds)} bounds and {len(active)} flags")
    values = np.full((critics.num_critics, steps), np.nan)
    critics.train()
    for t in range(steps):
        if not any(active):
            break
        x, z = sampler(batch, generator)
        scores = critics(x, z)
        live = [k for k in range(critics.num_critics) if active[k]]
        results = {k: bounds[k](scores[k]) for k in live}
        finite_scores = torch.isfinite(scores.flatten(1)).all(dim=1)
        checks = torch.stack([torch.stack([finite_scores[k].to(scores.dtype), results[k].value.detach(),
                                           results[k].objective.detach()]) for k in live]).cpu()
        losses = []
        for row, k in enumerate(live):
            ok, value, objective = (float(v) for v in checks[row])
            if ok != 1.0 or not math.isfinite(value) or not math.isfinite(objective):
                active[k] = False
                continue
            losses.append(results[k].loss)
            values[k, t] = value
        if losses:
            optimizer.zero_grad(set_to_none=True)
            torch.stack(losses).sum().backward()
            optimizer.step()
        if bar is not None:
            next(bar, None)
    return values


@torch.no_grad()
def _held_out_batched(
    critics: StackedCritics, bounds: Sequence[Bound | MINE], sampler: Sampler, generator: torch.Generator,
    batches: int, batch: int,
) -> np.ndarray:
    """Held-out values ``(K, batches)`` in eval mode (NaN where a critic's scores are non-finite)."""
    was_training = critics.training
    critics.eval()
    try:
        rows = []
        for _ in range(batches):
            x, z = sampler(batch, generator)
            scores = critics(x, z)
            finite = torch.isfinite(scores.flatten(1)).all(dim=1)
            value = torch.stack([bounds[k].value(scores[k]) for k in range(critics.num_critics)])
            rows.append(torch.where(finite, value, torch.full_like(value, math.nan)).cpu())
        return torch.stack(rows, dim=1).double().numpy()
    finally:
        critics.train(was_training)


def run_staircase_batched(
    config: StaircaseConfig,
    bounds: Sequence[str],
    critic: str,
    *,
    seed: int = 0,
    device: str | torch.device = "cpu",
    bound_kwargs: Mapping[str, dict] | None = None,
    show_progress: bool = True,
) -> list[StaircaseResult]:
    """:func:`rrlib.mi.estimator.run_staircase` for every bound of ``bounds`` at once, one stacked critic each.

    Same protocol, same seeds (every critic starts from ``build_critic(critic, ..., seed=seed)``, the batches
    come from one generator seeded with ``seed``), so the same results as the sequential loop up to float32
    rounding. ``bound_kwargs`` is keyed by bound name. Every result's ``wall_s`` is the group's wall time divided
    by the number of critics (the amortised cost of one critic's run).
    """
    if not isinstance(config, StaircaseConfig):
        raise TypeError(f"config must be a StaircaseConfig, got {type(config).__name__}")
    bounds = list(bounds)
    if not bounds or len(set(bounds)) != len(bounds):
        raise ValueError(f"bounds must be a non-empty sequence of distinct bound names, got {bounds!r}")
    kwargs = dict(bound_kwargs or {})
    dev = select_device(device)
    bound_objs = [make_bound(b, **kwargs.get(b, {})) for b in bounds]
    net = StackedCritics([build_critic(critic, config.dim, config.dim, hidden=config.hidden, embed=config.embed,
                                       layers=config.layers, seed=seed) for _ in bounds]).to(dev)
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr)
    generator = torch_generator(seed, dev)
    k, num = config.steps_per_level, len(bounds)
    estimates = np.full((num, config.total_steps), np.nan)
    heldout = np.full((num, len(config.levels)), np.nan)
    active = [True] * num
    bar = progress(range(config.total_steps), desc=f"staircase [{','.join(bounds)}]/{critic} batched",
                   **({} if show_progress else {"disable": True}))
    start = time.perf_counter()
    for i, level in enumerate(config.levels):
        dist = CorrelatedGaussian.from_mi(float(level), config.dim, cubic=config.cubic)
        estimates[:, i * k:(i + 1) * k] = train_steps_batched(net, bound_objs, optimizer, dist.sample, generator,
                                                              k, config.batch, active, bar)
        if not any(active):
            break
        level_heldout = _held_out_batched(net, bound_objs, dist.sample, generator, config.eval_batches,
                                          config.batch).mean(axis=1)
        heldout[:, i] = np.where(active, level_heldout, np.nan)
    wall = (time.perf_counter() - start) / num
    true_mi = np.repeat(np.asarray(config.levels, dtype=float), k)
    tail = max(1, int(round(config.tail_fraction * k)))
    results = []
    for j, name in enumerate(bounds):
        nan_steps = np.flatnonzero(np.isnan(estimates[j]))
        diverged_at = int(nan_steps[0]) if nan_steps.size else None
        stats = [level_stats(estimates[j, (i + 1) * k - tail:(i + 1) * k], float(level), float(heldout[j, i]))
                 for i, level in enumerate(config.levels)]
        results.append(StaircaseResult(name, critic, config, estimates[j], true_mi, heldout[j], diverged_at, wall,
                                       stats))
    return results
