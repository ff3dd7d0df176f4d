"""The DV bound of one batch split over the ranks of a data-parallel run (:mod:`rrlib.distributed`).

The encoder objective (:mod:`rrlib.train.encoder`) is not a mean of per-example losses: the negative term of the
Donsker–Varadhan bound (:func:`rrlib.mi.bounds.dv`) pairs every image of the batch with every other image's code,

``I_DV = (1/B) Σ_i T_ii − log( (1/(B(B−1))) Σ_{i≠j} exp T_ij )``   [nats, per location, then averaged],

so a rank holding ``b = B / W`` images must see the codes of the whole batch. Each rank scores *its* images
against *all* codes (:func:`row_scores`: ``(L, b, B)``, the codes gathered with gradient) and :func:`global_dv`
adds the rows' diagonal sums and combines their log-sum-exps over the ranks; the result is the one-process DV of
the whole batch up to the order of floating-point sums, on every rank. With one process both are the plain
``critic(x, z)`` and ``dv``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from rrlib import distributed as dist
from rrlib.mi.critics import location_scores
from rrlib.runtime import flush_subnormal_grad


def row_scores(critic: nn.Module, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """``S[l, i, j] = T_l(x_i, z_j)`` for this rank's images ``i`` and every rank's codes ``j``: ``(L, b, B)``.

    ``critic`` is a :class:`rrlib.train.encoder.PixelCritic` (its normalisation and encode-and-dot critic).
    """
    inner = critic.critic
    phi = inner.local_features(critic.normalize(x)).flatten(2)  # (b, hidden, L)
    psi = dist.all_gather(inner.code_branch(z[:, :, None, None]).flatten(1))  # (B, hidden)
    return location_scores(phi, psi)


def global_dv(scores: torch.Tensor) -> torch.Tensor:
    """The DV bound (0-dim, nats, mean over locations) of the whole batch from this rank's rows ``(L, b, B)``.

    Row ``i`` of rank ``r`` is image ``r·b + i`` of the batch, whose positive pair is column ``r·b + i``. As in
    :func:`rrlib.mi.bounds.check_scores`, the scores' gradient leaves without subnormal entries on the CPU.
    """
    scores = flush_subnormal_grad(scores)
    n_loc, b, total = scores.shape
    rows = torch.arange(b, device=scores.device)
    cols = rows + dist.rank() * b
    diag_mean = dist.all_reduce_sum(scores[:, rows, cols].sum(1)) / total  # (L,)
    positive = torch.zeros(b, total, dtype=torch.bool, device=scores.device)
    positive[rows, cols] = True
    masked = torch.where(positive, torch.full_like(scores, -math.inf), scores)
    local = torch.logsumexp(masked.flatten(1), dim=1)  # (L,)
    negative = torch.logsumexp(dist.all_gather(local[None]), dim=0) - math.log(total * (total - 1))
    return (diag_mean - negative).mean()


class RowCritic(nn.Module):
    """``critic`` as ``(x, z) ↦`` :func:`row_scores` (for Algorithm 1's PGD on a split batch with
    ``bound=global_dv``)."""

    def __init__(self, critic: nn.Module) -> None:
        super().__init__()
        self.critic = critic

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return row_scores(self.critic, x, z)


class JointDV(nn.Module):
    """Encoder and critic as one module whose output is the batch's :func:`global_dv` (what DDP wraps, so one
    backward of ``−DV`` averages the gradients of both over the ranks)."""

    def __init__(self, encoder: nn.Module, critic: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        self.critic = critic

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return global_dv(row_scores(self.critic, x, self.encoder(x)))
