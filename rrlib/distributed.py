"""Data-parallel training with PyTorch's own engine (``torchrun`` + DistributedDataParallel), and nothing else.

Run a training command under ``torchrun`` and it becomes data-parallel::

    torchrun --nproc_per_node 4 -m rrlib.cli train-model --dataset fashion-mnist --out runs/fm   # NCCL, 4 GPUs
    torchrun --nproc_per_node 2 -m rrlib.cli train-model --dataset digits --device cpu --out runs/d  # Gloo, CPU

The environment that torchrun sets (``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``; ``MASTER_ADDR``/``MASTER_PORT``) is
detected by :func:`launched`; without it (or with ``WORLD_SIZE=1``) nothing here does anything and training is
the single-process code path, bit for bit. ``RRBOOK_DISTRIBUTED=1`` asks for a process group even in a world of
one (``torchrun --nproc_per_node 1``): the backend (NCCL on one GPU) and the DDP path then run, which is how
``benchmarks/gpu_check.py`` checks NCCL on a one-GPU machine. The contract of a distributed run:

* **One global batch.** Every rank walks the same seeded batch order (:class:`rrlib.data.BatchLoader`) and keeps
  its contiguous slice of each batch (:func:`shard`): the optimiser step sees the configuration's ``batch_size``,
  each rank ``batch_size / world_size`` of it (:func:`check_batch` refuses a world size that does not divide it).
* **The same mean gradient.** Each rank's loss is its share of the batch loss (``Σ_local CE / n_batch × W``);
  DDP averages the ranks' gradients, so the step uses the gradient of the whole batch's mean loss. Batch norm is
  synchronised (:func:`sync_batchnorm`: torch's ``SyncBatchNorm`` on CUDA, :class:`GlobalBatchNorm` on the CPU),
  so its statistics are those of the whole batch, as in one process. The result equals one process up to the
  order of floating-point sums (tests/test_distributed.py states the tolerance).
* **Different random streams per rank.** Dropout and random starts draw from torch's global RNG, reseeded before
  every step from ``(seed, step, rank)`` (:func:`seed_step`): deterministic, resumable at any step, different on
  every rank (so runs with dropout agree with one process in distribution, not number for number).
* **Rank 0 writes.** Checkpoints and metrics are written by rank 0 only (:func:`is_main`) and hold the unwrapped
  modules' state dicts (:func:`unwrap`), so a checkpoint does not depend on the world size and any world size,
  or one process, resumes it. Rank 0 reads it and sends it to the others (:func:`from_main`), so other machines
  need no shared disk.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import nn

from rrlib.runtime import select_device

T = TypeVar("T")

ENV_VARS = ("WORLD_SIZE", "RANK", "LOCAL_RANK")
#: Set to ``1`` (with torchrun's variables) to join a process group in a world of one process.
ONE_PROCESS_GROUP_ENV = "RRBOOK_DISTRIBUTED"
#: The process-group backend of each device type.
BACKENDS = {"cuda": "nccl", "cpu": "gloo"}


# ------------------------------------------------------------------------------------------------- environment
def _env_int(name: str, default: int) -> int:
    text = os.environ.get(name)
    if text is None:
        return default
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"environment variable {name}={text!r} is not an integer (torchrun sets it)") from None


def launched() -> bool:
    """True when torchrun (or another launcher) asked for more than one process (``WORLD_SIZE > 1``), or for a
    group of one with ``RRBOOK_DISTRIBUTED=1`` (:data:`ONE_PROCESS_GROUP_ENV`)."""
    world = _env_int("WORLD_SIZE", 1)
    return world > 1 or ("WORLD_SIZE" in os.environ and os.environ.get(ONE_PROCESS_GROUP_ENV) == "1")


def is_distributed() -> bool:
    """True inside an initialised process group: of more than one process, or of one that
    ``RRBOOK_DISTRIBUTED=1`` asked for (a plain process never initialises one)."""
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    """This process's rank (0 without a process group)."""
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    """The number of processes (1 without a process group)."""
    return dist.get_world_size() if is_distributed() else 1


def local_rank() -> int:
    """This process's index on its machine (``LOCAL_RANK``; 0 without a launcher)."""
    return _env_int("LOCAL_RANK", 0) if is_distributed() else 0


def is_main() -> bool:
    """True on rank 0, the process that writes checkpoints, metrics and the console output."""
    return rank() == 0


