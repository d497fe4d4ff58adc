"""Memory of `segbench eval` stays flat with the number of images.

Writes an ADE20K-layout dataset of N 512x512 JPEG images with random-block labels, builds an
output-stride-4 ONNX model (average pool 4x4, 1x1 conv to the classes: [1,C,128,128] logits, so
every image goes through the bilinear resize + argmax path), evaluates it through the same
``evaluate`` loop the CLI uses, and prints the peak RSS after the first 50 images and after all N.
Flat memory means a ratio of about 1.00.

Run: python bench/eval_memory.py [--images 500] [--format ade20k32|ade20k]
(ade20k32, the MLPerf Mobile setting, takes ~2 minutes on 2 cores; ade20k's 150 classes ~5x longer.)
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

from segbench.accuracy.datasets import open_dataset
from segbench.accuracy.evaluate import evaluate
from segbench.inputs import PRESETS
from segbench.runners.host import runtime_for

SIZE = 512
CHECKPOINT = 50


def build_model(path: Path, classes: int) -> None:
    rng = np.random.default_rng(0)
    weights = numpy_helper.from_array(rng.standard_normal((classes, 3, 1, 1)).astype(np.float32), "w")
    nodes = [helper.make_node("AveragePool", ["image"], ["pooled"], kernel_shape=[4, 4], strides=[4, 4]),
             helper.make_node("Conv", ["pooled", "w"], ["logits"], kernel_shape=[1, 1])]
    graph = helper.make_graph(nodes, "os4", [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, SIZE, SIZE])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, classes, SIZE // 4, SIZE // 4])],
                              [weights])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)


def write_dataset(root: Path, n: int) -> None:
    rng = np.random.default_rng(1)
    images, labels = root / "images" / "validation", root / "annotations" / "validation"
    images.mkdir(parents=True)
    labels.mkdir(parents=True)
    for i in range(n):
        blocks = rng.integers(0, 151, size=(16, 16), dtype=np.uint8)
        label = np.kron(blocks, np.ones((SIZE // 16, SIZE // 16), dtype=np.uint8))
        noise = rng.integers(0, 256, size=(SIZE, SIZE, 3), dtype=np.uint8)
        Image.fromarray(noise).save(images / f"ADE_val_{i:08d}.jpg", quality=90)
        Image.fromarray(label).save(labels / f"ADE_val_{i:08d}.png")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--format", choices=("ade20k32", "ade20k"), default="ade20k32")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        write_dataset(root / "ADEChallengeData2016", args.images)
        dataset = open_dataset(args.format, root)
        build_model(root / "m.onnx", dataset.label_map.num_classes)
        print(f"wrote {args.images} images {SIZE}x{SIZE} ({args.format}, {dataset.label_map.num_classes} classes) "
              f"in {time.perf_counter() - t0:.1f} s")
        session = runtime_for("onnxruntime").open_session(str(root / "m.onnx"), 2)
        marks: dict[int, float] = {}

        def on_image(i: int) -> None:
            if i in (CHECKPOINT, args.images):
                marks[i] = peak_rss_mb()

        outcome = evaluate(session, str(root / "m.onnx"), dataset, PRESETS["paddleseg"], on_image=on_image)
    per_image = outcome.seconds / outcome.images
    print(f"evaluated {outcome.images} images in {outcome.seconds:.1f} s ({per_image * 1000:.0f} ms/image)")
    print(f"peak RSS after {CHECKPOINT:4d} images: {marks[CHECKPOINT]:7.1f} MB")
    print(f"peak RSS after {args.images:4d} images: {marks[args.images]:7.1f} MB")
    print(f"ratio: {marks[args.images] / marks[CHECKPOINT]:.3f}")


if __name__ == "__main__":
    main()
