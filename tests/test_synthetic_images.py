"""Images with exactly known MI (rrlib.synthetic_images): the closed form, the bits read back from the images, and
the density ratio checked by sampling (tolerances from the exact per-sample variance, written beside each test).

Data: conftest's tiny Fashion-MNIST folder in the true on-disk format (real images where Debian's package is
installed), so the tile pools are small but real."""

from __future__ import annotations

import math

import pytest
import torch

from rrlib.synthetic_images import MAX_BITS, BitTileImages, binary_entropy


@pytest.fixture(scope="module")
def tiles(tiny_fmnist_root):
    return {d: BitTileImages(d, 0.1, data_root=tiny_fmnist_root) for d in (3, 9)}


def test_the_mutual_information_is_d_times_ln2_minus_the_binary_entropy(tiny_fmnist_root):
    assert binary_entropy(0.0) == 0.0 and binary_entropy(0.5) == pytest.approx(math.log(2.0))
    assert BitTileImages(4, 0.0, data_root=tiny_fmnist_root).mi == pytest.approx(4 * math.log(2.0))
    assert BitTileImages(4, 0.5, data_root=tiny_fmnist_root).mi == pytest.approx(0.0, abs=1e-15)
    p = 0.1
    expected = 7 * (math.log(2) + p * math.log(p) + (1 - p) * math.log(1 - p))
    assert BitTileImages(7, p, data_root=tiny_fmnist_root).mi == pytest.approx(expected, rel=1e-12)


def test_images_carry_their_bits_and_codes_are_a_binary_symmetric_channel(tiles):
    task = tiles[9]
    n = 4000
    x, z = task.sample(n, torch.Generator().manual_seed(0))
    assert x.shape == (n, 1, 28, 28) and z.shape == (n, 9) and 0.0 <= float(x.min()) and float(x.max()) <= 1.0
    assert set(z.unique().tolist()) <= {0.0, 1.0}
    b = task.bits_of(x)  # raises if a tile were in neither class's pool: B is a function of X
    flips = (b != z.long()).double().mean().item()
    se = math.sqrt(0.1 * 0.9 / (n * 9))  # binomial standard error of the flip rate over n·d bits
    assert abs(flips - 0.1) < 4 * se
    assert abs(b.double().mean().item() - 0.5) < 4 * math.sqrt(0.25 / (n * 9))  # fair bits
    x2, z2 = task.sample(n, torch.Generator().manual_seed(0))
    assert torch.equal(x, x2) and torch.equal(z, z2)
    assert not torch.equal(z, task.sample(n, torch.Generator().manual_seed(1))[1])
    # unused tiles of the 4×4 grid (9 bits) stay black
    assert float(x[:, :, 21:, 7:].abs().max()) == 0.0


def test_the_density_ratio_averages_to_the_mutual_information(tiles):
    # E_p[log r] = I exactly; per bit, log r is log 2(1−p) w.p. 1−p and log 2p w.p. p, so its variance is
    # p(1−p) log²((1−p)/p) per bit, d times that per sample: the mean of n samples is within 4 SE of I.
    for d, task in tiles.items():
        n, p = 3000, 0.1
        x, z = task.sample(n, torch.Generator().manual_seed(d))
        lr = task.log_ratio(x, z)
        se = math.sqrt(d * p * (1 - p) * math.log((1 - p) / p) ** 2 / n)
        assert abs(lr.mean().item() - task.mi) < 4 * se, (d, lr.mean().item(), task.mi, se)
        # and E_q[e^T] = 1 over the product of marginals (the off-diagonal pairs of the oracle score matrix)
        s = task.oracle_scores(x[:400], z[:400])
        assert torch.equal(torch.diagonal(s), task.log_ratio(x[:400], z[:400]))
        off = torch.exp(s[~torch.eye(400, dtype=torch.bool)])
        se_q = off.std().item() / math.sqrt(400)  # pairs share rows: a conservative scale, not an exact SE
        assert abs(off.mean().item() - 1.0) < 6 * se_q


def test_bad_arguments_and_foreign_images_are_named(tiny_fmnist_root):
    for kwargs, match in (({"bits": 0, "crossover": 0.1}, "bits must be an integer from 1 to 16"),
                          ({"bits": MAX_BITS + 1, "crossover": 0.1}, "bits must be an integer from 1 to 16"),
                          ({"bits": 2, "crossover": 0.6}, r"crossover must be a number in \[0, 0.5\]"),
                          ({"bits": 2, "crossover": 0.1, "classes": (3, 3)}, "two different"),
                          ({"bits": 2, "crossover": 0.1, "classes": (1, 12)}, "classes from 0 to 9")):
        with pytest.raises(ValueError, match=match):
            BitTileImages(data_root=tiny_fmnist_root, **kwargs)
    task = BitTileImages(2, 0.0, data_root=tiny_fmnist_root)
    x, z = task.sample(4, torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="crossover 0"):
        task.log_ratio(x, z)
    with pytest.raises(ValueError, match="image 0, tile 0: not a tile of classes"):
        task.bits_of(torch.full((1, 1, 28, 28), 0.5))


def test_class_distance_is_the_brute_force_minimum_and_decides_the_worst_case(tiny_fmnist_root):
    # Δ against a pair-by-pair loop over every tile of the two pools (the tiny folder's 64 training images)
    task = BitTileImages(2, 0.1, data_root=str(tiny_fmnist_root))
    a, b = task._pools
    brute = min(float((s - t).abs().max()) for s in a for t in b)
    delta = task.class_distance(chunk=3)
    assert delta == pytest.approx(brute, abs=1e-12) and delta > 0  # the pools share no tile
    assert task.worst_case_mi(0.49 * delta, delta) == task.mi  # balls of radius eps < Δ/2 never meet
    assert task.worst_case_mi(0.5 * delta, delta) is None and task.worst_case_mi(0.0) == task.mi
    with pytest.raises(ValueError, match=r"eps must be a finite number >= 0, got -0\.1"):
        task.worst_case_mi(-0.1)