def init(device: str | torch.device = "auto") -> torch.device:
    """Join torchrun's process group (when :func:`launched`) and return this rank's device.

    NCCL when ``device`` resolves to CUDA (each rank takes ``cuda:LOCAL_RANK``), Gloo on the CPU. Without a
    launcher it only resolves ``device``. Calling it again in an initialised process returns the device.
    """
    dev = select_device(device)
    if not launched():
        return dev
    missing = [name for name in (*ENV_VARS, "MASTER_ADDR", "MASTER_PORT") if name not in os.environ]
    if missing:
        raise ValueError(f"WORLD_SIZE={os.environ['WORLD_SIZE']} but {missing} are not set; start the command "
                         "with torchrun (python -m torch.distributed.run), which sets them")
    if dev.type not in BACKENDS:
        raise ValueError(f"device {str(dev)!r} cannot run data-parallel; valid device types: {sorted(BACKENDS)}")
    if dev.type == "cuda":
        index = _env_int("LOCAL_RANK", 0)
        if index >= torch.cuda.device_count():
            raise ValueError(f"LOCAL_RANK={index} but this machine has {torch.cuda.device_count()} GPUs; start at "
                             f"most {torch.cuda.device_count()} processes per machine (--nproc_per_node)")
        dev = torch.device("cuda", index)
        torch.cuda.set_device(dev)
    if not dist.is_initialized():
        dist.init_process_group(BACKENDS[dev.type], device_id=dev if dev.type == "cuda" else None)
        if is_main():
            print(f"rrlib.distributed: {dist.get_world_size()} process(es), backend {dist.get_backend()}, "
                  f"device {dev}", file=sys.stderr, flush=True)
    return dev


def teardown() -> None:
    """Leave the process group (a no-op without one)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


@contextlib.contextmanager
def session(device: str | torch.device = "auto") -> Iterator[torch.device]:
    """:func:`init` for a block, :func:`teardown` afterwards (also on error); yields this rank's device."""
    try:
        yield init(device)
    finally:
        teardown()


@contextlib.contextmanager
def rank_zero_stdout() -> Iterator[None]:
    """Standard output of rank 0 only for the block: the other ranks print into ``os.devnull``."""
    with contextlib.ExitStack() as stack:
        if not is_main():
            stack.enter_context(contextlib.redirect_stdout(stack.enter_context(open(os.devnull, "w"))))
        yield


def barrier() -> None:
    """Wait for every rank (a no-op in one process)."""
    if is_distributed():
        dist.barrier()


# ------------------------------------------------------------------------------------------------- data split
def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def check_batch(batch_size: int, what: str = "batch_size") -> int:
    """The per-rank share of a global batch of ``batch_size``; a world size that does not divide it is an error."""
    w = world_size()
    if batch_size % w:
        raise ValueError(f"{what} {batch_size} cannot be split evenly across world size {w}; valid world sizes for "
                         f"{what} {batch_size}: {_divisors(batch_size)}")
    return batch_size // w


def check_last_batch(n_examples: int, batch_size: int) -> None:
    """Refuse a data set whose last (partial) batch has fewer images than there are ranks (one would get none)."""
    last, w = n_examples % batch_size, world_size()
    if 0 < last < w:
        raise ValueError(f"the last batch holds {last} of {n_examples} images, fewer than world size {w}; use a "
                         f"training set whose size leaves a last batch of 0 or at least {w} images")


