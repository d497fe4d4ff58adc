"""Building blocks shared by the zoo's definitions, in plain torch.nn.

Written from the papers and the hyperparameters in docs/zoo.md; module boundaries follow the
reference code where that decides the parameter count (which convs carry a bias, where a
BatchNorm sits), because the count is what the published tables compare.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

Act = Callable[[], nn.Module]


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round channels to a multiple of ``divisor`` without losing more than 10% (MobileNet rule)."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


class PaddleHardSigmoid(nn.Module):
    """Paddle's hardsigmoid(slope=0.2, offset=0.5); torch's Hardsigmoid has slope 1/6."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.clamp(x * 0.2 + 0.5, 0.0, 1.0)


ACTIVATIONS: dict[str, Act] = {
    "relu": nn.ReLU, "relu6": nn.ReLU6, "hardswish": nn.Hardswish,
    "hardsigmoid": nn.Hardsigmoid, "sigmoid": nn.Sigmoid,
}


class ConvBN(nn.Sequential):
    """Conv (no bias unless asked) + BatchNorm + optional activation; 'same' padding for odd kernels."""

    def __init__(self, cin: int, cout: int, k: int = 1, stride: int = 1, groups: int = 1,
                 dilation: int = 1, act: Act | None = None, conv_bias: bool = False) -> None:
        super().__init__()
        self.add_module("conv", nn.Conv2d(cin, cout, k, stride, dilation * (k - 1) // 2, dilation, groups,
                                          bias=conv_bias))
        self.add_module("bn", nn.BatchNorm2d(cout))
        if act is not None:
            self.add_module("act", act())


class SqueezeExcite(nn.Module):
    """Channel attention: global pool, 1x1 (bias) -> ReLU -> 1x1 (bias) -> gate, times the input."""

    def __init__(self, channels: int, squeeze: int, gate: Act) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, channels, 1)
        self.gate = gate()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = F.adaptive_avg_pool2d(x, 1)
        return x * self.gate(self.fc2(F.relu(self.fc1(s))))


