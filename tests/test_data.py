"""Datasets through torchvision's real classes, on files written in each dataset's true on-disk format.

No parser is mocked. CIFAR-10 and SVHN check the md5 of their files against a list in the class; the tests
write honest files and subclass the torchvision class with only that checksum list replaced by the written
files' md5 (a test also shows that the unpatched class rejects them, so the check is live).
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from rrlib import data as D
from rrlib.attacks import ThreatModel
from rrlib.data import (
    DATASETS,
    THREAT_MODELS,
    cifar_augment,
    dataset_threat_model,
    get_spec,
    load_dataset,
    make_loader,
    subset,
)

DEBIAN_FMNIST = Path("/usr/share/datasets/fashion-mnist")


# --- writers of the true on-disk formats --------------------------------------------------------------------
def _idx_bytes(array: np.ndarray) -> bytes:
    """IDX (LeCun) format: magic 0x0000 08 <ndim>, big-endian int32 dims, then uint8 data."""
    assert array.dtype == np.uint8
    return (
        struct.pack(">HBB", 0, 0x08, array.ndim)
        + struct.pack(f">{array.ndim}I", *array.shape)
        + array.tobytes()
    )


def _write_idx_set(folder: Path, rng: np.random.Generator, sizes=(40, 24), gz=True):
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for prefix, n in zip(("train", "t10k"), sizes, strict=True):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        for kind, arr in (("images-idx3-ubyte", images), ("labels-idx1-ubyte", labels)):
            name = f"{prefix}-{kind}"
            raw = _idx_bytes(arr)
            if gz:
                with gzip.open(folder / (name + ".gz"), "wb") as f:
                    f.write(raw)
            else:
                (folder / name).write_bytes(raw)
        arrays["train" if prefix == "train" else "test"] = (images, labels)
    return arrays


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def _to_tensor(pil_image) -> torch.Tensor:
    from torchvision.transforms import ToTensor

    return ToTensor()(pil_image)


# --- threat models and specs --------------------------------------------------------------------------------
def test_threat_models_are_the_supplements_d1_table():
    # Supplement D.1: MNIST 0.3/10/0.1, FMNIST 0.1/10/0.02, SVHN 4/255/10/0.005, CIFAR-10 8/255/7/0.01 (ℓ∞).
    expected = {
        "mnist": (0.3, 10, 0.1),
        "fashion-mnist": (0.1, 10, 0.02),
        "svhn": (4 / 255, 10, 0.005),
        "cifar10": (8 / 255, 7, 0.01),
    }
    assert {k: (t.eps, t.steps, t.step_size) for k, t in THREAT_MODELS.items()} == expected
    assert all(t.norm == "linf" for t in THREAT_MODELS.values())
    assert dataset_threat_model("fmnist", eps=0.2) == ThreatModel("linf", 0.2, 10, 0.02)
    assert dataset_threat_model("fashion-mnist") is THREAT_MODELS["fashion-mnist"]
    for name, tm in THREAT_MODELS.items():
        assert get_spec(name).threat is tm


def test_specs_shapes_and_normalisation():
    # REFERENCE.md §3.1: CIFAR mean/std of the official code; MNIST, FMNIST, SVHN mean 0 and std 1.
    assert get_spec("cifar10").mean == (0.4914, 0.4822, 0.4465)
    assert get_spec("cifar10").std == (0.2023, 0.1994, 0.2010)
    for name in ("mnist", "fashion-mnist", "svhn"):
        s = get_spec(name)
        assert set(s.mean) == {0.0} and set(s.std) == {1.0}
    assert get_spec("mnist").shape == (1, 28, 28) and get_spec("svhn").shape == (3, 32, 32)
    assert all(s.n_classes == 10 for s in DATASETS.values())
    with pytest.raises(ValueError, match="valid choices"):
        ThreatModel("l1", 0.1, 10, 0.01)


def test_unknown_names_list_valid_choices():
    with pytest.raises(ValueError, match=r"unknown dataset 'imagenet'.*cifar10.*fashion-mnist"):
        load_dataset("imagenet", "train")
    with pytest.raises(ValueError, match=r"unknown split 'val'.*'train', 'test'"):
        load_dataset("digits", "val")
    with pytest.raises(TypeError):
        get_spec(3)


# --- MNIST / Fashion-MNIST: idx files -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "folder", "gz"), [("mnist", "MNIST", True), ("fashion-mnist", "FashionMNIST", False)]
)
def test_idx_datasets_load_through_torchvision(tmp_path, name, folder, gz):
    arrays = _write_idx_set(tmp_path / folder / "raw", np.random.default_rng(1), gz=gz)
    for split in ("train", "test"):
        ds = load_dataset(name, split, root=tmp_path)
        images, labels = arrays[split]
        assert len(ds) == len(labels)
        x, y = ds.tensors()
        assert x.dtype == torch.float32 and x.shape == (len(labels), 1, 28, 28)
        assert torch.equal(x, torch.from_numpy(images).unsqueeze(1).float() / 255)
        assert torch.equal(y, torch.from_numpy(labels).long())
    # Same pixels as the class's own __getitem__ → PIL → ToTensor path.
    import torchvision.datasets as tvd

    tv = (tvd.MNIST if name == "mnist" else tvd.FashionMNIST)(str(tmp_path), train=False)
    pil, label = tv[5]
    assert torch.equal(_to_tensor(pil), load_dataset(name, "test", root=tmp_path)[5][0]) and label == int(
        y[5]
    )


def test_fashion_mnist_found_in_a_system_folder_without_download(tmp_path, monkeypatch):
    system = tmp_path / "usr-share"
    arrays = _write_idx_set(system, np.random.default_rng(2))
    spec = dataclasses.replace(DATASETS["fashion-mnist"], system_dirs=(str(system),))
    monkeypatch.setitem(DATASETS, "fashion-mnist", spec)
    monkeypatch.setenv("RRBOOK_DATA", str(tmp_path / "user"))
    ds = load_dataset("fashion-mnist", "train")  # root from $RRBOOK_DATA
    assert torch.equal(ds.labels, torch.from_numpy(arrays["train"][1]).long())
    raw = tmp_path / "user" / "FashionMNIST" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted(D.specs._IDX)  # decompressed, no temporary leftovers


def test_missing_dataset_error_names_files_and_remedy(tmp_path, monkeypatch):
    spec = dataclasses.replace(DATASETS["fashion-mnist"], system_dirs=(str(tmp_path / "nowhere"),))
    monkeypatch.setitem(DATASETS, "fashion-mnist", spec)
    with pytest.raises(FileNotFoundError) as err:
        load_dataset("fashion-mnist", "test", root=tmp_path)
    msg = str(err.value)
    assert str(tmp_path / "FashionMNIST" / "raw" / "t10k-images-idx3-ubyte") in msg
    assert "apt-get install dataset-fashion-mnist" in msg and "RRBOOK_DATA" in msg
    with pytest.raises(FileNotFoundError, match=r"cifar-10-batches-py/data_batch_1"):
        load_dataset("cifar10", "train", root=tmp_path)
    with pytest.raises(FileNotFoundError, match=r"test_32x32\.mat"):
        load_dataset("svhn", "test", root=tmp_path)


def _damage(raw: Path, name: str, how: str) -> Path:
    """Damage ``raw/<name>.gz`` as a bad download or a full disk would: ``how`` is ``"cut"`` (the gzip stream ends
    early), ``"half"`` (a valid gzip of the first half of the IDX bytes), ``"garbage"`` (a valid gzip of non-IDX
    bytes) or ``"labels"`` (a valid labels file for one image fewer)."""
    path = raw / f"{name}.gz"
    data = gzip.decompress(path.read_bytes())
    if how == "cut":
        path.write_bytes(path.read_bytes()[:100])
    elif how == "half":
        path.write_bytes(gzip.compress(data[: len(data) // 2]))
    elif how == "garbage":
        path.write_bytes(gzip.compress(b"not an idx file" * 10))
    else:
        n = struct.unpack(">I", data[4:8])[0]
        path.write_bytes(gzip.compress(_idx_bytes(np.frombuffer(data[8:], dtype=np.uint8)[: n - 1].copy())))
    return raw / name


@pytest.mark.parametrize(("name", "how", "problem"), [
    ("train-images-idx3-ubyte", "half", "but its header announces 40×28×28 values"),
    ("train-labels-idx1-ubyte", "garbage", "not an IDX file: bad header"),
    ("t10k-images-idx3-ubyte", "cut", "cannot be decompressed"),
    ("train-labels-idx1-ubyte", "labels", "holds 39 labels for 40 images"),
])
def test_damaged_idx_files_are_one_line_naming_the_file(tmp_path, monkeypatch, name, how, problem):
    # Before: AssertionError, EOFError or "RuntimeError: shape '[40, 28, 28]' is invalid" from torchvision's parser.
    monkeypatch.setitem(DATASETS, "fashion-mnist",
                        dataclasses.replace(DATASETS["fashion-mnist"], system_dirs=(str(tmp_path / "nowhere"),)))
    raw = tmp_path / "FashionMNIST" / "raw"
    _write_idx_set(raw, np.random.default_rng(4))
    damaged = _damage(raw, name, how)
    split = "test" if name.startswith("t10k") and how != "cut" else "train"
    with pytest.raises(D.DatasetError) as err:
        load_dataset("fashion-mnist", split, root=tmp_path)
    message = str(err.value)
    assert "\n" not in message and problem in message, message
    assert f"{damaged}{'.gz' if how == 'cut' else ''} is damaged or truncated" in message
    assert "apt-get install dataset-fashion-mnist" in message and "delete it and get it again" in message
    assert isinstance(err.value, ValueError)  # the commands' `error:` line catches it


@pytest.mark.skipif(not DEBIAN_FMNIST.is_dir(), reason="Debian package dataset-fashion-mnist not installed")
def test_real_fashion_mnist_from_the_debian_package(tmp_path):
    train = load_dataset("fashion-mnist", "train", root=tmp_path)
    test = load_dataset("fashion-mnist", "test", root=tmp_path)
    # Fashion-MNIST: 60,000 + 10,000 images, exactly balanced (6,000 and 1,000 per class).
    assert (len(train), len(test)) == (60000, 10000)
    assert torch.equal(torch.bincount(train.labels), torch.full((10,), 6000))
    assert torch.equal(torch.bincount(test.labels), torch.full((10,), 1000))
    x, _ = test.batch(torch.arange(100))
    assert float(x.min()) == 0.0 and float(x.max()) == 1.0
    assert train.classes[9] == "Ankle boot"


# --- CIFAR-10: pickled batches ------------------------------------------------------------------------------
def _write_cifar(folder: Path, rng: np.random.Generator, per_batch: int = 6):
    folder.mkdir(parents=True)
    written = {"train": [], "test": []}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        images = rng.integers(0, 256, size=(per_batch, 3, 32, 32), dtype=np.uint8)
        labels = rng.integers(0, 10, size=per_batch).tolist()
        # The real files: a dict with 'data' (N × 3072 uint8, channel-major rows) and 'labels' (list of ints).
        with open(folder / name, "wb") as f:
            pickle.dump(
                {"batch_label": name, "data": images.reshape(per_batch, 3072), "labels": labels}, f, 2
            )
        written["test" if name == "test_batch" else "train"].append((images, labels))
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": names, "num_cases_per_batch": per_batch, "num_vis": 3072}, f, 2)
    return written


def _honest_cifar_class(folder: Path):
    import torchvision.datasets as tvd

    class WrittenCIFAR10(tvd.CIFAR10):
        """torchvision's CIFAR10 with only the expected md5 list replaced by that of the written files."""

        train_list = [[n, _md5(folder / n)] for n, _ in tvd.CIFAR10.train_list]
        test_list = [[n, _md5(folder / n)] for n, _ in tvd.CIFAR10.test_list]
        meta = {**tvd.CIFAR10.meta, "md5": _md5(folder / "batches.meta")}

    return WrittenCIFAR10


