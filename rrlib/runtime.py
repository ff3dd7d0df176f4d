"""The lowest layer: device selection, seeding, thread limits, progress bars, train/eval modes, atomic files.

* :func:`managed_modes` — put modules in eval mode for a block and restore **every sub-module's** own flag
  afterwards (also when the block raises). ``model.train(was)`` would instead reset all sub-modules to one flag.
* :func:`atomic_write` / :func:`atomic_write_text` — write a file so that a reader (or a crash) sees either the old
  file or the new one, never half of it.
* :func:`flush_subnormal_grad` — identity forward; on the CPU, gradient entries below the dtype's smallest normal
  number become exact zeros on the way back, so no large product downstream runs on subnormal operands.
"""

from __future__ import annotations

import contextlib
import os
import random
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any, TypeVar

import numpy as np
import torch
from torch import nn

from rrlib.validation import check_int

T = TypeVar("T")

DEVICE_CHOICES = ("auto", "cpu", "cuda", "cuda:<index>", "mps")


def select_device(device: str | torch.device = "auto") -> torch.device:
    """Resolve a device name.

    ``"auto"`` picks CUDA when it is available, else the CPU. ``"cuda"`` / ``"cuda:N"`` require a visible GPU.

    >>> select_device("cpu")
    device(type='cpu')
    """
    if isinstance(device, torch.device):
        return device
    if not isinstance(device, str):
        raise TypeError(f"device must be a string or torch.device, got {device!r}; valid: {DEVICE_CHOICES}")
    name = device.strip().lower()
    if name == "auto":
        return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "mps":
        if not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
            raise RuntimeError("device 'mps' was requested but MPS is not available; use 'auto' or 'cpu'")
        return torch.device("mps")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise RuntimeError(f"device {device!r} was requested but CUDA is not available; use 'auto' or 'cpu'")
        index = name.partition(":")[2]
        if index and (not index.isdigit() or int(index) >= torch.cuda.device_count()):
            raise ValueError(
                f"device {device!r}: no such GPU; valid indices are 0..{torch.cuda.device_count() - 1}"
            )
        return torch.device(name)
    raise ValueError(f"unknown device {device!r}; valid choices: {DEVICE_CHOICES}")


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch (all devices) and return a CPU ``torch.Generator`` seeded with ``seed``.

    Prefer passing explicit generators (the returned one, or :func:`numpy_rng`) to functions that sample.
    """
    check_int("seed", seed, 0, what="a non-negative integer")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def seeded(factory: Callable[[], T], seed: int) -> T:
    """``factory()`` run under ``torch.manual_seed(seed)`` with torch's global CPU RNG state restored afterwards.

    Used to build networks (critics, models) whose initialisation depends only on ``seed``, without disturbing the
    random stream of the caller.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return factory()


def numpy_rng(seed: int | None) -> np.random.Generator:
    """A NumPy ``Generator`` (PCG64) for ``seed``; ``None`` draws fresh entropy."""
    return np.random.default_rng(seed)


def torch_generator(seed: int, device: str | torch.device = "cpu") -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded with ``seed``."""
    return torch.Generator(device=select_device(device)).manual_seed(seed)


def configure_threads(num_threads: int | None = None) -> int:
    """Set torch's intra-op threads (default: ``RRBOOK_THREADS`` or all cores) and return the number used."""
    if num_threads is None:
        num_threads = int(os.environ.get("RRBOOK_THREADS", os.cpu_count() or 1))
    torch.set_num_threads(max(1, num_threads))
    return torch.get_num_threads()


def progress(iterable: Iterable[T], *, desc: str | None = None, total: int | None = None, **kwargs) -> Iterator[T]:
    """A text tqdm progress bar (on stderr, updates at most every 2 s); ``RRBOOK_NO_PROGRESS=1`` silences it.

    The chapter runner sets ``RRBOOK_NO_PROGRESS=1`` so that rendered chapters carry no progress-bar residue; it prints
    its own progress line per chapter. Long runs from ``python -m rrlib.cli`` show the bars.
    """
    from tqdm import tqdm

    kwargs.setdefault("mininterval", 2.0)
    kwargs.setdefault("dynamic_ncols", True)
    kwargs.setdefault("disable", os.environ.get("RRBOOK_NO_PROGRESS") == "1")
    return iter(tqdm(iterable, desc=desc, total=total, **kwargs))


