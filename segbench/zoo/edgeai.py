"""TI edgeailite segmentation models over MobileNetV2: DeepLabV3PlusEdgeAILite, UNetEdgeAILite, FPNEdgeAILite.

Written from TI edgeai-torchvision's pixel2pixel definitions (structure read, no code copied), with the
defaults of its ``*_mobilenetv2_tv_edgeailite`` configs: decoder and ASPP channels 256, ASPP dilations
6/12/18, ReLU6 (DefaultAct2d), bilinear upsampling without convolutions (interpolation_type 'upsample').

- Encoder: torchvision MobileNetV2 (no 1280 conv; the decoders read the 320-channel features), strides
  (2, 2, 2, 2, 1) for DeepLabV3+ (output stride 16) and (2, 2, 2, 2, 2) for UNet and FPN (32).
- DWASPPLite: a 1x1 branch and three depthwise-separable 3x3 branches (dilated depthwise ConvBN+act,
  then pointwise ConvBN+act), concatenated (4 x 256) and projected by a 1x1 ConvBN+act; no pooling branch.
- Prediction: a depthwise 3x3 ConvBN (no activation) and a pointwise conv with bias to the classes.

Every net returns logits at its prediction's resolution (1/4, UNet 1/2); the export head upsamples.
"""

from __future__ import annotations

import torch
from torch import nn

from segbench.zoo.layers import ConvBN, resize
from segbench.zoo.mobilenetv2 import mobilenet_v2

ACT = nn.ReLU6
DECODER = 256
# Block indices in the torchvision MobileNetV2 block list of the features each decoder reads:
# 16 ch at 1/2, 24 at 1/4, 32 at 1/8, 96 at 1/16, 320 last.
F2, F4, F8, F16, FLAST = 0, 2, 5, 12, 16
CHANNELS = {F2: 16, F4: 24, F8: 32, F16: 96, FLAST: 320}


def dw_sep(cin: int, cout: int, k: int = 3, dilation: int = 1) -> nn.Sequential:
    """Depthwise kxk ConvBN+act, then pointwise 1x1 ConvBN+act (TI's ConvDWSepNormAct2d)."""
    return nn.Sequential(ConvBN(cin, cin, k, groups=cin, dilation=dilation, act=ACT), ConvBN(cin, cout, 1, act=ACT))


class DWASPPLite(nn.Module):
    def __init__(self, cin: int, aspp: int = DECODER, cout: int = DECODER, dilations: tuple[int, ...] = (6, 12, 18)):
        super().__init__()
        self.conv1x1 = ConvBN(cin, aspp, 1, act=ACT)
        self.branches = nn.ModuleList(dw_sep(cin, aspp, 3, d) for d in dilations)
        self.dropout = nn.Dropout2d(0.2)
        self.project = ConvBN(aspp * (1 + len(dilations)), cout, 1, act=ACT)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cat = torch.cat([self.conv1x1(x), *(b(x) for b in self.branches)], dim=1)
        return self.project(self.dropout(cat))


class Prediction(nn.Sequential):
    """Depthwise 3x3 ConvBN without activation, then a 1x1 conv with bias to the classes."""

    def __init__(self, cin: int, num_classes: int) -> None:
        super().__init__(ConvBN(cin, cin, 3, groups=cin), nn.Conv2d(cin, num_classes, 1))


class DeepLabV3PlusEdgeAILite(nn.Module):
    """DWASPPLite at 1/16, upsampled x4 and concatenated with a 48-channel 1x1 shortcut from 1/4."""

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.encoder = mobilenet_v2(strides=(2, 2, 2, 2, 1), act=ACT)
        self.aspp = DWASPPLite(CHANNELS[FLAST])
        self.shortcut = ConvBN(CHANNELS[F4], 48, 1, act=ACT)
        self.pred = Prediction(DECODER + 48, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs, _ = self.encoder.features(x)
        low = self.shortcut(outs[F4])
        high = resize(self.aspp(outs[FLAST]), low.shape[-2:])
        return self.pred(torch.cat([high, low], dim=1))


class FPNEdgeAILite(nn.Module):
    """DWASPPLite at 1/32, then top-down: x2 upsample + 1x1 ConvBN+act lateral, summed, depthwise-separable
    3x3 smoothing in the loop, down to 1/4."""

    LEVELS = (F16, F8, F4)

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.encoder = mobilenet_v2(strides=(2, 2, 2, 2, 2), act=ACT)
        self.aspp = DWASPPLite(CHANNELS[FLAST])
        self.laterals = nn.ModuleList(ConvBN(CHANNELS[i], DECODER, 1, act=ACT) for i in self.LEVELS)
        self.smooth = nn.ModuleList(dw_sep(DECODER, DECODER) for _ in self.LEVELS)
        self.pred = Prediction(DECODER, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs, _ = self.encoder.features(x)
        y = self.aspp(outs[FLAST])
        for level, lateral, smooth in zip(self.LEVELS, self.laterals, self.smooth):
            skip = lateral(outs[level])
            y = smooth(resize(y, skip.shape[-2:]) + skip)
        return self.pred(y)


class UNetEdgeAILite(nn.Module):
    """DWASPPLite at 1/32, then per level: x2 upsample, concatenate the encoder feature, depthwise-separable
    3x3 to max(2 x classes, 32, feature channels) channels, down to 1/2."""

    LEVELS = (F16, F8, F4, F2)

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.encoder = mobilenet_v2(strides=(2, 2, 2, 2, 2), act=ACT)
        self.aspp = DWASPPLite(CHANNELS[FLAST])
        minimum = max(2 * num_classes, 32)
        smooth, current = [], DECODER
        for level in self.LEVELS:
            out = max(minimum, CHANNELS[level])
            smooth.append(dw_sep(current + CHANNELS[level], out))
            current = out
        self.smooth = nn.ModuleList(smooth)
        self.pred = Prediction(current, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs, _ = self.encoder.features(x)
        y = self.aspp(outs[FLAST])
        for level, smooth in zip(self.LEVELS, self.smooth):
            skip = outs[level]
            y = smooth(torch.cat([resize(y, skip.shape[-2:]), skip], dim=1))
        return self.pred(y)
