"""The CUDA paths: the same computation on the GPU and on the CPU, from the same weights and the same batch.

Every test here is marked ``cuda`` and skipped without a GPU (CI has none); ``benchmarks/gpu_check.py`` runs them
(``pytest -m cuda``) on a lent GPU. Tolerances: float32 unit round-off u = 2⁻²⁴ ≈ 6e-8, but cuDNN and cuBLAS pick
other algorithms and summation orders than the CPU (and may use TF32 for convolutions: torch allows it for cuDNN
by default, ~1e-3 relative per product), so one forward pass of a convolutional encoder agrees to ~1e-3 relative,
not to u. A PGD step takes the *sign* of a gradient, so an attack can flip a coordinate whose gradient is near 0:
adversarial batches are compared by the objective they reach, not pixel by pixel.
"""

from __future__ import annotations

import copy

import pytest
import torch

from rrlib.attacks import ThreatModel
from rrlib.data import dataset_threat_model
from rrlib.mi.bounds import dv
from rrlib.models.heads import build_head
from rrlib.runtime import select_device
from rrlib.train.downstream import FrozenEncoderClassifier, head_step
from rrlib.train.encoder import PixelCritic, PixelEncoder, encoder_step

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]

#: Relative agreement of one float32 pass of a small conv net on CUDA vs the CPU (TF32 convolutions allowed).
PASS_RTOL = 2e-3


def _pair(width: float = 0.25, hidden: int = 64) -> tuple[PixelEncoder, PixelCritic]:
    torch.manual_seed(0)
    return PixelEncoder("fashion-mnist", width=width), PixelCritic("fashion-mnist", hidden=hidden)


def _batch(n: int = 32) -> torch.Tensor:
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(1))


def test_auto_selects_cuda():
    assert select_device("auto").type == "cuda"


def test_dv_of_the_paper_critic_agrees_on_cuda_and_cpu():
    g, t = _pair(hidden=2048)
    x = _batch()
    with torch.no_grad():
        cpu = float(dv(t(x, g(x))))
        gpu = float(dv(t.cuda()(x.cuda(), g.cuda()(x.cuda()))))
    assert gpu == pytest.approx(cpu, rel=PASS_RTOL, abs=1e-3)


@pytest.mark.parametrize("loss", ["normal", "worst"])
def test_an_encoder_step_agrees_on_cuda_and_cpu(loss):
    """Eq. 5.4's joint step (``worst``: Algorithm 1 first) from the same weights: the DV value it ascends agrees,
    and so do the updated parameters (one Adam step of lr 1e-4 moves each by at most ~1e-4)."""
    threat = dataset_threat_model("fashion-mnist") if loss == "worst" else None
    g_cpu, t_cpu = _pair()
    g_gpu, t_gpu = copy.deepcopy(g_cpu).cuda(), copy.deepcopy(t_cpu).cuda()
    x = _batch()
    opt_cpu = torch.optim.Adam([*g_cpu.parameters(), *t_cpu.parameters()], lr=1e-4)
    opt_gpu = torch.optim.Adam([*g_gpu.parameters(), *t_gpu.parameters()], lr=1e-4)
    v_cpu = encoder_step(g_cpu, t_cpu, opt_cpu, x, threat)
    v_gpu = encoder_step(g_gpu, t_gpu, opt_gpu, x.cuda(), threat)
    # worst: sign steps can differ where a gradient is ~0, so the reached DV agrees to a looser 2% (measured, not
    # derived: record it in gpu_check.json if it fails)
    assert v_gpu == pytest.approx(v_cpu, rel=PASS_RTOL if threat is None else 2e-2, abs=1e-3)
    for (name, a), b in zip(g_cpu.state_dict().items(), g_gpu.state_dict().values(), strict=True):
        if a.is_floating_point():
            assert float((a - b.cpu()).abs().max()) <= 2e-4 + PASS_RTOL * float(a.abs().max()), name


def test_a_robust_head_step_agrees_on_cuda_and_cpu():
    torch.manual_seed(0)
    model = FrozenEncoderClassifier(PixelEncoder("fashion-mnist", width=0.25), build_head("mlp"))
    gpu_model = copy.deepcopy(model).cuda()
    x, y = _batch(), torch.arange(32) % 10
    opt_cpu = torch.optim.Adam(model.head.parameters(), lr=1e-3)
    opt_gpu = torch.optim.Adam(gpu_model.head.parameters(), lr=1e-3)
    threat = dataset_threat_model("fashion-mnist")
    loss_cpu, _ = head_step(model, opt_cpu, x, y, threat)
    loss_gpu, _ = head_step(gpu_model, opt_gpu, x.cuda(), y.cuda(), threat)
    assert loss_gpu == pytest.approx(loss_cpu, rel=2e-2)


def test_a_cuda_checkpoint_loads_on_the_cpu(tmp_path):
    g, _ = _pair()
    g = g.cuda()
    torch.save(g.state_dict(), tmp_path / "g.pt")
    state = torch.load(tmp_path / "g.pt", map_location="cpu", weights_only=True)
    assert all(v.device.type == "cpu" for v in state.values())
    fresh = PixelEncoder("fashion-mnist", width=0.25)
    fresh.load_state_dict(state)
    x = _batch(4)
    with torch.no_grad():
        assert torch.allclose(fresh.eval()(x), g.eval()(x.cuda()).cpu(), rtol=PASS_RTOL, atol=1e-4)


def test_a_threat_model_attack_stays_in_the_ball_on_cuda():
    torch.manual_seed(0)
    model = FrozenEncoderClassifier(PixelEncoder("fashion-mnist", width=0.25), build_head("linear")).cuda()
    x = _batch(16).cuda()
    threat = ThreatModel("linf", 0.1, 5, 0.02)
    from rrlib.attacks import adversarial_examples

    x_adv = adversarial_examples(model, x, torch.arange(16, device="cuda") % 10, threat)
    assert x_adv.device.type == "cuda"
    assert float((x_adv - x).abs().max()) <= 0.1 + 1e-6 and 0 <= float(x_adv.min()) and float(x_adv.max()) <= 1
