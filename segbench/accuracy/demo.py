"""A demo dataset and model to try `segbench eval` on (`segbench eval --demo DIR`), also what the tests build.

The models read the red channel R of a ``raw``-normalised image (pixel values 0..255) and score
class c with ``R == c`` (one-hot), so the predicted class of a pixel is its red value: a dataset
paints the prediction it wants into the image and the label it wants into the label PNG, and the
scores are known by hand (below).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

# The hand-checked case (class ids; -1 = an ignored label pixel). Per class, label vs prediction:
# class 0: 4 label px, predicted at 5 (one in class 1's area): IoU 4/5, acc 4/4
# class 1: 4 label px, 3 predicted right, 1 as class 0:        IoU 3/4, acc 3/4
# class 2: 4 label px, predicted there and on 4 ignored px:    IoU 4/4, acc 4/4
# mIoU (0.8 + 0.75 + 1) / 3 = 0.85; pixel acc 11/12; mean acc (1 + 0.75 + 1) / 3 = 11/12
LABEL = np.array([[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, -1, -1], [2, 2, -1, -1]])
PRED = np.array([[0, 0, 1, 1], [0, 0, 0, 1], [2, 2, 2, 2], [2, 2, 2, 2]])
MIOU, PIXEL_ACC, MEAN_ACC = 0.85, 11 / 12, 11 / 12
PER_CLASS_IOU = (0.8, 0.75, 1.0)


def image_for(pred: np.ndarray) -> np.ndarray:
    """An RGB image whose red channel is the class the models will predict (green/blue arbitrary)."""
    img = np.zeros((*pred.shape, 3), dtype=np.uint8)
    img[..., 0] = pred
    img[..., 1] = 200
    img[..., 2] = np.arange(pred.size).reshape(pred.shape) % 251
    return img


def build_model(path: Path, num_classes: int, head: str = "scores", stride: int = 1,
                size: tuple[int, int] | None = None) -> Path:
    """One-hot scores [1,C,H/stride,W/stride] (head="scores") or their ArgMax [1,1,...] int64 (head="argmax")."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    values = numpy_helper.from_array(np.arange(num_classes, dtype=np.float32).reshape(1, num_classes, 1, 1), "values")
    consts = [
        values,
        numpy_helper.from_array(np.array([0], dtype=np.int64), "c0"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "c1"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "ax1"),
        numpy_helper.from_array(np.array([0, 0], dtype=np.int64), "s0"),
        numpy_helper.from_array(np.array([2 ** 31 - 1] * 2, dtype=np.int64), "sbig"),
        numpy_helper.from_array(np.array([2, 3], dtype=np.int64), "axes23"),
        numpy_helper.from_array(np.array([stride, stride], dtype=np.int64), "steps"),
    ]
    nodes = [
        helper.make_node("Slice", ["image", "c0", "c1", "ax1"], ["red"]),
        helper.make_node("Slice", ["red", "s0", "sbig", "axes23", "steps"], ["red_s"]),
        helper.make_node("Equal", ["red_s", "values"], ["hit"]),
        helper.make_node("Cast", ["hit"], ["scores"], to=TensorProto.FLOAT),
    ]
    h, w = size or ("h", "w")
    oh, ow = (h // stride, w // stride) if size else ("oh", "ow")
    if head == "argmax":
        nodes.append(helper.make_node("ArgMax", ["scores"], ["out"], axis=1, keepdims=1))
        out = helper.make_tensor_value_info("out", TensorProto.INT64, [1, 1, oh, ow])
    else:
        nodes.append(helper.make_node("Identity", ["scores"], ["out"]))
        out = helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, num_classes, oh, ow])
    graph = helper.make_graph(nodes, "onehot_red", [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, h, w])],
                              [out], consts)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="segbench-demo")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, path)
    return path


def upscale(a: np.ndarray, k: int) -> np.ndarray:
    return np.repeat(np.repeat(a, k, axis=0), k, axis=1)


def save_png(path: Path, array: np.ndarray, palette: bool = False) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    data = np.ascontiguousarray(array, dtype=np.uint8)
    if palette:  # VOC SegmentationClass PNGs are palette images: the indices are the classes
        img = Image.frombytes("P", (data.shape[1], data.shape[0]), data.tobytes())
        img.putpalette([v for i in range(256) for v in (i, 255 - i, (7 * i) % 256)])
    else:
        img = Image.fromarray(data)
    img.save(path)


