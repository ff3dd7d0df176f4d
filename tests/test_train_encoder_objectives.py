"""The two encoder objectives beyond the paper (issue 20): ``worst-infonce`` (Eq. 5.4 with InfoNCE) and
``adv-contrastive`` (RoCL-style): ground truth for their pieces (NT-Xent against a per-pair loop, the InfoNCE
training value, ε = 0, the adversary's ball), exact resumption, labels never read, loading downstream, refused
folders, and the pinned hashes of the existing ``normal`` / ``worst`` configurations.

Data: conftest's tiny Fashion-MNIST folder (64 train / 32 test images). Models: width-0.125 encoder, width-16 critic,
batches of 16, 2-step PGD: each run takes well under a second on one CPU core.
"""

from __future__ import annotations

import copy
import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from _tiny_fmnist import write_fmnist

from rrlib.attacks import ThreatModel
from rrlib.grid.config import TablesConfig
from rrlib.mi import worst_case
from rrlib.mi.bounds import infonce
from rrlib.train import contrastive
from rrlib.train.cache import canonical_json, config_hash
from rrlib.train.downstream import ClassifierConfig, train_classifier
from rrlib.train.encoder import (
    CHECKPOINT_FILE,
    ESTIMATOR_LOSSES,
    TIMING_KEYS,
    ContrastiveConfig,
    EncoderConfig,
    PixelCritic,
    PixelEncoder,
    config_of,
    encoder_step,
    load_encoder,
    train_encoder,
)

N_TRAIN, N_TEST = 64, 32
COMMON = dict(dataset="fashion-mnist", width=0.125, critic_hidden=16, epochs=2, batch_size=16, lr=1e-3, steps=2,
              step_size=0.05, heldout_batches=2, seed=3)
NCE = EncoderConfig(estimator_loss="worst-infonce", **COMMON)
CON = ContrastiveConfig(**COMMON)
WORST = EncoderConfig(estimator_loss="worst", **COMMON)
BY_LOSS = {c.estimator_loss: c for c in (WORST, NCE, CON)}

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _train(config, folder, root, **kwargs):
    return train_encoder(config, folder, device="cpu", data_root=root, show_progress=False, **kwargs)


def _saved(folder) -> dict[str, torch.Tensor]:
    """Every tensor of the checkpoint's model entries (encoder, critic, projection head when present)."""
    saved = torch.load(folder / CHECKPOINT_FILE, weights_only=True)
    return {f"{key}.{k}": v for key in ("encoder", "critic", "projection_head") if key in saved
            for k, v in saved[key].items()}


def _assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def _numbers(history):
    return [{k: v for k, v in rec.items() if k not in TIMING_KEYS} for rec in history]


@pytest.fixture(scope="module")
def references(tiny_fmnist_root, tmp_path_factory):
    """The uninterrupted 2-epoch run of each new objective (and of the paper's ``worst``, for the crash test)."""
    return {loss: _train(c, tmp_path_factory.mktemp(loss) / "enc", tiny_fmnist_root) for loss, c in BY_LOSS.items()}


# ------------------------------------------------------------------------------------------------ configuration
#: config_hash of the medium profile's encoders (rrlib.grid TablesConfig.medium().encoder_config(loss, seed)), computed
#: on the code before issue 20 (commit 6d78a10): committed results and run folders are keyed by them.
MEDIUM_HASHES = {
    ("normal", 0): "764b33cf7ea6043ea7dd7100cacdbb4393b05597fdac3dac583a0aca32e1a889",
    ("normal", 1): "92136041942e37f2dd06c080cfb7329f60da018941f4a4c3a1c71924a3f7e60c",
    ("normal", 2): "0a6882146d0adf887336436f14dff7a3a1a2a9fbbe91ea535c2fe53e1dcec9bf",
    ("normal", 3): "57ead7006261b4526f995a61f1542fc2024b4ec41788714245e8add917b67896",
    ("worst", 0): "6ed2774a9bb72ae403873533b65738407af45fdcce8fb1b1cc2e1c1a03cf2b89",
    ("worst", 1): "2b18e55886e6f90b8168498048ade100b4860c94ac99cab5bc0d1f1768ffd704",
    ("worst", 2): "567d746a6ead23dd68f43082cc7edb032253892985b20cdb82979cdc8541ad96",
    ("worst", 3): "50f8df3d87a839e8f6fe22513c631357d118035e2370ffe8b710a20cd24fe7c4",
}