def test_cifar10_loads_pickled_batches_through_torchvision(tmp_path, monkeypatch):
    written = _write_cifar(tmp_path / "cifar-10-batches-py", np.random.default_rng(3))
    cls = _honest_cifar_class(tmp_path / "cifar-10-batches-py")
    # The unpatched class verifies checksums and rejects the written files: the md5 check is live (told as
    # damaged files, in one line naming the folder).
    with pytest.raises(D.DatasetError, match=r"cifar-10-batches-py is damaged or truncated .*corrupted"):
        load_dataset("cifar10", "test", root=tmp_path)
    monkeypatch.setitem(DATASETS, "cifar10", dataclasses.replace(DATASETS["cifar10"], torchvision_class=cls))
    for split in ("train", "test"):
        ds = load_dataset("cifar10", split, root=tmp_path)
        images = np.concatenate([im for im, _ in written[split]])
        labels = sum((lab for _, lab in written[split]), [])
        x, y = ds.tensors()
        assert x.shape == (len(labels), 3, 32, 32)
        assert torch.equal(x, torch.from_numpy(images).float() / 255)
        assert y.tolist() == labels
    train = load_dataset("cifar10", "train", root=tmp_path)
    pil, label = cls(str(tmp_path), train=True)[7]  # the class's own __getitem__ → PIL → ToTensor path
    assert torch.equal(_to_tensor(pil), train[7][0]) and label == train[7][1]
    assert train.classes[0] == "airplane"


