"""Adversarial contrastive learning (RoCL-style) for the Baseline-H encoder g: views, NT-Xent, the adversary, one step.

The objective ``adv-contrastive`` of :func:`rrlib.train.encoder.train_encoder` (configuration
:class:`rrlib.train.encoder.ContrastiveConfig`), the 2020 alternative to the paper's worst-case MI (issue 20):

* **two views** ``v₁ = t₁(x)``, ``v₂ = t₂(x)`` of every image (:func:`two_views`; augmentations below);
* a **projection head** ``p`` on the 64-d code (:class:`ProjectionHead`: Linear 64→64, ReLU, Linear
  64→``projection_dim``, default 64): SimCLR's two-layer head, hidden width = code width as in SimCLR, and an output
  no wider than the 64-d code it reads;
* the **NT-Xent** loss of SimCLR (:func:`nt_xent`) at temperature τ (default 0.5, a usual value for SimCLR-style
  training with small batches: a small τ weighs the hardest negatives most, which is noisy with ~2n = 256 candidates
  per anchor; ``temperature`` is a field so that a small stated sweep can show the baseline is not a weak one);
* an **instance-wise adversary** (:func:`adversarial_view`): ℓ∞ PGD in ``B∞(v₁, ε) ∩ [0, 1]``, the configuration's
  ε / steps / step size (Fashion-MNIST: 0.1, 10, 0.02 — the paper's threat model), **with** a uniform random start
  as RoCL and ACL do, that *maximises* ``NT-Xent(p(g(v₁ + δ)), p(g(v₂)))``: the perturbed first view is pushed away from
  its own second view and towards the other images of the batch — no label is used (the "instance" is the class);
  encoder and head in eval mode during the attack (batch-norm running statistics), the last iterate kept;
* the **training loss** (one Adam step on g and p), RoCL's two-term form:

  ``L = NT-Xent(v₁, v₂) + λ · NT-Xent(v₁ + δ*, v₂)``,  λ = ``adv_weight`` (default 1),

  computed in **one** train-mode forward pass over the 3n images ``[v₁; v₂; v₁ + δ*]`` (batch-norm statistics of
  clean and adversarial views together, as RoCL's ``torch.cat((inputs_1, inputs_2, advinputs))``).

What differs from RoCL (Kim et al. 2020, ``Kim-Minseon/RoCL``): their first term is a three-view NT-Xent over
3n images in which ``v₁ + δ`` is a further positive of ``v₁`` and ``v₂``, the second term weighted by their own λ;
ours keeps the two NT-Xent terms separate (clean SimCLR + λ × adversarial SimCLR), which reduces to SimCLR with a weight
``1 + λ`` at ε = 0. Architecture: the paper's Baseline-H encoder g (64-d code) instead of ResNet-18/50 with a
2048-wide head; optimiser: Adam at the configuration's constant learning rate instead of LARS with warm-up and cosine
decay; batch: the configuration's (128 at the medium scale, ``2n = 256`` candidates per anchor) instead of 256–512 on
several GPUs; epochs: the configuration's (10 at the medium scale) instead of 1000; data: 28×28 grey Fashion-MNIST
instead of 32×32 colour CIFAR-10, with the paper's ε = 0.1 instead of 8/255. ACL (Jiang et al. 2020) is the other
family: its *dual-stream* variant attacks both views and trains on (clean, clean) and (adv, adv) pairs with separate
batch-norms; we implement the RoCL form only.

**Augmentations** (:func:`augment`; 28×28 grey images, all in torch, every random number from one explicit
``torch.Generator``): per image, a random resized crop of area fraction ``U(0.6, 1)`` of the image and aspect ratio
log-uniform in ``[3/4, 4/3]``, placed uniformly inside the image (so also a translation of up to ~5 px), resized back
to 28×28 by bilinear sampling, then a horizontal flip with probability 1/2. Why these: cropping, together with
colour distortion, is what SimCLR's views need most (Chen et al. 2020), but its default area range ``(0.08, 1)``
can leave a patch of about 8×8 pixels (8 % of 784) of a 28×28 garment, so the range is narrowed to 0.6–1 (our
choice, not compared with other ranges yet); most Fashion-MNIST classes look alike mirrored, so a flip keeps the
class; there is no colour to distort, and grey-level jitter, blur and rotation are left out (not tried). The
parameters for batch ``k`` of ``epoch`` come from ``mix_seeds(seed, epoch, k, view)``, so a run that resumes replays
the same views bit for bit.

All losses in nats; shapes ``(B, 1, 28, 28)`` for images, ``(B, D)`` for codes.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from rrlib.attacks import ThreatModel, pgd
from rrlib.data.loaders import mix_seeds
from rrlib.runtime import managed_modes

__all__ = ["CROP_ASPECT", "CROP_SCALE", "FLIP_PROBABILITY", "ProjectionHead", "adversarial_view", "augment",
           "contrastive_step", "heldout_contrastive", "nt_xent", "training_step", "two_views", "view_generator"]

#: Area fraction of the random resized crop (SimCLR: (0.08, 1); narrowed for 28×28 images).
CROP_SCALE = (0.6, 1.0)
#: Aspect-ratio range of the crop, sampled log-uniformly (SimCLR's).
CROP_ASPECT = (3 / 4, 4 / 3)
#: Probability of a horizontal flip.
FLIP_PROBABILITY = 0.5


# ----------------------------------------------------------------------------------------------------- views
def augment(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One random view of every image of ``images`` (``(B, C, H, W)`` in [0, 1]); a new tensor in [0, 1].

    Per image: random resized crop (area fraction ``U(CROP_SCALE)``, aspect ratio log-uniform in ``CROP_ASPECT``,
    position uniform inside the image) resized back to ``H×W`` (bilinear, zeros outside — the images' black
    background), then a horizontal flip with probability :data:`FLIP_PROBABILITY`. The parameters are drawn on the CPU
    from ``generator`` (``5·B`` numbers in a fixed order), so equal generators give equal views on any device.

    >>> x = torch.rand(2, 1, 28, 28)
    >>> torch.equal(augment(x, torch.Generator().manual_seed(1)), augment(x, torch.Generator().manual_seed(1)))
    True
    """
    if images.ndim != 4:
        raise ValueError(f"images must have shape (B, C, H, W), got {tuple(images.shape)}")
    b = images.shape[0]
    u = torch.rand(5, b, generator=generator, dtype=torch.float64)
    area = CROP_SCALE[0] + (CROP_SCALE[1] - CROP_SCALE[0]) * u[0]
    log_ratio = math.log(CROP_ASPECT[0]) + (math.log(CROP_ASPECT[1]) - math.log(CROP_ASPECT[0])) * u[1]
    ratio = torch.exp(log_ratio)
    # crop width and height as fractions of the image (w·h = area, w/h = ratio), at most the whole image
    w = torch.sqrt(area * ratio).clamp(max=1.0)
    h = torch.sqrt(area / ratio).clamp(max=1.0)
    # centre in normalised coordinates [-1, 1]: the crop lies inside the image
    cx = (1.0 - w) * (2.0 * u[2] - 1.0)
    cy = (1.0 - h) * (2.0 * u[3] - 1.0)
    flip = torch.where(u[4] < FLIP_PROBABILITY, -1.0, 1.0)
    theta = torch.zeros(b, 2, 3, dtype=torch.float64)
    theta[:, 0, 0] = w * flip
    theta[:, 0, 2] = cx
    theta[:, 1, 1] = h
    theta[:, 1, 2] = cy
    theta = theta.to(device=images.device, dtype=images.dtype)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    out = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out.clamp(0.0, 1.0)


