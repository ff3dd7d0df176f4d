"""The datasets the library knows (:data:`DATASETS`: title, shape, classes, files, torchvision class) and
their threat models (:data:`THREAT_MODELS`, supplement D.1), with the one threat resolver :func:`resolve_threat`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from rrlib.attacks import ThreatModel
from rrlib.validation import check_nonnegative_float, check_optional_int, check_positive_float

#: The splits of every dataset.
SPLITS = ("train", "test")
#: The batch size of the paper's experiments.
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

#: Every dataset the book knows, by canonical name.
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

#: Other spellings of the datasets' names (:func:`canonical_name` maps them).
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