# --- SVHN: .mat files ---------------------------------------------------------------------------------------
def test_svhn_loads_mat_files_and_maps_label_10_to_0(tmp_path, monkeypatch):
    import scipy.io
    import torchvision.datasets as tvd

    rng = np.random.default_rng(4)
    digits = {}
    for split, n in (("train", 9), ("test", 7)):
        x = rng.integers(0, 256, size=(32, 32, 3, n), dtype=np.uint8)  # H × W × C × N, as in the real files
        d = np.arange(n) % 10
        y = np.where(d == 0, 10, d).astype(np.uint8).reshape(n, 1)  # SVHN stores digit 0 as label 10
        scipy.io.savemat(tmp_path / f"{split}_32x32.mat", {"X": x, "y": y})
        digits[split] = (x, d)

    class WrittenSVHN(tvd.SVHN):
        split_list = {
            k: [v[0], v[1], _md5(tmp_path / v[1])] if (tmp_path / v[1]).exists() else v
            for k, v in tvd.SVHN.split_list.items()
        }

    with pytest.raises(D.DatasetError, match=r"train_32x32\.mat is damaged or truncated .*corrupted"):
        load_dataset("svhn", "train", root=tmp_path)
    monkeypatch.setitem(
        DATASETS, "svhn", dataclasses.replace(DATASETS["svhn"], torchvision_class=WrittenSVHN)
    )
    for split in ("train", "test"):
        ds = load_dataset("svhn", split, root=tmp_path)
        x_mat, d = digits[split]
        x, y = ds.tensors()
        assert torch.equal(y, torch.from_numpy(d).long())
        expected = torch.from_numpy(x_mat).permute(3, 2, 0, 1).float() / 255  # → N × C × H × W
        assert torch.equal(x, expected)
    pil, _ = WrittenSVHN(str(tmp_path), split="test")[3]
    assert torch.equal(_to_tensor(pil), load_dataset("svhn", "test", root=tmp_path)[3][0])


