"""Per-neuron MI pieces (rrlib.mi.neurons): patch geometry against conv2's receptive field, the vectorised critic,
and per-neuron DV estimates (normal and worst case) on synthetic units whose MI is known exactly."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from rrlib.attacks import ThreatModel
from rrlib.mi.neurons import (
    PerNeuronCritic,
    estimate_neuron_mi,
    extract_patches,
    interior_locations,
    neuron_mi_values,
    neuron_pairs,
    patch_grid,
    sample_locations,
)
from rrlib.mi.worst_case import EstimatorConfig
from rrlib.models import CONV2_PATCH, build_model

K, S, P = CONV2_PATCH


def _window(side: int, loc: int, image_size: int) -> torch.Tensor:
    """Boolean (H, W) mask of the k×k window of location ``loc`` (clipped to the image)."""
    i, j = divmod(loc, side)
    mask = torch.zeros(image_size, image_size, dtype=torch.bool)
    r0, c0 = S * i - P, S * j - P
    mask[max(r0, 0):max(r0 + K, 0), max(c0, 0):max(c0 + K, 0)] = True
    return mask


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_model("baseline_h", "fashion-mnist", width=0.25).eval()


# ------------------------------------------------------------------------------------------------- geometry
def test_grid_and_interior_counts():
    assert patch_grid(28) == 7 and patch_grid(32) == 8
    assert interior_locations(28).tolist() == [7 * i + j for i in range(1, 6) for j in range(1, 6)]
    assert interior_locations(32).numel() == 36


def test_patches_are_the_zero_padded_windows():
    x = torch.rand(3, 2, 28, 28)
    patches = extract_patches(x)
    assert patches.shape == (3, 49, 2 * K * K)
    padded = torch.nn.functional.pad(x, (P, P, P, P))
    for loc in range(49):
        i, j = divmod(loc, 7)
        crop = padded[:, :, S * i:S * i + K, S * j:S * j + K]
        assert torch.equal(patches[:, loc].reshape(3, 2, K, K), crop)


def test_patch_window_equals_gradient_support_of_conv2(model):
    """The input pixels that conv2's unit at (i, j) depends on are exactly the patch's window (inside the image)."""
    x = torch.rand(8, 1, 28, 28, requires_grad=True)
    maps = model.conv2(x)
    assert maps.shape[-2:] == (7, 7)
    for loc in range(49):
        i, j = divmod(loc, 7)
        (grad,) = torch.autograd.grad(maps[:, :, i, j].sum(), x, retain_graph=True)
        support = (grad != 0).any(dim=0)[0]  # union over 8 images and all channels
        window = _window(7, loc, 28)
        assert not bool((support & ~window).any()), f"location {loc}: gradient outside the patch window"
        assert torch.equal(support, window), f"location {loc}: patch window larger than the receptive field"


def test_units_depend_only_on_their_window_and_interior_units_share_one_function(model):
    """Pixels outside a window never change its unit. At interior locations the unit is one and the same function
    of the patch (translation equivariance); at the border, conv padding makes it a different function, which is
    why the per-neuron estimates use interior locations by default."""
    g = torch.Generator().manual_seed(1)
    x = torch.rand(4, 1, 28, 28, generator=g)
    other = torch.rand(4, 1, 28, 28, generator=g)
    with torch.no_grad():
        base = model.conv2(x).flatten(2)
        for loc in range(49):
            mixed = torch.where(_window(7, loc, 28), x, other)
            assert float((model.conv2(mixed).flatten(2)[:, :, loc] - base[:, :, loc]).abs().max()) < 1e-5, loc
        # copy the padded patch of a location into the window of another one; compare the units
        patches = extract_patches(x)

        def unit_with_patch(src: int, dst: int) -> torch.Tensor:
            canvas = torch.nn.functional.pad(other, (P, P, P, P)).clone()
            i, j = divmod(dst, 7)
            canvas[:, :, S * i:S * i + K, S * j:S * j + K] = patches[:, src].reshape(4, 1, K, K)
            return model.conv2(canvas[:, :, P:P + 28, P:P + 28]).flatten(2)[:, :, dst]

        interior = interior_locations(28).tolist()
        assert torch.allclose(unit_with_patch(interior[0], interior[-1]), base[:, :, interior[0]], atol=1e-5)
        assert torch.allclose(unit_with_patch(interior[7], interior[3]), base[:, :, interior[7]], atol=1e-5)
        # the corner's patch (with its zero padding) placed at an interior location gives another value
        assert not torch.allclose(unit_with_patch(0, interior[0]), base[:, :, 0], atol=1e-3)


def test_neuron_pairs_pick_matching_locations(model):
    x = torch.rand(5, 1, 28, 28)
    loc = torch.tensor([8, 9, 24, 40, 16])
    patches, values = neuron_pairs(_Conv2(model), x, loc)
    with torch.no_grad():
        maps = model.conv2(x).flatten(2)
    all_patches = extract_patches(x)
    for b in range(5):
        assert torch.allclose(values[b], maps[b, :, loc[b]])
        assert torch.equal(patches[b], all_patches[b, loc[b]])


class _Conv2(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.conv2(x)


def test_sample_locations_uses_only_allowed_ones():
    allowed = interior_locations(28)
    loc = sample_locations(1000, allowed, torch.Generator().manual_seed(0))
    assert set(loc.tolist()) == set(allowed.tolist())


# ------------------------------------------------------------------------------------------------- critic
def test_per_neuron_critic_shapes_and_independence():
    critic = PerNeuronCritic(4, 100, hidden=8, embed=3, code_hidden=5)
    patches, values = torch.rand(6, 100), torch.rand(6, 4)
    scores = critic(patches, values)
    assert scores.shape == (4, 6, 6)
    assert all(p.shape[0] == 4 for p in critic.parameters())
    # scores[k, i, j] = <φ_k(p_i), ψ_k(u_jk)>
    k, i, j = 2, 1, 4
    expected = critic.patch_embedding(patches)[k, i] @ critic.code_embedding(values)[k, j]
    assert torch.allclose(scores[k, i, j], expected, atol=1e-6)
    # neuron 0's score touches only neuron 0's parameters and its own unit value
    scores[0].sum().backward()
    for p in critic.parameters():
        assert p.grad is not None and bool((p.grad[1:] == 0).all())
    values = values.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(patches, values)[1].sum(), values)
    assert bool((grad[:, [0, 2, 3]] == 0).all()) and bool((grad[:, 1] != 0).any())


@pytest.mark.parametrize("bad", [(torch.rand(6, 99), torch.rand(6, 4)), (torch.rand(6, 100), torch.rand(5, 4)),
                                 (torch.rand(6, 100), torch.rand(6, 3))])
def test_per_neuron_critic_rejects_bad_shapes(bad):
    with pytest.raises(ValueError, match="shape|same number"):
        PerNeuronCritic(4, 100)(*bad)


def test_bad_arguments_raise_clear_errors(model):
    with pytest.raises(ValueError, match="hidden"):
        PerNeuronCritic(4, 100, hidden=0)
    with pytest.raises(ValueError, match="geometry"):
        extract_patches(torch.rand(1, 1, 28, 28), (10, 4))
    with pytest.raises(ValueError, match="square"):
        extract_patches(torch.rand(1, 1, 28, 20))
    with pytest.raises(ValueError, match="map of shape"):
        neuron_pairs(_Conv2(model), torch.rand(2, 1, 28, 28), torch.tensor([0, 1]), (10, 2, 3))
    with pytest.raises(ValueError, match="gradient"):
        neuron_mi_values(PerNeuronCritic(32, 100), _Conv2(model), torch.rand(4, 1, 28, 28), torch.tensor([8] * 4),
                         gradient="both")
    x = torch.rand(64, 1, 28, 28)
    with pytest.raises(ValueError, match="locations"):
        estimate_neuron_mi(_Conv2(model), PerNeuronCritic(32, 100), x, x, threat=None,
                           config=EstimatorConfig(iterations=1, batch_size=32), generator=torch.Generator(),
                           locations=torch.tensor([49]))
    with pytest.raises(ValueError, match="fewer than one batch"):
        estimate_neuron_mi(_Conv2(model), PerNeuronCritic(32, 100), x[:8], x, threat=None,
                           config=EstimatorConfig(iterations=1, batch_size=32), generator=torch.Generator())


# ------------------------------------------------------------------------------------------------- known MI
# Synthetic "images" are single 10×10 patches (geometry (10, 10, 0): one location). A discrete level c is written into
# the pixels; the "neurons" read it back. Every unit's MI with the patch is then a discrete entropy, known exactly.
_ONE_PATCH = (10, 10, 0)


class _LevelUnits(nn.Module):
    """Units: the level c ∈ {0..3} (MI log 4), the bit [c ≥ 2] (log 2), a constant (0) and fresh noise (0)."""

    def __init__(self) -> None:
        super().__init__()
        self.noise = torch.Generator().manual_seed(123)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        level = torch.round(x.mean(dim=(1, 2, 3)) * 3)
        noise = torch.rand(level.shape, generator=self.noise)
        return torch.stack([level, (level >= 2).float(), torch.zeros_like(level), noise], 1)[:, :, None, None]


def test_per_neuron_dv_recovers_known_mutual_information():
    g = torch.Generator().manual_seed(0)
    n = 1536
    level = torch.randint(4, (n,), generator=g).float()
    x = (level / 3).view(n, 1, 1, 1) + 0.02 * torch.randn(n, 1, 10, 10, generator=g)
    x = x.clamp(0, 1)
    torch.manual_seed(0)
    est = estimate_neuron_mi(_LevelUnits(), PerNeuronCritic(4, 100), x[:1024], x[1024:], threat=None,
                             config=EstimatorConfig(iterations=600, batch_size=128, lr=3e-3, test_batches=4),
                             generator=torch.Generator().manual_seed(1), geometry=_ONE_PATCH,
                             locations=torch.tensor([0]))
    truth = torch.tensor([math.log(4), math.log(2), 0.0, 0.0])
    assert est.estimate.shape == (4,) and est.test_values.shape == (4, 4) and est.train_values.shape == (600, 4)
    se = torch.as_tensor(est.standard_error)
    got = torch.as_tensor(est.estimate)
    # Upper side: a DV value is a lower bound on the MI in expectation, so an estimate may exceed the truth only by
    # sampling error: 5 standard errors over the test batches plus 0.02 nats (the batch log-mean-exp's own bias).
    # Lower side (critic approximation): with matched scores a and mismatched −b the DV value of the level unit is
    # log 4 − log(1 + 3 e^{−(a+b)}); after 600 Adam steps the margin a + b is about 3–3.5, a shortfall of 0.10–0.14
    # nats (measured over 3 seeds), so we allow 0.2 nats below the truth.
    assert bool((got <= truth + 5 * se + 0.02).all()), (got, se)
    assert bool((got >= truth - 0.2).all()), (got, se)


class _HalfUnits(nn.Module):
    """Two neurons reading the left and right half of a 10×10 patch: ``clamp(10 (mean − 1/2), −1, 1)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        left = x[:, 0, :, :5].mean(dim=(1, 2))
        right = x[:, 0, :, 5:].mean(dim=(1, 2))
        return torch.stack([(10 * (left - 0.5)).clamp(-1, 1), (10 * (right - 0.5)).clamp(-1, 1)], 1)[:, :, None, None]


