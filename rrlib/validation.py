"""Input checks shared by several layers (kept here so that no layer imports a sibling just for a check)."""

from __future__ import annotations

import math

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


def check_int(name: str, value: object, minimum: int = 1, *, what: str | None = None,
              allow_none: bool = False) -> int:
    """Return ``value`` if it is an ``int`` (not a bool) of at least ``minimum`` (or ``None`` when ``allow_none``);
    otherwise raise ``ValueError`` "``<name> must be <what>[ or None], got <value>``" (``what`` defaults to
    "an integer >= <minimum>")."""
    if value is None and allow_none:
        return value  # type: ignore[return-value]
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be {what or f'an integer >= {minimum}'}{' or None' if allow_none else ''}, "
                         f"got {value!r}")
    return value


def check_int_fields(obj: object, names: tuple[str, ...], minimum: int = 1, *, what: str | None = None,
                     allow_none: bool = False) -> None:
    """:func:`check_int` on each attribute ``names`` of ``obj`` (a config's integer fields), naming the field."""
    for name in names:
        check_int(name, getattr(obj, name), minimum, what=what, allow_none=allow_none)


def check_optional_int(name: str, value: object, minimum: int = 1) -> int | None:
    """Like :func:`check_int`, but ``None`` is allowed too (and returned)."""
    if value is None:
        return None
    return check_int(name, value, minimum, what=f"None or an integer >= {minimum}")


def check_bool(name: str, value: object) -> bool:
    """Return ``value`` if it is a ``bool``; otherwise raise ``TypeError`` (``0``/``1`` are not accepted)."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {value!r}")
    return value


def _is_real(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_positive_float(name: str, value: object, *, what: str = "a finite number > 0") -> float:
    """Return ``float(value)`` for a finite real number > 0 (not a bool); otherwise raise ``ValueError``."""
    if not _is_real(value) or value <= 0:
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return float(value)


def check_nonnegative_float(name: str, value: object, *, what: str = "a finite number >= 0",
                            allow_none: bool = False) -> float:
    """Return ``float(value)`` for a finite real number >= 0 (not a bool); otherwise raise ``ValueError``."""
    if value is None and allow_none:
        return value  # type: ignore[return-value]
    if not _is_real(value) or value < 0:
        raise ValueError(f"{name} must be {what}{' or None' if allow_none else ''}, got {value!r}")
    return float(value)


def check_radius(name: str, eps: object, *, norm: str = "linf", dim: int = 1,
                 box: tuple[float, float] = (0.0, 1.0)) -> float:
    """Return ``float(eps)`` for an attack radius inside the input box; otherwise raise ``ValueError`` naming ``name``.

    The rule: inputs lie in ``box`` (every dataset here: pixels in [0, 1]). The largest distance between two inputs
    is ``high − low`` under ℓ∞ and ``(high − low)·√dim`` under ℓ2 (``dim`` = C·H·W). A ball of that radius around
    any input already holds the whole box, so a larger ε is the same attack and almost always a mistake of units
    (``8`` for 8/255); it is refused. ε = 0 (no attack) is allowed.

    >>> check_radius("--eps", 8 / 255) == 8 / 255
    True
    """
    low, high = box
    limit = (high - low) * (math.sqrt(dim) if norm == "l2" else 1.0)
    if not _is_real(eps) or not 0 <= eps <= limit:
        shown = f"{eps:g}" if isinstance(eps, float) else repr(eps)
        bound = f"{high - low:g}·√{dim} = {limit:.4g}" if norm == "l2" else f"{limit:g}"
        norm_name = "ℓ2" if norm == "l2" else "ℓ∞"
        raise ValueError(f"{name} {shown}: an {norm_name} attack radius must be a number in [0, {bound}], e.g. 0.1 "
                         f"or 8/255 (inputs lie in [{low:g}, {high:g}], and a ball of radius {limit:.4g} already "
                         "holds every one of them: a larger one is the same attack, and usually a slip of units)")
    return float(eps)