# ------------------------------------------------------------------------------------------ subnormal gradients
class _FlushSubnormalGrad(torch.autograd.Function):
    """Identity; the backward pass replaces every gradient entry with ``|g| < finfo.tiny`` by ``0``."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return flush_subnormals(grad)


def flush_subnormals(x: torch.Tensor) -> torch.Tensor:
    """``x`` with every entry of magnitude below ``torch.finfo(x.dtype).tiny`` (the smallest normal number,
    ``2**-126 ≈ 1.2e-38`` in float32) replaced by ``0``: a new tensor, differentiable (``torch.where``).

    Each entry moves by less than ``tiny``, i.e. by less than one unit in the last place of any normal number.
    """
    tiny = torch.finfo(x.dtype).tiny
    return torch.where(x.abs() < tiny, torch.zeros((), dtype=x.dtype, device=x.device), x)


def flush_subnormal_grad(x: torch.Tensor) -> torch.Tensor:
    """``x`` unchanged in the forward pass; on the CPU, its gradient leaves with subnormal entries set to ``0``.

    Why: a log-sum-exp's gradient is a softmax, and with a wide critic (the paper's width 2048) the scores spread
    over ~100 nats, so ``exp(s − max)`` underflows into the subnormal range for a few percent of the entries.
    Those entries are then an operand of the critic's largest product (``2048 × 6272 × 128`` for the paper's
    encoder), and x86 CPUs without flush-to-zero take a microcode slow path for each of them (7–9× slower on
    the Intel machine where it was measured; no penalty on AMD EPYC Zen). ``torch.set_flush_denormal(True)``
    would flush them in hardware, but it sets only the *calling* thread's control register: with two intra-op
    threads it flushes half of the products. Flushing the gradient itself is thread-independent and exact up to
    ``finfo.tiny`` per entry: a downstream sum of ``K`` products with factors ``≤ a`` moves by ``≤ K·tiny·a``
    (``< 1e-30`` at the paper's shapes), far below the float32 resolution of any gradient that matters.

    On other devices (CUDA, MPS) ``x`` itself is returned: their behaviour is unchanged.

    >>> s = torch.tensor([0.0, -100.0], requires_grad=True)
    >>> torch.logsumexp(flush_subnormal_grad(s), 0).backward()
    >>> s.grad.tolist()   # the softmax weight e^-100 ≈ 3.7e-44 is subnormal in float32
    [1.0, 0.0]
    """
    if x.device.type != "cpu" or not x.requires_grad or not x.is_floating_point():
        return x
    return _FlushSubnormalGrad.apply(x)


# ------------------------------------------------------------------------------------------ train/eval modes
@contextlib.contextmanager
def managed_modes(modules: nn.Module | Iterable[nn.Module] | None, eval_mode: bool = True,
                  *, train: bool = False) -> Iterator[None]:
    """Put ``modules`` in eval mode (``eval_mode``) or train mode (``train=True``) and restore every sub-module's
    own train/eval flag on exit, also when the block raises.

    >>> net = nn.Sequential(nn.Linear(2, 2), nn.Dropout())
    >>> net[1].eval()  # a mixed state that ``net.train(True)`` would lose
    Dropout(p=0.5, inplace=False)
    >>> with managed_modes(net):
    ...     net.training, net[1].training
    (False, False)
    >>> net.training, net[1].training
    (True, False)
    """
    if modules is None:
        mods: list[nn.Module] = []
    elif isinstance(modules, nn.Module):
        mods = [modules]
    else:
        mods = list(modules)
        for m in mods:
            if not isinstance(m, nn.Module):
                raise TypeError(f"modules must be nn.Module instances, got {type(m).__name__}")
    saved = [(sub, sub.training) for m in mods for sub in m.modules()]
    try:
        if train:
            for m in mods:
                m.train()
        elif eval_mode:
            for m in mods:
                m.eval()
        yield
    finally:
        for sub, training in saved:
            sub.training = training


# ------------------------------------------------------------------------------------------ atomic files
def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. Windows: directories cannot be opened
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], Any]) -> Path:
    """Call ``write(f)`` on a temporary binary file next to ``path``, then atomically move it to ``path``.

    The temporary file is flushed and synced (``fsync``), moved with ``os.replace`` (atomic on POSIX and Windows)
    and the folder synced. If ``write`` raises, the temporary file is removed and ``path`` keeps its old content.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Atomically write UTF-8 ``text`` to ``path``."""
    return atomic_write(path, lambda f: f.write(text.encode("utf-8")))