def test_worst_case_per_neuron_mi_on_a_fragile_and_a_robust_unit():
    """Left half = 0.45 or 0.55 (bit c1), right half = 0.2 or 0.8 (bit c2); ε = 0.1 in ℓ∞.

    Exact values. Clean: unit 0 = ±0.5 and unit 1 = ±1, each a copy of its bit: MI = log 2 for both. Worst case:
    moving the left half to 0.5 (distance 0.05 ≤ ε) makes unit 0 constant, MI 0; the right half's mean stays in
    [0.1, 0.3] or [0.7, 0.9], where unit 1 is saturated at ∓1: its worst-case MI is still log 2.
    """
    g = torch.Generator().manual_seed(0)
    n = 768
    c1, c2 = torch.randint(2, (n,), generator=g).float(), torch.randint(2, (n,), generator=g).float()
    x = torch.empty(n, 1, 10, 10)
    x[..., :5] = (0.45 + 0.1 * c1).view(n, 1, 1, 1)
    x[..., 5:] = (0.2 + 0.6 * c2).view(n, 1, 1, 1)
    cfg = EstimatorConfig(iterations=120, batch_size=128, lr=3e-3, test_batches=2)
    attack = ThreatModel("linf", 0.1, 8, 0.01)
    torch.manual_seed(0)
    critic = PerNeuronCritic(2, 100)
    common = dict(config=cfg, geometry=_ONE_PATCH, locations=torch.tensor([0]))
    normal = estimate_neuron_mi(_HalfUnits(), critic, x[:512], x[512:], threat=None,
                                generator=torch.Generator().manual_seed(1), **common)
    worst = estimate_neuron_mi(_HalfUnits(), critic, x[:512], x[512:], threat=attack,
                               generator=torch.Generator().manual_seed(1), **common)
    log2 = math.log(2)
    # clean: both near log 2 (tolerances as in the known-MI test: 0.15 below for a one-bit unit, sampling error above)
    assert all(log2 - 0.15 <= v <= log2 + 5 * s + 0.02 for v, s in zip(normal.estimate, normal.standard_error,
                                                                        strict=True)), normal.estimate
    # worst case: the fragile unit loses (almost) everything, the saturated one keeps log 2
    assert worst.estimate[0] < 0.2 * log2, worst.estimate
    assert log2 - 0.15 <= worst.estimate[1] <= log2 + 5 * worst.standard_error[1] + 0.02, worst.estimate
