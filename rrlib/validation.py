"""Input checks shared by several layers (kept here so that no layer imports a sibling just for a check)."""

from __future__ import annotations

import torch


def check_paired_samples(x: torch.Tensor, z: torch.Tensor, x_dim: int, z_dim: int) -> None:
    """Require ``x`` of shape ``(n, x_dim)`` and ``z`` of shape ``(n, z_dim)`` (paired samples ``(x_i, z_i)``)."""
    for name, t, d in (("x", x, x_dim), ("z", z, z_dim)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
        if t.ndim != 2 or t.shape[1] != d:
            raise ValueError(f"{name} must have shape (n, {d}), got {tuple(t.shape)}")
    if x.shape[0] != z.shape[0]:
        raise ValueError(f"x and z must hold the same number of samples, got {x.shape[0]} and {z.shape[0]}")


def check_int(name: str, value: object, minimum: int = 1) -> int:
    """Return ``value`` if it is an ``int`` (not a bool) of at least ``minimum``; otherwise raise ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value
