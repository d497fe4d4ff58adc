"""Synthetic segmentation datasets and deterministic models for the eval tests.

The ONNX model, the hand-checked case and the dataset layouts are the package's own (segbench/accuracy/demo.py,
what `segbench eval --demo` writes); the Paddle and TFLite builds of the same prediction live here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from segbench.accuracy.demo import (  # noqa: F401  (re-exported for the tests)
    CITYSCAPES_LABEL_ID,
    CLASS_OFFSET,
    LABEL,
    MEAN_ACC,
    MIOU,
    NUM_CLASSES,
    PER_CLASS_IOU,
    PIXEL_ACC,
    PRED,
    build_model,
    image_for,
    save_png,
    upscale,
    write_dataset,
)


def build_paddle(path: Path, num_classes: int, size: tuple[int, int] | None = None) -> Path:
    """The same prediction as a Paddle program (``path``: the .pdmodel; its .pdiparams beside it): a 1x1 conv
    and a bias score class c with 2cR - c^2 = R^2 - (R - c)^2, whose argmax over c is R for R in 0..C-1.
    Input [-1, 3, -1, -1], scores [-1, C, -1, -1]; with ``size`` (height, width), [1, 3, h, w] and [1, C, h, w]."""
    from paddle_build import Program, params_file

    n, h, w = (1, *size) if size else (-1, -1, -1)
    c = np.arange(num_classes, dtype=np.float32)
    weights = np.zeros((num_classes, 3, 1, 1), np.float32)
    weights[:, 0, 0, 0] = 2 * c
    p = Program()
    p.var("feed", kind=9, persistable=True)
    p.var("fetch", kind=10, persistable=True)
    p.var("bias", [num_classes], persistable=True)
    p.var("conv_w", list(weights.shape), persistable=True)
    p.var("image", [n, 3, h, w])
    p.var("lin", [n, num_classes, h, w])
    p.var("scores", [n, num_classes, h, w])
    p.op("feed", {"X": ["feed"]}, {"Out": ["image"]}, col=0)
    p.op("conv2d", {"Input": ["image"], "Filter": ["conv_w"]}, {"Output": ["lin"]}, strides=[1, 1], paddings=[0, 0],
         groups=1, dilations=[1, 1], data_format="NCHW", padding_algorithm="EXPLICIT")
    p.op("elementwise_add", {"X": ["lin"], "Y": ["bias"]}, {"Out": ["scores"]}, axis=1)
    p.op("fetch", {"X": ["scores"]}, {"Out": ["fetch"]}, col=0)
    path.write_bytes(p.serialize())
    # Paddle saves persistable tensors sorted by name: bias, then conv_w.
    path.with_suffix(".pdiparams").write_bytes(params_file([-(c ** 2), weights]))
    return path


def build_tflite(path: Path, num_classes: int, size: tuple[int, int] = (8, 8), stride: int = 1) -> Path:
    """A one-op TFLite model (CONV_2D 1x1, NHWC) whose argmax is the red value: score_c = c * R - c^2 / 2.

    c * R - c^2 / 2 = (R^2 - (R - c)^2) / 2 is largest for the class c nearest to R, with a margin of 1/2,
    exact in float32 for R <= 255. Written with the flatbuffer schema module that ai-edge-litert ships.
    """
    import flatbuffers
    from ai_edge_litert import schema_py_generated as s

    h, w = size
    oh, ow = (h - 1) // stride + 1, (w - 1) // stride + 1
    c = np.arange(num_classes, dtype=np.float32)
    weights = np.zeros((num_classes, 1, 1, 3), dtype=np.float32)
    weights[:, 0, 0, 0] = c
    bias = -(c * c) / 2

    def tensor(name: str, shape: list[int], buffer: int) -> s.TensorT:
        t = s.TensorT()
        t.name, t.shape, t.type, t.buffer = name.encode(), shape, s.TensorType.FLOAT32, buffer
        return t

    def buffer(data: bytes | None = None) -> s.BufferT:
        b = s.BufferT()
        b.data = list(data) if data else None
        return b

    opts = s.Conv2DOptionsT()
    opts.padding, opts.strideW, opts.strideH = s.Padding.VALID, stride, stride
    op = s.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, [0, 1, 2], [3]
    op.builtinOptionsType, op.builtinOptions = s.BuiltinOptions.Conv2DOptions, opts
    graph = s.SubGraphT()
    graph.tensors = [tensor("image", [1, h, w, 3], 1), tensor("w", [num_classes, 1, 1, 3], 2),
                     tensor("b", [num_classes], 3), tensor("scores", [1, oh, ow, num_classes], 4)]
    graph.inputs, graph.outputs, graph.operators = [0], [3], [op]
    code = s.OperatorCodeT()
    code.builtinCode, code.deprecatedBuiltinCode, code.version = s.BuiltinOperator.CONV_2D, s.BuiltinOperator.CONV_2D, 1
    model = s.ModelT()
    model.version, model.operatorCodes, model.subgraphs = 3, [code], [graph]
    model.buffers = [buffer(), buffer(), buffer(weights.tobytes()), buffer(bias.astype(np.float32).tobytes()), buffer()]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    path.write_bytes(builder.Output())
    return path
