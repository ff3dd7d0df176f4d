"""Execution profiles: ``quick`` (CPU, minutes; CI and the default), ``medium`` (CPU hours; the committed results
in ``results/``) and ``full`` (GPU, the paper's scale).

A profile is only a name plus what it needs; each experiment owns its own configuration for each profile
and picks it with :func:`for_profile`. Every experiment has ``quick`` and ``full``; ``medium`` exists where a
committed run was made with it (the downstream tables, :class:`rrlib.grid.TablesConfig.medium`). Asking for
``full`` on a machine without CUDA is an error unless forced
(``force=True`` or the environment variable ``RRBOOK_FORCE_FULL=1``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TypeVar

import torch

T = TypeVar("T")


@dataclass(frozen=True)
class Profile:
    """A named execution profile."""

    name: str
    description: str
    requires_cuda: bool


PROFILES: dict[str, Profile] = {
    "quick": Profile("quick", "CPU, minutes per chapter; synthetic data or offline Fashion-MNIST (CI default)", False),
    "medium": Profile("medium", "CPU hours; reduced-scale runs whose results are committed under results/", False),
    "full": Profile("full", "the paper's scale on a CUDA GPU (CIFAR-10, MNIST, Fashion-MNIST, SVHN)", True),
}


def get_profile(name: str, *, force: bool = False, cuda_available: bool | None = None) -> Profile:
    """Return the profile called ``name``.

    Raises ``ValueError`` for an unknown name (listing the valid ones) and ``RuntimeError`` when the profile needs
    CUDA that is not there, unless ``force`` (or ``RRBOOK_FORCE_FULL=1``).
    """
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; valid choices: {sorted(PROFILES)}")
    profile = PROFILES[name]
    if cuda_available is None:
        cuda_available = torch.cuda.is_available()
    forced = force or os.environ.get("RRBOOK_FORCE_FULL") == "1"
    if profile.requires_cuda and not cuda_available and not forced:
        raise RuntimeError(
            f"profile {name!r} needs a CUDA GPU and none is available; use profile 'quick', or force it with "
            "--force / RRBOOK_FORCE_FULL=1 (it will take days on a CPU)"
        )
    return profile


def for_profile(profile: str, **configs: T) -> T:
    """Pick the configuration for ``profile`` among keyword arguments named after profiles (``quick`` and ``full``
    always; ``medium`` where the experiment has one).

    >>> for_profile("quick", quick=1, full=2)
    1
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; valid choices: {sorted(PROFILES)}")
    missing = sorted({"quick", "full"} - set(configs))
    if missing:
        raise ValueError(f"no configuration given for profiles {missing}")
    if profile not in configs:
        raise ValueError(f"this experiment has no {profile!r} profile; valid choices: {sorted(configs)}")
    return configs[profile]
