"""Loading a dataset as an :class:`ImageDataset` (pixels in [0, 1], integer labels) through torchvision's classes
or scikit-learn's 8×8 digits, and class-stratified seeded subsets.
"""

from __future__ import annotations

import os
import pickle
import struct
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from rrlib.data.files import (
    _check_idx,
    _check_split,
    _damaged,
    _files_present,
    _missing_message,
    _prepare_idx,
    data_dir,
)
from rrlib.data.specs import (
    DATASETS,
    canonical_name,
)
from rrlib.validation import check_int


class ImageDataset(Dataset):
    """Images in [0, 1] as C×H×W float32 tensors with integer labels.

    Stores ``images`` as an integer tensor (N, C, H, W) and divides by ``scale`` on access (255 for 8-bit
    pixels), which keeps a dataset in memory at one byte per pixel.
    ``dataset[i]`` is ``(image, label)``; ``dataset.batch(indices)`` returns the stacked ``(images, labels)``.
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        *,
        scale: float = 255.0,
        name: str = "",
        classes: Sequence[str] | None = None,
    ) -> None:
        if images.ndim != 4:
            raise ValueError(f"images must have shape (N, C, H, W), got {tuple(images.shape)}")
        if labels.shape != (images.shape[0],):
            raise ValueError(f"labels must have shape ({images.shape[0]},), got {tuple(labels.shape)}")
        self.images = images
        self.labels = labels.to(torch.int64)
        self.scale = float(scale)
        self.name = name
        self.classes = list(classes) if classes is not None else None

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.images[index].to(torch.float32) / self.scale, int(self.labels[index])

    def batch(self, indices: torch.Tensor | Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Images (B, C, H, W) float32 in [0, 1] and labels (B,) int64 for ``indices``."""
        idx = torch.as_tensor(indices, dtype=torch.int64)
        return self.images[idx].to(torch.float32) / self.scale, self.labels[idx]

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """All images and labels as ``(float32 (N, C, H, W), int64 (N,))``."""
        return self.batch(torch.arange(len(self)))

    def __repr__(self) -> str:
        return f"ImageDataset({self.name!r}, n={len(self)}, shape={tuple(self.images.shape[1:])})"


def _load_digits(split: str) -> ImageDataset:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = torch.as_tensor(bunch.images, dtype=torch.uint8).unsqueeze(1)  # values 0..16
    labels = torch.as_tensor(bunch.target, dtype=torch.int64)
    perm = torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))
    n_train = DATASETS["digits"].sizes["train"]
    idx = perm[:n_train] if split == "train" else perm[n_train:]
    return ImageDataset(
        images[idx], labels[idx], scale=16.0, name=f"digits/{split}", classes=[str(i) for i in range(10)]
    )


def from_torchvision(tv_dataset, *, name: str = "") -> ImageDataset:
    """Wrap a loaded torchvision MNIST/FashionMNIST/SVHN/CIFAR10 object as an :class:`ImageDataset`.

    Reads the class's decoded arrays (``data`` and ``targets``/``labels``), the same pixels that its
    ``__getitem__`` hands to ``ToTensor``, without a PIL round trip per image.
    """
    data = tv_dataset.data
    data = torch.as_tensor(np.asarray(data)) if not isinstance(data, torch.Tensor) else data
    if data.ndim == 3:  # MNIST family: (N, H, W)
        images = data.unsqueeze(1)
    elif data.ndim == 4 and data.shape[-1] == 3:  # CIFAR: (N, H, W, C)
        images = data.permute(0, 3, 1, 2)
    elif data.ndim == 4 and data.shape[1] == 3:  # SVHN: (N, C, H, W)
        images = data
    else:
        raise ValueError(f"unexpected torchvision data shape {tuple(data.shape)} for {name!r}")
    targets = getattr(tv_dataset, "targets", None)
    if targets is None:
        targets = tv_dataset.labels
    labels = torch.as_tensor(np.asarray(targets), dtype=torch.int64)
    return ImageDataset(
        images.to(torch.uint8).contiguous(),
        labels,
        scale=255.0,
        name=name,
        classes=getattr(tv_dataset, "classes", None),
    )


