"""Critics ``T(x, z)``: the only networks of an MI estimator. Each returns a score matrix.

Every critic is a ``torch.nn.Module`` whose ``forward(x, z)`` takes a batch of ``n`` matched pairs and returns
``scores`` with ``scores[..., i, j] = T(x_i, z_j)`` (diagonal = joint pairs), ready for :mod:`rrlib.mi.bounds`:

* :class:`SeparableCritic` – ``T(x, z) = g(x)ᵀ h(z)`` with two MLPs; one forward pass per sample, ``(n, n)``.
* :class:`ConcatCritic` – ``T(x, z) = f([x, z])``, one MLP applied to all ``n²`` concatenated pairs, ``(n, n)``.
* :class:`EncodeAndDotCritic` – the paper's encode-and-dot-product critic (supplement Table 2, Hjelm et al. 2018):
  per-location image features dotted with a code embedding, ``(L, n, n)`` with ``L`` spatial locations.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from rrlib.validation import check_bool, check_int, check_paired_samples

__all__ = [
    "ConcatCritic",
    "EncodeAndDotCritic",
    "FlatCritic",
    "ResidualBlock1x1",
    "SeparableCritic",
    "encode_and_dot_critics",
    "location_scores",
    "mlp",
]


def mlp(in_dim: int, hidden: int, out_dim: int, layers: int = 1) -> nn.Sequential:
    """``Linear(in, hidden) → ReLU → [Linear(hidden, hidden) → ReLU] × layers → Linear(hidden, out)``.

    The MLP has ``layers + 1`` hidden layers: ``layers = 1`` gives the two-hidden-layer critic of Poole et al. (2019).
    Song & Ermon's (2020) code builds its MLP the same way (``layers + 1`` hidden layers) but its demo uses
    ``layers = 2``, i.e. three hidden layers; compare equal architectures.
    """
    check_int("in_dim", in_dim)
    check_int("hidden", hidden)
    check_int("out_dim", out_dim)
    check_int("layers", layers, minimum=0)
    modules: list[nn.Module] = [nn.Linear(in_dim, hidden), nn.ReLU()]
    for _ in range(layers):
        modules += [nn.Linear(hidden, hidden), nn.ReLU()]
    modules.append(nn.Linear(hidden, out_dim))
    return nn.Sequential(*modules)


class SeparableCritic(nn.Module):
    """``T(x, z) = g(x)ᵀ h(z)``: ``scores = g(X) h(Z)ᵀ`` of shape ``(n, n)``.

    Args:
        x_dim, z_dim: input dimensions.
        hidden: MLP width (256 in the benchmark protocol).
        embed: embedding dimension of ``g`` and ``h`` (32 in the protocol).
        layers: extra hidden layers of each MLP (1 in the protocol).
    """

    def __init__(self, x_dim: int, z_dim: int, hidden: int = 256, embed: int = 32, layers: int = 1) -> None:
        super().__init__()
        self.x_dim, self.z_dim = x_dim, z_dim
        self.g = mlp(x_dim, hidden, embed, layers)
        self.h = mlp(z_dim, hidden, embed, layers)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        check_paired_samples(x, z, self.x_dim, self.z_dim)
        return self.g(x) @ self.h(z).T


class ConcatCritic(nn.Module):
    """``T(x, z) = f([x, z])`` evaluated on all ``n²`` pairs ``(x_i, z_j)``: ``(n, n)`` scores.

    Costs ``n`` times more than :class:`SeparableCritic` but can represent any function of the pair.
    """

    def __init__(self, x_dim: int, z_dim: int, hidden: int = 256, layers: int = 1) -> None:
        super().__init__()
        self.x_dim, self.z_dim = x_dim, z_dim
        self.f = mlp(x_dim + z_dim, hidden, 1, layers)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        check_paired_samples(x, z, self.x_dim, self.z_dim)
        n = x.shape[0]
        pairs = torch.cat([x[:, None, :].expand(n, n, self.x_dim), z[None, :, :].expand(n, n, self.z_dim)], dim=-1)
        return self.f(pairs).squeeze(-1)


class ResidualBlock1x1(nn.Module):
    """DIM's ``MI1x1ConvNet``: a 1×1 residual block followed by LayerNorm over channels.

    ``y = LayerNorm_C( Conv1×1(C→H, bias) ∘ ReLU ∘ BN ∘ Conv1×1(in→H, no bias) (x) + Shortcut(x) )``

    The shortcut is a linear 1×1 convolution ``in → H`` initialised *near identity* (uniform in ±0.01 with ones
    on the diagonal) when ``H ≥ in``. Input and output ``(n, C, h, w)``.
    """

    def __init__(self, in_channels: int, hidden: int) -> None:
        super().__init__()
        check_int("in_channels", in_channels)
        check_int("hidden", hidden)
        self.nonlinear = nn.Sequential(
            nn.Conv2d(in_channels, hidden, kernel_size=1, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU(),
            nn.Conv2d(hidden, hidden, kernel_size=1, bias=True),
        )
        self.shortcut = nn.Conv2d(in_channels, hidden, kernel_size=1, bias=False)
        if hidden >= in_channels:
            with torch.no_grad():
                self.shortcut.weight.uniform_(-0.01, 0.01)
                idx = torch.arange(in_channels)
                self.shortcut.weight[idx, idx, 0, 0] = 1.0
        self.norm = nn.LayerNorm(hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.nonlinear(x) + self.shortcut(x)
        return self.norm(h.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class EncodeAndDotCritic(nn.Module):
    """The paper's encode-and-dot-product critic (supplement Table 2; REFERENCE.md §3.3; Hjelm et al. 2018).

    * image branch φ (on raw pixels, *separate from the encoder g*):
      ``Conv(C→64, 4×4, s2, p1) → BN → ReLU → Conv(64→128, 4×4, s2, p1) → BN → ReLU →``
      :class:`ResidualBlock1x1` ``(128 → hidden)``. A 28×28 image gives 7×7 = 49 locations, a 32×32 image
      8×8 = 64 (the official code comments out Table 2's third conv; we follow the code);
    * code branch ψ: ``z`` reshaped to ``(z_dim, 1, 1)`` → :class:`ResidualBlock1x1` ``(z_dim → hidden)``;
    * scores ``S[k, i, j] = ⟨φ_k(x_i), ψ(z_j)⟩`` for every location ``k``: shape ``(L, n, n)``. The paper's bound
      is DV per location, averaged over locations (``rrlib.mi.bounds.dv`` on these scores).

    Args:
        in_channels: 1 (MNIST, Fashion-MNIST) or 3 (CIFAR-10, SVHN).
        z_dim: representation size (10 for the logit layer, 64 for the learned encoder).
        hidden: embedding width (the paper uses 2048; quick runs use e.g. 64).
        detach_x: if True (the official code, ``BigEncoder.extract``), the image is detached before φ, so no
            gradient reaches the input through the image branch: an adversary perturbing ``x`` then acts only
            through ``z = g(x)``. With False, gradients also flow through φ, as Algorithm 1 of the paper writes it.
    """

    def __init__(self, in_channels: int, z_dim: int, hidden: int = 2048, *, detach_x: bool = True) -> None:
        super().__init__()
        if in_channels not in (1, 3):
            raise ValueError(f"in_channels must be 1 (grey images) or 3 (colour images), got {in_channels!r}")
        check_int("z_dim", z_dim)
        check_int("hidden", hidden)
        check_bool("detach_x", detach_x)
        self.in_channels, self.z_dim, self.hidden, self.detach_x = in_channels, z_dim, hidden, detach_x
        self.image_branch = nn.Sequential(
            nn.Conv2d(in_channels, 64, kernel_size=4, stride=2, padding=1),
            nn.BatchNorm2d(64),
            nn.ReLU(),
            nn.Conv2d(64, 128, kernel_size=4, stride=2, padding=1),
            nn.BatchNorm2d(128),
            nn.ReLU(),
            ResidualBlock1x1(128, hidden),
        )
        self.code_branch = ResidualBlock1x1(z_dim, hidden)

    def local_features(self, x: torch.Tensor) -> torch.Tensor:
        """φ(x): ``(n, hidden, h, w)`` per-location features of images ``x`` of shape ``(n, C, H, W)``."""
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"x must have shape (n, {self.in_channels}, H, W), got {tuple(x.shape)}")
        if min(x.shape[-2:]) < 4:
            raise ValueError(f"images must be at least 4×4 pixels, got {tuple(x.shape[-2:])}")
        return self.image_branch(x.detach() if self.detach_x else x)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        if not isinstance(z, torch.Tensor):
            raise TypeError(f"z must be a torch.Tensor, got {type(z).__name__}")
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"z must have shape (n, {self.z_dim}), got {tuple(z.shape)}")
        if isinstance(x, torch.Tensor) and x.shape[0] != z.shape[0]:
            raise ValueError(f"x and z must hold the same number of samples, got {x.shape[0]} and {z.shape[0]}")
        phi = self.local_features(x).flatten(2)  # (n, hidden, L)
        psi = self.code_branch(z[:, :, None, None]).flatten(1)  # (n, hidden)
        return location_scores(phi, psi)


def location_scores(phi: torch.Tensor, psi: torch.Tensor) -> torch.Tensor:
    """``S[l, i, j] = <phi[i, :, l], psi[j, :]>``: ``(L, n, m)`` scores from image features ``phi`` ``(n, C, L)`` and
    code embeddings ``psi`` ``(m, C)``: the scores of :class:`EncodeAndDotCritic` (supplement Table 2) at every
    location l.

    One matrix product over n·L rows, the image features laid out ``(n·L, C)``: of four equivalent orientations it
    was the fastest, or within noise of it, forward, in the adversary's pass and in the training pass at widths 64,
    512 and 2048 and batches 64 and 128 (``benchmarks/score_product.py``). The result is a permuted view.
    """
    n, c, locations = phi.shape
    rows = phi.transpose(1, 2).reshape(n * locations, c) @ psi.t()  # (n·L, m)
    return rows.view(n, locations, psi.shape[0]).permute(1, 0, 2)


class FlatCritic(nn.Module):
    """A vector critic applied to flattened images: ``T(x, z) = inner(x.flatten(1), z)``."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.inner(x.flatten(1), z)


def encode_and_dot_critics(in_channels: int, z_dim: int, hidden: int = 2048, *,
                           gradient: str = "representation") -> Callable[[int], nn.Module]:
    """``seed ↦`` an :class:`EncodeAndDotCritic` initialised under ``torch.manual_seed(seed)`` (the global RNG is
    restored afterwards, ``rrlib.runtime.seeded``), the critic of the paper's ``estimate-mi``.

    ``gradient="representation"`` (the official code) makes the critic detach its pixel input (``detach_x``).
    """
    from rrlib.runtime import seeded

    detach = gradient == "representation"
    return lambda seed: seeded(lambda: EncodeAndDotCritic(in_channels, z_dim, hidden, detach_x=detach), seed)