# --- digits, subsets, loaders -------------------------------------------------------------------------------
def test_digits_splits_partition_sklearn_digits():
    from sklearn.datasets import load_digits

    train, test = load_dataset("digits", "train"), load_dataset("digits", "test")
    assert (len(train), len(test)) == (1437, 360)
    x, _ = train.tensors()
    assert x.shape == (1437, 1, 8, 8) and float(x.min()) == 0.0 and float(x.max()) == 1.0
    bunch = load_digits()
    both = torch.cat([train.images, test.images]).flatten(1)
    ref = torch.as_tensor(bunch.images, dtype=torch.uint8).flatten(1)
    # The two splits together are exactly sklearn's 1,797 images (as multisets of rows with labels).
    key = lambda imgs, labs: sorted(map(tuple, torch.cat([imgs, labs[:, None].to(torch.uint8)], 1).tolist()))  # noqa: E731
    assert key(both, torch.cat([train.labels, test.labels])) == key(ref, torch.as_tensor(bunch.target))


def test_subset_is_stratified_seeded_and_without_replacement():
    ds = load_dataset("digits", "train")
    s1, s2, s3 = subset(ds, 100, seed=0), subset(ds, 100, seed=0), subset(ds, 100, seed=1)
    assert torch.equal(s1.images, s2.images) and not torch.equal(s1.images, s3.images)
    full = torch.bincount(ds.labels, minlength=10).double()
    counts = torch.bincount(s1.labels, minlength=10).double()
    assert int(counts.sum()) == 100
    assert bool(((counts - full * 100 / len(ds)).abs() < 1).all())  # largest-remainder quotas: within one
    rows = {tuple(r) for r in s1.images.flatten(1).tolist()}
    assert len(rows) == len({tuple(r) for r in ds.images.flatten(1).tolist()} & rows)
    assert subset(ds, None) is ds
    with pytest.raises(ValueError, match="exceeds"):
        subset(ds, len(ds) + 1)


