"""Image datasets, their per-dataset threat models, and deterministic batch loaders.

Every dataset is read by torchvision's own class (``torchvision.datasets.MNIST``, ``FashionMNIST``, ``SVHN``,
``CIFAR10``) and returned as an :class:`ImageDataset`: pixel tensors in [0, 1] (C×H×W, float32) and integer
labels. Scikit-learn's 8×8 digits (``"digits"``) are there for tiny tests.

The threat models are the paper's (supplement D.1, ℓ∞ PGD without random start):

============== ========= ===== =========
dataset        ε         steps step size
============== ========= ===== =========
MNIST          0.3       10    0.1
Fashion-MNIST  0.1       10    0.02
SVHN           4/255     10    0.005
CIFAR-10       8/255     7     0.01
============== ========= ===== =========

Offline data. Fashion-MNIST, the default of the quick profile, is found without a download in Debian's package
``dataset-fashion-mnist`` (``/usr/share/datasets/fashion-mnist/*.gz``) or in the user data directory
(``$RRBOOK_DATA``, else ``~/.cache/rrbook/data``). The compressed idx files are decompressed, with
torchvision's own ``extract_archive``, to ``<root>/FashionMNIST/raw/`` where torchvision's class expects
them; the parser is torchvision's. Other datasets are downloaded by torchvision when ``download=True``.

Damaged files. Files that are there but cannot be read — a truncated or corrupt ``.gz``, an IDX file whose size
disagrees with its header, a CIFAR/SVHN file that fails torchvision's checksum — raise :class:`DatasetError` (a
``ValueError``) with one line naming the file and how to get it again, instead of the parser's ``AssertionError``
or ``RuntimeError: shape '[60000, 28, 28]' is invalid``.

>>> ds = load_dataset("digits", "test")
>>> x, y = ds[0]
>>> tuple(x.shape), x.dtype, 0.0 <= float(x.min()) <= float(x.max()) <= 1.0
((1, 8, 8), torch.float32, True)
"""

from __future__ import annotations

import gzip
import math
import os
import pickle
import shutil
import struct
import tempfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from rrlib.attacks import ThreatModel
from rrlib.validation import check_int, check_nonnegative_float, check_optional_int, check_positive_float

SPLITS = ("train", "test")
PAPER_BATCH_SIZE = 128


#: The paper's threat models (supplement D.1).
THREAT_MODELS: dict[str, ThreatModel] = {
    "mnist": ThreatModel("linf", 0.3, 10, 0.1),
    "fashion-mnist": ThreatModel("linf", 0.1, 10, 0.02),
    "svhn": ThreatModel("linf", 4 / 255, 10, 0.005),
    "cifar10": ThreatModel("linf", 8 / 255, 7, 0.01),
}


@dataclass(frozen=True)
class DatasetSpec:
    """What the library knows about one dataset.

    ``mean``/``std`` are the input normalisation that the model applies inside itself (REFERENCE.md §3.1):
    CIFAR-10 uses the official implementation's statistics, the others mean 0 and std 1.
    """

    name: str
    title: str
    channels: int
    image_size: int
    n_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    threat: ThreatModel | None
    sizes: dict[str, int]
    torchvision_class: Callable | None = None
    folder: str = ""
    files: dict[str, tuple[str, ...]] = field(default_factory=dict)
    system_dirs: tuple[str, ...] = ()
    how_to_get: str = ""

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        return (self.channels, self.image_size, self.image_size)


def _torchvision(name: str) -> Callable:
    def make(*args, **kwargs):
        import torchvision.datasets

        return getattr(torchvision.datasets, name)(*args, **kwargs)

    make.__name__ = f"torchvision.datasets.{name}"
    return make


# torchvision's MNIST and CIFAR10 classes check that the files of *both* splits are present before loading
# either, so each split lists every file its class requires.
_IDX = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
_IDX_FILES = {"train": _IDX, "test": _IDX}
_CIFAR = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch", "batches.meta")

