"""Tiny Fashion-MNIST folders in the true on-disk format (gzipped IDX files), for tests of the data paths.

Pixels and labels are the first images of the real Fashion-MNIST test set when Debian's package is installed
(``/usr/share/datasets/fashion-mnist``), else seeded random bytes; either way they are written as the four
``*-idx?-ubyte.gz`` files that :func:`rrlib.data.load_dataset` reads through torchvision.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

DEBIAN_FMNIST = Path("/usr/share/datasets/fashion-mnist")


def idx_bytes(array: np.ndarray) -> bytes:
    """IDX (LeCun) format: magic 0x0000 08 <ndim>, big-endian int32 dims, then uint8 data."""
    assert array.dtype == np.uint8
    return struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def _read_idx(path: Path, n: int) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        _, _, ndim = struct.unpack(">HBB", f.read(4))
        dims = struct.unpack(f">{ndim}I", f.read(4 * ndim))
        size = int(np.prod((n, *dims[1:])))
        return np.frombuffer(f.read(size), dtype=np.uint8).reshape((n, *dims[1:])).copy()


def source_arrays(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` images (n, 28, 28) and labels (n,) as uint8: real Fashion-MNIST when available."""
    if (DEBIAN_FMNIST / "t10k-images-idx3-ubyte.gz").is_file():
        return (_read_idx(DEBIAN_FMNIST / "t10k-images-idx3-ubyte.gz", n),
                _read_idx(DEBIAN_FMNIST / "t10k-labels-idx1-ubyte.gz", n))
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n, dtype=np.uint8)


def write_fmnist(root: Path, n_train: int = 64, n_test: int = 32, *, label_permutation: np.ndarray | None = None
                 ) -> Path:
    """Write ``<root>/FashionMNIST/raw/*.gz`` with ``n_train`` + ``n_test`` images; return ``root``.

    ``label_permutation`` (of ``n_train + n_test``) shuffles the labels relative to the images.
    """
    images, labels = source_arrays(n_train + n_test)
    if label_permutation is not None:
        labels = labels[label_permutation]
    raw = root / "FashionMNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    parts = {"train": slice(0, n_train), "t10k": slice(n_train, n_train + n_test)}
    for prefix, sl in parts.items():
        for kind, arr in (("images-idx3-ubyte", images[sl]), ("labels-idx1-ubyte", labels[sl])):
            with gzip.open(raw / f"{prefix}-{kind}.gz", "wb") as f:
                f.write(idx_bytes(np.ascontiguousarray(arr)))
    return root
