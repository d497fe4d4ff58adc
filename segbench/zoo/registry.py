"""The zoo's models as data: names, published figures and the reference code's counts. No torch here.

Published figures: PaddleSeg configs/pp_mobileseg/README.md, "Compare with SOTA" (ADE20K, 512x512;
latency with the final argmax on a Xiaomi MI 9, Snapdragon 855, Paddle Lite, 1 thread; the seed copy
in /work/shared/seeds, and commit d7975e7c for TopFormer-Tiny, which the seed's table lacks).
Reference counts: the reference code (PaddleSeg 2.8.0, fudan-zvg/SeaFormer) with random init and
150 classes, trainable parameters; GFLOPs from paddle.flops at 512x512 (docs/zoo.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from segbench.errors import UsageError

HEADS = ("logits", "argmax", "vim")
NUM_CLASSES = 150
PUBLISHED_SIZE = 512
_DEVICE = "Xiaomi MI 9 (Snapdragon 855)"
_SOURCE = "PaddleSeg configs/pp_mobileseg/README.md, Compare with SOTA"


@dataclass(frozen=True)
class ZooModel:
    """One architecture of the comparison, as the manifest and `zoo list` describe it."""

    name: str  # zoo id, also the exported file's stem
    title: str  # the row name of the published table
    backbone: str
    # The head the published latency was measured with: argmax for the baselines,
    # vim for PP-MobileSeg (its README's benchmark model is the '_valid' VIM export).
    default_head: str
    reference_params: int  # trainable params of the reference code, 150 classes
    reference_gflops: float | None  # paddle.flops at 512x512 on the reference code
    published: dict[str, Any] = field(default_factory=dict)
    baseline: str | None = None  # the published row this one is compared against

    def published_entry(self) -> dict[str, Any]:
        return {**self.published, "device": _DEVICE, "source": self.published.get("source", _SOURCE)}


MODELS: tuple[ZooModel, ...] = (
    ZooModel("lraspp_mobilenetv3_large", "LR-ASPP", "MobileNetV3_large_x1_0", "argmax", 3_243_468, None,
             {"miou": 33.10, "latency_ms": 730.9, "params_m": 3.2}),
    ZooModel("mobileseg_base", "MobileSeg-Base", "MobileNetV3_large_x1_0", "argmax", 2_993_000, 1.23,
             {"miou": 33.26, "latency_ms": 391.5, "params_m": 2.85}),
    ZooModel("topformer_tiny", "TopFormer-Tiny", "TopTransformer-T", "argmax", 1_390_000, 0.56,
             {"miou": 32.46, "latency_ms": 490.3, "params_m": 1.41,
              "source": "PaddleSeg configs/pp_mobileseg/README.md @ d7975e7c, Compare with SOTA"}),
    ZooModel("topformer_base", "TopFormer-Base", "TopTransformer", "argmax", 5_063_000, 1.79,
             {"miou": 38.28, "latency_ms": 480.6, "params_m": 5.13}),
    ZooModel("seaformer_tiny", "SeaFormer-Tiny", "SeaFormer-T", "argmax", 1_667_000, 0.60,
             {"miou": 35.0, "latency_ms": 459.0, "params_m": 1.61}),
    ZooModel("seaformer_base", "SeaFormer-Base", "SeaFormer-B", "argmax", 8_606_000, 1.81,
             {"miou": 40.0, "latency_ms": 465.4, "params_m": 8.64,
              "source": _SOURCE + " (accuracy self-trained)"}),
    ZooModel("pp_mobileseg_tiny", "PP-MobileSeg-Tiny", "MobileSegNet-T", "vim", 1_492_000, 0.75,
             {"miou": 36.70, "latency_ms": 215.3, "params_m": 1.44}, baseline="SeaFormer-Tiny"),
    ZooModel("pp_mobileseg_base", "PP-MobileSeg-Base", "MobileSegNet-B", "vim", 5_944_000, 2.16,
             {"miou": 41.50, "latency_ms": 265.5, "params_m": 5.62}, baseline="SeaFormer-Base"),
)
BY_NAME = {m.name: m for m in MODELS}


def get(name: str) -> ZooModel:
    try:
        return BY_NAME[name]
    except KeyError:
        raise UsageError(f"no zoo model named {name!r}", hint=f"choose from {', '.join(BY_NAME)}") from None


def export_stem(model: ZooModel, head: str, size: int) -> str:
    """File stem: the model's name for its published head at 512, else with the head and size appended."""
    parts = [model.name]
    if head != model.default_head:
        parts.append(head)
    if size != PUBLISHED_SIZE:
        parts.append(str(size))
    return "_".join(parts)


def export_title(model: ZooModel, head: str, size: int) -> str:
    """The name in records and reports, e.g. 'PP-MobileSeg-Base' or 'PP-MobileSeg-Base [logits] @256'."""
    title = model.title
    if head != model.default_head:
        title += f" [{head}]"
    if size != PUBLISHED_SIZE:
        title += f" @{size}"
    return title
