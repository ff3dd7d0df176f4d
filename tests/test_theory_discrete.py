"""Brute-force ground truth for Theorem 3.4 / Lemma 3.3 (rrlib.theory.discrete) against naive enumeration."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from rrlib.theory import DiscreteRobustnessProblem, entropy


def naive_worst_case_mi(problem: DiscreteRobustnessProblem) -> float:
    """Minimum of H(g(T(X))) over every deterministic map T with T(x) in B(x, ε) (no pooling)."""
    mu = problem.input_marginal
    options = [np.flatnonzero(row) for row in problem.neighbours]
    best = math.inf
    for targets in itertools.product(*options):
        law = np.bincount(problem.codes[list(targets)], weights=mu, minlength=problem.n_codes)
        best = min(best, float(entropy(law)))
    return best


def naive_adversarial_risk(problem: DiscreteRobustnessProblem, h) -> float:
    """Definition 2.3 by loops: (x, y) is an error iff some x' in B(x, ε) has h(g(x')) ≠ y."""
    risk = 0.0
    for x in range(problem.n_points):
        for y in range(problem.n_classes):
            if any(h[problem.codes[x2]] != y for x2 in np.flatnonzero(problem.neighbours[x])):
                risk += problem.joint[x, y]
    return risk


def naive_label_free_risk(problem: DiscreteRobustnessProblem, h) -> float:
    """sup over label-free deterministic maps T of P[h(g(T(X))) ≠ Y], by enumerating all maps."""
    options = [np.flatnonzero(row) for row in problem.neighbours]
    best = 0.0
    for targets in itertools.product(*options):
        predictions = np.asarray(h)[problem.codes[list(targets)]]
        correct = problem.joint[np.arange(problem.n_points), predictions].sum()
        best = max(best, 1.0 - correct)
    return best


def small_problem(seed: int, **kwargs) -> DiscreteRobustnessProblem:
    settings = dict(n_points=6, n_classes=3, n_codes=3, eps=1.0)
    settings.update(kwargs)
    return DiscreteRobustnessProblem.random_on_a_line(np.random.default_rng(seed), **settings)


@pytest.mark.parametrize("seed", range(6))
def test_pooled_vertex_enumeration_matches_naive_enumeration(seed):
    problem = small_problem(seed, random_codes=bool(seed % 2))
    assert problem.worst_case_mutual_information() == pytest.approx(naive_worst_case_mi(problem), abs=1e-13)


def test_no_random_kernel_goes_below_the_enumerated_minimum():
    # concavity: the minimum over the whole W∞ ball (all kernels) is at a vertex
    rng = np.random.default_rng(0)
    problem = small_problem(1, n_points=8, eps=2.0, random_codes=True)
    worst = problem.worst_case_mutual_information()
    for _ in range(2000):
        kernel = rng.dirichlet(np.full(problem.n_points, 0.3), size=problem.n_points) * problem.neighbours
        kernel /= kernel.sum(axis=1, keepdims=True)
        assert problem.mutual_information_under_kernel(kernel) >= worst - 1e-12


@pytest.mark.parametrize("seed", range(4))
def test_risks_match_naive_loops_for_every_h(seed):
    problem = small_problem(seed, random_codes=True)
    maps = np.array(list(itertools.product(range(problem.n_classes), repeat=problem.n_codes)))
    fast = problem.adversarial_risks(maps)
    label_free = problem.label_free_adversarial_risks(maps)
    for h, risk, free in zip(maps, fast, label_free, strict=True):
        assert risk == pytest.approx(naive_adversarial_risk(problem, h), abs=1e-14)
        assert free == pytest.approx(naive_label_free_risk(problem, h), abs=1e-14)
        assert free <= risk + 1e-14  # label-free perturbations are weaker than Lemma 3.3's label-aware map


def test_zero_radius_is_the_standard_setting():
    problem = small_problem(3, eps=0.0)
    assert problem.representation_vulnerability() == 0.0
    assert problem.worst_case_mutual_information() == pytest.approx(problem.mutual_information())
    risk, h = problem.min_adversarial_risk()
    standard = 1.0 - problem.joint[np.arange(problem.n_points), h[problem.codes]].sum()
    assert risk == pytest.approx(standard, abs=1e-14)


@pytest.mark.parametrize("seed", range(25))
def test_theorem_3_4_holds_on_random_problems(seed):
    rng = np.random.default_rng(seed)
    problem = DiscreteRobustnessProblem.random_on_a_line(
        rng, n_points=9, n_classes=int(rng.integers(3, 5)), n_codes=int(rng.integers(2, 5)),
        eps=float(rng.integers(0, 3)), random_codes=bool(rng.integers(2)),
    )
    bound = problem.theorem_3_4_bound()
    assert problem.min_label_free_adversarial_risk() >= bound - 1e-12
    assert problem.min_adversarial_risk()[0] >= problem.min_label_free_adversarial_risk() - 1e-12


def test_errors():
    joint = np.full((3, 3), 1 / 9)
    with pytest.raises(ValueError, match="reflexive"):
        DiscreteRobustnessProblem(joint, np.zeros((3, 3), bool), [0, 1, 2])
    with pytest.raises(ValueError, match="sum to 1"):
        DiscreteRobustnessProblem(joint * 2, np.eye(3, dtype=bool), [0, 1, 2])
    with pytest.raises(ValueError, match="codes"):
        DiscreteRobustnessProblem(joint, np.eye(3, dtype=bool), [0, 1])
    with pytest.raises(ValueError, match="eps"):
        DiscreteRobustnessProblem.on_a_line(joint, [0, 1, 2], -1.0, [0, 1, 2])
    problem = DiscreteRobustnessProblem(joint, np.eye(3, dtype=bool), [0, 1, 2])
    with pytest.raises(ValueError, match="outside"):
        problem.mutual_information_under_kernel(np.full((3, 3), 1 / 3))
    with pytest.raises(ValueError, match="map each"):
        problem.adversarial_risks([[0, 1, 5]])
    with pytest.raises(ValueError, match="n_codes"):
        DiscreteRobustnessProblem.random_on_a_line(np.random.default_rng(0), n_points=3, n_codes=4)
    skewed = DiscreteRobustnessProblem(np.array([[0.5, 0.1], [0.2, 0.2]]), np.eye(2, dtype=bool), [0, 1])
    with pytest.raises(ValueError, match="uniform labels"):
        skewed.theorem_3_4_bound()


# ---------------------------------------------------------------------------------- Fano along label-aware couplings
def test_label_aware_coupling_attains_the_adversarial_risk_and_stays_in_the_ball():
    rng = np.random.default_rng(11)
    for _ in range(60):
        problem = DiscreteRobustnessProblem.random_on_a_line(
            rng, n_points=int(rng.integers(4, 9)), n_classes=int(rng.integers(2, 5)), n_codes=int(rng.integers(2, 5)),
            eps=float(rng.uniform(0.0, 3.0)), random_codes=bool(rng.integers(2)))
        risk, h = problem.min_adversarial_risk()
        kernel = problem.label_aware_coupling(h)
        # every (x, y) moves to one point of its own neighbourhood
        assert np.array_equal(kernel.sum(axis=2), np.ones(kernel.shape[:2]))
        assert not kernel[np.broadcast_to(~problem.neighbours[:, None, :], kernel.shape)].any()
        check = problem.fano_check(h)
        assert check.error == pytest.approx(risk, abs=1e-12)  # brute-force AdvRisk (Definition 2.3)


def test_fano_and_data_processing_hold_for_label_aware_couplings():
    """Y → X' → g(X') is Markov for any coupling, so Theorem 3.4's Fano step needs no label-free adversary."""
    rng = np.random.default_rng(12)
    slacks = []
    for _ in range(150):
        problem = DiscreteRobustnessProblem.random_on_a_line(
            rng, n_points=int(rng.integers(4, 9)), n_classes=int(rng.integers(2, 5)), n_codes=int(rng.integers(2, 5)),
            eps=float(rng.uniform(0.0, 3.0)), random_codes=bool(rng.integers(2)))
        check = problem.fano_check(problem.min_adversarial_risk()[1])
        assert check.label_information <= check.code_information + 1e-12  # data processing
        assert check.code_information >= problem.worst_case_mutual_information() - 1e-12  # law of X' in the ball
        assert check.fano_bound >= check.data_processing_bound - 1e-12
        slacks.append(check.slack)
    assert min(slacks) >= -1e-12


def test_fano_check_by_hand():
    """Two points one unit apart, ε = 1, labels = points, g = identity: the adversary swaps every point.

    The optimal h is any map; with h = identity every (x, y) is misclassified (error 1), Z' = 1 - X is still a
    uniform bit that determines Y, so I(Y; Z') = H(Z') = log 2 and both bounds are 1 - 2 log 2 / log 2 = -1.
    """
    problem = DiscreteRobustnessProblem.on_a_line([[0.5, 0.0], [0.0, 0.5]], [0.0, 1.0], 1.0, [0, 1])
    check = problem.fano_check([0, 1])
    assert check.error == pytest.approx(1.0)
    assert check.label_information == pytest.approx(np.log(2.0))
    assert check.code_information == pytest.approx(np.log(2.0))
    assert check.data_processing_bound == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="uniform labels"):
        DiscreteRobustnessProblem.on_a_line([[0.6, 0.0], [0.0, 0.4]], [0.0, 1.0], 1.0, [0, 1]).fano_check([0, 1])
