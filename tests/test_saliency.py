"""Saliency maps (Figs 4–6) against central finite differences in float64, and the Etmann et al. alignment
against hand-computed cases."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from rrlib import stats
from rrlib.mi.bounds import dv
from rrlib.saliency import (
    alignment,
    ce_saliency,
    display_scale,
    dv_saliency,
    input_gradient,
    kernel_saliency,
)
from rrlib.train.encoder import PixelCritic, PixelEncoder

H = 1e-6  # central differences in float64: truncation O(H²) and rounding O(1e-16 / H), both ≪ the 1e-6 tolerance


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _finite_difference(fn, x: torch.Tensor, coords) -> torch.Tensor:
    out = []
    for idx in coords:
        plus, minus = x.clone(), x.clone()
        plus[idx] += H
        minus[idx] -= H
        with torch.no_grad():
            out.append((fn(plus) - fn(minus)) / (2 * H))
    return torch.stack(out)


def _coords(x: torch.Tensor, k: int = 6):
    gen = torch.Generator().manual_seed(1)
    flat = torch.randperm(x.numel(), generator=gen)[:k]
    return [tuple(int(i) for i in torch.unravel_index(f, x.shape)) for f in flat]


def _models():
    torch.manual_seed(0)
    g = PixelEncoder("fmnist", width=0.125).double()
    t = PixelCritic("fmnist", hidden=8).double()
    with torch.no_grad():  # one forward pass in train mode: non-trivial batch-norm statistics for eval mode
        xb = torch.rand(8, 1, 28, 28, dtype=torch.float64)
        t(xb, g(xb))
    return g, t


def test_alignment_hand_computed_cases():
    x = torch.tensor([[3.0, 4.0], [1.0, 0.0], [1.0, 0.0], [2.0, 2.0], [0.0, 0.0]])
    grad = torch.tensor([[-6.0, -8.0], [0.0, 5.0], [1.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    a = alignment(x, grad)
    assert a[:4].tolist() == pytest.approx([1.0, 0.0, 1 / math.sqrt(2), 1 / math.sqrt(2)], abs=1e-15)
    assert math.isnan(a[4])  # a zero image has no direction
    images = torch.rand(5, 1, 6, 6)
    assert torch.allclose(alignment(images, 2.5 * images), torch.ones(5, dtype=torch.float64))
    with pytest.raises(ValueError, match="one shape"):
        alignment(images, images[:, :, :3])
    s = stats.summarize(a, finite_only=True)  # the NaN of the zero image is left out
    mean, sem, n = s.mean, s.se, s.n
    values = [1.0, 0.0, 1 / math.sqrt(2), 1 / math.sqrt(2)]
    m = sum(values) / 4
    assert (mean, n) == (pytest.approx(m), 4)
    assert sem == pytest.approx(math.sqrt(sum((v - m) ** 2 for v in values) / 3) / 2)


def test_ce_saliency_matches_finite_differences_and_leaves_the_model_alone():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.Tanh(), nn.Flatten(), nn.Linear(3 * 4 * 4, 10)).double().train()
    x = torch.rand(4, 1, 6, 6, dtype=torch.float64)
    y = torch.tensor([0, 3, 7, 9])
    grad = ce_saliency(model, x, y)
    coords = _coords(x)
    fd = _finite_difference(lambda xx: F.cross_entropy(model(xx), y, reduction="sum"), x, coords)
    assert torch.allclose(torch.stack([grad[c] for c in coords]), fd, atol=1e-6, rtol=1e-6)
    assert model.training and all(p.grad is None for p in model.parameters())


def test_dv_and_kernel_saliency_match_finite_differences():
    g, t = _models()
    x = 0.2 + 0.6 * torch.rand(3, 1, 28, 28, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    coords = _coords(x)
    grad = dv_saliency(g, t, x)
    g.eval(), t.eval()
    # The paper's critic detaches its image input, so the map is the derivative through z = g(x) alone: the
    # finite difference perturbs only the encoder's input (the critic's image branch sees the clean batch).
    fd = _finite_difference(lambda xx: -dv(t(x, g(xx))), x, coords)
    g.train(), t.train()
    assert torch.allclose(torch.stack([grad[c] for c in coords]), fd, atol=1e-6, rtol=1e-5)
    assert g.training and t.training  # eval during the gradient, modes restored

    kgrad = kernel_saliency(g, x, channel=5)
    g.eval()
    fd = _finite_difference(lambda xx: g.conv2(xx)[:, 5].mean(dim=(-2, -1)).sum(), x, coords)
    assert torch.allclose(torch.stack([kgrad[c] for c in coords]), fd, atol=1e-6, rtol=1e-5)
    # the kernel's map of image i depends on image i only: its receptive field is 10×10 pixels
    single = kernel_saliency(g, x[1:2], channel=5)
    assert torch.allclose(single[0], kgrad[1], atol=1e-12)


def test_bad_inputs():
    g, t = _models()
    with pytest.raises(ValueError, match="channel must be an integer in \\[0, 16\\)"):
        kernel_saliency(g, torch.rand(2, 1, 28, 28, dtype=torch.float64), channel=16)
    with pytest.raises(TypeError, match="has no conv2"):
        kernel_saliency(nn.Linear(2, 2), torch.rand(2, 2), channel=0)
    with pytest.raises(ValueError, match="at least 2 images"):
        dv_saliency(g, t, torch.rand(1, 1, 28, 28, dtype=torch.float64))
    with pytest.raises(ValueError, match="no gradient path"):
        input_gradient(lambda xx: xx.detach().sum(), torch.rand(3))
    scaled = display_scale(torch.tensor([[[-2.0, 1.0]], [[0.0, 0.0]]]))
    assert scaled.tolist() == [[[0.0, 0.75]], [[0.5, 0.5]]]