# Raw label value of each class id per layout, and raw values that are ignored.
CITYSCAPES_LABEL_ID = {0: 7, 1: 8, 2: 11}
NUM_CLASSES = {"ade20k": 150, "ade20k32": 32, "cityscapes": 19, "voc": 21}
# Class id of the pattern's classes 0, 1, 2 in each layout (ADE20K-32's class 0 is not scored, so use 1..3).
CLASS_OFFSET = {"ade20k": 0, "ade20k32": 1, "cityscapes": 0, "voc": 0}


def _raw_label(fmt: str, label: np.ndarray) -> np.ndarray:
    """The pattern's label (class ids 0..2, -1 ignored) as the layout stores it."""
    ignored = label < 0
    alt = np.zeros_like(ignored)
    alt[ignored] = np.arange(int(ignored.sum())) % 2 == 1  # every other ignored pixel uses a second ignored value
    if fmt == "ade20k":
        return np.where(ignored, 0, label + 1)
    if fmt == "ade20k32":
        return np.where(ignored, np.where(alt, 77, 0), label + 1)  # raw 1..3 are classes 1..3; 0 and >=32 ignored
    if fmt == "cityscapes":
        ids = np.vectorize(lambda c: CITYSCAPES_LABEL_ID.get(int(c), 0))(label)
        return np.where(ignored, np.where(alt, 9, 0), ids)  # 0 unlabeled, 9 parking: both ignored
    return np.where(ignored, 255, label)  # voc


def write_dataset(root: Path, fmt: str, pairs: list[tuple[np.ndarray, np.ndarray]]) -> Path:
    """A dataset in ``fmt``'s layout under ``root`` holding (label, prediction) pattern pairs; returns --dataset."""
    off = CLASS_OFFSET[fmt]
    for i, (label, pred) in enumerate(pairs):
        image = image_for(pred + off)
        raw = _raw_label(fmt, label)
        if fmt in ("ade20k", "ade20k32"):
            base = root / "ADEChallengeData2016"
            save_png(base / "images" / "validation" / f"ADE_val_{i:08d}.png", image)
            save_png(base / "annotations" / "validation" / f"ADE_val_{i:08d}.png", raw)
        elif fmt == "cityscapes":
            stem = f"aachen_000000_{i:06d}"
            save_png(root / "leftImg8bit" / "val" / "aachen" / f"{stem}_leftImg8bit.png", image)
            save_png(root / "gtFine" / "val" / "aachen" / f"{stem}_gtFine_labelIds.png", raw)
        else:
            base = root / "VOCdevkit" / "VOC2012"
            save_png(base / "JPEGImages" / f"2007_{i:06d}.png", image)
            save_png(base / "SegmentationClass" / f"2007_{i:06d}.png", raw, palette=True)
    if fmt == "voc":
        lists = root / "VOCdevkit" / "VOC2012" / "ImageSets" / "Segmentation"
        lists.mkdir(parents=True, exist_ok=True)
        (lists / "val.txt").write_text("".join(f"2007_{i:06d}\n" for i in range(len(pairs))))
    return root


# The demo: the hand-checked pair twice (once transposed), each pixel made 2x2, in a Pascal VOC layout, and the
# one-hot model for VOC's 21 classes at the images' size (input [1, 3, 8, 8], scores [1, 21, 8, 8]: fixed, so `segbench
# run` times it with no --input, and 8x8 so its layout is plainly NCHW). `segbench eval` on it gives mIoU 85%, pixel
# and mean accuracy 91.67%, as the case does.
DEMO_PAIRS = tuple((upscale(a, 2), upscale(b, 2)) for a, b in ((LABEL, PRED), (LABEL.T, PRED.T)))
DEMO_MODEL = "onehot_voc.onnx"
DEMO_DATASET = "voc"


def write_demo(root: Path) -> tuple[Path, Path]:
    """The demo under ``root`` (created): (model file, dataset directory); files already there are replaced."""
    root.mkdir(parents=True, exist_ok=True)
    dataset = write_dataset(root / DEMO_DATASET, "voc", [(a, b) for a, b in DEMO_PAIRS])
    model = build_model(root / DEMO_MODEL, NUM_CLASSES["voc"], size=DEMO_PAIRS[0][0].shape)
    return model, dataset