DATASETS: dict[str, DatasetSpec] = {
    "mnist": DatasetSpec(
        "mnist",
        "MNIST",
        1,
        28,
        10,
        (0.0,),
        (1.0,),
        THREAT_MODELS["mnist"],
        {"train": 60000, "test": 10000},
        _torchvision("MNIST"),
        "MNIST",
        _IDX_FILES,
        (),
        "run `python -m rrlib.cli download mnist` (or load with download=True) on a machine with internet",
    ),
    "fashion-mnist": DatasetSpec(
        "fashion-mnist",
        "Fashion-MNIST",
        1,
        28,
        10,
        (0.0,),
        (1.0,),
        THREAT_MODELS["fashion-mnist"],
        {"train": 60000, "test": 10000},
        _torchvision("FashionMNIST"),
        "FashionMNIST",
        _IDX_FILES,
        ("/usr/share/datasets/fashion-mnist",),
        "install Debian's package (`apt-get install dataset-fashion-mnist`), or run "
        "`python -m rrlib.cli download fashion-mnist` on a machine with internet",
    ),
    "svhn": DatasetSpec(
        "svhn",
        "SVHN",
        3,
        32,
        10,
        (0.0, 0.0, 0.0),
        (1.0, 1.0, 1.0),
        THREAT_MODELS["svhn"],
        {"train": 73257, "test": 26032},
        _torchvision("SVHN"),
        "",
        {"train": ("train_32x32.mat",), "test": ("test_32x32.mat",)},
        (),
        "run `python -m rrlib.cli download svhn` (or load with download=True) on a machine with internet",
    ),
    "cifar10": DatasetSpec(
        "cifar10",
        "CIFAR-10",
        3,
        32,
        10,
        (0.4914, 0.4822, 0.4465),
        (0.2023, 0.1994, 0.2010),
        THREAT_MODELS["cifar10"],
        {"train": 50000, "test": 10000},
        _torchvision("CIFAR10"),
        "cifar-10-batches-py",
        {"train": _CIFAR, "test": _CIFAR},
        (),
        "run `python -m rrlib.cli download cifar10` (or load with download=True) on a machine with internet",
    ),
    "digits": DatasetSpec(
        "digits",
        "scikit-learn 8×8 digits",
        1,
        8,
        10,
        (0.0,),
        (1.0,),
        None,
        {"train": 1437, "test": 360},
        None,
        "",
        {},
        (),
        "bundled with scikit-learn",
    ),
}

ALIASES = {
    "fashion_mnist": "fashion-mnist",
    "fashionmnist": "fashion-mnist",
    "fmnist": "fashion-mnist",
    "cifar-10": "cifar10",
    "cifar_10": "cifar10",
}


def canonical_name(name: str) -> str:
    """The registry key of a dataset name (``"FashionMNIST"``, ``"fmnist"`` → ``"fashion-mnist"``)."""
    if not isinstance(name, str):
        raise TypeError(f"dataset name must be a string, got {name!r}; valid choices: {sorted(DATASETS)}")
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if key not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; valid choices: {sorted(DATASETS)}")
    return key


def get_spec(name: str) -> DatasetSpec:
    """The :class:`DatasetSpec` of ``name`` (aliases accepted)."""
    return DATASETS[canonical_name(name)]


def resolve_threat(dataset: str, eps: float | None = None, steps: int | None = None, step_size: float | None = None,
                   *, norm: str | None = None, names: dict[str, str] | None = None) -> ThreatModel:
    """The one threat resolver: the paper's :class:`~rrlib.attacks.ThreatModel` of ``dataset`` (supplement D.1, the
    table above) with the values given replacing its own (``None``: keep). Every configuration that names an attack by
    ``eps``, ``steps`` and ``step_size`` (training, encoders, heads, estimate-mi) resolves it here.

    A dataset without a threat model in the paper needs all three (ℓ∞ in the [0, 1] pixel box unless ``norm``);
    the one message for that names the missing values by ``names`` (value → how the caller spells it, e.g. a flag;
    default: the field names). The values are checked here (``ValueError`` naming the field).

    >>> resolve_threat("fmnist", steps=5)
    ThreatModel(norm='linf', eps=0.1, steps=5, step_size=0.02, box=(0.0, 1.0), random_start=False, restarts=0)
    """
    check_nonnegative_float("eps", eps, allow_none=True)
    check_optional_int("steps", steps, 1)
    if step_size is not None:
        check_positive_float("step_size", step_size)
    given = {"eps": eps, "steps": steps, "step_size": step_size}
    overrides = {k: v for k, v in given.items() if v is not None}
    paper = get_spec(dataset).threat
    if paper is None:
        missing = [(names or {}).get(k, k) for k, v in given.items() if v is None]
        if missing:
            raise ValueError(f"dataset {dataset!r} has no threat model in the paper; give {', '.join(missing)}")
        return ThreatModel(norm or "linf", **overrides)
    if norm is not None and norm != paper.norm:
        overrides["norm"] = norm
    return replace(paper, **overrides) if overrides else paper  # the paper's own object when nothing changes


def dataset_threat_model(name: str, eps: float | None = None) -> ThreatModel:
    """The paper's :class:`~rrlib.attacks.ThreatModel` for dataset ``name``, optionally with another ε
    (:func:`resolve_threat` with ε alone).

    >>> dataset_threat_model("fashion-mnist")
    ThreatModel(norm='linf', eps=0.1, steps=10, step_size=0.02, box=(0.0, 1.0), random_start=False, restarts=0)
    """
    return resolve_threat(name, eps)


def data_dir() -> Path:
    """The user data directory: ``$RRBOOK_DATA`` or ``~/.cache/rrbook/data``."""
    env = os.environ.get("RRBOOK_DATA")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "rrbook" / "data"


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


class DatasetError(ValueError):
    """A dataset's files are there but cannot be read (damaged or truncated). The message is one line naming the
    file or folder, what is wrong, and how to get the files again."""


def _damaged(spec: DatasetSpec, split: str | None, what: Path, problem: str) -> DatasetError:
    where = f"{spec.title} ({split} split)" if split else spec.title
    return DatasetError(
        f"{where}: {what} is damaged or truncated ({' '.join(problem.split())}); delete it and get it again: "
        f"{spec.how_to_get} (or set RRBOOK_DATA to a folder with intact files)"
    )