def test_loader_is_a_seeded_permutation_and_resumable():
    ds = load_dataset("digits", "test")
    loader = make_loader(ds, seed=3)
    assert loader.batch_size == 128 and len(loader) == 3  # ⌈360/128⌉
    order0, order1 = loader.order(0), loader.order(1)
    assert torch.equal(torch.sort(order0).values, torch.arange(360)) and not torch.equal(order0, order1)
    assert torch.equal(order0, make_loader(ds, seed=3).order(0))
    assert not torch.equal(order0, make_loader(ds, seed=4).order(0))
    batches = list(loader.iterate(1))
    assert [len(y) for _, y in batches] == [128, 128, 104]
    assert torch.equal(torch.cat([y for _, y in batches]), ds.labels[order1])
    resumed = list(loader.iterate(1, start=2))
    assert len(resumed) == 1 and torch.equal(resumed[0][0], batches[2][0])
    loader.set_epoch(1)
    assert torch.equal(next(iter(loader))[1], batches[0][1])
    assert len(make_loader(ds, drop_last=True)) == 2
    assert torch.equal(torch.cat([y for _, y in make_loader(ds, shuffle=False)]), ds.labels)
    with pytest.raises(ValueError, match="valid choices"):
        make_loader(ds, augment="mixup")


def test_cifar_augment_is_deterministic_and_stays_in_the_box():
    x = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    a = cifar_augment(x, torch.Generator().manual_seed(1))
    b = cifar_augment(x, torch.Generator().manual_seed(1))
    c = cifar_augment(x, torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.shape == x.shape and float(a.min()) >= 0.0 and float(a.max()) <= 1.0
    assert torch.equal(
        x, torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    )  # input intact
    # A black image stays black under crop (zero padding), flip, brightness/contrast/saturation and rotation.
    assert torch.equal(cifar_augment(torch.zeros(2, 3, 32, 32), torch.Generator()), torch.zeros(2, 3, 32, 32))
