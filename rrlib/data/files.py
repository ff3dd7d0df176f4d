"""Where dataset files are (:func:`data_dir`) and whether they can be read: missing files get one message
naming what is expected and how to get it, damaged ones a :class:`DatasetError`; offline Fashion-MNIST is
decompressed from Debian's package into the layout torchvision expects.
"""

from __future__ import annotations

import gzip
import math
import os
import shutil
import struct
import tempfile
import zlib
from pathlib import Path

from rrlib.data.specs import SPLITS, DatasetSpec


def data_dir() -> Path:
    """The user data directory: ``$RRBOOK_DATA`` or ``~/.cache/rrbook/data``."""
    env = os.environ.get("RRBOOK_DATA")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "rrbook" / "data"


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
