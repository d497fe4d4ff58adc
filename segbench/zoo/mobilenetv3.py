"""MobileNetV3-Large baselines: LR-ASPP (torchvision-style) and MobileSeg-Base (PaddleSeg-style).

Both nets return logits at their decoder's resolution (1/8); the export head upsamples.
"""

from __future__ import annotations

import torch
from torch import nn

from segbench.zoo.layers import ConvBN, MV3Block, resize

# (cin, k, exp, cout, SE, act, stride, dilation): MobileNetV3-Large with the last stage dilated
# (output stride 16), as torchvision builds it for segmentation.
_LRASPP_BLOCKS = [
    (16, 3, 16, 16, False, "relu", 1, 1), (16, 3, 64, 24, False, "relu", 2, 1),
    (24, 3, 72, 24, False, "relu", 1, 1), (24, 5, 72, 40, True, "relu", 2, 1),
    (40, 5, 120, 40, True, "relu", 1, 1), (40, 5, 120, 40, True, "relu", 1, 1),
    (40, 3, 240, 80, False, "hardswish", 2, 1), (80, 3, 200, 80, False, "hardswish", 1, 1),
    (80, 3, 184, 80, False, "hardswish", 1, 1), (80, 3, 184, 80, False, "hardswish", 1, 1),
    (80, 3, 480, 112, True, "hardswish", 1, 1), (112, 3, 672, 112, True, "hardswish", 1, 1),
    (112, 5, 672, 160, True, "hardswish", 1, 2), (160, 5, 960, 160, True, "hardswish", 1, 2),
    (160, 5, 960, 160, True, "hardswish", 1, 2),
]
# The low-level feature is taken after this many blocks (40 channels at stride 8).
_LRASPP_LOW_AFTER = 4


class LRASPP(nn.Module):
    """LR-ASPP over MobileNetV3-Large (Howard et al. 2019), torchvision's topology, 150 classes."""

    def __init__(self, num_classes: int = 150) -> None:
        super().__init__()
        self.stem = ConvBN(3, 16, 3, 2, act=nn.Hardswish)
        blocks = [MV3Block(cin, k, e, c, se, a, s, d) for cin, k, e, c, se, a, s, d in _LRASPP_BLOCKS]
        self.low_stages = nn.Sequential(*blocks[:_LRASPP_LOW_AFTER])
        self.high_stages = nn.Sequential(*blocks[_LRASPP_LOW_AFTER:], ConvBN(160, 960, 1, act=nn.Hardswish))
        self.cbr = ConvBN(960, 128, 1, act=nn.ReLU)
        self.scale = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(960, 128, 1, bias=False), nn.Sigmoid())
        self.low_classifier = nn.Conv2d(40, num_classes, 1)
        self.high_classifier = nn.Conv2d(128, num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        low = self.low_stages(self.stem(x))
        high = self.high_stages(low)
        high = resize(self.cbr(high) * self.scale(high), low.shape[-2:])
        return self.low_classifier(low) + self.high_classifier(high)


# PaddleSeg's MobileNetV3_large_x1_0 (k, exp, c, SE, act, stride): no final 960 conv, not dilated.
_PADDLE_MV3L = [
    (3, 16, 16, False, "relu", 1), (3, 64, 24, False, "relu", 2), (3, 72, 24, False, "relu", 1),
    (5, 72, 40, True, "relu", 2), (5, 120, 40, True, "relu", 1), (5, 120, 40, True, "relu", 1),
    (3, 240, 80, False, "hardswish", 2), (3, 200, 80, False, "hardswish", 1),
    (3, 184, 80, False, "hardswish", 1), (3, 184, 80, False, "hardswish", 1),
    (3, 480, 112, True, "hardswish", 1), (3, 672, 112, True, "hardswish", 1),
    (5, 672, 160, True, "hardswish", 2), (5, 960, 160, True, "hardswish", 1), (5, 960, 160, True, "hardswish", 1),
]
# Outputs after these blocks: 1/8 (40 ch), 1/16 (112), 1/32 (160).
_PADDLE_MV3L_OUTS = (5, 11, 14)


class SepConvBNReLU(nn.Sequential):
    """PaddleSeg's SeparableConvBNReLU: depthwise ConvBN (no bias) + pointwise ConvBN+ReLU (with bias)."""

    def __init__(self, cin: int, cout: int, k: int = 3) -> None:
        super().__init__(ConvBN(cin, cin, k, groups=cin), ConvBN(cin, cout, 1, act=nn.ReLU, conv_bias=True))


class UAFMMobile(nn.Module):
    """Fusion of a low-level x and an upsampled high-level y: conv_out(conv_x(x) + up(y))."""

    def __init__(self, x_ch: int, y_ch: int, out_ch: int) -> None:
        super().__init__()
        self.conv_x = SepConvBNReLU(x_ch, y_ch)
        self.conv_out = SepConvBNReLU(y_ch, out_ch)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        x = self.conv_x(x)
        return self.conv_out(x + resize(y, x.shape[-2:]))


class MobileContext(nn.Module):
    """Pyramid pooling over the 1/32 feature (bins 1, 2, 4), summed, then a separable conv."""

    def __init__(self, cin: int, cout: int, bins: tuple[int, ...] = (1, 2, 4)) -> None:
        super().__init__()
        self.stages = nn.ModuleList(
            nn.Sequential(nn.AdaptiveAvgPool2d(b), ConvBN(cin, cout, 1, act=nn.ReLU, conv_bias=True)) for b in bins)
        self.conv_out = SepConvBNReLU(cout, cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = sum(resize(stage(x), x.shape[-2:]) for stage in self.stages)
        return self.conv_out(out)


class MobileSeg(nn.Module):
    """MobileSeg-Base (PaddleSeg): MobileNetV3-Large, context module, three UAFMMobile fusions.

    ``aux_heads`` are the two training-only heads of the reference model: they are part of its
    parameter count but not of the inference graph (so the export holds fewer parameters).
    """

    def __init__(self, num_classes: int = 150, arm_out: tuple[int, int, int] = (32, 64, 128),
                 cm_out: int = 128, head_mid: int = 32) -> None:
        super().__init__()
        self.stem = ConvBN(3, 16, 3, 2, act=nn.Hardswish)
        blocks, cin = [], 16
        for k, e, c, se, a, s in _PADDLE_MV3L:
            blocks.append(MV3Block(cin, k, e, c, se, a, s, style="paddle"))
            cin = c
        bounds = (0, *(i + 1 for i in _PADDLE_MV3L_OUTS))
        self.stages = nn.ModuleList(nn.Sequential(*blocks[a:b]) for a, b in zip(bounds, bounds[1:]))
        feats = (40, 112, 160)
        self.context = MobileContext(feats[-1], cm_out)
        highs = (arm_out[1], arm_out[2], cm_out)
        self.arms = nn.ModuleList(UAFMMobile(f, h, o) for f, h, o in zip(feats, highs, arm_out))
        self.head = nn.Sequential(SepConvBNReLU(arm_out[0], head_mid), nn.Conv2d(head_mid, num_classes, 1, bias=False))
        self.aux_heads = nn.ModuleList(
            nn.Sequential(SepConvBNReLU(c, head_mid), nn.Conv2d(head_mid, num_classes, 1, bias=False))
            for c in arm_out[1:])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        feats = []
        for stage in self.stages:
            x = stage(x)
            feats.append(x)  # 1/8, 1/16, 1/32
        high = self.context(feats[-1])
        for feat, arm in zip(reversed(feats), reversed(self.arms)):
            high = arm(feat, high)
        return self.head(high)
