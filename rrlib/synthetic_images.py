"""Images whose mutual information with a code is known exactly (issue 21, after Lee & Rhee, NeurIPS 2024).

:class:`BitTileImages`: draw ``d`` independent fair bits ``B``; render ``X`` as a 28×28 grid of ``d`` tiles, tile
``k`` a downsampled Fashion-MNIST image of class ``classes[B_k]`` chosen at random from that class's pool; let the
code ``Z`` be ``B`` sent through a binary symmetric channel with crossover ``p``. Then

    ``I(X; Z) = d · (ln 2 − H_b(p))``  nats,  ``H_b(p) = −p ln p − (1 − p) ln(1 − p)``,

whatever the images look like, because ``B`` is a function of ``X`` (no tile of one class's pool equals a tile of
the other's: :meth:`BitTileImages.bits_of` reads ``B`` back exactly) and ``Z`` depends on ``X`` only through ``B``,
so ``I(X; Z) = I(B; Z) = Σ_k I(B_k; Z_k)``. It is the same interface as :mod:`rrlib.synthetic` (``mi``,
``sample(n, generator)``, ``log_ratio``, ``oracle_scores``), with images for ``x``: the paper's encode-and-dot
critic can be checked on image data against a number no estimator produced.

**Worst case.** Let an adversary replace ``X`` by any ``X' = X + δ(X)`` with ``‖δ‖∞ ≤ ε`` (the paper's threat model,
applied to the image; ``Z`` is not recomputed). If ``2ε`` is less than :meth:`BitTileImages.class_distance` ``Δ``, the
smallest ℓ∞ distance between a tile of one class and a tile of the other, then no point lies within ε of tiles of
both classes, so every tile slot of ``X'`` still tells its bit, ``B`` is a function of ``X'``, and
``min_δ I(X'; Z) = I(X; Z)`` exactly (data processing gives ``≤``; reading ``B`` back gives ``≥``):
:meth:`BitTileImages.worst_case_mi`. For ``2ε ≥ Δ`` some tiles of the two classes can be moved onto one point and
the minimum depends on how the adversary pairs them; it is not computed (``None``).

Layout: up to 4 bits on a 2×2 grid of 14×14 tiles (2×2 average pooling), up to 16 on a 4×4 grid of 7×7 tiles
(4×4 pooling); unused tiles are black. Shapes: ``x`` ``(n, 1, 28, 28)`` in [0, 1], ``z`` ``(n, d)`` of 0.0 / 1.0.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from rrlib.data import load_dataset
from rrlib.validation import check_int

__all__ = ["MAX_BITS", "BitTileImages", "binary_entropy"]

#: The most bits one 28×28 image holds here (a 4×4 grid of 7×7 tiles).
MAX_BITS = 16
_SIDE = 28


def binary_entropy(p: float) -> float:
    """``H_b(p)`` in nats (``0`` at ``p = 0`` and ``1``)."""
    return sum(-q * math.log(q) for q in (p, 1.0 - p) if q > 0.0)


@dataclass(frozen=True)
class BitTileImages:
    """``d`` fair bits shown as image tiles, observed through a binary symmetric channel (see the module docstring).

    Args:
        bits: ``d``, 1 to :data:`MAX_BITS`.
        crossover: ``p`` in ``[0, 0.5]``; ``p = 0`` gives ``Z = B`` (``I = d ln 2``), ``p = 0.5`` independence.
        classes: the two Fashion-MNIST classes a tile shows for bit value 0 and 1 (default trouser and bag, whose
            shapes differ even at 7×7).
        split: which Fashion-MNIST split the tile pools come from; ``data_root`` as in :func:`rrlib.data.load_dataset`.
    """

    bits: int
    crossover: float
    classes: tuple[int, int] = (1, 8)
    split: str = "train"
    data_root: str | os.PathLike | None = None
    _pools: tuple[torch.Tensor, torch.Tensor] = field(init=False, repr=False, compare=False)
    _lookup: dict[bytes, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        what = f"an integer from 1 to {MAX_BITS}"
        if check_int("bits", self.bits, 1, what=what) > MAX_BITS:
            raise ValueError(f"bits must be {what}, got {self.bits!r}")
        p = self.crossover
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= float(p) <= 0.5:
            raise ValueError(f"crossover must be a number in [0, 0.5], got {p!r}")
        a, b = self.classes
        for cls in (a, b):
            if check_int("classes", cls, 0, what="Fashion-MNIST classes from 0 to 9") > 9:
                raise ValueError(f"classes must be Fashion-MNIST classes from 0 to 9, got {self.classes!r}")
        if a == b:
            raise ValueError(f"classes must be two different Fashion-MNIST classes, got {self.classes!r}")
        images, labels = load_dataset("fashion-mnist", self.split, root=self.data_root).tensors()
        pools = []
        for cls in (a, b):
            chosen = images[labels == cls]
            if len(chosen) == 0:
                raise ValueError(f"class {cls} has no image in the {self.split} split; valid classes: 0-9")
            pools.append(self._shrink(chosen))
        lookup: dict[bytes, int] = {}
        for bit, pool in enumerate(pools):
            for tile in pool:
                key = tile.numpy().tobytes()
                if lookup.get(key, bit) != bit:
                    raise ValueError(f"classes {self.classes} share a tile at {self.tile}×{self.tile}: the bits "
                                     "could not be read back from the image; choose other classes")
                lookup[key] = bit
        object.__setattr__(self, "_pools", tuple(pools))
        object.__setattr__(self, "_lookup", lookup)

    # ------------------------------------------------------------------------------------------------ layout
    @property
    def grid(self) -> int:
        """Tiles per side: 2 for up to 4 bits, 4 for up to 16."""
        return 2 if self.bits <= 4 else 4

    @property
    def tile(self) -> int:
        """A tile's side in pixels (14 or 7)."""
        return _SIDE // self.grid

    def _shrink(self, images: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(images, _SIDE // self.tile)

    def _slot(self, k: int) -> tuple[slice, slice]:
        row, col = divmod(k, self.grid)
        return slice(row * self.tile, (row + 1) * self.tile), slice(col * self.tile, (col + 1) * self.tile)

    # ------------------------------------------------------------------------------------------------ truth
    @property
    def mi(self) -> float:
        """``I(X; Z) = d (ln 2 − H_b(p))`` in nats."""
        return self.bits * (math.log(2.0) - binary_entropy(float(self.crossover)))

    def sample(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` joint pairs: images ``(n, 1, 28, 28)`` and codes ``(n, d)`` (0.0 / 1.0), drawn from ``generator``, on
        its device."""
        check_int("n", n, 1, what="a positive integer")
        dev = generator.device
        b = torch.randint(0, 2, (n, self.bits), generator=generator, device=dev)
        flip = torch.rand(n, self.bits, generator=generator, device=dev) < float(self.crossover)
        x = torch.zeros(n, 1, _SIDE, _SIDE, device=dev)
        for k in range(self.bits):
            rows, cols = self._slot(k)
            for bit in (0, 1):
                where = (b[:, k] == bit).nonzero().flatten()
                pool = self._pools[bit]
                pick = torch.randint(0, len(pool), (len(where),), generator=generator, device=dev)
                x[where, :, rows, cols] = pool.to(dev)[pick]
        return x, (b ^ flip.long()).float()

    def bits_of(self, x: torch.Tensor) -> torch.Tensor:
        """``B`` read back from images ``x`` ``(n, 1, 28, 28)``: ``(n, d)`` long; ``ValueError`` for a tile that is in
        neither pool (an image this distribution cannot produce)."""
        out = torch.empty(x.shape[0], self.bits, dtype=torch.long)
        for k in range(self.bits):
            rows, cols = self._slot(k)
            for i in range(x.shape[0]):
                key = x[i, :, rows, cols].detach().cpu().contiguous().numpy().tobytes()
                if key not in self._lookup:
                    raise ValueError(f"image {i}, tile {k}: not a tile of classes {self.classes}")
                out[i, k] = self._lookup[key]
        return out

    def class_distance(self, chunk: int = 512) -> float:
        """``Δ``: the smallest ℓ∞ distance between a tile of the first class's pool and one of the second's (pixel
        values in [0, 1]; brute force over every pair, in chunks of ``chunk`` tiles)."""
        a, b = (pool.flatten(1).double() for pool in self._pools)
        return min(float(torch.cdist(a[i:i + chunk], b, p=float("inf")).min()) for i in range(0, len(a), chunk))

    def worst_case_mi(self, eps: float, distance: float | None = None) -> float | None:
        """``min over ‖δ(X)‖∞ ≤ eps of I(X + δ(X); Z)`` in nats: :attr:`mi` when ``2 eps < Δ`` (see the module
        docstring), else ``None`` (not computed). ``distance``: ``Δ`` if already known (:meth:`class_distance`)."""
        if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not (math.isfinite(eps) and eps >= 0):
            raise ValueError(f"eps must be a finite number >= 0, got {eps!r}")
        delta = self.class_distance() if distance is None else float(distance)
        return self.mi if 2.0 * float(eps) < delta else None

    def _log_terms(self) -> tuple[float, float]:
        p = float(self.crossover)
        if p == 0.0:
            raise ValueError("with crossover 0 the density ratio is 0 or 2^d (log ratio −∞ off the support); "
                             "use crossover > 0 for log ratios and oracle scores")
        return math.log(2.0 * (1.0 - p)), math.log(2.0 * p)

    def log_ratio(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """``log p(x, z) / (p(x) p(z)) = Σ_k log(P(z_k | b_k) / ½)`` for matched rows: ``(n,)`` float64, nats."""
        agree, differ = self._log_terms()
        same = (self.bits_of(x) == z.long().cpu()).double()
        return (same * agree + (1.0 - same) * differ).sum(dim=1)

    def oracle_scores(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """``S[i, j] = log p(x_i, z_j) / (p(x_i) p(z_j))``: ``(n, n)`` float64, the best critic there is."""
        agree, differ = self._log_terms()
        b = self.bits_of(x)
        same = (b[:, None, :] == z.long().cpu()[None, :, :]).double()  # (n, n, d)
        return (same * agree + (1.0 - same) * differ).sum(dim=2)
