"""rrlib.synthetic: closed-form MI, samplers and oracle log density ratios against independent computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from rrlib.synthetic import (
    CorrelatedGaussian,
    DeterministicCode,
    DiscreteJoint,
    mi_from_rho,
    rho_from_mi,
    symmetric_channel,
)


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_rho_mi_conversion():
    assert mi_from_rho(0.0, 7) == 0.0
    assert mi_from_rho(0.5, 1) == pytest.approx(-0.5 * math.log(0.75), rel=1e-15)
    # round-off: rho is stored as a float, so the relative error of 1 - rho^2 is ~eps / (1 - rho^2); the pairs
    # below keep 1 - rho^2 = exp(-2I/d) >= 1e-2, i.e. errors ~1e-14
    for mi, dim in ((0.0, 1), (0.1, 1), (2.0, 1), (0.1, 20), (2.0, 20), (10.0, 20), (40.0, 20)):
        assert mi_from_rho(rho_from_mi(mi, dim), dim) == pytest.approx(mi, rel=1e-12, abs=1e-15)
    assert CorrelatedGaussian.from_mi(6.0, 20).mi == pytest.approx(6.0, rel=1e-12)


def test_log_ratio_matches_scipy_densities():
    dist = CorrelatedGaussian(dim=3, rho=0.7)
    x, z = dist.sample(50, _gen(1))
    r2 = dist.rho
    cov = np.block([[np.eye(3), r2 * np.eye(3)], [r2 * np.eye(3), np.eye(3)]])
    xz = np.concatenate([x.numpy(), z.numpy()], axis=1).astype(np.float64)
    expected = (stats.multivariate_normal(np.zeros(6), cov).logpdf(xz)
                - stats.multivariate_normal(np.zeros(3), np.eye(3)).logpdf(x.double().numpy())
                - stats.multivariate_normal(np.zeros(3), np.eye(3)).logpdf(z.double().numpy()))
    assert dist.log_ratio(x.double(), z.double()).numpy() == pytest.approx(expected, rel=1e-10, abs=1e-10)


def test_oracle_scores_are_log_ratios_of_every_pair():
    dist = CorrelatedGaussian.from_mi(4.0, 5)
    x, z = dist.sample(7, _gen(2))
    x, z = x.double(), z.double()
    s = dist.oracle_scores(x, z)
    assert s.shape == (7, 7)
    for i in range(7):
        row = dist.log_ratio(x[i].expand(7, 5), z)
        assert s[i].numpy() == pytest.approx(row.numpy(), rel=1e-10, abs=1e-10)
    assert torch.diagonal(s).numpy() == pytest.approx(dist.log_ratio(x, z).numpy(), rel=1e-10)


def test_mi_is_the_expected_log_ratio_and_e_q_r_is_one():
    # Monte Carlo: mean of log r over joint samples = I (5 standard errors); mean of r over product pairs = 1
    dist = CorrelatedGaussian.from_mi(1.5, 4)
    x, z = dist.sample(20000, _gen(3))
    lr = dist.log_ratio(x.double(), z.double()).numpy()
    assert abs(lr.mean() - 1.5) < 5 * lr.std(ddof=1) / math.sqrt(lr.size)
    r_q = np.exp(dist.log_ratio(x.double(), z.double().roll(1, dims=0)).numpy())
    assert abs(r_q.mean() - 1.0) < 5 * r_q.std(ddof=1) / math.sqrt(r_q.size)


def test_sample_correlation_matches_rho():
    dist = CorrelatedGaussian(dim=4, rho=0.6)
    x, z = dist.sample(20000, _gen(4))
    for k in range(4):
        corr = np.corrcoef(x[:, k].numpy(), z[:, k].numpy())[0, 1]
        # standard error of a sample correlation ~ (1 - rho^2) / sqrt(N)
        assert abs(corr - 0.6) < 5 * (1 - 0.36) / math.sqrt(20000)
    assert abs(float(x.var()) - 1) < 0.05 and abs(float(z.var()) - 1) < 0.05  # 5 s.e. = 5 * sqrt(2/80000) ≈ 0.025·2


def test_cubic_variant_keeps_the_mi_and_the_oracle():
    lin = CorrelatedGaussian.from_mi(3.0, 6)
    cub = CorrelatedGaussian.from_mi(3.0, 6, cubic=True)
    assert cub.mi == lin.mi
    x1, z1 = lin.sample(9, _gen(5))
    x3, z3 = cub.sample(9, _gen(5))
    assert torch.equal(x1, x3)
    assert torch.allclose(z3, z1**3)
    assert torch.allclose(cub.oracle_scores(x3.double(), z3.double()), lin.oracle_scores(x1.double(), z1.double()),
                          atol=1e-8)


def test_generators_make_samples_reproducible():
    dist = CorrelatedGaussian.from_mi(2.0, 3)
    a = dist.sample(5, _gen(9))
    b = dist.sample(5, _gen(9))
    c = dist.sample(5, _gen(10))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])


def test_symmetric_channel_closed_form_and_brute_force():
    k, flip = 4, 0.2
    ch = symmetric_channel(k, flip)
    h2 = -flip * math.log(flip) - (1 - flip) * math.log(1 - flip)
    assert ch.mi == pytest.approx(math.log(k) - h2 - flip * math.log(k - 1), rel=1e-12)
    p = ch.pmf
    brute = sum(p[a, b] * math.log(p[a, b] / (p[a].sum() * p[:, b].sum())) for a in range(k) for b in range(k))
    assert ch.mi == pytest.approx(brute, rel=1e-12)


def test_discrete_sampling_frequencies_and_oracle():
    table = np.array([[0.3, 0.1, 0.05], [0.05, 0.2, 0.3]])
    dist = DiscreteJoint(table)
    x, z = dist.sample(40000, _gen(6))
    assert x.shape == (40000, 2) and z.shape == (40000, 3)
    counts = (x.T @ z).numpy() / 40000
    se = np.sqrt(table * (1 - table) / 40000)
    assert np.all(np.abs(counts - table) < 5 * se)
    s = dist.oracle_scores(x[:5].double(), z[:5].double())
    a, b = x[:5].argmax(1).numpy(), z[:5].argmax(1).numpy()
    lr = dist.log_ratio_table
    assert s.numpy() == pytest.approx(lr[a[:, None], b[None, :]], rel=1e-12)
    px, pz = table.sum(1), table.sum(0)
    assert float(np.sum(px[:, None] * pz[None, :] * np.exp(lr))) == pytest.approx(1.0, rel=1e-12)  # E_q[r] = 1


def test_deterministic_code_has_infinite_mi():
    code = DeterministicCode(3)
    x, z = code.sample(4, _gen(7))
    assert math.isinf(code.mi) and torch.equal(x, z)
    w = torch.randn(3, 5)
    x, z = DeterministicCode(3, w).sample(4, _gen(7))
    assert torch.allclose(z, x @ w)


@pytest.mark.parametrize("call,match", [
    (lambda: mi_from_rho(1.0, 2), "rho"),
    (lambda: mi_from_rho(0.5, 0), "dim"),
    (lambda: rho_from_mi(-1.0, 2), "mi"),
    (lambda: CorrelatedGaussian(2, 0.5).sample(0, _gen()), "positive"),
    (lambda: DiscreteJoint(np.array([[0.5, 0.0], [0.25, 0.25]])), "strictly positive"),
    (lambda: DiscreteJoint(np.array([[0.5, 0.5], [0.25, 0.25]])), "sum to 1"),
    (lambda: symmetric_channel(1, 0.1), "k"),
    (lambda: CorrelatedGaussian(2, 0.5).oracle_scores(torch.zeros(3, 2), torch.zeros(3, 4)), "shape"),
])
def test_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_generator_type_is_checked():
    with pytest.raises(TypeError, match="Generator"):
        CorrelatedGaussian(2, 0.5).sample(3, 0)


def test_second_moment_of_the_ratio_under_the_product_is_exp_two_i():
    # E_q[r^2] = (1 - rho^2)^{-d} = e^{2I}; Monte Carlo over 200k product pairs at a low MI (light tails), 5 s.e.
    dist = CorrelatedGaussian.from_mi(0.3, 4)
    x, z = dist.sample(200000, _gen(8))
    r2 = np.exp(2 * dist.log_ratio(x.double(), z.double().roll(1, dims=0)).numpy())
    assert abs(r2.mean() - math.exp(0.6)) < 5 * r2.std(ddof=1) / math.sqrt(r2.size)