def shard(*tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """This rank's contiguous slice of each tensor's first dimension (``torch.tensor_split`` into world size)."""
    if not is_distributed():
        return tensors
    return tuple(torch.tensor_split(t, world_size())[rank()] for t in tensors)


def shard_range(n: int) -> range:
    """This rank's contiguous part of ``range(n)`` (for splitting an evaluation set)."""
    w, r = world_size(), rank()
    return range(n * r // w, n * (r + 1) // w)


def seed_step(seed: int, *keys: int) -> None:
    """In a distributed run, reseed torch's global RNG from ``(seed, *keys, rank)`` (a no-op in one process)."""
    if is_distributed():
        from rrlib.data.loaders import mix_seeds

        torch.manual_seed(mix_seeds(seed, *keys, rank()))


# ------------------------------------------------------------------------------------------------- collectives
def _comm_device() -> torch.device:
    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")


def sum_values(values: list[float]) -> list[float]:
    """The element-wise sum of ``values`` over the ranks (float64; unchanged in one process)."""
    if not is_distributed():
        return list(values)
    t = torch.tensor(values, dtype=torch.float64, device=_comm_device())
    dist.all_reduce(t)
    return t.tolist()


class _AllReduceSum(torch.autograd.Function):
    """``Σ_ranks t`` with gradient: the total loss is the sum of the ranks' losses, so the gradient that
    reaches ``t`` on a rank is the sum over ranks of the incoming gradients."""

    @staticmethod
    def forward(ctx: Any, t: torch.Tensor) -> torch.Tensor:
        out = t.clone()
        dist.all_reduce(out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        out = grad.clone()
        dist.all_reduce(out)
        return out


class _AllGather(torch.autograd.Function):
    """Concatenate equal-shaped tensors of all ranks along dim 0, with gradient (see :class:`_AllReduceSum`)."""

    @staticmethod
    def forward(ctx: Any, t: torch.Tensor) -> torch.Tensor:
        parts = [torch.empty_like(t) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, t.contiguous())
        ctx.n = t.shape[0]
        return torch.cat(parts)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        total = grad.contiguous().clone()
        dist.all_reduce(total)
        start = dist.get_rank() * ctx.n
        return total[start:start + ctx.n]


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    """Differentiable sum of ``t`` over the ranks (``t`` itself in one process)."""
    return _AllReduceSum.apply(t) if is_distributed() else t


def all_gather(t: torch.Tensor) -> torch.Tensor:
    """Differentiable concatenation of every rank's ``t`` (same shape on every rank) along dim 0."""
    return _AllGather.apply(t) if is_distributed() else t


def from_main(load: Callable[[], T]) -> T:
    """``load()`` on rank 0, its result (or its exception) sent to every rank; plain ``load()`` in one process.

    Used to read a checkpoint once: other machines need not see rank 0's disk, and a refused checkpoint is
    refused on every rank with the same message.
    """
    if not is_distributed():
        return load()
    box: list[Any] = [None]
    if is_main():
        try:
            box[0] = (True, load())
        except Exception as err:  # noqa: BLE001 - re-raised on every rank below
            box[0] = (False, err)
    dist.broadcast_object_list(box, src=0, device=_comm_device())
    ok, value = box[0]
    if not ok:
        raise value
    return value


# ------------------------------------------------------------------------------------------------- modules
class GlobalBatchNorm(nn.modules.batchnorm._BatchNorm):
    """Batch norm whose training statistics are those of the whole global batch (all ranks), on any device.

    torch's ``SyncBatchNorm`` refuses CPU tensors; this one all-reduces the per-channel count, sum and centred
    sum of squares (two passes, as one process computes them) with :func:`all_reduce_sum`, so its gradient is
    that of the global batch as well. The state dict has the keys of ``BatchNorm{1,2}d``; in eval mode, or in
    one process, it is ``BatchNorm`` exactly.
    """

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected at least 2-d input (N, C, ...), got {input.dim()}-d")

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if not (self.training and is_distributed()):
            return super().forward(input)
        self._check_input_dim(input)
        dims = [0, *range(2, input.dim())]
        shape = [1, -1] + [1] * (input.dim() - 2)
        count = float(sum_values([input.numel() / input.shape[1]])[0])
        mean = all_reduce_sum(input.sum(dims)) / count
        centred = input - mean.view(shape)
        var = all_reduce_sum((centred * centred).sum(dims)) / count
        out = centred * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            out = out * self.weight.view(shape) + self.bias.view(shape)
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                factor = (1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum)
                self.running_mean.mul_(1 - factor).add_(mean.detach(), alpha=factor)
                self.running_var.mul_(1 - factor).add_(var.detach() * count / max(count - 1, 1.0), alpha=factor)
        return out


def _to_global_bn(module: nn.Module) -> nn.Module:
    if isinstance(module, nn.modules.batchnorm._BatchNorm) and not isinstance(module, GlobalBatchNorm):
        new = GlobalBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                              module.track_running_stats)
        # the same Parameter and buffer objects (as torch's convert_sync_batchnorm): an optimiser built on the
        # original module keeps training them
        for name in ("weight", "bias"):
            if getattr(module, name, None) is not None:
                setattr(new, name, getattr(module, name))
        for name in ("running_mean", "running_var", "num_batches_tracked"):
            if getattr(module, name, None) is not None:
                setattr(new, name, getattr(module, name))
        new.train(module.training)
        return new
    for name, child in module.named_children():
        setattr(module, name, _to_global_bn(child))
    return module


def sync_batchnorm(module: nn.Module, device: torch.device) -> nn.Module:
    """In a distributed run, ``module`` with every batch norm synchronised over the ranks (``SyncBatchNorm`` on
    CUDA, :class:`GlobalBatchNorm` elsewhere); the state dict keys do not change. ``module`` in one process."""
    if not is_distributed():
        return module
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    return _to_global_bn(module)


def wrap(module: nn.Module, device: torch.device) -> nn.Module:
    """``module`` (on ``device``) in DistributedDataParallel, batch norms synchronised; ``module`` in one process.

    DDP starts every rank from rank 0's parameters and buffers and averages the gradients over the ranks.
    """
    if not is_distributed():
        return module
    module = sync_batchnorm(module, device)
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(module, device_ids=ids)


def unwrap(module: nn.Module) -> nn.Module:
    """The module inside a DDP wrapper (``module`` itself otherwise): its state dict has no ``module.`` prefix."""
    return module.module if isinstance(module, nn.parallel.DistributedDataParallel) else module
