"""The zoo's models as data: names, published figures and the reference code's counts. No torch here.

Zoo I, PP-MobileSeg's comparison. Published figures: PaddleSeg configs/pp_mobileseg/README.md,
"Compare with SOTA" (ADE20K, 512x512; latency with the final argmax on a Xiaomi MI 9, Snapdragon 855,
Paddle Lite, 1 thread; https://github.com/PaddlePaddle/PaddleSeg/blob/a5a7fe2a/configs/pp_mobileseg/README.md,
and PaddleSeg commit d7975e7c for TopFormer-Tiny, which that table lacks). Reference counts: the reference code (PaddleSeg 2.8.0,
fudan-zvg/SeaFormer) with random init and 150 classes, trainable parameters; GFLOPs from paddle.flops
at 512x512 (docs/zoo.md).

Zoo II, other mobile segmentation tables: TI edgeai-torchvision's edgeailite models (its semantic
segmentation README, "Results": GigaMACs and mIoU), MLPerf Mobile's DeepLabv3 (mlcommons README: the
setup only) and MOSAIC (TF Hub google/mosaic/mobilenetmultiavgseg/2: Cityscapes mIoU).
Sizes are (height, width), as the input tensor is laid out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from segbench.errors import UsageError

HEADS = ("logits", "argmax", "vim")
NUM_CLASSES = 150  # zoo I (ADE20K); zoo II models carry their own
PUBLISHED_SIZE = 512
_DEVICE = "Xiaomi MI 9 (Snapdragon 855)"
_SOURCE = "PaddleSeg configs/pp_mobileseg/README.md, Compare with SOTA"
TI_SOURCE = "TI edgeai-torchvision docs/pixel2pixel/Semantic_Segmentation.md"
MLPERF_SOURCE = "mlcommons mobile_models DeepLabv3 README (ADE20K, 32 classes)"
MOSAIC_SOURCE = "TF Hub google/mosaic/mobilenetmultiavgseg/2"

Size = tuple[int, int]  # (height, width)


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
    num_classes: int = NUM_CLASSES
    dataset: str = "ADE20K"
    input_size: Size = (PUBLISHED_SIZE, PUBLISHED_SIZE)  # the published setting
    # Input sides must be multiples of this (the net's total downsampling) and at least min_side.
    size_multiple: int = 64
    min_side: int = 64
    device: str | None = _DEVICE  # where the published figures were measured; None: device-free (MACs, mIoU)
    source: str = _SOURCE

    def published_entry(self) -> dict[str, Any]:
        entry = {**self.published, "source": self.published.get("source", self.source)}
        if self.device:
            entry["device"] = self.device
        return entry


ZOO1: tuple[ZooModel, ...] = (
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


def _ti(name: str, title: str, backbone: str, dataset: str, classes: int, size: Size, gmacs: float,
        miou: float) -> ZooModel:
    # TI's models end in an argmax when exported for segmentation (output_type 'segmentation').
    return ZooModel(name, title, backbone, "argmax", 0, None, {"miou": miou, "gmacs": gmacs},
                    num_classes=classes, dataset=dataset, input_size=size, size_multiple=32, min_side=64,
                    device=None, source=TI_SOURCE)


# Zoo II. Titles of the TI models are the `model` names of their [[published]] rows in
# models_dir/manifest.toml (the table's own names; the dataset is appended outside ADE20K32, whose
# rows came first). reference_params 0: no reference-code count (no TF/TI runtime here); the
# published GMACs are the check.
_ADE32, _CITY = ("ADE20K32", 32, (512, 512)), ("Cityscapes", 19, (384, 768))
ZOO2: tuple[ZooModel, ...] = (
    _ti("ti_deeplabv3plus_mnv2_ade20k32", "MobileNetV2S16+DeepLabV3PlusEdgeAILite", "MobileNetV2 (OS16)", *_ADE32,
        3.28, 51.01),
    _ti("ti_unet_mnv2_ade20k32", "MobileNetV2+UNetEdgeAILite", "MobileNetV2", *_ADE32, 2.427, 49.95),
    _ti("ti_fpn_mnv2_ade20k32", "MobileNetV2+FPNEdgeAILite", "MobileNetV2", *_ADE32, 3.481, 50.72),
    _ti("ti_deeplabv3plus_mnv2_cityscapes", "MobileNetV2S16+DeepLabV3PlusEdgeAILite (Cityscapes)",
        "MobileNetV2 (OS16)", *_CITY, 3.54, 69.13),
    _ti("ti_unet_mnv2_cityscapes", "MobileNetV2+UNetEdgeAILite (Cityscapes)", "MobileNetV2", *_CITY, 2.20, 68.94),
    _ti("ti_fpn_mnv2_cityscapes", "MobileNetV2+FPNEdgeAILite (Cityscapes)", "MobileNetV2", *_CITY, 3.84, 70.39),
    # MLPerf Mobile v1's segmentation model: the README gives the setup, no figures; its tflite ends in argmax.
    ZooModel("mlperf_deeplabv3_mnv2", "DeepLabv3-MobileNetV2 (MLPerf)", "MobileNetV2 OS16", "argmax", 0, None,
             {"note": "setup only (no figures): output stride 16, decoder output stride 4, 512x512, 32 classes"},
             num_classes=32, dataset="ADE20K32", input_size=(512, 512), size_multiple=16, min_side=64, device=None,
             source=MLPERF_SOURCE),
    # MOSAIC as TF Hub serves it: full-resolution logits out (output_key 'logits').
    ZooModel("mosaic_mnmultiavgseg_cityscapes", "MOSAIC-MobileNetMultiAVGSeg", "MobileNetMultiAVGSeg", "logits", 0,
             None, {"miou": 77.24}, num_classes=19, dataset="Cityscapes", input_size=(1024, 2048), size_multiple=16,
             min_side=256, device=None, source=MOSAIC_SOURCE),
)
MODELS = ZOO1 + ZOO2
BY_NAME = {m.name: m for m in MODELS}
# The zoo models PaddleSeg 2.8.0 has classes for: `zoo export --format paddle|nb` builds these with PaddleSeg itself
# (segbench/zoo/paddle_export.py). SeaFormer is not in the 2.8.0 wheel; zoo II is TF/TI code.
PADDLESEG_CLASSES = ("lraspp_mobilenetv3_large", "mobileseg_base", "topformer_tiny", "topformer_base",
                     "pp_mobileseg_tiny", "pp_mobileseg_base")


def get(name: str) -> ZooModel:
    try:
        return BY_NAME[name]
    except KeyError:
        raise UsageError(f"no zoo model named {name!r}", hint=f"choose from {', '.join(BY_NAME)}") from None


def as_size(size: int | Size) -> Size:
    """(height, width) from a side or a pair."""
    return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))


def size_text(size: Size) -> str:
    """'256' for a square, '256x512' (height x width) otherwise."""
    return str(size[0]) if size[0] == size[1] else f"{size[0]}x{size[1]}"


def export_stem(model: ZooModel, head: str, size: int | Size) -> str:
    """File stem: the model's name for its published head and size, else with the head and size appended."""
    parts = [model.name]
    if head != model.default_head:
        parts.append(head)
    if as_size(size) != model.input_size:
        parts.append(size_text(as_size(size)))
    return "_".join(parts)


def export_title(model: ZooModel, head: str, size: int | Size) -> str:
    """The name in records and reports, e.g. 'PP-MobileSeg-Base' or 'PP-MobileSeg-Base [logits] @256'."""
    title = model.title
    if head != model.default_head:
        title += f" [{head}]"
    if as_size(size) != model.input_size:
        title += f" @{size_text(as_size(size))}"
    return title


def check_size(model: ZooModel, size: Size) -> None:
    """A usage error unless both sides are multiples of the model's downsampling and large enough."""
    h, w = size
    m = model.size_multiple
    if h % m or w % m or min(h, w) < model.min_side:
        raise UsageError(f"--size {size_text(size)}: {model.name} needs sides that are multiples of {m}, "
                         f"at least {model.min_side}", hint=f"its published size is {size_text(model.input_size)}")