class MV3Block(nn.Module):
    """MobileNetV3 inverted residual: [1x1 expand] -> kxk depthwise -> [SE] -> 1x1 project (+ skip).

    ``style`` picks the two reference conventions: "torchvision" (expand only when exp != cin,
    SE squeeze make_divisible(exp/4), hardsigmoid x/6+0.5) or "paddle" (always expand, SE squeeze
    exp//4, hardsigmoid 0.2x+0.5).
    """

    def __init__(self, cin: int, k: int, exp: int, cout: int, se: bool, act: str, stride: int,
                 dilation: int = 1, style: str = "torchvision") -> None:
        super().__init__()
        act_layer = ACTIVATIONS[act]
        layers: list[nn.Module] = []
        if exp != cin or style == "paddle":
            layers.append(ConvBN(cin, exp, 1, act=act_layer))
        layers.append(ConvBN(exp, exp, k, stride, groups=exp, dilation=dilation, act=act_layer))
        if se:
            if style == "paddle":
                layers.append(SqueezeExcite(exp, exp // 4, PaddleHardSigmoid))
            else:
                layers.append(SqueezeExcite(exp, make_divisible(exp / 4), nn.Hardsigmoid))
        layers.append(ConvBN(exp, cout, 1))
        self.body = nn.Sequential(*layers)
        self.skip = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        return x + y if self.skip else y


class MV2Block(nn.Module):
    """MobileNetV2 inverted residual as TopFormer/SeaFormer use it: hidden = round(cin * t), ReLU."""

    def __init__(self, cin: int, cout: int, k: int, stride: int, t: float) -> None:
        super().__init__()
        hidden = int(round(cin * t))
        layers: list[nn.Module] = []
        if t != 1:
            layers.append(ConvBN(cin, hidden, 1, act=nn.ReLU))
        layers += [ConvBN(hidden, hidden, k, stride, groups=hidden, act=nn.ReLU), ConvBN(hidden, cout, 1)]
        self.body = nn.Sequential(*layers)
        self.skip = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        return x + y if self.skip else y


def mv2_stage(cfg: list[tuple[int, float, int, int]], cin: int) -> tuple[nn.Sequential, int]:
    """MV2 blocks from (k, t, c, s) rows; returns the stage and its output channels."""
    blocks = []
    for k, t, c, s in cfg:
        cout = make_divisible(c)
        blocks.append(MV2Block(cin, cout, k, s, t))
        cin = cout
    return nn.Sequential(*blocks), cin


class ConvMLP(nn.Module):
    """The transformer MLP of TopFormer/SeaFormer/StrideFormer: 1x1 ConvBN -> dw3x3 (bias) -> act -> 1x1 ConvBN."""

    def __init__(self, dim: int, hidden: int, act: Act) -> None:
        super().__init__()
        self.fc1 = ConvBN(dim, hidden)
        self.dwconv = nn.Conv2d(hidden, hidden, 3, 1, 1, groups=hidden)
        self.act = act()
        self.fc2 = ConvBN(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.dwconv(self.fc1(x))))


def resize(x: torch.Tensor, size: tuple[int, int] | torch.Size) -> torch.Tensor:
    """Bilinear, half-pixel (align_corners=False): the resize every reference model uses."""
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


class HardSigmoid6(nn.Module):
    """relu6(x + 3) / 6, the 'h_sigmoid' of TopFormer/SeaFormer (same function as nn.Hardsigmoid)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu6(x + 3.0) / 6.0


class AxialPositionEmbedding(nn.Module):
    """A learned [1, dim, 16] embedding, resampled linearly to the axis length and added."""

    def __init__(self, dim: int, length: int = 16) -> None:
        super().__init__()
        self.pos = nn.Parameter(torch.randn(1, dim, length))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[-1]
        # Linear 1-D resampling done as bilinear on a [1, C, 1, L] map: ONNX Runtime's Resize
        # supports linear mode on 4-D inputs, not on 3-D ones.
        pos = resize(self.pos.unsqueeze(2), (1, n)).squeeze(2)
        return x + pos


class SeaAttention(nn.Module):
    """Squeeze-enhanced axial attention (SeaFormer), optionally strided (PP-MobileSeg's StrideFormer).

    Row and column attention on axis-squeezed q/k/v with axial position embeddings, a detail
    branch (dw3x3 + pw over the concatenated q/k/v), and out = hsigmoid(proj(v + row + col)) * detail.
    """

    def __init__(self, dim: int, key_dim: int, heads: int, attn_ratio: int, act: Act,
                 stride: bool = False) -> None:
        super().__init__()
        self.heads, self.scale = heads, key_dim ** -0.5
        nh_kd, self.dh = key_dim * heads, attn_ratio * key_dim * heads
        self.to_q, self.to_k, self.to_v = ConvBN(dim, nh_kd), ConvBN(dim, nh_kd), ConvBN(dim, self.dh)
        self.stride_conv = nn.Sequential(nn.Conv2d(dim, dim, 3, 2, 1, groups=dim), nn.BatchNorm2d(dim)) if stride else None
        self.proj = nn.Sequential(act(), ConvBN(self.dh, dim))
        self.proj_row = nn.Sequential(act(), ConvBN(self.dh, self.dh))
        self.proj_col = nn.Sequential(act(), ConvBN(self.dh, self.dh))
        self.pos_rowq, self.pos_rowk = AxialPositionEmbedding(nh_kd), AxialPositionEmbedding(nh_kd)
        self.pos_colq, self.pos_colk = AxialPositionEmbedding(nh_kd), AxialPositionEmbedding(nh_kd)
        self.dwconv = ConvBN(2 * self.dh, 2 * self.dh, 3, groups=2 * self.dh, act=act)
        self.pwconv = ConvBN(2 * self.dh, dim)
        self.gate = HardSigmoid6()

    def _axial(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """Attention along one squeezed axis: q, k [B, nh_kd, L], v [B, dh, L] -> [B, dh, L]."""
        b, _, n = q.shape
        qh = q.reshape(b, self.heads, -1, n).transpose(2, 3)
        kh = k.reshape(b, self.heads, -1, n)
        vh = v.reshape(b, self.heads, -1, n).transpose(2, 3)
        attn = torch.softmax(qh @ kh * self.scale, dim=-1)
        return (attn @ vh).transpose(2, 3).reshape(b, self.dh, n)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        full_size = x.shape[-2:]
        if self.stride_conv is not None:
            x = self.stride_conv(x)
        q, k, v = self.to_q(x), self.to_k(x), self.to_v(x)
        detail = self.pwconv(self.dwconv(torch.cat([q, k, v], dim=1)))
        row = self._axial(self.pos_rowq(q.mean(-1)), self.pos_rowk(k.mean(-1)), v.mean(-1))
        col = self._axial(self.pos_colq(q.mean(-2)), self.pos_colk(k.mean(-2)), v.mean(-2))
        mixed = v + self.proj_row(row.unsqueeze(-1)) + self.proj_col(col.unsqueeze(-2))
        out = self.gate(self.proj(mixed)) * detail
        return resize(out, full_size) if self.stride_conv is not None else out


class SeaBlock(nn.Module):
    """x + attn(x), then x + mlp(x) (drop-path is training-only and absent here)."""

    def __init__(self, dim: int, key_dim: int, heads: int, mlp_ratio: float, act: Act, stride: bool = False) -> None:
        super().__init__()
        self.attn = SeaAttention(dim, key_dim, heads, 2, act, stride)
        self.mlp = ConvMLP(dim, int(dim * mlp_ratio), act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(x)
        return x + self.mlp(x)


def sea_stage(depth: int, dim: int, key_dim: int, heads: int, mlp_ratio: float, stride: bool = False) -> nn.Sequential:
    return nn.Sequential(*[SeaBlock(dim, key_dim, heads, mlp_ratio, nn.ReLU6, stride) for _ in range(depth)])


class SegHead(nn.Module):
    """linear_fuse (1x1 ConvBN + ReLU, depthwise when ``dw``) -> dropout -> 1x1 classifier (bias)."""

    def __init__(self, channels: int, num_classes: int, dw: bool) -> None:
        super().__init__()
        self.linear_fuse = ConvBN(channels, channels, 1, groups=channels if dw else 1, act=nn.ReLU)
        self.dropout = nn.Dropout2d(0.1)
        self.conv_seg = nn.Conv2d(channels, num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_seg(self.dropout(self.linear_fuse(x)))
