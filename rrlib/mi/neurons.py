"""Per-neuron mutual information and vulnerability (paper §6.1 "Internal feature robustness", Figure 3).

Each *neuron* is one channel ``k`` of a convolutional layer seen as a scalar function of the input patch under
its receptive field: for Baseline-H's second conv layer a 10×10 patch at stride 4 (padding 3,
:data:`rrlib.models.CONV2_PATCH`). For every neuron the paper estimates the normal MI ``I(P; U_k)`` between the
patch ``P`` and the neuron's value ``U_k``, the worst-case MI ``inf_{μ' ∈ B_W∞(μ, ε)} I(P'; U_k(P'))`` and the
feature vulnerability (their difference, Definition 3.1 applied to one unit), all in nats.

Pieces, from data to estimate:

* :func:`extract_patches` cuts images ``(B, C, H, W)`` into the ``L`` receptive-field patches ``(B, L, C·k·k)`` in
  the same row-major order as the layer's output locations; :func:`interior_locations` lists the locations whose
  window lies wholly inside the image (there, for Baseline-H, the neuron is an exact function of the patch: no
  zero padding of any conv enters; tests check it).
* :func:`neuron_pairs` draws one random location per image and returns matched ``(patch, unit values)`` pairs:
  ``n = B`` i.i.d. samples of ``(P, U_1..U_K)`` per batch (patches of one image are never paired with each other,
  so the negatives really come from the product of marginals).
* :class:`PerNeuronCritic` holds ``K`` independent encode-and-dot-product critics
  ``T_k(p, u) = ⟨φ_k(p), ψ_k(u)⟩`` evaluated at once: ``scores`` of shape ``(K, n, n)``, so that
  ``rrlib.mi.bounds.dv(scores, reduction="none")`` is the DV/MINE estimate of every neuron (shape ``(K,)``), as
  the official ``dim_losses_post`` treats units as a batch axis. Supplement Table 2 replaces the code branch by the
  identity for a scalar feature (``T = φ(p)·u``, linear in ``u``); we give ``ψ_k`` a small MLP instead, since a
  critic linear in ``u`` cannot represent a log density ratio that is not.
* :func:`estimate_neuron_mi` is Algorithm 2 (supplement App. B) for all neurons at once: normal MI
  (``threat=None``) or worst-case MI; the alternating loop is :func:`rrlib.mi.algorithm2.alternate`, shared with
  :func:`rrlib.mi.worst_case.estimate_mutual_information`, with one selected critic per neuron.

**The worst-case perturbation is shared across neurons.** One PGD run per batch minimises the *mean* of the
per-neuron DV estimates (as the paper's batch-of-units implementation implies: one adversarial batch for all
units). Each neuron's own worst case could be lower: an adversary attacking neuron ``k`` alone would spend its
whole budget on it. The per-neuron worst-case MI reported here is therefore an *upper* estimate of each neuron's
individual worst case, and the per-neuron vulnerability *under*-states each neuron's individual vulnerability.
The adversary perturbs whole images (every patch stays in its ε-ball, so the patch law stays in the
``W_∞`` ball) and, by default, its gradient flows only through the neuron values (the critic sees the perturbed
patch detached: the official code's choice, ``EstimatorConfig.gradient = "representation"``).

>>> import torch
>>> x = torch.rand(2, 1, 28, 28)
>>> tuple(extract_patches(x).shape), int(interior_locations(28).numel())
((2, 49, 100), 25)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rrlib import stats
from rrlib.attacks import ThreatModel, pgd
from rrlib.mi.algorithm2 import PerUnitBest, alternate
from rrlib.mi.bounds import dv
from rrlib.mi.worst_case import GRADIENT_PATHS, EstimatorConfig
from rrlib.models.baseline_h import CONV2_PATCH
from rrlib.runtime import managed_modes
from rrlib.validation import check_int

Geometry = tuple[int, int, int]
#: Per-unit MI estimates from stacked score matrices: ``(scores (K, n, n), reduction="none") -> (K,)`` in nats.
PerUnitMIEstimator = Callable[..., torch.Tensor]

__all__ = [
    "NeuronMIEstimate",
    "PerNeuronCritic",
    "estimate_neuron_mi",
    "extract_patches",
    "interior_locations",
    "neuron_mi_values",
    "neuron_pairs",
    "patch_grid",
    "sample_locations",
]


# ------------------------------------------------------------------------------------------------------- patches
def _check_geometry(geometry: Geometry) -> tuple[int, int, int]:
    if (not isinstance(geometry, (tuple, list)) or len(geometry) != 3
            or any(isinstance(v, bool) or not isinstance(v, int) for v in geometry)):
        raise ValueError(f"geometry must be a (kernel, stride, padding) tuple of integers, got {geometry!r}")
    k, s, p = geometry
    if k < 1 or s < 1 or p < 0:
        raise ValueError(f"geometry needs kernel >= 1, stride >= 1, padding >= 0, got {geometry!r}")
    return int(k), int(s), int(p)


def patch_grid(image_size: int, geometry: Geometry = CONV2_PATCH) -> int:
    """Side ``⌊(H + 2p − k)/s⌋ + 1`` of the grid of patch locations (7 for 28×28 images, 8 for 32×32)."""
    k, s, p = _check_geometry(geometry)
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size + 2 * p < k:
        raise ValueError(f"image_size must be an integer with image_size + 2·padding >= kernel, got {image_size!r}")
    return (image_size + 2 * p - k) // s + 1


def extract_patches(x: torch.Tensor, geometry: Geometry = CONV2_PATCH, *, pad_value: float = 0.0) -> torch.Tensor:
    """The receptive-field patches of square images ``x`` ``(B, C, H, H)``: shape ``(B, L, C·k·k)``.

    Location ``l = i·side + j`` (row-major, as ``layer_output.flatten(2)``) holds the pixels of rows
    ``s·i − p … s·i − p + k − 1`` and the same columns, with ``pad_value`` outside the image; the flattening of one
    patch is channel-major, then rows, then columns (``patch.reshape(C, k, k)`` recovers it).
    """
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError(f"x must be a floating-point torch.Tensor, got {getattr(x, 'dtype', type(x).__name__)}")
    if x.ndim != 4 or x.shape[-1] != x.shape[-2]:
        raise ValueError(f"x must be a batch of square images (B, C, H, H), got shape {tuple(x.shape)}")
    k, s, p = _check_geometry(geometry)
    patch_grid(int(x.shape[-1]), geometry)
    padded = F.pad(x, (p, p, p, p), value=float(pad_value)) if p else x
    return F.unfold(padded, kernel_size=k, stride=s).transpose(1, 2)


def interior_locations(image_size: int, geometry: Geometry = CONV2_PATCH) -> torch.Tensor:
    """Flat indices (row-major) of the locations whose ``k×k`` window lies wholly inside the image.

    28×28 with (10, 4, 3): rows/columns 1…5, i.e. 25 of the 49 locations; 32×32: 1…6, 36 of 64.
    """
    k, s, p = _check_geometry(geometry)
    side = patch_grid(image_size, geometry)
    ok = [i for i in range(side) if s * i - p >= 0 and s * i - p + k <= image_size]
    if not ok:
        raise ValueError(f"no {k}×{k} window at stride {s}, padding {p} fits inside a {image_size}×{image_size} image")
    rows = torch.tensor(ok, dtype=torch.int64)
    return (rows[:, None] * side + rows[None, :]).flatten()


def sample_locations(batch: int, locations: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One location per image, uniform over ``locations``: shape ``(batch,)``, drawn with ``generator``."""
    pick = torch.randint(len(locations), (batch,), generator=generator)
    return locations[pick]


