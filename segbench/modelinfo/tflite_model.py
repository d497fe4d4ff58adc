"""TFLite: read the flatbuffer itself (no interpreter), with the schema accessors LiteRT ships.

ai_edge_litert.schema_py_generated is the code flatc generates from LiteRT's own schema.fbs,
in the package segbench already depends on; it knows every current op code, and reading
through it needs no interpreter (so models with custom ops the runtime lacks still inspect).
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

from segbench.errors import ModelError
from segbench.model import TensorInfo
from segbench.modelinfo import count
from segbench.modelinfo.count import Tally
from segbench.modelinfo.io import guess_layout

ELEMENTWISE_OPS = {
    "ADD", "SUB", "MUL", "DIV", "RELU", "RELU6", "RELU_N1_TO_1", "RELU_0_TO_1", "LOGISTIC", "TANH", "HARD_SWISH",
    "PRELU", "LEAKY_RELU", "MAXIMUM", "MINIMUM", "SQRT", "RSQRT", "EXP", "POW", "SQUARED_DIFFERENCE", "ABS", "NEG",
    "GELU", "ELU", "SOFTMAX", "LOG_SOFTMAX", "SQUARE", "FLOOR_DIV", "ADD_N",
}
# Ops whose one-element constant inputs are arithmetic constants, not weights.
ARITHMETIC_OPS = {"ADD", "SUB", "MUL", "DIV", "POW", "MAXIMUM", "MINIMUM"}
POOL_OPS = {"AVERAGE_POOL_2D", "MAX_POOL_2D", "L2_POOL_2D"}
RESIZE_MODE = {"RESIZE_BILINEAR": "bilinear", "RESIZE_NEAREST_NEIGHBOR": "nearest"}
# MediaPipe's transposed convolution with bias (a custom op): input, weights [O, kH, kW, I], bias.
CUSTOM_TRANSPOSE_CONV = "Convolution2DTransposeBias"


def _schema() -> Any:
    try:
        from ai_edge_litert import schema_py_generated
    except ImportError:
        from segbench.errors import RuntimeUnavailable

        raise RuntimeUnavailable("reading TFLite files needs ai-edge-litert",
                                 hint="pip install ai-edge-litert") from None
    return schema_py_generated


def _names(enum_cls: type) -> dict[int, str]:
    return {v: k for k, v in vars(enum_cls).items() if isinstance(v, int) and not k.startswith("_")}


class _Graph:
    """The main subgraph of a model, with tensor shapes and names resolved once."""

    def __init__(self, path: Path, data: bytes) -> None:
        s = _schema()
        if len(data) < 8 or not s.Model.ModelBufferHasIdentifier(data, 0):
            raise ModelError(f"{path}: not a TFLite model (no TFL3 file identifier)")
        self.path, self.data, self.s = path, data, s
        self.model = s.Model.GetRootAs(data, 0)
        self.sub = self.model.Subgraphs(0)
        self.types = {k: v.lower() for k, v in _names(s.TensorType).items()}
        self.builtins = _names(s.BuiltinOperator)
        self.tensors = [self.sub.Tensors(i) for i in range(self.sub.TensorsLength())]
        self.shapes = [tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else () for t in self.tensors]
        for i in range(1, self.model.BuffersLength()):  # every buffer, used by a tensor or not
            self.buffer_size(i)

    def op_name(self, op: Any) -> str:
        code = self.model.OperatorCodes(op.OpcodeIndex())
        # Codes above 127 live in builtin_code; older files only fill deprecated_builtin_code.
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        if builtin == self.s.BuiltinOperator.CUSTOM:
            return (code.CustomCode() or b"CUSTOM").decode("utf-8", "replace")
        return self.builtins.get(builtin, f"BUILTIN_{builtin}")

    def shape(self, index: int) -> tuple[int, ...] | None:
        return self.shapes[index] if 0 <= index < len(self.shapes) else None

    def buffer_size(self, index: int) -> int:
        """Bytes of data in a buffer (0 for none: a tensor computed at run time); checks the file holds them."""
        if index <= 0 or index >= self.model.BuffersLength():
            return 0
        buf = self.model.Buffers(index)
        if buf.Offset() > 1:  # models over 2 GB keep weights after the flatbuffer
            end, size = buf.Offset() + buf.Size(), buf.Size()
        else:
            o = buf._tab.Offset(4)
            if not o:
                return 0
            size = buf._tab.VectorLen(o)
            end = buf._tab.Vector(o) + size
        if end > len(self.data):
            raise ModelError(f"{self.path}: truncated TFLite file (weights end at byte {end}, file has {len(self.data)})")
        return size


def _tensor_info(g: _Graph, index: int) -> TensorInfo:
    t = g.tensors[index]
    sig = t.ShapeSignatureAsNumpy() if t.ShapeSignatureLength() else None
    shape = tuple(None if int(d) < 0 else int(d) for d in (sig if sig is not None else g.shapes[index]))
    q = t.Quantization()
    scale = float(q.ScaleAsNumpy()[0]) if q is not None and q.ScaleLength() else None
    zp = int(q.ZeroPointAsNumpy()[0]) if scale is not None and q.ZeroPointLength() else None
    return TensorInfo((t.Name() or b"").decode("utf-8", "replace"), shape, g.types.get(t.Type(), str(t.Type())),
                      guess_layout(shape), scale, zp)


def _consumers(g: _Graph) -> dict[int, set[str]]:
    """Tensor index -> names of the ops that read it."""
    readers: dict[int, set[str]] = {}
    for i in range(g.sub.OperatorsLength()):
        op = g.sub.Operators(i)
        for t in (op.InputsAsNumpy() if op.InputsLength() else ()):
            readers.setdefault(int(t), set()).add(g.op_name(op))
    return readers


def _count_params(g: _Graph, tally: Tally) -> None:
    seen: set[int] = set()
    readers = _consumers(g)
    for index, t in enumerate(g.tensors):
        if t.IsVariable() or t.Buffer() in seen or not g.buffer_size(t.Buffer()):
            continue
        if count.numel(g.shapes[index]) == 1 and readers.get(index) and readers[index] <= ARITHMETIC_OPS:
            continue  # a scalar constant of arithmetic (x * 0.5), not a learned weight
        seen.add(t.Buffer())
        dtype = g.types.get(t.Type(), "unknown")
        q = t.Quantization()
        quantized = q is not None and q.ScaleLength() > 0
        if dtype in count.FLOAT_DTYPES or dtype in count.QUANT_DTYPES or (quantized and dtype != "bool"):
            if not count.known(g.shapes[index]):  # a negative or zero dim: a damaged file
                tally.notes.append("weight tensors with a damaged shape (a dimension below 1) are not counted")
                continue
            tally.weight(dtype, count.numel(g.shapes[index]))


def _options(g: _Graph, op: Any, cls_name: str) -> Any | None:
    table = op.BuiltinOptions()
    if table is None:
        return None
    opts = getattr(g.s, cls_name)()
    opts.Init(table.Bytes, table.Pos)
    return opts


def _count_op(g: _Graph, op: Any, name: str, tally: Tally) -> None:
    ins = [int(i) for i in op.InputsAsNumpy()] if op.InputsLength() else []
    outs = [int(i) for i in op.OutputsAsNumpy()] if op.OutputsLength() else []
    shape = lambda k: g.shape(ins[k]) if k < len(ins) else None  # noqa: E731
    out = g.shape(outs[0]) if outs else None
    if name == "CONV_2D":  # filter [O, kH, kW, I/groups]
        w = shape(1)
        tally.macs(name, count.conv_macs(out, w[3], w[1:3]) if count.known(w) and count.known(out) else None)
    elif name == "DEPTHWISE_CONV_2D":  # filter [1, kH, kW, O]: one input channel per output
        w = shape(1)
        tally.macs(name, count.conv_macs(out, 1, w[1:3]) if count.known(w) and count.known(out) else None)
    elif name == "CONV_3D":  # filter [kD, kH, kW, I, O]
        w = shape(1)
        tally.macs(name, count.conv_macs(out, w[3], w[0:3]) if count.known(w) and count.known(out) else None)
    elif name in ("TRANSPOSE_CONV", CUSTOM_TRANSPOSE_CONV):  # weights [O, kH, kW, I]
        x, w = (shape(2), shape(1)) if name == "TRANSPOSE_CONV" else (shape(0), shape(1))
        ok = count.known(x) and count.known(w)
        tally.macs(name, count.conv_transpose_macs(x, w[0], w[1:3]) if ok else None)
    elif name == "FULLY_CONNECTED":  # weights [units, K]
        w = shape(1)
        tally.macs(name, count.matmul_macs(out, w[1]) if count.known(w) and count.known(out) else None)
    elif name == "BATCH_MATMUL":
        a, opts = shape(0), _options(g, op, "BatchMatMulOptions")
        k_axis = -2 if opts is not None and opts.AdjX() else -1
        tally.macs(name, count.matmul_macs(out, a[k_axis]) if count.known(a) and count.known(out) else None)
    elif name in POOL_OPS:
        opts = _options(g, op, "Pool2DOptions")
        tally.pool(name, out, (opts.FilterHeight(), opts.FilterWidth()) if opts is not None else None, shape(0))
    elif name == "MEAN":
        tally.pool(name, out, None, shape(0))
    elif name in RESIZE_MODE:
        tally.resize(name, out, RESIZE_MODE[name])
    elif name in ELEMENTWISE_OPS:
        tally.elementwise(name, out)


def read_io(path: Path) -> tuple[list[TensorInfo], list[TensorInfo]]:
    """(inputs, outputs) of the main subgraph."""
    try:
        g = _Graph(path, path.read_bytes())
        return _io(g)
    except (struct.error, IndexError, ValueError, TypeError, AttributeError, UnicodeDecodeError) as exc:
        raise _corrupt(path, exc) from None


def _io(g: _Graph) -> tuple[list[TensorInfo], list[TensorInfo]]:
    inputs = [_tensor_info(g, int(i)) for i in g.sub.InputsAsNumpy()] if g.sub.InputsLength() else []
    outputs = [_tensor_info(g, int(i)) for i in g.sub.OutputsAsNumpy()] if g.sub.OutputsLength() else []
    return inputs, outputs


def _corrupt(path: Path, exc: Exception) -> ModelError:
    reason = "an offset points past the end of the file" if isinstance(exc, (struct.error, IndexError)) else exc
    return ModelError(f"{path}: truncated or corrupt TFLite file ({reason})")


def read(path: Path, tally: Tally) -> tuple[str | None, str | None, list[TensorInfo], list[TensorInfo]]:
    """Count a TFLite model into ``tally``; returns (producer, version, inputs, outputs)."""
    data = path.read_bytes()
    try:
        g = _Graph(path, data)
        _count_params(g, tally)
        for i in range(g.sub.OperatorsLength()):
            op = g.sub.Operators(i)
            name = g.op_name(op)
            tally.op(name)
            with tally.guard(name):
                _count_op(g, op, name, tally)
        inputs, outputs = _io(g)
        description = g.model.Description()
        version = g.model.Version()
        subgraphs = g.model.SubgraphsLength()
    except (struct.error, IndexError, ValueError, TypeError, AttributeError, UnicodeDecodeError) as exc:
        raise _corrupt(path, exc) from None
    if subgraphs > 1:
        tally.notes.append(f"{subgraphs - 1} further subgraph(s) (control flow bodies) not counted")
    producer = description.decode("utf-8", "replace") if description else None
    return producer, f"TFLite schema {version}", inputs, outputs