def test_the_existing_configurations_keep_their_hashes():
    medium = TablesConfig.medium()
    for (loss, seed), expected in MEDIUM_HASHES.items():
        assert config_hash(medium.encoder_config(loss, seed)) == expected, (loss, seed)
    assert config_hash(EncoderConfig()) == "969aed3f7eaccbd25fc2928a56a707539afe00fcb612c03eeb41eee6ecae040e"
    # the contrastive settings are no fields of EncoderConfig, and a ContrastiveConfig is a type of its own
    assert "temperature" not in canonical_json(EncoderConfig())
    assert '"type":"rrlib.train.encoder.ContrastiveConfig"' in canonical_json(CON)


def test_config_names_the_objectives_and_their_types():
    assert ESTIMATOR_LOSSES == ("normal", "worst", "worst-infonce", "adv-contrastive")
    with pytest.raises(ValueError, match=r"unknown estimator_loss 'nce'; valid choices: \('normal', 'worst', "
                                         r"'worst-infonce', 'adv-contrastive'\)"):
        EncoderConfig(estimator_loss="nce")
    with pytest.raises(ValueError, match=r"'adv-contrastive' has its own settings: use ContrastiveConfig"):
        EncoderConfig(estimator_loss="adv-contrastive")
    with pytest.raises(ValueError, match=r"ContrastiveConfig trains estimator_loss 'adv-contrastive', not 'worst'"):
        ContrastiveConfig(estimator_loss="worst")
    with pytest.raises(ValueError, match=r"temperature must be a finite number > 0, got 0"):
        ContrastiveConfig(temperature=0)
    with pytest.raises(ValueError, match=r"adv_weight must be a finite number >= 0, got -1"):
        ContrastiveConfig(adv_weight=-1)
    assert type(config_of(**COMMON, estimator_loss="worst-infonce")) is EncoderConfig
    assert config_of(**COMMON, estimator_loss="adv-contrastive") == CON
    assert CON.threat() == ThreatModel("linf", 0.1, 2, 0.05, random_start=True)  # RoCL's random start
    assert NCE.threat() == ThreatModel("linf", 0.1, 2, 0.05)


# ------------------------------------------------------------------------------------------------ ground truth
def test_nt_xent_equals_a_per_pair_loop():
    """Float64 inputs: the two computations differ only by rounding (~1e-15 relative); tolerance 1e-12."""
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(5, 3, generator=gen, dtype=torch.float64), torch.randn(5, 3, generator=gen, dtype=torch.float64)
    tau = 0.3
    h = [v / v.norm() for v in torch.cat([a, b])]
    n = len(a)
    total = 0.0
    for i in range(2 * n):
        p = (i + n) % (2 * n)
        sims = {k: float(h[i] @ h[k]) / tau for k in range(2 * n) if k != i}
        total += -(sims[p] - math.log(sum(math.exp(s) for s in sims.values())))
    assert float(contrastive.nt_xent(a, b, tau)) == pytest.approx(total / (2 * n), rel=1e-12)
    # equal pairs, orthogonal otherwise: -log(e^{1/τ} / (e^{1/τ} + 2n - 2))
    eye = torch.eye(4, dtype=torch.float64)
    assert float(contrastive.nt_xent(eye, eye, 0.5)) == pytest.approx(-math.log(math.e**2 / (math.e**2 + 6)), rel=1e-12)


