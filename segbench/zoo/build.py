"""Build a zoo net with deterministic weights, and measure it (params, GMACs).

Weights are untrained: the zoo reproduces topology, parameter count and compute, so latency and
params are real while accuracy stays the published figure. Everything random is drawn from a
seed (the seed plus a stable hash of the model's name), so an export is reproducible bit for bit.
BatchNorm statistics and affine terms are randomised too: with the default (gamma 1, beta 0,
mean 0, var 1) every folded bias would be zero and exporters would merge the identical tensors,
which changes the exported parameter count (docs/zoo.md).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from segbench.zoo import deeplab, edgeai, mobilenetv3, mosaic, transformers
from segbench.zoo.heads import Segmenter
from segbench.zoo.registry import HEADS, NUM_CLASSES, Size, as_size, get

# Side of the seeded images the BatchNorm statistics are measured on (a multiple of 64, so that
# the 1/64 token maps of TopFormer and SeaFormer are 4x4).
_CALIBRATION_SIZE = 256

_BUILDERS: dict[str, Callable[[], nn.Module]] = {
    "lraspp_mobilenetv3_large": lambda: mobilenetv3.LRASPP(NUM_CLASSES),
    "mobileseg_base": lambda: mobilenetv3.MobileSeg(NUM_CLASSES),
    "topformer_tiny": lambda: transformers.TopFormer(transformers.TOPFORMER_VARIANTS["tiny"], NUM_CLASSES),
    "topformer_base": lambda: transformers.TopFormer(transformers.TOPFORMER_VARIANTS["base"], NUM_CLASSES),
    "seaformer_tiny": lambda: transformers.SeaFormer(transformers.SEAFORMER_VARIANTS["tiny"], NUM_CLASSES),
    "seaformer_base": lambda: transformers.SeaFormer(transformers.SEAFORMER_VARIANTS["base"], NUM_CLASSES),
    "pp_mobileseg_tiny": lambda: transformers.PPMobileSeg(transformers.STRIDEFORMER_VARIANTS["tiny"], NUM_CLASSES),
    "pp_mobileseg_base": lambda: transformers.PPMobileSeg(transformers.STRIDEFORMER_VARIANTS["base"], NUM_CLASSES),
    # Zoo II: the class count is the model's own (registry).
    "ti_deeplabv3plus_mnv2_ade20k32": lambda: edgeai.DeepLabV3PlusEdgeAILite(32),
    "ti_unet_mnv2_ade20k32": lambda: edgeai.UNetEdgeAILite(32),
    "ti_fpn_mnv2_ade20k32": lambda: edgeai.FPNEdgeAILite(32),
    "ti_deeplabv3plus_mnv2_cityscapes": lambda: edgeai.DeepLabV3PlusEdgeAILite(19),
    "ti_unet_mnv2_cityscapes": lambda: edgeai.UNetEdgeAILite(19),
    "ti_fpn_mnv2_cityscapes": lambda: edgeai.FPNEdgeAILite(19),
    "mlperf_deeplabv3_mnv2": lambda: deeplab.DeepLabV3MobileNetV2(32),
    "mosaic_mnmultiavgseg_cityscapes": lambda: mosaic.Mosaic(19),
}


def model_seed(name: str, seed: int) -> int:
    """A per-model seed: stable across runs and Python versions (crc32, not hash())."""
    return (seed * 1_000_003 + zlib.crc32(name.encode())) % (2**31)


def build_net(name: str, seed: int = 0) -> nn.Module:
    """The net in eval mode with seeded weights and randomised BatchNorm."""
    get(name)  # a clear error for an unknown name
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(model_seed(name, seed))
        net = _BUILDERS[name]()
        _randomise_batchnorm(net)
    return net.eval()


def _randomise_batchnorm(net: nn.Module) -> None:
    """Random affine terms, then running statistics measured on one seeded batch.

    Statistics from data (as training leaves them) keep every layer's output of order one, so
    logits vary across the image instead of being dominated by biases, and label outputs (argmax,
    VIM) are a real test. Affine terms are drawn first because they shape the later layers' inputs.
    """
    norms = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    with torch.no_grad():
        for m in norms:
            m.weight.uniform_(0.5, 1.5)
            m.bias.normal_(0.0, 0.1)
            m.reset_running_stats()
            m.momentum = None  # cumulative average: one batch gives exactly its statistics
        for m in net.modules():
            if hasattr(m, "temper_seeded_weights"):
                m.temper_seeded_weights()
        net.train()
        net(torch.randn(2, 3, _CALIBRATION_SIZE, _CALIBRATION_SIZE))
        net.eval()
        for m in norms:
            m.momentum = 0.1


def build(name: str, head: str = "logits", seed: int = 0) -> Segmenter:
    if head not in HEADS:
        raise ValueError(f"unknown head {head!r}")
    return Segmenter(build_net(name, seed), head).eval()


def count_params(net: nn.Module) -> int:
    """Trainable parameters, torch's ``sum(p.numel())``: the reference code's convention."""
    return sum(p.numel() for p in net.parameters())


def count_bn_channels(net: nn.Module) -> int:
    """Channels of all BatchNorms: folding removes gamma and beta (2C) and adds a conv bias (C)."""
    return sum(m.num_features for m in net.modules() if isinstance(m, nn.BatchNorm2d))


def gmacs(net: nn.Module, size: int | Size) -> float:
    """Multiply-accumulates of convolutions and matmuls for one [1, 3, H, W] image, in G."""
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.zeros(1, 3, *as_size(size), device=next(net.parameters()).device)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        net(x)
    return counter.get_total_flops() / 2e9  # the counter reports 2 FLOPs per MAC


@dataclass(frozen=True)
class NetStats:
    name: str
    params: int
    bn_channels: int
    gmacs: float


def stats(name: str, size: int | Size | None = None) -> NetStats:
    """Counts that do not depend on the weights, at ``size`` (default: the published input size).

    The net is built on the meta device (shapes only), so even MOSAIC at 1024x2048 takes a moment.
    """
    model = get(name)
    with torch.device("meta"):
        net = _BUILDERS[name]().eval()
    return NetStats(name, count_params(net), count_bn_channels(net), gmacs(net, size or model.input_size))
