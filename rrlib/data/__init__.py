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

Modules: ``specs`` (the datasets and threat models, :func:`resolve_threat`), ``files`` (where files are, missing and
damaged files), ``datasets`` (:func:`load_dataset`, :func:`subset`), ``loaders`` (:func:`make_loader`); everything is
importable from ``rrlib.data``.

>>> ds = load_dataset("digits", "test")
>>> x, y = ds[0]
>>> tuple(x.shape), x.dtype, 0.0 <= float(x.min()) <= float(x.max()) <= 1.0
((1, 8, 8), torch.float32, True)
"""


from __future__ import annotations

from rrlib.data.datasets import ImageDataset, from_torchvision, load_dataset, subset
from rrlib.data.files import DatasetError, data_dir
from rrlib.data.loaders import AUGMENTATIONS, BatchLoader, cifar_augment, make_loader
from rrlib.data.specs import (
    ALIASES,
    DATASETS,
    PAPER_BATCH_SIZE,
    SPLITS,
    THREAT_MODELS,
    DatasetSpec,
    canonical_name,
    dataset_threat_model,
    get_spec,
    resolve_threat,
)

__all__ = ["ALIASES", "AUGMENTATIONS", "BatchLoader", "DATASETS", "DatasetError", "DatasetSpec", "ImageDataset",
           "PAPER_BATCH_SIZE", "SPLITS", "THREAT_MODELS", "canonical_name", "cifar_augment", "data_dir",
           "dataset_threat_model", "from_torchvision", "get_spec", "load_dataset", "make_loader", "resolve_threat",
           "subset"]