def test_augmentations_are_deterministic_given_the_seed_and_stay_images():
    x = torch.rand(6, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    v1, v2 = contrastive.two_views(x, seed=3, epoch=1, step=2)
    w1, w2 = contrastive.two_views(x, seed=3, epoch=1, step=2)
    assert torch.equal(v1, w1) and torch.equal(v2, w2)
    assert not torch.equal(v1, v2)  # two different views
    assert not torch.equal(v1, contrastive.two_views(x, seed=3, epoch=1, step=3)[0])  # another step, other views
    assert not torch.equal(v1, contrastive.two_views(x, seed=4, epoch=1, step=2)[0])  # another seed
    assert v1.shape == x.shape and float(v1.min()) >= 0.0 and float(v1.max()) <= 1.0
    # a crop keeps at least 60% of the area, so a view keeps most of an all-white image's ink: the mean of a view of
    # ones is the fraction of the output grid sampling inside the image, which is 1 up to the bilinear border
    ones = contrastive.augment(torch.ones(64, 1, 28, 28), torch.Generator().manual_seed(0))
    assert float(ones.mean()) > 0.95


def test_the_adversary_raises_the_contrastive_loss_inside_the_ball():
    torch.manual_seed(0)
    g, p = PixelEncoder("fmnist", width=0.125), contrastive.ProjectionHead(64, 64)
    x = torch.rand(16, 1, 28, 28, generator=torch.Generator().manual_seed(2))
    v1, v2 = contrastive.two_views(x, 0, 0, 0)
    with torch.no_grad():  # batch-norm running statistics of these images, so that eval-mode codes are not collapsed
        for _ in range(30):
            p(g(torch.cat([v1, v2])))
    threat = ThreatModel("linf", 0.1, 5, 0.02, random_start=True)
    v_adv = contrastive.adversarial_view(g, p, v1, v2, threat, 0.5, torch.Generator().manual_seed(5))
    assert float((v_adv - v1).abs().max()) <= 0.1 + 1e-7  # float32 rounding of v1 ± ε
    assert float(v_adv.min()) >= 0.0 and float(v_adv.max()) <= 1.0
    g.eval()
    p.eval()
    with torch.no_grad():
        target = p(g(v2))
        clean, attacked = (float(contrastive.nt_xent(p(g(v)), target, 0.5)) for v in (v1, v_adv))
    assert attacked > clean + 0.1, (clean, attacked)
    assert g.training is False  # modes restored as they were (set to eval above)
    again = contrastive.adversarial_view(g, p, v1, v2, threat, 0.5, torch.Generator().manual_seed(5))
    assert torch.equal(again, v_adv)  # the random start comes from the generator
    assert torch.equal(contrastive.adversarial_view(g, p, v1, v2, threat.with_eps(0.0), 0.5), v1)


def test_with_eps_zero_the_contrastive_step_is_simclr_weighted_one_plus_lambda():
    """ε = 0: the attacked view is view 1 bit for bit, and the step's L is (1 + λ)·NT-Xent(v₁, v₂) of the same forward
    pass (float32: the two terms are each rounded once, so |ΔL| ≤ a few ulp of L; tolerance 1e-6 relative)."""
    torch.manual_seed(0)
    g, p = PixelEncoder("fmnist", width=0.125), contrastive.ProjectionHead(64, 64)
    x = torch.rand(8, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    v1, v2 = contrastive.two_views(x, 0, 0, 0)
    v_adv = contrastive.adversarial_view(g, p, v1, v2, ThreatModel("linf", 0.0, 3, 0.05), 0.5)
    assert torch.equal(v_adv, v1)
    g0, p0 = copy.deepcopy(g), copy.deepcopy(p)
    opt = torch.optim.Adam([*g.parameters(), *p.parameters()], lr=1e-3)
    value = contrastive.contrastive_step(g, p, opt, v1, v2, v_adv, 0.5, 0.7)
    g0.train()
    p0.train()
    with torch.no_grad():
        out = p0(g0(torch.cat([v1, v2, v1])))
    assert value == pytest.approx(1.7 * float(contrastive.nt_xent(out[:8], out[8:16], 0.5)), rel=1e-6)


def test_the_infonce_step_trains_on_infonce_of_algorithm_1s_batch():
    x = torch.rand(8, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    threat = ThreatModel("linf", 0.1, 3, 0.05)
    torch.manual_seed(0)
    g, t = PixelEncoder("fmnist", width=0.125), PixelCritic("fmnist", hidden=16)
    g0, t0 = copy.deepcopy(g), copy.deepcopy(t)
    opt = torch.optim.Adam([*g.parameters(), *t.parameters()], lr=1e-3)
    value = encoder_step(g, t, opt, x, threat, bound=infonce)
    # the same computation by hand: Algorithm 1 lowering InfoNCE, then InfoNCE in train mode (exact: same operations)
    x_adv, lowered = worst_case.worst_case_batch(t0, g0, x, threat, bound=infonce)
    with torch.no_grad():
        g0.eval()
        t0.eval()
        clean = float(infonce(t0(x, g0(x))))
        g0.train()
        t0.train()
        assert value == float(infonce(t0(x_adv, g0(x_adv))))
    assert float(lowered) <= clean  # the best iterate, the clean batch among the candidates
    assert value <= math.log(8)  # InfoNCE never exceeds log n


def test_worst_infonce_with_eps_zero_is_the_clean_infonce_step():
    x = torch.rand(8, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    results = []
    for threat in (None, ThreatModel("linf", 0.0, 3, 0.05)):
        torch.manual_seed(0)
        g, t = PixelEncoder("fmnist", width=0.125), PixelCritic("fmnist", hidden=16)
        opt = torch.optim.Adam([*g.parameters(), *t.parameters()], lr=1e-3)
        results.append((encoder_step(g, t, opt, x, threat, bound=infonce), g.state_dict()))
    assert results[0][0] == results[1][0]
    _assert_same(results[0][1], results[1][1])


# ------------------------------------------------------------------------------------------------ training
def test_histories_hold_each_objectives_numbers(references):
    nce, con = references["worst-infonce"], references["adv-contrastive"]
    for rec in nce.history:
        assert set(rec) >= {"train_infonce", "heldout_mi_normal", "heldout_mi_worst", "heldout_rv",
                            "heldout_infonce_normal", "heldout_infonce_worst"}
        assert "train_dv" not in rec
        assert all(np.isfinite(v) for v in rec.values())
        # Algorithm 1 keeps the best iterate, starting from the clean batch: worst ≤ normal, for either bound
        assert rec["heldout_mi_worst"] <= rec["heldout_mi_normal"] + 1e-6
        assert rec["heldout_infonce_worst"] <= rec["heldout_infonce_normal"] + 1e-6
        assert rec["heldout_infonce_normal"] <= math.log(NCE.batch_size) + 1e-6
    bound = 2 / CON.temperature + math.log(2 * CON.batch_size - 1)  # NT-Xent ≤ (1 - (-1))/τ + log(2n - 1)
    for rec in con.history:
        assert set(rec) >= {"train_loss", "heldout_ntxent", "heldout_ntxent_adv"}
        assert 0 <= rec["heldout_ntxent"] <= bound and 0 <= rec["heldout_ntxent_adv"] <= bound
        assert 0 <= rec["train_loss"] <= (1 + CON.adv_weight) * bound
    assert [r["epoch"] for r in con.history] == [1, 2] and con.finished and nce.finished


@pytest.mark.parametrize("loss", ["worst-infonce", "adv-contrastive"])
def test_one_epoch_then_resume_equals_two_epochs_straight(references, loss, tiny_fmnist_root, tmp_path):
    config, reference = (NCE if loss == "worst-infonce" else CON), references[loss]
    folder = tmp_path / "enc"
    first = _train(config, folder, tiny_fmnist_root, stop_after_epochs=1)
    assert not first.finished and len(first.history) == 1
    resumed = _train(config, folder, tiny_fmnist_root)
    assert resumed.finished
    _assert_same(_saved(folder), _saved(reference.out_dir))
    assert _numbers(resumed.history) == _numbers(reference.history)
    saved, ref = (torch.load(f / CHECKPOINT_FILE, weights_only=True) for f in (folder, reference.out_dir))
    for group, ref_group in zip(saved["optimizer"]["state"].values(), ref["optimizer"]["state"].values(), strict=True):
        assert all(torch.equal(group[k], ref_group[k]) for k in group)


@pytest.mark.parametrize("loss", ["worst", "worst-infonce", "adv-contrastive"])
def test_crash_mid_epoch_then_rerun_equals_uninterrupted(references, loss, tiny_fmnist_root, tmp_path):
    """Killed in epoch 2 (after epoch 1's checkpoint): the rerun resumes to the uninterrupted run's weights and
    numbers, for the paper's objective and both new ones."""
    config = BY_LOSS[loss]
    folder = tmp_path / "enc"

    def crash(info):
        if info["epoch"] == 1 and info["step"] == 1:
            raise KeyboardInterrupt("killed")

    with pytest.raises(KeyboardInterrupt):
        _train(config, folder, tiny_fmnist_root, callback=crash)
    assert torch.load(folder / CHECKPOINT_FILE, weights_only=True)["epoch"] == 1
    rerun = _train(config, folder, tiny_fmnist_root)
    _assert_same(_saved(folder), _saved(references[loss].out_dir))
    assert _numbers(rerun.history) == _numbers(references[loss].history)


def test_contrastive_checkpoint_loads_like_every_encoder_and_heads_train_on_it(references, tiny_fmnist_root, tmp_path):
    ref = references["adv-contrastive"]
    saved = torch.load(ref.out_dir / CHECKPOINT_FILE, weights_only=True)
    assert {"encoder", "critic", "projection_head", "optimizer"} <= set(saved)
    loaded = load_encoder(ref.out_dir)
    assert loaded.config == CON and not loaded.encoder.training
    _assert_same(loaded.encoder.state_dict(), saved["encoder"])
    # the critic is untouched: its initialisation from the seed, as every encoder run builds it
    torch.manual_seed(CON.seed + 1)
    fresh = PixelCritic(CON.dataset, z_dim=CON.rep_dim, hidden=CON.critic_hidden)
    _assert_same(loaded.critic.state_dict(), fresh.state_dict())
    # the encoder moved: trained, not just stored
    torch.manual_seed(CON.seed)
    init = PixelEncoder(CON.dataset, width=CON.width, rep_dim=CON.rep_dim)
    assert not torch.equal(init.state_dict()["encoder.fc2.weight"], saved["encoder"]["encoder.fc2.weight"])
    head = ClassifierConfig(dataset="fashion-mnist", head="linear", classifier_loss="robust", epochs=1, batch_size=16,
                            lr=1e-3, val_size=16, steps=2, step_size=0.05, eval_every=1)
    result = train_classifier(head, ref.out_dir, tmp_path / "h", device="cpu", data_root=tiny_fmnist_root,
                              show_progress=False)
    assert result.finished


def test_labels_are_never_read(tmp_path):
    """Same images, labels shuffled: identical weights and numbers for both new objectives."""
    perm = np.random.default_rng(0).permutation(N_TRAIN + N_TEST)
    shuffled_root = write_fmnist(tmp_path / "shuffled", N_TRAIN, N_TEST, label_permutation=perm)
    plain_root = write_fmnist(tmp_path / "plain", N_TRAIN, N_TEST)
    for config in (replace(NCE, epochs=1, train_subset=48), replace(CON, epochs=1, train_subset=48)):
        name = config.estimator_loss
        a = _train(config, tmp_path / f"{name}_shuffled", shuffled_root)
        b = _train(config, tmp_path / f"{name}_plain", plain_root)
        _assert_same(_saved(a.out_dir), _saved(b.out_dir))
        assert _numbers(a.history) == _numbers(b.history)


def test_a_folder_of_another_objective_is_refused_and_left_as_it_is(references, tiny_fmnist_root):
    for loss, other in (("adv-contrastive", replace(NCE, estimator_loss="worst")), ("worst-infonce", CON)):
        folder = references[loss].out_dir
        before = {p.name: p.read_bytes() for p in folder.iterdir()}
        with pytest.raises(ValueError, match=r"holds a run of another kind \('rrlib\.train\.encoder\.\w+Config'.*"
                                             r"nothing was overwritten"):
            _train(other, folder, tiny_fmnist_root)
        assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    with pytest.raises(ValueError, match=r"another configuration.*temperature"):
        _train(replace(CON, temperature=0.2), references["adv-contrastive"].out_dir, tiny_fmnist_root)