def load_dataset(
    name: str, split: str, *, root: str | os.PathLike | None = None, download: bool = False
) -> ImageDataset:
    """Load ``split`` (``"train"`` or ``"test"``) of dataset ``name`` as an :class:`ImageDataset`.

    ``root`` defaults to :func:`data_dir`. Fashion-MNIST is also found in Debian's package folder. With
    ``download=False`` a missing dataset raises ``FileNotFoundError`` naming the expected files and how to get
    them; ``download=True`` lets torchvision fetch it.
    """
    key = canonical_name(name)
    _check_split(split)
    spec = DATASETS[key]
    if key == "digits":
        return _load_digits(split)
    root_path = Path(root).expanduser() if root is not None else data_dir()
    if spec.name in ("mnist", "fashion-mnist"):
        present = _prepare_idx(spec, root_path, split)
    else:
        present = _files_present(spec, root_path, split)
    if not present and not download:
        raise FileNotFoundError(_missing_message(spec, root_path, split))
    if download:
        root_path.mkdir(parents=True, exist_ok=True)
    if present and spec.name in ("mnist", "fashion-mnist"):
        _check_idx(spec, root_path, split)
    try:
        if key == "svhn":
            tv = spec.torchvision_class(str(root_path), split=split, download=download and not present)
        else:
            tv = spec.torchvision_class(
                str(root_path), train=(split == "train"), download=download and not present
            )
        ds = from_torchvision(tv, name=f"{key}/{split}")
    except (AssertionError, RuntimeError, ValueError, EOFError, IndexError, KeyError, TypeError, struct.error,
            pickle.UnpicklingError, zlib.error) as err:
        if not present:  # torchvision fetched the files: a download problem, told in its own words
            raise
        files = spec.files[split]
        where = root_path / spec.folder if spec.folder else root_path / files[0] if len(files) == 1 else root_path
        raise _damaged(spec, split, where, f"{type(err).__name__}: {err}") from None
    if ds.images.shape[1:] != spec.shape:
        raise ValueError(
            f"{spec.title} images have shape {tuple(ds.images.shape[1:])}, expected {spec.shape}"
        )
    return ds


def subset(dataset: ImageDataset, n: int | None, seed: int = 0, *, stratified: bool = True) -> ImageDataset:
    """``n`` examples of ``dataset`` drawn without replacement with a seeded generator (``None``: all).

    ``stratified`` keeps the class proportions (each class gets ⌊n·p_c⌋ examples, the remainder goes to
    the classes with the largest fractional parts), so small quick-profile subsets stay balanced.
    """
    if n is None:
        return dataset
    check_int("subset size", n, 1, what="a positive integer", allow_none=True)
    if n > len(dataset):
        raise ValueError(f"subset size {n} exceeds the dataset size {len(dataset)}")
    gen = torch.Generator().manual_seed(seed)
    if not stratified:
        idx = torch.randperm(len(dataset), generator=gen)[:n]
    else:
        labels = dataset.labels
        classes, counts = torch.unique(labels, return_counts=True)
        quota = counts.double() * n / len(dataset)
        take = quota.floor().long()
        remainder = n - int(take.sum())
        if remainder > 0:
            order = torch.argsort(quota - take.double(), descending=True, stable=True)
            take[order[:remainder]] += 1
        parts = []
        for c, k in zip(classes.tolist(), take.tolist(), strict=True):
            members = torch.nonzero(labels == c).flatten()
            parts.append(members[torch.randperm(len(members), generator=gen)[:k]])
        idx = torch.cat(parts)
        idx = idx[torch.randperm(len(idx), generator=gen)]
    return ImageDataset(
        dataset.images[idx],
        dataset.labels[idx],
        scale=dataset.scale,
        name=f"{dataset.name}[{n}]",
        classes=dataset.classes,
    )
