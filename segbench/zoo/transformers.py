"""TopFormer (Zhang et al. 2022), SeaFormer (Wan et al. 2023) and PP-MobileSeg (Tang et al. 2023).

Each net returns logits at its decoder's resolution (1/8, or 1/16 for PP-MobileSeg-Tiny); the
export head upsamples. Variant hyperparameters are in the ``*_VARIANTS`` tables below.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from segbench.zoo.layers import (
    ConvBN,
    ConvMLP,
    HardSigmoid6,
    MV3Block,
    SegHead,
    make_divisible,
    mv2_stage,
    resize,
    sea_stage,
)

MV2Cfg = list[tuple[int, float, int, int]]  # (k, t, c, stride) rows


# --------------------------------------------------------------------------- TopFormer


@dataclass(frozen=True)
class TopFormerVariant:
    cfg: MV2Cfg
    channels: tuple[int, ...]  # channels of the four pyramid outputs
    out_indices: tuple[int, ...]  # blocks whose outputs form the token pyramid
    injection_channels: int
    heads: int
    head_channels: int
    head_dw: bool
    depth: int = 4
    key_dim: int = 16


TOPFORMER_VARIANTS = {
    "tiny": TopFormerVariant(
        cfg=[(3, 1, 16, 1), (3, 4, 16, 2), (3, 3, 16, 1), (5, 3, 32, 2), (5, 3, 32, 1), (3, 3, 64, 2),
             (3, 3, 64, 1), (5, 6, 96, 2), (5, 6, 96, 1)],
        channels=(16, 32, 64, 96), out_indices=(2, 4, 6, 8), injection_channels=128, heads=4,
        head_channels=128, head_dw=True),
    "base": TopFormerVariant(
        cfg=[(3, 1, 16, 1), (3, 4, 32, 2), (3, 3, 32, 1), (5, 3, 64, 2), (5, 3, 64, 1), (3, 3, 128, 2),
             (3, 3, 128, 1), (5, 6, 160, 2), (5, 6, 160, 1), (3, 6, 160, 1)],
        channels=(32, 64, 128, 160), out_indices=(2, 4, 6, 9), injection_channels=256, heads=8,
        head_channels=256, head_dw=False),
}


class TopAttention(nn.Module):
    """Full multi-head self-attention over the 1/64 tokens with 1x1 ConvBN projections.

    Like the reference, the logits are not scaled by 1/sqrt(key_dim) (its ``scale`` is unused).
    """

    def __init__(self, dim: int, key_dim: int, heads: int, attn_ratio: int = 2) -> None:
        super().__init__()
        self.heads, self.key_dim, self.d = heads, key_dim, attn_ratio * key_dim
        self.to_q, self.to_k = ConvBN(dim, key_dim * heads), ConvBN(dim, key_dim * heads)
        self.to_v = ConvBN(dim, self.d * heads)
        self.proj = nn.Sequential(nn.ReLU6(), ConvBN(self.d * heads, dim))

    def temper_seeded_weights(self) -> None:
        """Shrink the q and k BatchNorm gains by key_dim^(1/4) each, for untrained weights only.

        Without the 1/sqrt(key_dim) scale, random weights give attention logits with a spread of
        about 10 and a near one-hot softmax that float32 cannot evaluate reproducibly (torch in
        float32 and float64 differ by 1e-3). This gives the logits the spread of scaled attention.
        """
        with torch.no_grad():
            self.to_q.bn.weight.mul_(self.key_dim ** -0.25)
            self.to_k.bn.weight.mul_(self.key_dim ** -0.25)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        q = self.to_q(x).reshape(b, self.heads, self.key_dim, h * w).transpose(2, 3)
        k = self.to_k(x).reshape(b, self.heads, self.key_dim, h * w)
        v = self.to_v(x).reshape(b, self.heads, self.d, h * w).transpose(2, 3)
        out = torch.softmax(q @ k, dim=-1) @ v
        return self.proj(out.transpose(2, 3).reshape(b, self.d * self.heads, h, w))


class TopBlock(nn.Module):
    def __init__(self, dim: int, key_dim: int, heads: int) -> None:
        super().__init__()
        self.attn = TopAttention(dim, key_dim, heads)
        self.mlp = ConvMLP(dim, dim * 2, nn.ReLU6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(x)
        return x + self.mlp(x)


class SemanticInjection(nn.Module):
    """TopFormer's SIM: local 1x1 ConvBN * up(hsigmoid(global 1x1 ConvBN)) + up(global 1x1 ConvBN)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.local_embedding = ConvBN(cin, cout)
        self.global_embedding = ConvBN(cin, cout)
        self.global_act = ConvBN(cin, cout)
        self.gate = HardSigmoid6()

    def forward(self, local: torch.Tensor, global_: torch.Tensor) -> torch.Tensor:
        size = local.shape[-2:]
        gate = resize(self.gate(self.global_act(global_)), size)
        return self.local_embedding(local) * gate + resize(self.global_embedding(global_), size)