def neuron_pairs(units: nn.Module, x: torch.Tensor, loc: torch.Tensor, geometry: Geometry = CONV2_PATCH, *,
                 pad_value: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Matched pairs ``(patches (B, P), values (B, K))``: image ``i``'s patch and neuron values at ``loc[i]``.

    ``units(x)`` must return the layer's map ``(B, K, side, side)`` with ``side = patch_grid(H, geometry)``.
    Gradients flow from ``values`` (and ``patches``) back to ``x``.
    """
    maps = units(x)
    side = patch_grid(int(x.shape[-1]), geometry)
    if not isinstance(maps, torch.Tensor) or maps.ndim != 4 or tuple(maps.shape[-2:]) != (side, side) \
            or maps.shape[0] != x.shape[0]:
        raise ValueError(
            f"units(x) must return a map of shape (B, K, {side}, {side}) matching geometry {geometry!r}, got "
            f"{tuple(maps.shape) if isinstance(maps, torch.Tensor) else type(maps).__name__}"
        )
    rows = torch.arange(x.shape[0], device=x.device)
    loc = loc.to(x.device)
    values = maps.flatten(2)[rows, :, loc]
    patches = extract_patches(x, geometry, pad_value=pad_value)[rows, loc]
    return patches, values


# ------------------------------------------------------------------------------------------------------- critic
class PerNeuronCritic(nn.Module):
    """``K`` independent critics ``T_k(p, u) = ⟨φ_k(p), ψ_k(u)⟩`` evaluated together: scores ``(K, n, n)``.

    * ``φ_k``: ``Linear(P → hidden) → ReLU → Linear(hidden → embed)`` on the flattened patch;
    * ``ψ_k``: ``Linear(1 → code_hidden) → ReLU → Linear(code_hidden → embed)`` on the neuron's scalar value;
    * ``scores[k, i, j] = T_k(p_i, u_{j,k})`` (rows: patches, columns: values; the diagonal holds joint pairs).

    Every parameter has the neuron axis first, so neuron ``k``'s critic is ``param[k]`` for every parameter and the
    critics share nothing (training them with one optimiser on the summed objective equals training each alone).
    Layers are initialised as ``nn.Linear`` (uniform in ``±1/√fan_in``).

    >>> critic = PerNeuronCritic(3, 100)
    >>> tuple(critic(torch.rand(5, 100), torch.rand(5, 3)).shape)
    (3, 5, 5)
    """

    def __init__(self, n_neurons: int, patch_dim: int, hidden: int = 64, embed: int = 16,
                 code_hidden: int = 16) -> None:
        super().__init__()
        for name, value in (("n_neurons", n_neurons), ("patch_dim", patch_dim), ("hidden", hidden),
                            ("embed", embed), ("code_hidden", code_hidden)):
            check_int(name, value, 1)
        self.n_neurons, self.patch_dim = n_neurons, patch_dim
        self.hidden, self.embed, self.code_hidden = hidden, embed, code_hidden
        k = n_neurons

        def uniform(*shape: int, fan_in: int) -> nn.Parameter:
            bound = 1.0 / math.sqrt(fan_in)
            return nn.Parameter(torch.empty(*shape).uniform_(-bound, bound))

        self.patch_w1 = uniform(k, hidden, patch_dim, fan_in=patch_dim)
        self.patch_b1 = uniform(k, hidden, fan_in=patch_dim)
        self.patch_w2 = uniform(k, embed, hidden, fan_in=hidden)
        self.patch_b2 = uniform(k, embed, fan_in=hidden)
        self.code_w1 = uniform(k, code_hidden, fan_in=1)
        self.code_b1 = uniform(k, code_hidden, fan_in=1)
        self.code_w2 = uniform(k, embed, code_hidden, fan_in=code_hidden)
        self.code_b2 = uniform(k, embed, fan_in=code_hidden)

    def patch_embedding(self, patches: torch.Tensor) -> torch.Tensor:
        """``φ_k(p_i)`` for all ``k, i``: ``(n, P) → (K, n, embed)``."""
        h = torch.relu(torch.einsum("khp,np->knh", self.patch_w1, patches) + self.patch_b1[:, None, :])
        return torch.einsum("keh,knh->kne", self.patch_w2, h) + self.patch_b2[:, None, :]

    def code_embedding(self, values: torch.Tensor) -> torch.Tensor:
        """``ψ_k(u_{j,k})`` for all ``k, j``: ``(n, K) → (K, n, embed)``."""
        u = values.T[:, :, None]  # (K, n, 1)
        h = torch.relu(u * self.code_w1[:, None, :] + self.code_b1[:, None, :])
        return torch.einsum("keh,knh->kne", self.code_w2, h) + self.code_b2[:, None, :]

    def forward(self, patches: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        for name, t, d in (("patches", patches, self.patch_dim), ("values", values, self.n_neurons)):
            if not isinstance(t, torch.Tensor) or not t.is_floating_point():
                raise TypeError(f"{name} must be a floating-point torch.Tensor, got {type(t).__name__}")
            if t.ndim != 2 or t.shape[1] != d:
                raise ValueError(f"{name} must have shape (n, {d}), got {tuple(t.shape)}")
        if patches.shape[0] != values.shape[0]:
            raise ValueError(f"patches and values must hold the same number of samples, got {patches.shape[0]} "
                             f"and {values.shape[0]}")
        return torch.einsum("kie,kje->kij", self.patch_embedding(patches), self.code_embedding(values))


# ------------------------------------------------------------------------------------------------------- values
def neuron_mi_values(critic: nn.Module, units: nn.Module, x: torch.Tensor, loc: torch.Tensor, *,
                     geometry: Geometry = CONV2_PATCH, gradient: str = "representation", bound: PerUnitMIEstimator = dv,
                     pad_value: float = 0.0) -> torch.Tensor:
    """Per-neuron MI estimates ``bound(T_k(p_i, u_{j,k}))`` of one batch: shape ``(K,)``, nats.

    ``gradient="representation"`` feeds the critic the patches detached (the adversary then acts only through the
    neuron values, the official code's choice); ``"full"`` keeps both paths.
    """
    if gradient not in GRADIENT_PATHS:
        raise ValueError(f"unknown gradient={gradient!r}; valid choices: {GRADIENT_PATHS}")
    patches, values = neuron_pairs(units, x, loc, geometry, pad_value=pad_value)
    if gradient == "representation":
        patches = patches.detach()
    return bound(critic(patches, values), reduction="none")


def _shared_worst_case(critic: nn.Module, units: nn.Module, x: torch.Tensor, loc: torch.Tensor,
                       threat: ThreatModel, *, geometry: Geometry, bound: PerUnitMIEstimator, pad_value: float,
                       gradient: str, keep_best: bool, generator: torch.Generator | None) -> torch.Tensor:
    """Algorithm 1 with the *mean* per-neuron estimate as the batch objective: one perturbation for all neurons."""
    def objective(x_adv: torch.Tensor) -> torch.Tensor:
        return neuron_mi_values(critic, units, x_adv, loc, geometry=geometry, gradient=gradient,
                                bound=bound, pad_value=pad_value).mean()

    if threat.eps == 0:
        return x.detach().clone()
    return pgd(objective, x, threat, maximize=False, generator=generator, keep_best=keep_best,
               modules=(units, critic)).x


# ------------------------------------------------------------------------------------------------------- Alg. 2
@dataclass
class NeuronMIEstimate:
    """Algorithm 2 for ``K`` neurons at once (nats).

    Attributes:
        estimate: ``Î_k`` = mean over test batches, shape ``(K,)``.
        test_values: per test batch and neuron, ``(n_test_batches, K)``.
        train_values: ``V1(t)`` per iteration and neuron, ``(T, K)``.
        best_iteration: per neuron, the iteration whose critic was kept, ``(K,)``.
        critic: the selected critics (a trained copy; the caller's critic is the initialisation).
    """

    estimate: np.ndarray
    test_values: np.ndarray
    train_values: np.ndarray
    best_iteration: np.ndarray
    critic: nn.Module

    @property
    def standard_error(self) -> np.ndarray:
        """Standard error of ``estimate`` over test batches, ``(K,)`` (0 with one batch)."""
        return stats.standard_errors(self.test_values)


def _check_inputs(units: nn.Module, critic: nn.Module, x_train: torch.Tensor, x_test: torch.Tensor,
                  batch_size: int) -> None:
    for name, module in (("units", units), ("critic", critic)):
        if not isinstance(module, nn.Module):
            raise TypeError(f"{name} must be a torch.nn.Module, got {type(module).__name__}")
    for name, x in (("x_train", x_train), ("x_test", x_test)):
        if not isinstance(x, torch.Tensor) or not x.is_floating_point() or x.ndim != 4:
            raise TypeError(f"{name} must be a floating-point image tensor (n, C, H, W), got "
                            f"{getattr(x, 'shape', type(x).__name__)}")
        if x.shape[0] < batch_size:
            raise ValueError(f"{name} holds {x.shape[0]} images, fewer than one batch of batch_size={batch_size}")
    if x_train.device != x_test.device or x_train.shape[1:] != x_test.shape[1:]:
        raise ValueError(f"x_train and x_test must share device and image shape, got {x_train.device} "
                         f"{tuple(x_train.shape[1:])} and {x_test.device} {tuple(x_test.shape[1:])}")
    shapes = {p.shape[0] for p in critic.parameters()}
    if len(shapes) != 1:
        raise ValueError("critic parameters must all have the neuron axis first (as PerNeuronCritic's), got "
                         f"leading sizes {sorted(shapes)}")


def estimate_neuron_mi(
    units: nn.Module,
    critic: nn.Module,
    x_train: torch.Tensor,
    x_test: torch.Tensor,
    *,
    threat: ThreatModel | None,
    config: EstimatorConfig | None = None,
    generator: torch.Generator,
    geometry: Geometry = CONV2_PATCH,
    locations: torch.Tensor | None = None,
    bound: PerUnitMIEstimator = dv,
    pad_value: float = 0.0,
) -> NeuronMIEstimate:
    """Normal (``threat=None``) or worst-case MI of every neuron of ``units`` with its receptive-field patch.

    Algorithm 2 (supplement App. B, :func:`rrlib.mi.algorithm2.alternate`) with all neurons in parallel. Each
    training iteration draws ``B`` images and one location per image (uniform over ``locations``, default
    :func:`interior_locations`), perturbs the batch with Algorithm 1 against the current critics when ``threat`` is
    given (**one** perturbation minimising the mean per-neuron estimate; see the module docstring: this
    under-states each neuron's individual worst case), and takes one Adam step on ``Σ_k DV_k``. With
    ``config.select = "best"`` each neuron keeps its own ``θ_opt,k = argmax_t V1_k(t)`` (possible because critics
    share no parameters). The test phase draws ``config.test_batches`` batches (default: all full batches of
    ``x_test``), attacks each afresh against the selected critics and averages the per-neuron estimates.

    Args:
        units: module mapping images ``(B, C, H, W)`` (pixels, in ``threat.box``) to the layer's map
            ``(B, K, side, side)``; put in eval mode throughout (its modes are restored) and never trained. Must
            live on the data's device.
        critic: e.g. :class:`PerNeuronCritic` with ``forward(patches (n, P), values (n, K)) -> (K, n, n)``; every
            parameter must have the neuron axis first. A deep copy is trained.
        threat: the adversary, or ``None``; ``config.gradient`` and ``config.attack_keep_best`` say how it attacks.
        config: Algorithm 2's settings (default ``EstimatorConfig()``).
        generator: CPU ``torch.Generator`` for batches, locations and (on the CPU) the attack's random start.
    """
    import copy

    config = EstimatorConfig() if config is None else config
    b = config.batch_size
    _check_inputs(units, critic, x_train, x_test, b)
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    if threat is not None and not isinstance(threat, ThreatModel):
        raise TypeError(f"threat must be a rrlib.attacks.ThreatModel or None, got {type(threat).__name__}")
    device = x_train.device
    image_size = int(x_train.shape[-1])
    locs = interior_locations(image_size, geometry) if locations is None else torch.as_tensor(locations).long()
    n_loc = patch_grid(image_size, geometry) ** 2
    if locs.ndim != 1 or locs.numel() == 0 or int(locs.min()) < 0 or int(locs.max()) >= n_loc:
        raise ValueError(f"locations must be a non-empty 1-d set of indices in [0, {n_loc}), got {locs.tolist()}")
    attack_generator = generator if device.type == "cpu" else None
    trained = copy.deepcopy(critic).to(device)
    optimizer = torch.optim.Adam(trained.parameters(), lr=config.lr)

    def draw(x: torch.Tensor) -> Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
        return lambda idx: (x[idx.to(device)], sample_locations(b, locs, generator))

    def attack(xb: torch.Tensor, loc: torch.Tensor) -> torch.Tensor:
        if threat is None:
            return xb
        return _shared_worst_case(trained, units, xb, loc, threat, geometry=geometry, bound=bound,
                                  pad_value=pad_value, gradient=config.gradient, keep_best=config.attack_keep_best,
                                  generator=attack_generator)

    def train_step(t: int, batch: tuple[torch.Tensor, torch.Tensor],
                   before_update: Callable[[torch.Tensor], None] | None) -> np.ndarray:
        xb, loc = batch
        xb = attack(xb, loc)
        with torch.no_grad():
            patches, values_u = neuron_pairs(units, xb, loc, geometry, pad_value=pad_value)
        values = bound(trained(patches, values_u), reduction="none")
        if not bool(torch.isfinite(values).all()):
            raise ValueError(f"the per-neuron MI estimate diverged at iteration {t}; lower lr (now {config.lr})")
        detached = values.detach()
        if before_update is not None:  # θ_opt,k = argmax_t V1_k(t): keep θ_t before its update, per neuron
            before_update(detached)
        optimizer.zero_grad(set_to_none=True)
        (-values.sum()).backward()
        optimizer.step()
        return detached.cpu().numpy()

    def test_step(batch: tuple[torch.Tensor, torch.Tensor]) -> np.ndarray:
        xb, loc = batch
        xb = attack(xb, loc)
        with torch.no_grad(), managed_modes((units, trained)):
            return neuron_mi_values(trained, units, xb, loc, geometry=geometry, bound=bound,
                                    pad_value=pad_value).cpu().numpy()

    with managed_modes(units):
        run = alternate(
            n_train=x_train.shape[0], n_test=x_test.shape[0], iterations=config.iterations, batch_size=b,
            test_batches=config.test_batches, select=config.select, generator=generator,
            draw_train=draw(x_train), draw_test=draw(x_test), train_step=train_step, test_step=test_step,
            selector=PerUnitBest(trained, device),
        )
    tv = np.stack(run.tests)
    return NeuronMIEstimate(estimate=tv.mean(axis=0), test_values=tv, train_values=run.train_values,
                            best_iteration=run.best_iteration, critic=trained)
