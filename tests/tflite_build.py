"""Write small .tflite files for tests with the flatbuffer schema code LiteRT ships.

No installed package converts models to TFLite here (ai-edge-litert only runs them), so tests
build the flatbuffer directly; each file is then loaded and run by the real interpreter to
prove it is a valid model with the declared shapes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as s

TYPES = {np.dtype("float32"): s.TensorType.FLOAT32, np.dtype("float16"): s.TensorType.FLOAT16,
         np.dtype("int32"): s.TensorType.INT32, np.dtype("int8"): s.TensorType.INT8}


@dataclass
class Graph:
    """Tensors and ops of one subgraph, built up by the test."""

    tensors: list = field(default_factory=list)
    buffers: list = field(default_factory=lambda: [s.BufferT()])  # buffer 0: the empty buffer
    ops: list = field(default_factory=list)
    codes: list = field(default_factory=list)

    def tensor(self, name: str, shape: list[int], dtype: str = "float32", data: np.ndarray | None = None,
               scale: float | None = None) -> int:
        t = s.TensorT()
        t.name, t.shape, t.type = name, list(shape), TYPES[np.dtype(dtype)]
        t.buffer = 0
        if data is not None:
            b = s.BufferT()
            b.data = np.frombuffer(np.ascontiguousarray(data, dtype=dtype).tobytes(), dtype=np.uint8)
            self.buffers.append(b)
            t.buffer = len(self.buffers) - 1
        if scale is not None:
            q = s.QuantizationParametersT()
            q.scale, q.zeroPoint = [scale], [0]
            t.quantization = q
        self.tensors.append(t)
        return len(self.tensors) - 1

    def weight(self, name: str, shape: list[int], seed: int = 0) -> int:
        data = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
        return self.tensor(name, shape, data=data)

    def op(self, code: int, inputs: list[int], outputs: list[int], options_type: int = 0,
           options: object = None, custom: str | None = None) -> None:
        key = (code, custom)
        if key not in self.codes:
            self.codes.append(key)
        o = s.OperatorT()
        o.opcodeIndex, o.inputs, o.outputs = self.codes.index(key), inputs, outputs
        o.builtinOptionsType, o.builtinOptions = options_type, options
        self.ops.append(o)

    def build(self, inputs: list[int], outputs: list[int]) -> bytes:
        sub = s.SubGraphT()
        sub.tensors, sub.operators, sub.inputs, sub.outputs, sub.name = self.tensors, self.ops, inputs, outputs, "main"
        model = s.ModelT()
        model.version, model.description, model.subgraphs, model.buffers = 3, "segbench-tests", [sub], self.buffers
        model.operatorCodes = []
        for code, custom in self.codes:
            oc = s.OperatorCodeT()
            oc.builtinCode, oc.deprecatedBuiltinCode, oc.version = code, min(code, 127), 1
            oc.customCode = custom
            model.operatorCodes.append(oc)
        b = flatbuffers.Builder(1024)
        b.Finish(model.Pack(b), file_identifier=b"TFL3")
        return bytes(b.Output())


def conv_options(stride: int = 1, dilation: int = 1, padding: int = s.Padding.SAME) -> s.Conv2DOptionsT:
    o = s.Conv2DOptionsT()
    o.padding, o.strideW, o.strideH, o.dilationWFactor, o.dilationHFactor = padding, stride, stride, dilation, dilation
    return o


def depthwise_options(multiplier: int = 1) -> s.DepthwiseConv2DOptionsT:
    o = s.DepthwiseConv2DOptionsT()
    o.padding, o.strideW, o.strideH, o.depthMultiplier = s.Padding.SAME, 1, 1, multiplier
    o.dilationWFactor = o.dilationHFactor = 1
    return o
