"""rrlib.mi.bounds against direct NumPy re-computations, invariances and the oracle critic."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from rrlib.mi import bounds as B
from rrlib.synthetic import CorrelatedGaussian


# ---------------------------------------------------------------------------------------- NumPy reference (loops)
def _offdiag(s: np.ndarray) -> np.ndarray:
    n = s.shape[0]
    return np.array([s[i, j] for i in range(n) for j in range(n) if i != j])


def np_dv(s, filler=False):
    n = s.shape[0]
    neg = np.exp(_offdiag(s)).sum() + (n if filler else 0.0)
    return np.mean(np.diag(s)) - math.log(neg / (n * (n - 1)))


def np_nwj(s):
    return np.mean(np.diag(s)) - math.exp(-1) * np.mean(np.exp(_offdiag(s)))


def np_infonce(s):
    n = s.shape[0]
    return math.log(n) + np.mean([s[i, i] - math.log(np.exp(s[i]).sum()) for i in range(n)])


def np_js_objective(s):
    softplus = lambda v: np.log1p(np.exp(v))  # noqa: E731
    return np.mean(-softplus(-np.diag(s))) - np.mean(softplus(_offdiag(s)))


def np_js(s):
    return 1.0 + np.mean(np.diag(s)) - np.mean(np.exp(_offdiag(s)))


def np_smile(s, tau):
    return np.mean(np.diag(s)) - math.log(np.mean(np.exp(np.clip(_offdiag(s), -tau, tau))))


CASES = [(2, 0.5, 0), (3, 1.0, 1), (17, 3.0, 2), (8, 10.0, 3)]


def _scores(n, scale, seed):
    return np.random.default_rng(seed).normal(scale=scale, size=(n, n))


@pytest.mark.parametrize("n,scale,seed", CASES)
def test_every_bound_matches_numpy(n, scale, seed):
    s = _scores(n, scale, seed)
    t = torch.tensor(s, dtype=torch.float64)
    # float64 throughout: agreement to 1e-10 relative is round-off only
    assert float(B.dv(t)) == pytest.approx(np_dv(s), rel=1e-10, abs=1e-10)
    assert float(B.dv(t, dim_filler=True)) == pytest.approx(np_dv(s, filler=True), rel=1e-10, abs=1e-10)
    assert float(B.nwj(t)) == pytest.approx(np_nwj(s), rel=1e-10, abs=1e-10)
    assert float(B.infonce(t)) == pytest.approx(np_infonce(s), rel=1e-10, abs=1e-10)
    assert float(B.js_objective(t)) == pytest.approx(np_js_objective(s), rel=1e-10, abs=1e-10)
    assert float(B.js(t)) == pytest.approx(np_js(s), rel=1e-10, abs=1e-10)
    for tau in (0.5, 2.0, 50.0):
        assert float(B.smile(t, tau)) == pytest.approx(np_smile(s, tau), rel=1e-10, abs=1e-10)


def test_location_axis_averages_per_location_bounds():
    s = np.random.default_rng(5).normal(size=(4, 6, 6))
    t = torch.tensor(s)
    for fn, ref in ((B.dv, np_dv), (B.nwj, np_nwj), (B.infonce, np_infonce), (B.js, np_js)):
        per = np.array([ref(s[k]) for k in range(4)])
        assert fn(t, reduction="none").numpy() == pytest.approx(per, rel=1e-10)
        assert float(fn(t)) == pytest.approx(per.mean(), rel=1e-10)
    assert float(B.smile(t, 1.0)) == pytest.approx(np.mean([np_smile(s[k], 1.0) for k in range(4)]), rel=1e-10)


def test_float32_result_dtype_and_shape():
    t = torch.randn(5, 5)
    for fn in (B.dv, B.nwj, B.infonce, B.js, B.js_objective):
        out = fn(t)
        assert out.shape == () and out.dtype == torch.float32


# -------------------------------------------------------------------------------------------------- invariances
def test_infonce_never_exceeds_log_n():
    rng = np.random.default_rng(0)
    for n in (2, 5, 64):
        for scale in (0.1, 10.0, 1000.0):
            s = rng.normal(scale=scale, size=(n, n))
            s[np.diag_indices(n)] += scale * 10  # a critic that separates the diagonal as well as it can
            assert float(B.infonce(torch.tensor(s))) <= math.log(n) + 1e-12


def test_dv_nwj_js_smile_are_transpose_invariant_but_infonce_is_not():
    t = torch.tensor(_scores(9, 2.0, 7))
    for fn in (B.dv, B.nwj, B.js, B.js_objective, lambda s: B.smile(s, 1.5)):
        assert float(fn(t.T)) == pytest.approx(float(fn(t)), rel=1e-12)
    # InfoNCE normalises rows (each x_i against all z_j): the row/column convention matters
    assert abs(float(B.infonce(t.T)) - float(B.infonce(t))) > 1e-3


def test_dv_is_shift_invariant_and_the_filler_version_is_not():
    t = torch.tensor(_scores(6, 1.0, 3))
    assert float(B.dv(t + 7.0)) == pytest.approx(float(B.dv(t)), rel=1e-12)
    shifted = float(B.dv(t + 7.0, dim_filler=True))
    assert shifted != pytest.approx(float(B.dv(t, dim_filler=True)), abs=1e-3)
    # as the shift grows the fillers (e^0 = 1) become negligible and the filled DV tends to DV
    assert float(B.dv(t + 40.0, dim_filler=True)) == pytest.approx(float(B.dv(t)), abs=1e-12)


def test_bounds_never_modify_their_input():
    t = torch.randn(3, 7, 7, dtype=torch.float64)
    before = t.clone()
    for fn in (B.dv, B.nwj, B.infonce, B.js, B.js_objective, lambda s: B.smile(s, 0.5),
               lambda s: B.dv(s, dim_filler=True)):
        fn(t)
        fn(t[0])
    B.MINE()(t)
    assert torch.equal(t, before)


# --------------------------------------------------------------------------------------------------- the oracle
def _oracle_batches(mi, dim, n, trials, seed):
    dist = CorrelatedGaussian.from_mi(mi, dim)
    g = torch.Generator().manual_seed(seed)
    return torch.stack([dist.oracle_scores(*(t.double() for t in dist.sample(n, g))) for _ in range(trials)])


def _mean_se(values: torch.Tensor) -> tuple[float, float]:
    v = values.numpy()
    return float(v.mean()), float(v.std(ddof=1) / math.sqrt(len(v)))


def test_nwj_with_the_optimal_critic_is_unbiased():
    # E[first term] = 1 + I and E[e^{-1} e^{1 + log r}] = E_q[r] = 1 exactly, so E[NWJ] = I; tolerance 5 s.e.
    scores = _oracle_batches(1.0, 5, 64, 400, seed=11)
    mean, se = _mean_se(B.nwj(scores + 1.0, reduction="none"))
    assert abs(mean - 1.0) < 5 * se


def test_js_reported_value_is_nwj_at_t_plus_one_and_unbiased_at_the_js_optimum():
    scores = _oracle_batches(1.0, 5, 64, 400, seed=12)  # JS optimum is log r itself
    js_values = B.js(scores, reduction="none")
    assert torch.allclose(js_values, B.nwj(scores + 1.0, reduction="none"))
    mean, se = _mean_se(js_values)
    assert abs(mean - 1.0) < 5 * se
    # reporting NWJ(T) instead (as some reference code does) is biased low by exactly 1/e at the optimum
    mean_raw, se_raw = _mean_se(B.nwj(scores, reduction="none"))
    assert abs(mean_raw - (1.0 - math.exp(-1))) < 5 * se_raw


def test_oracle_estimates_are_within_sampling_error_at_low_mi():
    mi, dim, n = 0.5, 5, 128
    scores = _oracle_batches(mi, dim, n, 300, seed=13)
    # DV: upward Jensen bias ~ Var(mean of r over n(n-1) pairs)/2 = (e^{2I} - 1) / (2 n (n-1)) ~ 5e-5 nats, far
    # below the 5 s.e. tolerance; SMILE with tau = 20 never clips here; NWJ exact.
    for name, values in (("dv", B.dv(scores, reduction="none")),
                         ("smile", B.smile(scores, 20.0, reduction="none")),
                         ("nwj", B.nwj(scores + 1.0, reduction="none"))):
        mean, se = _mean_se(values)
        assert abs(mean - mi) < 5 * se, name
    # InfoNCE: the positive pair also sits in its own denominator, a first-order bias of about -(e^{2I} - 1) / n
    mean, se = _mean_se(B.infonce(scores, reduction="none"))
    first_order = -(math.exp(2 * mi) - 1) / n
    assert abs(mean - (mi + first_order)) < 5 * se + abs(first_order) / 2
    assert mean < mi


def test_oracle_dv_on_one_batch_overshoots_at_high_mi():
    # Jensen: E[log mean_q e^T] <= log E_q[e^T] = 0, so the batch DV with the oracle critic is biased upwards
    scores = _oracle_batches(10.0, 20, 64, 100, seed=14)
    mean, se = _mean_se(B.dv(scores, reduction="none"))
    assert mean - 10.0 > 5 * se


# ----------------------------------------------------------------------------------- objective vs reported value
def test_js_and_smile_train_on_js_and_report_their_value():
    t = torch.randn(6, 6, dtype=torch.float64, requires_grad=True)
    for bound, value in ((B.make_bound("js"), B.js), (B.make_bound("smile", tau=1.0), lambda s: B.smile(s, 1.0))):
        result = bound(t)
        assert float(result.value.detach()) == pytest.approx(float(value(t).detach()))
        assert float(result.objective.detach()) == pytest.approx(float(B.js_objective(t).detach()))
        (g_obj,) = torch.autograd.grad(result.objective, t)
        (g_js,) = torch.autograd.grad(B.js_objective(t), t)
        assert torch.allclose(g_obj, g_js)
        assert float(result.loss.detach()) == pytest.approx(-float(result.objective.detach()))


def test_mine_gradient_uses_the_moving_average():
    n, rate = 5, 0.1
    mine = B.MINE(rate=rate)
    s1 = torch.randn(n, n, dtype=torch.float64)
    s2 = (torch.randn(n, n, dtype=torch.float64) * 2).requires_grad_(True)
    off = ~torch.eye(n, dtype=torch.bool)
    first = mine(s1.clone().requires_grad_(True))
    assert float(first.value.detach()) == pytest.approx(float(B.dv(s1)))
    m1 = float(torch.exp(s1[off]).mean())
    result = mine(s2)
    m2 = (1 - rate) * m1 + rate * float(torch.exp(s2.detach()[off]).mean())
    assert float(mine.log_moving_average.exp()) == pytest.approx(m2, rel=1e-12)
    # the objective has the same forward value as DV
    assert float(result.objective.detach()) == pytest.approx(float(B.dv(s2.detach())), rel=1e-12)
    (grad,) = torch.autograd.grad(result.objective, s2)
    expected = torch.where(off, -torch.exp(s2.detach()) / (n * (n - 1) * m2), torch.full_like(s2, 1.0 / n))
    assert torch.allclose(grad, expected, rtol=1e-10, atol=1e-12)
    assert float(mine.value(s1)) == pytest.approx(float(B.dv(s1)))
    assert float(mine.log_moving_average.exp()) == pytest.approx(m2, rel=1e-12)  # value() does not update


def test_mine_first_call_gives_the_exact_dv_gradient_and_rejects_location_change():
    mine = B.MINE()
    s = torch.randn(2, 4, 4, dtype=torch.float64, requires_grad=True)
    (g1,) = torch.autograd.grad(mine(s).objective, s)
    (g2,) = torch.autograd.grad(B.dv(s), s)
    assert torch.allclose(g1, g2)
    with pytest.raises(ValueError, match="reset"):
        mine(torch.randn(3, 4, 4))
    mine.reset()
    mine(torch.randn(3, 4, 4))


# ------------------------------------------------------------------------------------------------------- errors
@pytest.mark.parametrize("bad,exc,match", [
    ([[0.0, 1.0], [1.0, 0.0]], TypeError, "torch.Tensor"),
    (torch.zeros(3, 3, dtype=torch.int64), TypeError, "floating"),
    (torch.zeros(4), ValueError, "shape"),
    (torch.zeros(2, 2, 3, 3), ValueError, "shape"),
    (torch.zeros(3, 4), ValueError, "square"),
    (torch.zeros(1, 1), ValueError, "n >= 2"),
])
def test_bad_shapes_and_types(bad, exc, match):
    for fn in (B.dv, B.nwj, B.infonce, B.js, B.js_objective, lambda s: B.smile(s, 1.0)):
        with pytest.raises(exc, match=match):
            fn(bad)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_scores_are_rejected(value):
    t = torch.zeros(4, 4)
    t[1, 2] = value
    for fn in (B.dv, B.nwj, B.infonce, B.js, lambda s: B.smile(s, 1.0), B.MINE()):
        with pytest.raises(ValueError, match="non-finite"):
            fn(t)


def test_finite_scores_whose_sum_overflows_are_accepted_and_a_nan_among_them_is_not():
    """``check_scores`` looks at the sum first; a sum that overflows float32 (entries of 3e38) must not be taken for
    a non-finite entry, and a NaN next to values that would overflow on their own is still found."""
    big = torch.full((2, 4, 4), 3e38)
    assert not torch.isfinite(big.sum())
    assert B.check_scores(big).shape == (2, 4, 4)
    big[1, 0, 3] = math.nan
    with pytest.raises(ValueError, match="1 non-finite value"):
        B.check_scores(big)


def test_bad_options():
    with pytest.raises(ValueError, match="reduction"):
        B.dv(torch.zeros(3, 3), reduction="sum")
    with pytest.raises(ValueError, match="tau"):
        B.smile(torch.zeros(3, 3), tau=0.0)
    with pytest.raises(ValueError, match="valid choices"):
        B.make_bound("mutual")
    with pytest.raises(ValueError, match="takes no option"):
        B.make_bound("nwj", tau=1.0)
    with pytest.raises(ValueError, match="rate"):
        B.MINE(rate=0.0)
    with pytest.raises(ValueError, match="tau"):
        B.make_bound("smile", tau=-1)


def test_make_bound_oracle_shifts():
    assert {name: B.make_bound(name).oracle_shift for name in B.BOUND_NAMES} == {
        "dv": 0.0, "nwj": 1.0, "infonce": 0.0, "js": 0.0, "smile": 0.0, "mine": 0.0}


# ------------------------------------------------------------------------------------------- subnormal gradients
TINY32 = torch.finfo(torch.float32).tiny  # 2**-126, the smallest normal float32


def _wide_scores(seed: int = 0) -> torch.Tensor:
    """Scores spread like the paper's width-2048 critic (~100 nats): some softmax weights underflow."""
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(3, 16, 16, generator=g) * 40.0).requires_grad_()


