"""Baseline-H (REFERENCE.md §3.1–3.2), the CIFAR networks, input normalisation and the model registry."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from rrlib.models import (
    CONV2_PATCH,
    MODELS,
    BaselineH,
    InputNormalize,
    LinearHead,
    MLPHead,
    build_model,
)


def _n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _baseline_h_param_count(c_in: int, side_out: int, head: str, w: float = 1.0) -> int:
    """Closed-form parameter count of Baseline-H from its layer list (no conv bias; BN has 2 per channel)."""
    c1, c2, c3, hid = (round(c * w) for c in (64, 128, 256, 1024))
    convs = 16 * (c_in * c1 + c1 * c2 + c2 * c3) + 2 * (c1 + c2 + c3)
    fcs = (c3 * side_out**2 * hid + hid) + 2 * hid + (hid * 64 + 64)
    heads = {"mlp": (64 * 200 + 200) + 2 * 200 + (200 * 10 + 10), "linear": 64 * 10 + 10}
    return convs + fcs + heads[head]


@pytest.mark.parametrize(
    ("dataset", "c_in", "side", "flat"),
    [("fashion-mnist", 1, 28, 2304), ("mnist", 1, 28, 2304), ("cifar10", 3, 32, 4096), ("svhn", 3, 32, 4096)],
)
@pytest.mark.parametrize("head", ["mlp", "linear"])
def test_baseline_h_layers_shapes_and_parameter_count(dataset, c_in, side, flat, head):
    model = build_model("baseline_h", dataset, head=head)
    assert isinstance(model, BaselineH)
    enc = model.encoder
    assert enc.flat_features == flat  # 256·3·3 = 2304 for 28×28, 256·4·4 = 4096 for 32×32 (§3.1)
    assert _n_params(model) == _baseline_h_param_count(c_in, {28: 3, 32: 4}[side], head)
    conv_types = [type(m) for m in enc.block1] + [type(m) for m in enc.fc1]
    assert conv_types == [nn.Conv2d, nn.BatchNorm2d, nn.ReLU, nn.Linear, nn.BatchNorm1d, nn.ReLU]
    assert isinstance(enc.fc2, nn.Linear) and enc.fc2.out_features == 64  # linear 64-d output, no BN/ReLU
    assert all(
        b[0].bias is None and b[0].kernel_size == (4, 4) and b[0].stride == (2, 2)
        for b in (enc.block1, enc.block2, enc.block3)
    )
    if head == "mlp":
        assert [type(m) for m in model.head] == [nn.Linear, nn.Dropout, nn.BatchNorm1d, nn.ReLU, nn.Linear]
        assert model.head[1].p == 0.1 and model.head[0].out_features == 200
    model.eval()
    x = torch.rand(3, c_in, side, side, generator=torch.Generator().manual_seed(0))
    feats = model.features(x)
    assert feats.conv1.shape == (3, 64, side // 2, side // 2)
    assert feats.conv2.shape == (3, 128, side // 4, side // 4)
    assert feats.z.shape == (3, 64) and model(x).shape == (3, 10)
    assert torch.equal(model.conv2(x), feats.conv2)
    assert torch.equal(model.representation(x), feats.z)
    assert torch.equal(model.head(feats.z), model(x))
    assert bool((feats.z < 0).any())  # the representation is linear (a ReLU output would be ≥ 0)


@pytest.mark.parametrize("side", [28, 32])
def test_second_layer_unit_sees_exactly_a_10x10_patch(side):
    """∂conv2[:, :, i, j]/∂x lives on the 10×10 patch at (4i−3, 4j−3), clipped to the image (Fig. 3)."""
    torch.manual_seed(0)
    model = build_model("baseline_h", "cifar10" if side == 32 else "mnist").double().eval()
    c = 3 if side == 32 else 1
    k, stride, pad = CONV2_PATCH
    for i, j in [(0, 0), (2, 3), (side // 4 - 1, side // 4 - 1)]:
        x = torch.rand(1, c, side, side, dtype=torch.float64, requires_grad=True)
        (grad,) = torch.autograd.grad(model.conv2(x)[0, :, i, j].sum(), x)
        support = grad.abs().sum(1)[0] != 0
        expected = torch.zeros(side, side, dtype=torch.bool)
        r0, c0 = stride * i - pad, stride * j - pad
        expected[max(r0, 0) : r0 + k, max(c0, 0) : c0 + k] = True
        # Outside the patch the gradient is exactly zero; inside, 128 random channels touch every pixel.
        assert torch.equal(support, expected)
    # The same geometry as unfold(x, 10, stride 4, padding 3): one patch per second-layer location.
    patches = nn.functional.unfold(torch.zeros(1, c, side, side), k, stride=stride, padding=pad)
    assert patches.shape[-1] == (side // 4) ** 2


def test_width_multiplier_scales_hidden_sizes():
    model = build_model("baseline_h", "fashion-mnist", width=0.25)
    enc = model.encoder
    assert [enc.block1[0].out_channels, enc.block2[0].out_channels, enc.block3[0].out_channels] == [
        16,
        32,
        64,
    ]
    assert enc.fc1[0].out_features == 256 and enc.fc2.out_features == 64
    assert _n_params(model) == _baseline_h_param_count(1, 3, "mlp", 0.25)


def test_input_normalize_clamps_then_standardises():
    norm = InputNormalize((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010))
    x = torch.tensor([-0.5, 0.3, 1.7]).view(1, 3, 1, 1).expand(2, 3, 2, 2).clone()
    out = norm(x)
    expected = (torch.tensor([0.0, 0.3, 1.0]) - torch.tensor([0.4914, 0.4822, 0.4465])) / torch.tensor(
        [0.2023, 0.1994, 0.2010]
    )
    assert torch.allclose(out[0, :, 0, 0], expected, rtol=0, atol=1e-6)
    assert torch.equal(x[0, :, 0, 0], torch.tensor([-0.5, 0.3, 1.7]))  # caller's tensor untouched
    model = build_model("baseline_h", "cifar10")
    assert torch.equal(model.normalize.mean.flatten(), torch.tensor([0.4914, 0.4822, 0.4465]))
    with pytest.raises(ValueError, match="positive"):
        InputNormalize((0.0,), (0.0,))
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        norm(torch.zeros(1, 1, 4, 4))


# Parameter counts of the standard CIFAR variants (kuangliu/pytorch-cifar, MadryLab robustness.cifar_models).
CIFAR_PARAMS = {"vgg16": 14_728_266, "resnet18": 11_173_962, "resnet50": 23_520_842, "densenet121": 6_956_298}


@pytest.mark.parametrize("name", sorted(CIFAR_PARAMS))
def test_cifar_networks_shapes_on_a_tiny_batch(name):
    torch.manual_seed(0)
    model = build_model(name, "cifar10").eval()
    assert _n_params(model) == CIFAR_PARAMS[name]
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        logits = model(x)
        rep = model.representation(x)
    assert logits.shape == (2, 10) and rep.ndim == 2 and rep.shape[0] == 2
    assert torch.isfinite(logits).all()


def test_heads():
    assert isinstance(build_model("baseline_h", "mnist").head, MLPHead)
    assert isinstance(build_model("baseline_h", "mnist", head="linear").head, LinearHead)


def test_registry_errors_name_the_bad_value_and_choices():
    assert MODELS == ("baseline_h", "vgg16", "resnet18", "resnet50", "densenet121")
    with pytest.raises(ValueError, match=r"unknown model 'resnet34'.*baseline_h"):
        build_model("resnet34", "cifar10")
    with pytest.raises(ValueError, match=r"unknown head 'svm'.*mlp.*linear"):
        build_model("baseline_h", "cifar10", head="svm")
    with pytest.raises(ValueError, match=r"32×32.*'baseline_h'"):
        build_model("resnet18", "mnist")
    with pytest.raises(ValueError, match="no head or width"):
        build_model("vgg16", "cifar10", head="linear")
    with pytest.raises(ValueError, match="unknown dataset"):
        build_model("baseline_h", "stl10")
    with pytest.raises(ValueError, match="width"):
        build_model("baseline_h", "mnist", width=0)