def view_generator(seed: int, epoch: int, step: int, view: int) -> torch.Generator:
    """The CPU generator of view ``view`` (0 or 1) of batch ``step`` of ``epoch``: ``mix_seeds(seed, epoch, step,
    view)`` (the adversary's random start uses ``view = 2``)."""
    return torch.Generator().manual_seed(mix_seeds(seed, epoch, step, view))


def two_views(x: torch.Tensor, seed: int, epoch: int, step: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(t₁(x), t₂(x))`` for batch ``step`` of ``epoch``: :func:`augment` with :func:`view_generator` 0 and 1."""
    return (augment(x, view_generator(seed, epoch, step, 0)), augment(x, view_generator(seed, epoch, step, 1)))


# ----------------------------------------------------------------------------------------------------- loss
def nt_xent(a: torch.Tensor, b: torch.Tensor, temperature: float) -> torch.Tensor:
    """The NT-Xent loss of SimCLR (Chen et al. 2020) for the positive pairs ``(a_i, b_i)`` (0-dim, nats).

    With ``h = [a; b]`` (``2n`` rows, each scaled to unit length) and ``s_ij = h_i·h_j / τ``, every row ``i`` is an
    anchor whose positive is its pair ``p(i)`` (``i ± n``) and whose candidates are the other ``2n − 1`` rows:

    ``NT-Xent = (1/2n) Σ_i −log( exp s_{i,p(i)} / Σ_{k ≠ i} exp s_ik )``.

    The self-similarity is masked with ``−inf`` (``exp(−inf) = 0`` exactly). ``log(2n − 1) − NT-Xent`` is an
    InfoNCE-type lower bound on the mutual information between the two views' codes (:func:`rrlib.mi.bounds.infonce`
    with ``2n − 1`` candidates per anchor), so NT-Xent ≥ 0 and minimising it raises that bound.

    Args:
        a, b: ``(n, D)``, ``n ≥ 2`` (the projections of the two views).
        temperature: τ > 0.

    >>> round(float(nt_xent(torch.eye(2), torch.eye(2), 1.0)), 4)  # -log(e / (e + 2))
    0.5514
    """
    if a.ndim != 2 or a.shape != b.shape or a.shape[0] < 2:
        raise ValueError(f"a and b must both have shape (n, D) with n >= 2, got {tuple(a.shape)} and {tuple(b.shape)}")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    n = a.shape[0]
    h = F.normalize(torch.cat([a, b]), dim=1)
    s = h @ h.T / temperature
    eye = torch.eye(2 * n, dtype=torch.bool, device=s.device)
    s = s.masked_fill(eye, -math.inf)
    positive = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(s.device)
    return F.cross_entropy(s, positive)


class ProjectionHead(nn.Module):
    """SimCLR's projection head on the code: Linear(rep_dim, rep_dim) → ReLU → Linear(rep_dim, out_dim).

    >>> tuple(ProjectionHead(64, 32)(torch.zeros(3, 64)).shape)
    (3, 32)
    """

    def __init__(self, rep_dim: int = 64, out_dim: int = 64) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(rep_dim, rep_dim), nn.ReLU(), nn.Linear(rep_dim, out_dim))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


# ----------------------------------------------------------------------------------------------------- adversary
def adversarial_view(encoder: nn.Module, head: nn.Module, v1: torch.Tensor, v2: torch.Tensor, threat: ThreatModel,
                     temperature: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """The instance-wise attack: ``v₁ + δ*`` with ``δ*`` ≈ argmax over ``B(v₁, ε) ∩ box`` of
    ``NT-Xent(p(g(v₁ + δ)), p(g(v₂)))`` (``v₂``'s projections fixed, computed once in eval mode).

    :func:`rrlib.attacks.pgd` (ascent) on that batch scalar, ``threat``'s ball, steps, step size and random start
    (``generator`` draws it), encoder and head in eval mode (restored afterwards), the last iterate returned (as
    RoCL). ε = 0 returns a copy of ``v₁`` without running the attack.
    """
    if threat.eps == 0:
        return v1.detach().clone()
    with managed_modes((encoder, head)), torch.no_grad():
        target = head(encoder(v2))

    def objective(x_adv: torch.Tensor) -> torch.Tensor:
        return nt_xent(head(encoder(x_adv)), target, temperature)

    return pgd(objective, v1, threat, maximize=True, generator=generator, keep_best=False,
               modules=(encoder, head)).x


def contrastive_step(encoder: nn.Module, head: nn.Module, optimizer: torch.optim.Optimizer, v1: torch.Tensor,
                     v2: torch.Tensor, v1_adv: torch.Tensor, temperature: float, adv_weight: float) -> float:
    """One Adam step on ``L = NT-Xent(v₁, v₂) + λ·NT-Xent(v₁_adv, v₂)`` (one train-mode forward pass over
    ``[v₁; v₂; v₁_adv]``); returns ``L`` before the update (nats). Encoder and head are left in train mode."""
    n = v1.shape[0]
    encoder.train()
    head.train()
    out = head(encoder(torch.cat([v1, v2, v1_adv])))
    p1, p2, p_adv = out[:n], out[n:2 * n], out[2 * n:]
    loss = nt_xent(p1, p2, temperature) + adv_weight * nt_xent(p_adv, p2, temperature)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return float(loss.detach())


def training_step(encoder: nn.Module, head: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor,
                  threat: ThreatModel, temperature: float, adv_weight: float, seed: int, epoch: int,
                  step: int) -> float:
    """The whole ``adv-contrastive`` step on a batch ``x``: the two views of batch ``step`` of ``epoch``
    (:func:`two_views`), the adversary on the first (:func:`adversarial_view`, its random start from
    ``view_generator(seed, epoch, step, 2)``) and the update (:func:`contrastive_step`); returns ``L`` (nats)."""
    v1, v2 = two_views(x, seed, epoch, step)
    v_adv = adversarial_view(encoder, head, v1, v2, threat, temperature, view_generator(seed, epoch, step, 2))
    return contrastive_step(encoder, head, optimizer, v1, v2, v_adv, temperature, adv_weight)


def heldout_contrastive(encoder: nn.Module, head: nn.Module, batches: list[torch.Tensor], threat: ThreatModel,
                        temperature: float) -> tuple[float, float]:
    """Mean NT-Xent of clean view pairs and of (attacked first view, second view) over ``batches`` (eval mode,
    nats). Views and random starts of batch ``k`` come from :func:`view_generator` with seed 0, epoch −1: the same
    views every epoch, so the numbers are comparable across epochs."""
    clean, attacked = [], []
    with managed_modes((encoder, head)):
        for k, xb in enumerate(batches):
            v1, v2 = (augment(xb, torch.Generator().manual_seed(mix_seeds(0, -1, k, view))) for view in (0, 1))
            with torch.no_grad():
                clean.append(float(nt_xent(head(encoder(v1)), head(encoder(v2)), temperature)))
            v_adv = adversarial_view(encoder, head, v1, v2, threat, temperature,
                                     torch.Generator().manual_seed(mix_seeds(0, -1, k, 2)))
            with torch.no_grad():
                attacked.append(float(nt_xent(head(encoder(v_adv)), head(encoder(v2)), temperature)))
    return sum(clean) / len(clean), sum(attacked) / len(attacked)