def _is_subnormal(t: torch.Tensor) -> torch.Tensor:
    return (t != 0) & (t.abs() < TINY32)


@pytest.mark.parametrize("name", ["dv", "infonce", "mine"])
def test_log_sum_exp_gradients_reach_the_scores_without_subnormals_and_otherwise_bit_identical(name, monkeypatch):
    # Reference: the same bound with the flush bypassed (torch's own gradient). The bypassed gradient must hold
    # subnormals (else the test checks nothing); the flushed one none; every other entry is bit-identical, since
    # the flush only rewrites entries with |g| < tiny.
    scores = _wide_scores()
    B.make_bound(name)(scores).objective.backward()
    flushed = scores.grad.clone()

    scores.grad = None
    monkeypatch.setattr(B, "flush_subnormal_grad", lambda x: x)
    B.make_bound(name)(scores).objective.backward()
    raw = scores.grad
    assert bool(_is_subnormal(raw).any()), f"{name}: these scores gave no subnormal to flush"
    assert not bool(_is_subnormal(flushed).any())
    keep = ~_is_subnormal(raw)
    assert torch.equal(flushed[keep], raw[keep])
    assert bool((flushed[~keep] == 0).all())


def test_flushed_values_equal_the_unflushed_ones_and_double_backward_works():
    scores = _wide_scores(1)
    value = B.dv(scores)
    assert torch.equal(value, B.dv(scores.detach()))
    (grad,) = torch.autograd.grad(B.dv(scores), scores, create_graph=True)
    (grad * grad).sum().backward()  # the flush is made of differentiable ops
    assert torch.isfinite(scores.grad).all()


def test_the_flush_leaves_other_devices_alone():
    # meta tensors stand in for CUDA/MPS: the same tensor object comes back, so their autograd graph is unchanged
    from rrlib.runtime import flush_subnormal_grad, flush_subnormals

    meta = torch.empty(4, 4, device="meta", requires_grad=True)
    assert flush_subnormal_grad(meta) is meta
    cpu_no_grad = torch.ones(2, 2)
    assert flush_subnormal_grad(cpu_no_grad) is cpu_no_grad
    x = torch.tensor([1e-40, -1e-40, TINY32, -TINY32, 0.0, 3.0], dtype=torch.float32)
    assert flush_subnormals(x).tolist() == [0.0, 0.0, TINY32, -TINY32, 0.0, 3.0]
    d = torch.tensor([1e-310, 1e-300], dtype=torch.float64)  # float64's tiny is 2.2e-308
    assert flush_subnormals(d).tolist() == [0.0, 1e-300]
