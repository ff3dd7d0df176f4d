"""rrlib.mi.critics: score conventions, output shapes for 1- and 3-channel images, gradient flow."""

from __future__ import annotations

import pytest
import torch

from rrlib.mi import bounds as B
from rrlib.mi.critics import ConcatCritic, EncodeAndDotCritic, ResidualBlock1x1, SeparableCritic, location_scores


@torch.no_grad()
def test_separable_scores_are_g_dot_h_for_every_pair():
    torch.manual_seed(0)
    critic = SeparableCritic(3, 4, hidden=16, embed=5)
    x, z = torch.randn(6, 3), torch.randn(6, 4)
    s = critic(x, z)
    assert s.shape == (6, 6)
    for i in range(6):
        for j in range(6):
            assert float(s[i, j]) == pytest.approx(float(critic.g(x[i]) @ critic.h(z[j])), rel=1e-5, abs=1e-6)


@torch.no_grad()
def test_concat_scores_are_f_of_each_concatenated_pair():
    torch.manual_seed(1)
    critic = ConcatCritic(3, 2, hidden=16)
    x, z = torch.randn(5, 3), torch.randn(5, 2)
    s = critic(x, z)
    assert s.shape == (5, 5)
    for i in range(5):
        for j in range(5):
            assert float(s[i, j]) == pytest.approx(float(critic.f(torch.cat([x[i], z[j]]))), rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("channels,size,locations", [(1, 28, 49), (3, 32, 64)])
def test_encode_and_dot_shapes(channels, size, locations):
    torch.manual_seed(2)
    critic = EncodeAndDotCritic(channels, z_dim=10, hidden=32)
    x, z = torch.rand(4, channels, size, size), torch.randn(4, 10)
    s = critic(x, z)
    assert s.shape == (locations, 4, 4)
    side = int(locations**0.5)
    assert critic.local_features(x).shape == (4, 32, side, side)
    value = B.dv(s.detach())  # the paper's bound: DV per location, averaged
    assert value.shape == () and torch.isfinite(value)


@torch.no_grad()
def test_encode_and_dot_critic_scores_equal_the_einsum_of_its_features():
    """Whatever product computes the scores, they are ``einsum("icl,jc->lij", φ, ψ)`` within float32 rounding of a
    ``C``-term dot product, ``|Δ| ≤ 2 γ_C Σ_c |φ_c ψ_c|`` (``γ_C = C u / (1 − C u)``, ``u = 2⁻²⁴``)."""
    torch.manual_seed(4)
    critic = EncodeAndDotCritic(3, z_dim=10, hidden=64).eval()
    x, z = torch.rand(6, 3, 32, 32), torch.randn(6, 10)
    phi = critic.local_features(x).flatten(2)
    psi = critic.code_branch(z[:, :, None, None]).flatten(1)
    ref = torch.einsum("icl,jc->lij", phi, psi)
    bound = 2 * 64 * 2.0**-24 / (1 - 64 * 2.0**-24) * torch.einsum("icl,jc->lij", phi.abs(), psi.abs())
    assert ((critic(x, z) - ref).abs() <= bound).all()


@torch.no_grad()
def test_location_scores_of_a_rank_s_rows_against_every_code_equal_the_einsum():
    """The data-parallel critic scores this rank's b images against all B codes (``rrlib.train.ddp_mi``): the same
    product with ``n ≠ m``, within the rounding bound above (``C = 32``), shape ``(L, n, m)``."""
    torch.manual_seed(5)
    phi, psi = torch.randn(3, 32, 49), torch.randn(5, 32)
    s = location_scores(phi, psi)
    assert s.shape == (49, 3, 5)
    bound = 2 * 32 * 2.0**-24 / (1 - 32 * 2.0**-24) * torch.einsum("icl,jc->lij", phi.abs(), psi.abs())
    assert ((s - torch.einsum("icl,jc->lij", phi, psi)).abs() <= bound).all()


@torch.no_grad()
def test_encode_and_dot_scores_are_per_location_dot_products():
    torch.manual_seed(3)
    critic = EncodeAndDotCritic(1, z_dim=6, hidden=16).eval()  # eval: BN uses running stats, rows independent
    x, z = torch.rand(3, 1, 28, 28), torch.randn(3, 6)
    s = critic(x, z)
    phi = critic.local_features(x).flatten(2)  # (n, hidden, L)
    psi = critic.code_branch(z[:, :, None, None]).flatten(1)
    for k in (0, 24, 48):
        for i in range(3):
            for j in range(3):
                assert float(s[k, i, j]) == pytest.approx(float(phi[i, :, k] @ psi[j]), rel=1e-5, abs=1e-5)


@pytest.mark.parametrize("detach", [True, False])
def test_detach_x_controls_gradient_to_the_image(detach):
    torch.manual_seed(4)
    critic = EncodeAndDotCritic(3, z_dim=8, hidden=16, detach_x=detach)
    x = torch.rand(4, 3, 32, 32, requires_grad=True)
    z = torch.randn(4, 8, requires_grad=True)
    B.dv(critic(x, z)).backward()
    assert z.grad is not None and float(z.grad.abs().sum()) > 0
    if detach:
        assert x.grad is None
    else:
        assert x.grad is not None and float(x.grad.abs().sum()) > 0


def test_residual_block_shortcut_starts_near_identity_and_output_is_layer_normed():
    torch.manual_seed(5)
    block = ResidualBlock1x1(4, 12)
    w = block.shortcut.weight.detach()[:, :, 0, 0]
    assert torch.all(w[torch.arange(4), torch.arange(4)] == 1.0)
    mask = torch.ones_like(w, dtype=torch.bool)
    mask[torch.arange(4), torch.arange(4)] = False
    assert float(w[mask].abs().max()) <= 0.01
    y = block(torch.randn(5, 4, 3, 3)).detach()
    assert y.shape == (5, 12, 3, 3)
    per_location = y.permute(0, 2, 3, 1)  # LayerNorm over channels at init (weight 1, bias 0)
    assert torch.allclose(per_location.mean(-1), torch.zeros(5, 3, 3), atol=1e-5)
    assert torch.allclose(per_location.var(-1, unbiased=False), torch.ones(5, 3, 3), atol=1e-3)


def test_critics_do_not_modify_inputs():
    x, z = torch.randn(4, 3), torch.randn(4, 3)
    xc, zc = x.clone(), z.clone()
    SeparableCritic(3, 3, hidden=8, embed=4)(x, z)
    ConcatCritic(3, 3, hidden=8)(x, z)
    assert torch.equal(x, xc) and torch.equal(z, zc)


@pytest.mark.parametrize("call,exc,match", [
    (lambda: SeparableCritic(3, 3)(torch.randn(4, 2), torch.randn(4, 3)), ValueError, r"\(n, 3\)"),
    (lambda: ConcatCritic(3, 3)(torch.randn(4, 3), torch.randn(5, 3)), ValueError, "same number"),
    (lambda: SeparableCritic(3, 3)([[1.0] * 3], torch.randn(1, 3)), TypeError, "Tensor"),
    (lambda: EncodeAndDotCritic(2, 10), ValueError, "in_channels"),
    (lambda: EncodeAndDotCritic(1, 10, hidden=8)(torch.rand(2, 3, 28, 28), torch.randn(2, 10)), ValueError,
     r"\(n, 1, H, W\)"),
    (lambda: EncodeAndDotCritic(1, 10, hidden=8)(torch.rand(2, 1, 28, 28), torch.randn(2, 9)), ValueError, "z must"),
    (lambda: EncodeAndDotCritic(1, 10, hidden=8)(torch.rand(3, 1, 28, 28), torch.randn(2, 10)), ValueError,
     "same number"),
    (lambda: SeparableCritic(3, 3, hidden=0), ValueError, "hidden"),
])
def test_bad_inputs(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
