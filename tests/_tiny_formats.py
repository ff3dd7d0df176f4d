"""Tiny MNIST, Fashion-MNIST, CIFAR-10 and SVHN folders in each dataset's true on-disk format.

* MNIST, Fashion-MNIST: the four gzipped IDX files under ``<root>/MNIST/raw`` / ``<root>/FashionMNIST/raw``
  (:mod:`_tiny_fmnist`; Fashion-MNIST pixels are real when Debian's package is installed);
* CIFAR-10: the python-pickle batches ``<root>/cifar-10-batches-py/data_batch_1..5``, ``test_batch`` and
  ``batches.meta`` (a dict with ``data``, N × 3072 uint8 channel-major rows, and ``labels``, a list of ints);
* SVHN: ``<root>/train_32x32.mat`` and ``test_32x32.mat`` written by ``scipy.io.savemat`` (``X`` of shape
  H × W × C × N, ``y`` of shape N × 1 with digit 0 stored as label 10).

torchvision's CIFAR10 and SVHN classes check each file's md5 against the real release's, which written files
cannot match. :func:`honest_classes` returns the two classes with only those expected checksums replaced by the
written files' (everything else, parsing included, is torchvision's), to be put into ``rrlib.data.DATASETS``.
"""

from __future__ import annotations

import gzip
import hashlib
import pickle
from pathlib import Path

import numpy as np
from _tiny_fmnist import idx_bytes, write_fmnist

CIFAR_FOLDER = "cifar-10-batches-py"
CIFAR_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def _labels(rng: np.random.Generator, n: int) -> np.ndarray:
    """Every class at least once when ``n >= 10`` (stratified subsets then see all ten), in a random order."""
    return rng.permutation(np.arange(n) % 10).astype(np.uint8)


def write_mnist(root: Path, n_train: int, n_test: int, seed: int = 0) -> Path:
    """``<root>/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz`` with random pixels."""
    rng = np.random.default_rng(seed)
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        arrays = {"images-idx3-ubyte": rng.integers(0, 256, (n, 28, 28), dtype=np.uint8),
                  "labels-idx1-ubyte": _labels(rng, n)}
        for kind, arr in arrays.items():
            with gzip.open(raw / f"{prefix}-{kind}.gz", "wb") as f:
                f.write(idx_bytes(arr))
    return root


def write_cifar10(root: Path, n_per_batch: int, n_test: int, seed: int = 0) -> Path:
    """``<root>/cifar-10-batches-py/``: five training batches of ``n_per_batch`` images, a test batch, the meta."""
    rng = np.random.default_rng(seed)
    folder = root / CIFAR_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    batches = [(f"data_batch_{i}", n_per_batch) for i in range(1, 6)] + [("test_batch", n_test)]
    for name, n in batches:
        data = rng.integers(0, 256, (n, 3 * 32 * 32), dtype=np.uint8)
        with open(folder / name, "wb") as f:
            pickle.dump({"batch_label": name, "data": data, "labels": _labels(rng, n).tolist()}, f, 2)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": CIFAR_NAMES, "num_cases_per_batch": n_per_batch, "num_vis": 3072}, f, 2)
    return root


def write_svhn(root: Path, n_train: int, n_test: int, seed: int = 0) -> Path:
    """``<root>/{train,test}_32x32.mat`` as the real files: ``X`` (32, 32, 3, N) uint8, ``y`` (N, 1) in 1..10."""
    import scipy.io

    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("test", n_test)):
        x = rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8)
        digits = _labels(rng, n)
        y = np.where(digits == 0, 10, digits).astype(np.uint8).reshape(n, 1)
        scipy.io.savemat(root / f"{split}_32x32.mat", {"X": x, "y": y})
    return root


def write_all(root: Path, n_train: int, n_test: int) -> Path:
    """All four datasets under ``root`` (CIFAR-10 gets ``ceil(n_train / 5)`` images per training batch)."""
    write_fmnist(root, n_train, n_test)
    write_mnist(root, n_train, n_test)
    write_cifar10(root, -(-n_train // 5), n_test)
    write_svhn(root, n_train, n_test)
    return root


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def honest_classes(root: Path) -> dict[str, type]:
    """torchvision's ``CIFAR10`` and ``SVHN`` with the expected md5 sums of the files written under ``root``."""
    import torchvision.datasets as tvd

    folder = root / CIFAR_FOLDER

    class WrittenCIFAR10(tvd.CIFAR10):
        """torchvision's CIFAR10; only the expected checksums are those of the written files."""

        train_list = [[n, _md5(folder / n)] for n, _ in tvd.CIFAR10.train_list]
        test_list = [[n, _md5(folder / n)] for n, _ in tvd.CIFAR10.test_list]
        meta = {**tvd.CIFAR10.meta, "md5": _md5(folder / "batches.meta")}

    class WrittenSVHN(tvd.SVHN):
        """torchvision's SVHN; only the expected checksums are those of the written files."""

        split_list = {k: [v[0], v[1], _md5(root / v[1])] if (root / v[1]).exists() else v
                      for k, v in tvd.SVHN.split_list.items()}

    return {"cifar10": WrittenCIFAR10, "svhn": WrittenSVHN}
