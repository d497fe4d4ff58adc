"""MOSAIC (Wang & Howard 2021) over MobileNetMultiAVGSeg, as TF Model Garden's ``mosaic_mnv35_cityscapes``
config builds it (the 77.24% "current best" config that TF Hub's mobilenetmultiavgseg/2 serves).

Read from official/projects/mosaic (mosaic_blocks.py, mosaic_head.py, configs; no code copied):

- backbone MobileNetMultiAVGSeg, output stride 16 (the 192-channel block and later dilated, rate 2);
  the encoder reads the last 96-channel block (level 4); the classifier's 480/1280 convs are not used;
- encoder neck (MosaicEncoderBlock): the 96-channel feature itself, three pyramid levels of 4, 8 and 16
  bins (average pooling with kernel = stride + remainder), each through ONE shared multi-kernel grouped
  conv block (the input split in two groups of 48: depthwise 3x3 resp. 5x5 + BN + ReLU, 1x1 to 64 + BN,
  ReLU; concatenated, 128), and a global-pooling branch (1x1 conv 64 + BN + ReLU); all upsampled and
  concatenated (96 + 3 x 128 + 64 = 544), projected by a 1x1 conv 128 + BN + ReLU (dropout 0 in the
  config);
- decoder (MosaicDecoderHead): stage 1 concat-merges with '3/depthwise' (the 192-channel depthwise
  output of the last 1/8 block): upsample, concatenate, 1x1 64 + BN + ReLU, depthwise 3x3 + BN + ReLU,
  1x1 19 + BN + ReLU; stage 2 sum-merges with '2/depthwise' (64 channels at 1/4) projected by a 1x1
  conv 19 + BN + ReLU; no extra classifier, so the logits are the sum, at 1/4.

What could not be determined from the code and is inferred: none of the structure; the TF Hub model's
own export (its resize to 1024x2048 and NHWC layout) is replaced by the zoo's head (NCHW, half-pixel
bilinear) like every zoo model.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from segbench.zoo.layers import ConvBN, resize
from segbench.zoo.mobilenetv2 import mobilenet_multi_avg_seg

BRANCH = (64, 64)
KERNELS = (3, 5)
BINS = (4, 8, 16)
# Blocks whose depthwise outputs the decoder reads: the last 1/8 block ('3/depthwise', 192 ch) and
# the last 1/4 block ('2/depthwise', 64 ch).
LEVEL3, LEVEL2 = 5, 1


class MultiKernelGroupConv(nn.Module):
    def __init__(self, cin: int) -> None:
        super().__init__()
        self.group = cin // len(KERNELS)
        self.branches = nn.ModuleList(
            nn.Sequential(ConvBN(self.group, self.group, k, groups=self.group, act=nn.ReLU),
                          ConvBN(self.group, out, 1, act=nn.ReLU))
            for k, out in zip(KERNELS, BRANCH))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([b(part) for b, part in zip(self.branches, torch.split(x, self.group, dim=1))], dim=1)


def bin_pool(x: torch.Tensor, bins: int) -> torch.Tensor:
    """Average pooling into ``bins`` x ``bins`` cells, kernel = stride + remainder (the Model Garden's rule)."""
    # Plain ints: the pooling kernel is a constant of the graph (the Model Garden also builds it from
    # the static input size), so tracing for ONNX records it as one.
    h, w = (int(d) for d in x.shape[-2:])
    stride = (h // bins, w // bins)
    return F.avg_pool2d(x, (stride[0] + h % bins, stride[1] + w % bins), stride)


class MosaicEncoder(nn.Module):
    def __init__(self, cin: int = 96) -> None:
        super().__init__()
        self.group_conv = MultiKernelGroupConv(cin)  # shared by the pyramid levels
        self.global_projection = ConvBN(cin, max(BRANCH), 1, act=nn.ReLU)
        self.projection = ConvBN(cin + len(BINS) * sum(BRANCH) + max(BRANCH), sum(BRANCH), 1, act=nn.ReLU)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        branches = [x] + [resize(self.group_conv(bin_pool(x, b)), size) for b in BINS]
        branches.append(resize(self.global_projection(F.adaptive_avg_pool2d(x, 1)), size))
        return self.projection(torch.cat(branches, dim=1))


class Mosaic(nn.Module):
    def __init__(self, num_classes: int = 19) -> None:
        super().__init__()
        self.backbone = mobilenet_multi_avg_seg(output_stride=16)
        self.encoder = MosaicEncoder()
        self.concat_merge = nn.Sequential(
            ConvBN(sum(BRANCH) + 192, 64, 1, act=nn.ReLU), ConvBN(64, 64, 3, groups=64, act=nn.ReLU),
            ConvBN(64, num_classes, 1, act=nn.ReLU))
        self.sum_merge_high = ConvBN(64, num_classes, 1, act=nn.ReLU)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs, dws = self.backbone.features(x)
        y = self.encoder(outs[-1])
        mid = dws[LEVEL3]
        y = self.concat_merge(torch.cat([resize(y, mid.shape[-2:]), mid], dim=1))
        high = self.sum_merge_high(dws[LEVEL2])
        return resize(y, high.shape[-2:]) + high
