"""CIFAR-style VGG16, ResNet18/50 and DenseNet121 for 32×32 inputs (supplement D.1, Figs 1–2).

The standard CIFAR variants (as in kuangliu/pytorch-cifar and MadryLab's ``robustness.cifar_models``): a
3×3 stride-1 stem instead of ImageNet's 7×7 stride-2 stem and max-pool; 4×4 average pooling before the linear
layer.
Each network maps *normalised* (B, C, 32, 32) inputs to logits (B, n_classes); ``features(x)`` gives the
pooled penultimate vector.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

VGG16_LAYERS = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")


class VGG(nn.Module):
    """VGG with BatchNorm; five 2×2 max-pools take 32×32 to 1×1, then Linear(512 → n_classes)."""

    def __init__(self, layers=VGG16_LAYERS, in_channels: int = 3, n_classes: int = 10) -> None:
        super().__init__()
        modules: list[nn.Module] = []
        c = in_channels
        for v in layers:
            if v == "M":
                modules.append(nn.MaxPool2d(2, 2))
            else:
                modules += [nn.Conv2d(c, v, 3, padding=1), nn.BatchNorm2d(v), nn.ReLU()]
                c = v
        self.body = nn.Sequential(*modules)
        self.classifier = nn.Linear(c, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, c_in: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, planes, 1, stride, bias=False), nn.BatchNorm2d(planes)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, c_in: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        c_out = self.expansion * planes
        self.conv1 = nn.Conv2d(c_in, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, c_out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return F.relu(out + self.shortcut(x))


class ResNet(nn.Module):
    """CIFAR ResNet: 3×3 stem (64), stages of 64, 128, 256, 512 planes (strides 1, 2, 2, 2), 4×4 avg-pool."""

    def __init__(
        self,
        block: type[nn.Module],
        num_blocks: tuple[int, int, int, int],
        in_channels: int = 3,
        n_classes: int = 10,
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 64, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        c = 64
        stages = []
        for planes, n, stride in zip((64, 128, 256, 512), num_blocks, (1, 2, 2, 2), strict=True):
            blocks = []
            for s in [stride] + [1] * (n - 1):
                blocks.append(block(c, planes, s))
                c = planes * block.expansion
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.linear = nn.Linear(c, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        out = self.stages(F.relu(self.bn1(self.conv1(x))))
        return F.adaptive_avg_pool2d(out, 1).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.features(x))


class DenseLayer(nn.Module):
    """BN → ReLU → Conv1×1(4k) → BN → ReLU → Conv3×3(k), concatenated to its input."""

    def __init__(self, c_in: int, growth: int) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(c_in)
        self.conv1 = nn.Conv2d(c_in, 4 * growth, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(4 * growth)
        self.conv2 = nn.Conv2d(4 * growth, growth, 3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(F.relu(self.bn1(x)))
        out = self.conv2(F.relu(self.bn2(out)))
        return torch.cat([out, x], 1)


class Transition(nn.Module):
    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(c_in)
        self.conv = nn.Conv2d(c_in, c_out, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(self.conv(F.relu(self.bn(x))), 2)


class DenseNet(nn.Module):
    """CIFAR DenseNet-BC: 3×3 stem (2k channels), dense blocks, transitions (reduction 0.5), 4×4 avg-pool."""

    def __init__(
        self,
        num_blocks: tuple[int, ...] = (6, 12, 24, 16),
        growth: int = 32,
        reduction: float = 0.5,
        in_channels: int = 3,
        n_classes: int = 10,
    ) -> None:
        super().__init__()
        c = 2 * growth
        self.conv1 = nn.Conv2d(in_channels, c, 3, padding=1, bias=False)
        parts: list[nn.Module] = []
        for i, n in enumerate(num_blocks):
            layers = []
            for _ in range(n):
                layers.append(DenseLayer(c, growth))
                c += growth
            parts.append(nn.Sequential(*layers))
            if i < len(num_blocks) - 1:
                c_out = int(c * reduction)
                parts.append(Transition(c, c_out))
                c = c_out
        self.dense = nn.Sequential(*parts)
        self.bn = nn.BatchNorm2d(c)
        self.linear = nn.Linear(c, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn(self.dense(self.conv1(x))))
        return F.adaptive_avg_pool2d(out, 1).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.features(x))


def vgg16(in_channels: int = 3, n_classes: int = 10) -> VGG:
    return VGG(VGG16_LAYERS, in_channels, n_classes)


def resnet18(in_channels: int = 3, n_classes: int = 10) -> ResNet:
    return ResNet(BasicBlock, (2, 2, 2, 2), in_channels, n_classes)


def resnet50(in_channels: int = 3, n_classes: int = 10) -> ResNet:
    return ResNet(Bottleneck, (3, 4, 6, 3), in_channels, n_classes)


def densenet121(in_channels: int = 3, n_classes: int = 10) -> DenseNet:
    return DenseNet((6, 12, 24, 16), 32, 0.5, in_channels, n_classes)


CIFAR_NETS = {"vgg16": vgg16, "resnet18": resnet18, "resnet50": resnet50, "densenet121": densenet121}
