"""The Baseline-H encoder g of the paper (Hjelm et al.'s DIM feature extractor; supplement Table 2).

Conv(64, 4×4, s2, p1) → BN → ReLU → Conv(128) → BN → ReLU → Conv(256) → BN → ReLU → flatten
→ Linear(1024) → BN1d → ReLU → Linear(64). The 64-d representation z = g(x) is the *linear* output: no BN or
ReLU after it (REFERENCE.md §3.1). Convolutions have no bias (BN follows). Each 4×4 stride-2 conv with
padding 1 halves an even side: 28×28 → 14 → 7 → 3 (256·3·3 = 2304 features), 32×32 → 16 → 8 → 4 (4096).

A second-layer "neuron" (a channel of the second conv block, after its BN and ReLU) at location (i, j) is a
function of the 10×10 input patch whose top-left pixel is (4i − 3, 4j − 3) (receptive field 10, stride 4,
padding 3; supplement Fig. 3). :data:`CONV2_PATCH` records this geometry.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from rrlib.data import DatasetSpec
from rrlib.models.normalize import InputNormalize

#: (kernel, stride, padding) of the input patch that one second-layer location sees.
CONV2_PATCH = (10, 4, 3)


def scaled(channels: int, width: float) -> int:
    """``round(channels · width)``, at least 1: the layer sizes of a width-multiplied network."""
    if not (isinstance(width, (int, float)) and width > 0):
        raise ValueError(f"width must be a positive number, got {width!r}")
    return max(1, int(round(channels * width)))


def conv_side(side: int, n_layers: int = 3) -> int:
    """Spatial side after ``n_layers`` Conv(4, stride 2, padding 1): ⌊(s + 2 − 4)/2⌋ + 1 each time."""
    for _ in range(n_layers):
        side = (side + 2 - 4) // 2 + 1
    return side


class EncoderOutputs(NamedTuple):
    """Intermediate activations of :class:`BaselineHEncoder` (each after its BN and ReLU, except ``z``)."""

    conv1: torch.Tensor  # (B, 64w, H/2, W/2)
    conv2: torch.Tensor  # (B, 128w, H/4, W/4): the per-neuron MI units of Fig. 3
    conv3: torch.Tensor  # (B, 256w, ⌊H/8⌋, ⌊W/8⌋)
    hidden: torch.Tensor  # (B, 1024w)
    z: torch.Tensor  # (B, rep_dim): the representation g(x)


def _conv_block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel_size=4, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=False),
    )


class BaselineHEncoder(nn.Module):
    """Baseline-H feature extractor for ``in_channels``×``image_size``×``image_size`` inputs.

    Expects *normalised* inputs (the classifier wrapper applies :class:`InputNormalize` first).
    ``width`` multiplies every hidden size (64, 128, 256, 1024); the representation stays ``rep_dim``.

    >>> enc = BaselineHEncoder(1, 28)
    >>> enc.flat_features, tuple(enc(torch.zeros(2, 1, 28, 28)).shape)
    (2304, (2, 64))
    """

    def __init__(self, in_channels: int, image_size: int, *, width: float = 1.0, rep_dim: int = 64) -> None:
        super().__init__()
        if in_channels not in (1, 3):
            raise ValueError(f"in_channels must be 1 or 3, got {in_channels!r}")
        side = conv_side(image_size)
        if image_size < 8 or side < 1:
            raise ValueError(f"image_size must be at least 8, got {image_size!r}")
        c1, c2, c3, hidden = (scaled(c, width) for c in (64, 128, 256, 1024))
        self.in_channels, self.image_size, self.width, self.rep_dim = in_channels, image_size, width, rep_dim
        self.block1 = _conv_block(in_channels, c1)
        self.block2 = _conv_block(c1, c2)
        self.block3 = _conv_block(c2, c3)
        self.flat_features = c3 * side * side
        self.fc1 = nn.Sequential(nn.Linear(self.flat_features, hidden), nn.BatchNorm1d(hidden), nn.ReLU())
        self.fc2 = nn.Linear(hidden, rep_dim)
        self.conv2_channels = c2

    def forward_features(self, x: torch.Tensor) -> EncoderOutputs:
        """All intermediate activations for a normalised batch ``x`` of shape (B, C, H, W)."""
        h1 = self.block1(x)
        h2 = self.block2(h1)
        h3 = self.block3(h2)
        hidden = self.fc1(h3.flatten(1))
        return EncoderOutputs(h1, h2, h3, hidden, self.fc2(hidden))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The representation z = g(x), shape (B, rep_dim)."""
        return self.forward_features(x).z


class PixelBaselineH(nn.Module):
    """:class:`InputNormalize` (the dataset's mean and std) → :class:`BaselineHEncoder`, on pixels in [0, 1].

    The part that the supervised classifier (:class:`rrlib.models.BaselineH`) and the unsupervised encoder
    (:class:`rrlib.train.encoder.PixelEncoder`) share; both keep their parameters under ``normalize.*`` and
    ``encoder.*``.

    >>> from rrlib.data import get_spec
    >>> g = PixelBaselineH(get_spec("fashion-mnist"), width=0.125)
    >>> tuple(g.representation(torch.rand(2, 1, 28, 28)).shape), tuple(g.conv2(torch.rand(2, 1, 28, 28)).shape)
    ((2, 64), (2, 16, 7, 7))
    """

    def __init__(self, spec: DatasetSpec, *, width: float = 1.0, rep_dim: int = 64) -> None:
        super().__init__()
        self.normalize = InputNormalize(spec.mean, spec.std)
        self.encoder = BaselineHEncoder(spec.channels, spec.image_size, width=width, rep_dim=rep_dim)
        self.rep_dim = rep_dim

    def representation(self, x: torch.Tensor) -> torch.Tensor:
        """z = g(x), shape (B, rep_dim), for pixels x in [0, 1]."""
        return self.encoder(self.normalize(x))

    def features(self, x: torch.Tensor) -> EncoderOutputs:
        """All encoder activations (``conv1``, ``conv2``, ``conv3``, ``hidden``, ``z``) for pixels x."""
        return self.encoder.forward_features(self.normalize(x))

    def conv2(self, x: torch.Tensor) -> torch.Tensor:
        """Second conv block (after BN and ReLU), (B, 128·width, H/4, W/4): the per-neuron units of Figs 3 and 5."""
        e = self.encoder
        return e.block2(e.block1(self.normalize(x)))