class TopFormer(nn.Module):
    """Token pyramid (MV2) -> pooled to 1/64 -> transformer -> semantic injection -> SimpleHead."""

    def __init__(self, variant: TopFormerVariant, num_classes: int = 150) -> None:
        super().__init__()
        self.v = variant
        self.stem = ConvBN(3, 16, 3, 2, act=nn.ReLU)
        bounds = (0, *(i + 1 for i in variant.out_indices))
        stages, cin = [], 16
        for a, b in zip(bounds, bounds[1:]):
            stage, cin = mv2_stage(variant.cfg[a:b], cin)
            stages.append(stage)
        self.stages = nn.ModuleList(stages)
        dim = sum(variant.channels)
        self.trans = nn.Sequential(*[TopBlock(dim, variant.key_dim, variant.heads) for _ in range(variant.depth)])
        self.sim = nn.ModuleList(SemanticInjection(c, variant.injection_channels) for c in variant.channels[1:])
        self.head = SegHead(variant.head_channels, num_classes, variant.head_dw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        pyramid = []
        for stage in self.stages:
            x = stage(x)
            pyramid.append(x)
        h, w = x.shape[-2:]
        # PyramidPoolAgg: every level average-pooled to half the smallest level's size.
        token_size = ((h - 1) // 2 + 1, (w - 1) // 2 + 1)
        tokens = self.trans(torch.cat([F.adaptive_avg_pool2d(p, token_size) for p in pyramid], dim=1))
        globals_ = tokens.split(list(self.v.channels), dim=1)
        fused = [sim(pyramid[i + 1], globals_[i + 1]) for i, sim in enumerate(self.sim)]
        out = fused[0]
        for f in fused[1:]:
            out = out + resize(f, out.shape[-2:])
        return self.head(out)


# --------------------------------------------------------------------------- SeaFormer


@dataclass(frozen=True)
class SeaFormerVariant:
    cfgs: tuple[MV2Cfg, ...]  # five MV2 stages; the transformer stages follow stages 4 and 5
    channels: tuple[int, ...]  # input channels of each stage (+ the last output)
    key_dims: tuple[int, int]
    depths: tuple[int, int]
    heads: int
    head_in: tuple[int, int, int]  # the 1/8 feature and the two transformer outputs
    head_embed: tuple[int, int]
    mlp_ratios: tuple[float, float] = (2, 4)


SEAFORMER_VARIANTS = {
    "tiny": SeaFormerVariant(
        cfgs=([(3, 1, 16, 1), (3, 4, 16, 2), (3, 3, 16, 1)], [(5, 3, 32, 2), (5, 3, 32, 1)],
              [(3, 3, 64, 2), (3, 3, 64, 1)], [(5, 3, 128, 2)], [(3, 6, 160, 2)]),
        channels=(16, 16, 32, 64, 128, 160), key_dims=(16, 24), depths=(2, 2), heads=4,
        head_in=(32, 128, 160), head_embed=(64, 96)),
    "base": SeaFormerVariant(
        cfgs=([(3, 1, 16, 1), (3, 4, 32, 2), (3, 3, 32, 1)], [(5, 3, 64, 2), (5, 3, 64, 1)],
              [(3, 3, 128, 2), (3, 3, 128, 1)], [(5, 4, 192, 2)], [(3, 6, 256, 2)]),
        channels=(16, 32, 64, 128, 192, 256), key_dims=(16, 24), depths=(4, 4), heads=8,
        head_in=(64, 192, 256), head_embed=(128, 160)),
}


class FusionBlock(nn.Module):
    """SeaFormer's LightHead fusion: local 1x1 ConvBN * up(hsigmoid(global 1x1 ConvBN))."""

    def __init__(self, local_ch: int, global_ch: int, embed: int) -> None:
        super().__init__()
        self.local_embedding = ConvBN(local_ch, embed)
        self.global_act = ConvBN(global_ch, embed)
        self.gate = HardSigmoid6()

    def forward(self, local: torch.Tensor, global_: torch.Tensor) -> torch.Tensor:
        return self.local_embedding(local) * resize(self.gate(self.global_act(global_)), local.shape[-2:])


class SeaFormer(nn.Module):
    """Five MV2 stages, squeeze-enhanced axial transformers after stages 4 and 5, LightHead."""

    def __init__(self, variant: SeaFormerVariant, num_classes: int = 150) -> None:
        super().__init__()
        self.stem = ConvBN(3, variant.channels[0], 3, 2, act=nn.ReLU)
        self.stages = nn.ModuleList(mv2_stage(cfg, variant.channels[i])[0] for i, cfg in enumerate(variant.cfgs))
        self.trans = nn.ModuleList(
            sea_stage(variant.depths[i], variant.channels[4 + i], variant.key_dims[i], variant.heads,
                      variant.mlp_ratios[i]) for i in range(2))
        e0, e1 = variant.head_embed
        self.fuse = nn.ModuleList([FusionBlock(variant.head_in[0], variant.head_in[1], e0),
                                   FusionBlock(e0, variant.head_in[2], e1)])
        self.head = SegHead(e1, num_classes, dw=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        outs = []
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i == 1:
                outs.append(x)  # the shared 1/8 detail feature
            if i >= 3:
                x = self.trans[i - 3](x)
                outs.append(x)
        detail = outs[0]
        for fuse, global_ in zip(self.fuse, outs[1:]):
            detail = fuse(detail, global_)
        return self.head(detail)


# --------------------------------------------------------------------------- PP-MobileSeg


MV3Cfg = list[tuple[int, int, int, bool, str, int]]  # (k, exp, c, SE, act, stride)


@dataclass(frozen=True)
class StrideFormerVariant:
    cfgs: tuple[MV3Cfg, ...]
    channels: tuple[int, ...]
    embed_dims: tuple[int, int]
    depths: tuple[int, int]
    heads: int
    aam: str  # "AAM" (fuses at 1/16) or "AAMSx8" (at 1/8)
    aam_in: tuple[int, int, int]
    key_dims: tuple[int, int] = (16, 24)
    mlp_ratios: tuple[float, float] = (2, 4)
    aam_out: int = 256


_R, _H = "relu", "hardswish"
STRIDEFORMER_VARIANTS = {
    "tiny": StrideFormerVariant(
        cfgs=([(3, 16, 16, True, _R, 1), (3, 64, 32, False, _R, 2), (3, 48, 24, False, _R, 1)],
              [(5, 96, 32, True, _H, 2), (5, 96, 32, True, _H, 1)],
              [(5, 160, 64, True, _H, 2), (5, 160, 64, True, _H, 1)],
              [(3, 384, 128, True, _H, 2), (3, 384, 128, True, _H, 1)]),
        channels=(16, 24, 32, 64, 128), embed_dims=(64, 128), depths=(2, 2), heads=4, aam="AAM",
        aam_in=(32, 64, 128)),
    "base": StrideFormerVariant(
        cfgs=([(3, 16, 16, True, _R, 1), (3, 64, 32, False, _R, 2), (3, 96, 32, False, _R, 1)],
              [(5, 128, 64, True, _H, 2), (5, 240, 64, True, _H, 1)],
              [(5, 384, 128, True, _H, 2), (5, 384, 128, True, _H, 1)],
              [(5, 768, 192, True, _H, 2), (5, 768, 192, True, _H, 1)]),
        channels=(16, 32, 64, 128, 192), embed_dims=(128, 192), depths=(3, 3), heads=8, aam="AAMSx8",
        aam_in=(64, 128, 192)),
}


def mv3_stage(cfg: MV3Cfg, cin: int) -> nn.Sequential:
    blocks = []
    for k, e, c, se, act, s in cfg:
        blocks.append(MV3Block(cin, k, make_divisible(e), make_divisible(c), se, act, s, style="paddle"))
        cin = make_divisible(c)
    return nn.Sequential(*blocks)


class AggregatedAttention(nn.Module):
    """PP-MobileSeg's AAM: sigmoid 'votes' of the three features gate the detail, plus the semantics.

    AAM (Tiny, at 1/16):  a0 * a1 * a2 * (e0 + e1) + e2
    AAMSx8 (Base, at 1/8): a1 * a2 * e0 + e2     (no vote from input 0, no embedding of input 1)
    where e_i = 1x1 ConvBN(x_i), a_i = sigmoid(1x1 ConvBN(x_i)), all resized to the working scale.
    """

    def __init__(self, kind: str, cins: tuple[int, int, int], cout: int) -> None:
        super().__init__()
        self.kind = kind
        embed_ids, act_ids = ((0, 1, 2), (0, 1, 2)) if kind == "AAM" else ((0, 2), (1, 2))
        self.embed = nn.ModuleDict({str(i): ConvBN(cins[i], cout) for i in embed_ids})
        self.act_embed = nn.ModuleDict({str(i): ConvBN(cins[i], cout) for i in act_ids})

    def _vote(self, i: int, x: torch.Tensor, size: torch.Size) -> torch.Tensor:
        return resize(torch.sigmoid(self.act_embed[str(i)](x)), size)

    def _embed(self, i: int, x: torch.Tensor, size: torch.Size) -> torch.Tensor:
        return resize(self.embed[str(i)](x), size)

    def forward(self, x8: torch.Tensor, x16: torch.Tensor, x32: torch.Tensor) -> torch.Tensor:
        if self.kind == "AAM":
            h, w = x8.shape[-2:]
            low1 = resize(x8, (h // 2, w // 2))
            size = low1.shape[-2:]
            low2 = resize(x16, size)
            votes = self._vote(0, low1, size) * self._vote(1, low2, size) * self._vote(2, x32, size)
            return votes * (self._embed(0, low1, size) + self._embed(1, low2, size)) + self._embed(2, x32, size)
        size = x8.shape[-2:]
        low2 = resize(x16, size)
        votes = self._vote(1, low2, size) * self._vote(2, x32, size)
        return votes * self._embed(0, x8, size) + self._embed(2, x32, size)


class PPMobileSeg(nn.Module):
    """StrideFormer (MV3 stages + strided sea attention after stages 3 and 4), AAM, and the light head."""

    def __init__(self, variant: StrideFormerVariant, num_classes: int = 150) -> None:
        super().__init__()
        self.stem = ConvBN(3, variant.channels[0], 3, 2, act=nn.Hardswish)
        self.stages = nn.ModuleList(mv3_stage(cfg, variant.channels[i]) for i, cfg in enumerate(variant.cfgs))
        self.trans = nn.ModuleList(
            sea_stage(variant.depths[i], variant.embed_dims[i], variant.key_dims[i], variant.heads,
                      variant.mlp_ratios[i], stride=True) for i in range(2))
        self.aam = AggregatedAttention(variant.aam, variant.aam_in, variant.aam_out)
        self.head = SegHead(variant.aam_out, num_classes, dw=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        outs = []
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i == 1:
                outs.append(x)
            if i >= 2:
                x = self.trans[i - 2](x)
                outs.append(x)
        return self.head(self.aam(*outs))