#: Bytes per element of the IDX type codes that torchvision's MNIST parser reads.
_IDX_ITEM_BYTES = {0x08: 1, 0x09: 1, 0x0B: 2, 0x0C: 4, 0x0D: 4, 0x0E: 8}


def _idx_shape(path: Path) -> tuple[tuple[int, ...] | None, str]:
    """``(dims, "")`` of an uncompressed IDX file whose size agrees with its header, else ``(None, problem)``."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(4)
        if len(head) < 4 or head[:2] != b"\0\0" or head[2] not in _IDX_ITEM_BYTES or not 1 <= head[3] <= 3:
            return None, f"not an IDX file: bad header {head.hex() or '(empty file)'}"
        raw_dims = f.read(4 * head[3])
    if len(raw_dims) < 4 * head[3]:
        return None, f"its header is cut short ({size} bytes)"
    dims = struct.unpack(f">{head[3]}I", raw_dims)
    expected = 4 + 4 * len(dims) + math.prod(dims) * _IDX_ITEM_BYTES[head[2]]
    if size != expected:
        shape = "×".join(str(d) for d in dims)
        return None, f"{size} bytes, but its header announces {shape} values, {expected} bytes"
    return dims, ""


def _check_idx(spec: DatasetSpec, root: Path, split: str) -> None:
    """Raise :class:`DatasetError` unless the split's images and labels are IDX files of matching sizes, whose
    images have the spec's height and width."""
    raw = root / spec.folder / "raw"
    prefix = "train" if split == "train" else "t10k"
    images, labels = raw / f"{prefix}-images-idx3-ubyte", raw / f"{prefix}-labels-idx1-ubyte"
    dims = {}
    for path in (images, labels):
        dims[path], problem = _idx_shape(path)
        if dims[path] is None:
            raise _damaged(spec, split, path, problem)
    side = (spec.image_size, spec.image_size)
    if len(dims[images]) != 3 or dims[images][1:] != side:
        raise _damaged(spec, split, images, f"holds images of shape {dims[images][1:]}, expected {side}")
    if dims[labels] != dims[images][:1]:
        raise _damaged(spec, split, labels, f"holds {'×'.join(map(str, dims[labels]))} labels for "
                                            f"{dims[images][0]} images in {images.name}")


def _check_split(split: str) -> str:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid choices: {SPLITS}")
    return split


def _missing_message(spec: DatasetSpec, root: Path, split: str) -> str:
    where = root / spec.folder if spec.folder else root
    if spec.name in ("mnist", "fashion-mnist"):
        where = where / "raw"
        names = [f"{f} (or {f}.gz)" for f in spec.files[split]]
    else:
        names = list(spec.files[split])
    also = "".join(f"\n  or the .gz files in {d}" for d in spec.system_dirs)
    return (
        f"{spec.title} ({split} split) not found and download=False. Expected files:\n  "
        + "\n  ".join(str(where / n) for n in names)
        + also
        + f"\nTo get them: {spec.how_to_get}; or set RRBOOK_DATA to a folder that holds them "
        f"(current data root: {root})."
    )


def _prepare_idx(spec: DatasetSpec, root: Path, split: str) -> bool:
    """Make ``<root>/<folder>/raw/`` hold the uncompressed idx files of ``split``; True when they are there.

    Looks for each file uncompressed or as ``.gz`` in the raw folder, then in the spec's system folders
    (Debian's ``/usr/share/datasets/...``), and decompresses with torchvision's ``extract_archive`` into a
    temporary file that is atomically renamed (safe when several processes prepare the same folder).
    """
    from torchvision.datasets.utils import extract_archive

    raw = root / spec.folder / "raw"
    for fname in spec.files[split]:
        target = raw / fname
        if target.is_file():
            continue
        sources = [raw / (fname + ".gz")] + [Path(d) / (fname + ".gz") for d in spec.system_dirs]
        plain = [Path(d) / fname for d in spec.system_dirs]
        src = next((p for p in sources + plain if p.is_file()), None)
        if src is None:
            return False
        raw.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=raw, prefix=".extract-") as tmp:
            out = Path(tmp) / fname
            if src.suffix == ".gz":
                try:
                    extract_archive(str(src), tmp)
                except (EOFError, gzip.BadGzipFile, zlib.error) as err:
                    raise _damaged(spec, None, src, f"cannot be decompressed: {err}") from None
            else:
                shutil.copyfile(src, out)
            os.replace(out, target)
    return True


def _files_present(spec: DatasetSpec, root: Path, split: str) -> bool:
    where = root / spec.folder if spec.folder else root
    return all((where / f).is_file() for f in spec.files[split])


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


def _mix(*ints: int) -> int:
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
        return torch.randperm(n, generator=torch.Generator().manual_seed(_mix(self.seed, epoch)))

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
                x = AUGMENTATIONS[self.augment](x, torch.Generator().manual_seed(_mix(self.seed, epoch, k)))
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
