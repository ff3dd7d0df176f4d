"""Deterministic batch loaders: seeded shuffling per (seed, epoch), the CIFAR augmentation, and the DDP batch
split's per-rank view.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import torch
from torch.utils.data import Dataset

from rrlib.data.specs import PAPER_BATCH_SIZE
from rrlib.validation import check_int


def mix_seeds(*ints: int) -> int:
    """A 63-bit seed from several integers (SplitMix64 finaliser), so (seed, epoch, step) streams differ."""
    h = 0x9E3779B97F4A7C15
    for v in ints:
        h = (h ^ (int(v) & 0xFFFFFFFFFFFFFFFF)) * 0xBF58476D1CE4E5B9 & 0xFFFFFFFFFFFFFFFF
        h = (h ^ (h >> 31)) * 0x94D049BB133111EB & 0xFFFFFFFFFFFFFFFF
        h ^= h >> 29
    return h & 0x7FFFFFFFFFFFFFFF


def cifar_augment(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """The official CIFAR augmentation on a batch (B, 3, H, W) in [0, 1], with parameters from ``generator``.

    RandomCrop(H, padding=4), horizontal flip with probability 1/2, ColorJitter(0.25, 0.25, 0.25) (the three
    adjustments in a random order) and RandomRotation(2°) (REFERENCE.md §3.1), applied per image with
    torchvision's functional ops. Returns a new tensor.
    """
    import torchvision.transforms.v2.functional as F

    b, _, h, w = images.shape
    out = torch.empty_like(images)
    padded = torch.nn.functional.pad(images, (4, 4, 4, 4))
    u = torch.rand(b, 9, generator=generator)
    for i in range(b):
        top, left = int(u[i, 0] * 9), int(u[i, 1] * 9)
        img = padded[i, :, top : top + h, left : left + w]
        if u[i, 2] < 0.5:
            img = F.horizontal_flip(img)
        factors = 0.75 + 0.5 * u[i, 3:6]
        ops = (F.adjust_brightness, F.adjust_contrast, F.adjust_saturation)
        for j in torch.argsort(u[i, 6:9]).tolist():
            img = ops[j](img, float(factors[j]))
        img = F.rotate(img, float(4.0 * u[i, 8] - 2.0))
        out[i] = img.clamp(0.0, 1.0)
    return out


#: Training-time augmentations by name (``images, generator -> images``), as ``make_loader(augment=...)`` takes them.
AUGMENTATIONS: dict[str, Callable[[torch.Tensor, torch.Generator], torch.Tensor]] = {"cifar": cifar_augment}


class BatchLoader:
    """Deterministic mini-batches of an :class:`ImageDataset` (or any map-style dataset of ``(x, y)``).

    Epoch ``e`` visits the examples in the order ``randperm(n)`` drawn from a generator seeded by
    ``(seed, e)``; the augmentation of batch ``k`` uses a generator seeded by ``(seed, e, k)``. So a batch is
    a pure function of ``(seed, epoch, k)``: a run resumed at step ``k`` of epoch ``e``
    (``loader.iterate(e, start=k)``) sees exactly the batches an uninterrupted run would.
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int = PAPER_BATCH_SIZE,
        *,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
        augment: str | None = None,
    ) -> None:
        check_int("batch_size", batch_size, 1, what="a positive integer")
        if augment is not None and augment not in AUGMENTATIONS:
            raise ValueError(f"unknown augmentation {augment!r}; valid choices: {[None, *AUGMENTATIONS]}")
        if len(dataset) == 0:
            raise ValueError("cannot build a loader over an empty dataset")
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = int(seed)
        self.drop_last = drop_last
        self.augment = augment
        self.epoch = 0

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch that ``iter(loader)`` replays."""
        self.epoch = int(epoch)

    def order(self, epoch: int) -> torch.Tensor:
        """The permutation of example indices used in ``epoch``."""
        n = len(self.dataset)
        if not self.shuffle:
            return torch.arange(n)
        return torch.randperm(n, generator=torch.Generator().manual_seed(mix_seeds(self.seed, epoch)))

    def _fetch(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if hasattr(self.dataset, "batch"):
            return self.dataset.batch(idx)
        items = [self.dataset[int(i)] for i in idx]
        return torch.stack([x for x, _ in items]), torch.as_tensor([int(y) for _, y in items])

    def iterate(self, epoch: int, start: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Batches ``start, start+1, ...`` of ``epoch`` as ``(images float32, labels int64)`` on the CPU."""
        order = self.order(epoch)
        for k in range(start, len(self)):
            idx = order[k * self.batch_size : (k + 1) * self.batch_size]
            x, y = self._fetch(idx)
            if self.augment is not None:
                x = AUGMENTATIONS[self.augment](x, torch.Generator().manual_seed(mix_seeds(self.seed, epoch, k)))
            yield x, y

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return self.iterate(self.epoch)


def make_loader(
    dataset: Dataset,
    batch_size: int = PAPER_BATCH_SIZE,
    *,
    shuffle: bool = True,
    seed: int = 0,
    drop_last: bool = False,
    augment: str | None = None,
) -> BatchLoader:
    """A :class:`BatchLoader` with the paper's batch size 128 and seeded, resumable shuffling."""
    return BatchLoader(dataset, batch_size, shuffle=shuffle, seed=seed, drop_last=drop_last, augment=augment)
