"""MobileNetV2 feature extractors for zoo II: torchvision's layout (TI edgeailite, MLPerf DeepLabv3) and
TF Model Garden's MobileNetMultiAVGSeg (MOSAIC), both as one list of inverted-residual blocks.

Decoders read intermediate features by block index, and some (TF DeepLab, MOSAIC) read the output of a
block's depthwise convolution, the "depthwise_output"/"depthwise" endpoints of the TF code, so each
block can return that tensor as well.
"""

from __future__ import annotations

import torch
from torch import nn

from segbench.zoo.layers import Act, ConvBN, make_divisible

# torchvision / TF-slim MobileNetV2 (t, c, n, s) without the final 1x1 1280 conv: every segmentation
# model here reads the 320-channel output of the last block.
MNV2_SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                 (6, 320, 1, 1))

# TF Model Garden MNMultiAVG_SEG_BLOCK_SPECS up to its last output block (k, s, c, expand); the 480 and
# 1280 convs and the global pooling after it are the classifier's and feed no segmentation output.
MULTIAVG_SEG_BLOCKS = ((3, 2, 32, 3.0), (3, 1, 32, 2.0), (5, 2, 64, 5.0), (3, 1, 64, 3.0), (3, 1, 64, 2.0),
                       (3, 1, 64, 3.0), (5, 2, 128, 6.0), (3, 1, 128, 3.0), (3, 1, 128, 3.0), (3, 1, 128, 3.0),
                       (3, 1, 160, 6.0), (3, 1, 160, 4.0), (3, 2, 192, 6.0), (5, 1, 96, 2.0), (5, 1, 96, 4.0),
                       (5, 1, 96, 4.0))


class InvertedResidual(nn.Module):
    """[1x1 expand ConvBN+act] -> kxk depthwise ConvBN+act -> 1x1 project ConvBN (+ skip)."""

    def __init__(self, cin: int, cout: int, k: int, stride: int, expand: float, act: Act,
                 dilation: int = 1) -> None:
        super().__init__()
        hidden = make_divisible(cin * expand)
        self.expand = ConvBN(cin, hidden, 1, act=act) if expand != 1 else None
        self.depthwise = ConvBN(hidden, hidden, k, stride, groups=hidden, dilation=dilation, act=act)
        self.project = ConvBN(hidden, cout, 1)
        self.skip = stride == 1 and cin == cout

    def forward_with_depthwise(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The block's output and its depthwise convolution's output."""
        dw = self.depthwise(self.expand(x) if self.expand is not None else x)
        y = self.project(dw)
        return (x + y if self.skip else y), dw

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with_depthwise(x)[0]


class BlockStack(nn.Module):
    """A stem conv and inverted residuals; ``features(x)`` gives every block's output and depthwise output."""

    def __init__(self, stem: nn.Module, blocks: list[InvertedResidual]) -> None:
        super().__init__()
        self.stem = stem
        self.blocks = nn.ModuleList(blocks)

    def features(self, x: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        outs, dws = [], []
        x = self.stem(x)
        for block in self.blocks:
            x, dw = block.forward_with_depthwise(x)
            outs.append(x)
            dws.append(dw)
        return outs, dws

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)[0][-1]


def mobilenet_v2(strides: tuple[int, ...] = (2, 2, 2, 2, 2), output_stride: int | None = None,
                 act: Act = nn.ReLU6) -> BlockStack:
    """torchvision MobileNetV2 without its 1280 conv.

    ``strides``: the five downsampling strides (stem and the first block of the 24, 32, 64 and 160 stages),
    as TI's model_config.strides sets them. ``output_stride``: TF DeepLab's rule instead; once the running
    stride reaches it, later strides become dilation.
    """
    stem = ConvBN(3, 32, 3, strides[0], act=act)
    blocks: list[InvertedResidual] = []
    cin, current, rate, stride_iter = 32, strides[0], 1, iter(strides[1:])
    for t, c, n, s in MNV2_SETTINGS:
        for i in range(n):
            stride = next(stride_iter) if (i == 0 and s == 2) else 1
            dilation = 1
            if output_stride is not None and stride > 1 and current >= output_stride:
                rate, stride = rate * stride, 1
            if output_stride is not None:
                dilation = rate
            current *= stride
            blocks.append(InvertedResidual(cin, c, 3, stride, t, act, dilation))
            cin = c
    return BlockStack(stem, blocks)


def mobilenet_multi_avg_seg(output_stride: int = 16) -> BlockStack:
    """MobileNetMultiAVGSeg (ReLU throughout), dilated after ``output_stride`` as the Model Garden does."""
    stem = ConvBN(3, 32, 3, 2, act=nn.ReLU)
    blocks: list[InvertedResidual] = []
    cin, current, rate = 32, 2, 1
    for k, s, c, expand in MULTIAVG_SEG_BLOCKS:
        stride = s
        if current == output_stride:
            rate, stride = rate * s, 1
        else:
            current *= s
        blocks.append(InvertedResidual(cin, c, k, stride, expand, nn.ReLU, rate))
        cin = c
    return BlockStack(stem, blocks)
