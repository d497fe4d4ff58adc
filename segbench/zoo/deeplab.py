"""MLPerf Mobile's DeepLabv3 with MobileNetV2 (ADE20K, 32 classes, 512x512), as TF DeepLab builds it.

The mlcommons README trains tensorflow/models research/deeplab with model_variant mobilenet_v2,
output_stride 16 and decoder_output_stride 4, and passes no atrous_rates. With those flags the TF code
(read, no code copied) builds:

- MobileNetV2 (depth multiplier 1, ReLU6) up to layer_18 (320 channels, no 1280 conv); output stride 16,
  so the 160 and 320 stages are dilated (rate 2);
- ASPP without atrous branches: an image-pooling branch (average pool over the whole 512x512 crop's
  feature map, 1x1 conv 256 + BN + ReLU, bilinear back) and a 1x1 conv 256 + BN + ReLU, concatenated and
  projected by a 1x1 conv 256 + BN + ReLU (dropout at training only);
- the decoder at output stride 4: 'layer_4/depthwise_output' (the 144-channel depthwise output of the
  second 24-channel block) projected by a 1x1 conv 48 + BN + ReLU, concatenated with the upsampled ASPP
  output, then two separable 3x3 convs of 256 (depthwise + BN + ReLU, pointwise + BN + ReLU);
- logits: a 1x1 conv with bias to 32 classes, at 1/4; the export head upsamples (TF's export then takes
  the argmax, which is the default head here).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from segbench.zoo.layers import ConvBN, resize
from segbench.zoo.mobilenetv2 import mobilenet_v2

DEPTH = 256
# The second 24-channel block (TF 'layer_4'), whose depthwise output (144 ch, 1/4) the decoder reads.
LAYER_4 = 2


def separable(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(ConvBN(cin, cin, 3, groups=cin, act=nn.ReLU), ConvBN(cin, cout, 1, act=nn.ReLU))


class DeepLabV3MobileNetV2(nn.Module):
    def __init__(self, num_classes: int = 32) -> None:
        super().__init__()
        self.encoder = mobilenet_v2(output_stride=16)
        self.image_pool = ConvBN(320, DEPTH, 1, act=nn.ReLU)
        self.aspp0 = ConvBN(320, DEPTH, 1, act=nn.ReLU)
        self.concat_projection = ConvBN(2 * DEPTH, DEPTH, 1, act=nn.ReLU)
        self.feature_projection = ConvBN(144, 48, 1, act=nn.ReLU)
        self.decoder = nn.Sequential(separable(DEPTH + 48, DEPTH), separable(DEPTH, DEPTH))
        self.logits = nn.Conv2d(DEPTH, num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs, dws = self.encoder.features(x)
        top = outs[-1]
        # Image pooling over the whole feature map (the crop is the input size), then back to its size.
        pooled = self.image_pool(F.adaptive_avg_pool2d(top, 1))
        aspp = self.concat_projection(torch.cat([resize(pooled, top.shape[-2:]), self.aspp0(top)], dim=1))
        low = self.feature_projection(dws[LAYER_4])
        y = self.decoder(torch.cat([resize(aspp, low.shape[-2:]), low], dim=1))
        return self.logits(y)
