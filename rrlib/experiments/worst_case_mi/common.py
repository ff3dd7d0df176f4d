"""Helpers shared by the parts of the chapter-05 experiment: the PGD step rule, critic factories, mean ± std."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from rrlib.mi.critics import FlatCritic, SeparableCritic


def attack_step(eps: float, steps: int, factor: float) -> float:
    """``η = ε · min(1, factor / S)``: the usual ``2.5 ε / S``, capped at ε so that ``S = 1`` is FGSM."""
    return eps * min(1.0, factor / steps)


def separable_factory(x_dim: int, z_dim: int, hidden: int, embed: int, flat: bool = False
                      ) -> Callable[[], nn.Module]:
    """A function that builds a fresh :class:`SeparableCritic` (on flattened images when ``flat``)."""
    def make() -> nn.Module:
        critic = SeparableCritic(x_dim, z_dim, hidden=hidden, embed=embed)
        return FlatCritic(critic) if flat else critic

    return make


