"""ONNX: weights from initializers and Constant nodes, shapes from onnx shape inference."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from segbench.errors import ModelError
from segbench.model import TensorInfo
from segbench.modelinfo import count
from segbench.modelinfo.count import Tally

# Inputs that are quantization scales / zero points, not weights, by op type.
QUANT_PARAM_INPUTS = {
    "QuantizeLinear": {1, 2}, "DequantizeLinear": {1, 2}, "QLinearConv": {1, 2, 4, 5, 6, 7},
    "QLinearMatMul": {1, 2, 4, 5, 6, 7}, "ConvInteger": {2, 3}, "MatMulInteger": {2, 3},
}
# Inputs that describe shapes, resampling or clipping bounds (float ones included), never weights.
SHAPE_INPUTS = {
    "Clip": {1, 2}, "Resize": {1, 2, 3}, "Upsample": {1}, "Reshape": {1}, "Expand": {1}, "Tile": {1}, "Slice": {1, 2, 3, 4},
    "Pad": {1, 3}, "ConstantOfShape": {0}, "Squeeze": {1}, "Unsqueeze": {1}, "Split": {1},
}
# Ops whose one-element constant inputs are arithmetic constants of a decomposed activation
# (x * clip(x + 3, 0, 6) / 6), not learned weights.
ARITHMETIC_OPS = {"Add", "Sub", "Mul", "Div", "Pow", "Max", "Min"}
# Integer inputs that are quantized weights (an int32 bias, a DequantizeLinear's x).
QUANT_WEIGHT_INPUTS = {"DequantizeLinear": {0}, "QLinearConv": {3, 8}, "QLinearMatMul": {3}}
# Index of the weight input of each convolution-like op.
CONV_WEIGHT = {"Conv": 1, "ConvInteger": 1, "QLinearConv": 3, "FusedConv": 1, "NhwcConv": 1}
MATMUL_OPS = {"MatMul", "MatMulInteger", "QLinearMatMul", "FusedMatMul"}
POOL_OPS = {"MaxPool", "AveragePool", "LpPool", "QLinearAveragePool"}
GLOBAL_POOL_OPS = {"GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool", "ReduceMean", "QLinearGlobalAveragePool"}
ELEMENTWISE_OPS = {
    "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Mean", "Sum", "Neg", "Abs", "Sqrt", "Exp", "Log", "Erf",
    "Relu", "LeakyRelu", "PRelu", "Clip", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Elu", "Selu", "Gelu",
    "Softplus", "Softsign", "Mish", "Reciprocal", "BatchNormalization", "Softmax", "LogSoftmax", "QLinearAdd",
    "QLinearMul", "QLinearSigmoid", "QLinearLeakyRelu",
}


def load(path: Path) -> Any:
    """The ModelProto without external weight data (inspection needs shapes, not values)."""
    import onnx

    try:
        return onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # DecodeError, ValueError, OSError... all mean "not an ONNX file"
        raise ModelError(f"{path}: not a readable ONNX model ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else 'truncated or corrupt'})") from None


def _fix_batch(model: Any) -> bool:
    """Take a symbolic batch (dim 0 of a graph input of rank 2 or more) as 1, so shapes propagate;
    True if any was."""
    initializers = {t.name for t in model.graph.initializer}
    changed = False
    for vi in model.graph.input:
        dims = vi.type.tensor_type.shape.dim
        if vi.name not in initializers and len(dims) >= 2 and not dims[0].HasField("dim_value"):
            dims[0].dim_value = 1
            changed = True
    return changed


def _infer(model: Any, tally: Tally) -> Any:
    """The model with inferred shapes; data propagation (shapes computed by Shape/Slice/Concat
    chains) first, then without it, then the shapes the file declares."""
    import onnx

    try:
        return onnx.shape_inference.infer_shapes(model, data_prop=True)
    except Exception:  # onnx raises InferenceError, ValueError (> 2 GB), RuntimeError...
        pass
    try:
        return onnx.shape_inference.infer_shapes(model)
    except Exception as exc:
        reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        tally.notes.append(f"shape inference failed ({reason}); declared shapes used")
        return model


def _shapes(model: Any) -> dict[str, tuple[int | None, ...]]:
    shapes: dict[str, tuple[int | None, ...]] = {}
    g = model.graph
    for vi in [*g.input, *g.value_info, *g.output]:
        tt = vi.type.tensor_type
        if tt.HasField("shape"):
            shapes[vi.name] = tuple(d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim)
    for t in g.initializer:
        shapes[t.name] = tuple(t.dims)
    for node in g.node:
        if node.op_type == "Constant" and node.output:
            for attr in node.attribute:
                if attr.name == "value":
                    shapes[node.output[0]] = tuple(attr.t.dims)
    return shapes


def _constants(model: Any) -> Iterator[tuple[str, Any]]:
    """(name, TensorProto) of every initializer and Constant node tensor."""
    for t in model.graph.initializer:
        yield t.name, t
    for node in model.graph.node:
        if node.op_type == "Constant" and node.output:
            for attr in node.attribute:
                if attr.name == "value":
                    yield node.output[0], attr.t


def _count_params(model: Any, tally: Tally) -> None:

    roles: dict[str, set[str]] = {}
    for node in model.graph.node:
        for i, name in enumerate(node.input):
            if i in QUANT_PARAM_INPUTS.get(node.op_type, ()) or i in SHAPE_INPUTS.get(node.op_type, ()):
                roles.setdefault(name, set()).add("notweight")
            elif node.op_type in ARITHMETIC_OPS:
                roles.setdefault(name, set()).add("arith")
            elif i in QUANT_WEIGHT_INPUTS.get(node.op_type, ()):
                roles.setdefault(name, set()).add("qweight")
            else:
                roles.setdefault(name, set()).add("other")
    for name, tensor in _constants(model):
        dtype = np_dtype(tensor.data_type)
        used = roles.get(name, {"other"})
        if used <= {"notweight"} or (used <= {"notweight", "arith"} and count.numel(tensor.dims) == 1):
            continue  # scales, zero points, shapes, bounds and scalar arithmetic constants are not weights
        if dtype in count.FLOAT_DTYPES or dtype in count.QUANT_DTYPES or "qweight" in used:
            tally.weight(dtype, count.numel(tensor.dims))


def np_dtype(elem_type: int) -> str:
    """numpy name of an ONNX element type ("unknown" for a code this onnx does not know)."""
    from onnx import helper

    if not elem_type:
        return "float32"
    try:
        return helper.tensor_dtype_to_np_dtype(elem_type).name
    except (KeyError, ValueError, TypeError):
        return "unknown"


def _text(value: str | bytes) -> str:
    # protobuf hands back bytes for a string field that is not valid UTF-8 (a damaged file)
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _op_name(node: Any) -> str:
    domain, op = _text(node.domain), _text(node.op_type)
    return op if domain in ("", "ai.onnx") else f"{domain}.{op}"


def _attr(node: Any, name: str, default: Any = None) -> Any:
    from onnx import helper

    for a in node.attribute:
        if a.name == name:
            value = helper.get_attribute_value(a)
            return value.decode() if isinstance(value, bytes) else value
    return default


def _count_op(node: Any, shapes: dict[str, tuple[int | None, ...]], tally: Tally) -> None:
    op, kind = _op_name(node), _text(node.op_type)

    def shape(i: int, outputs: bool = False) -> tuple[int | None, ...] | None:
        names = node.output if outputs else node.input
        return shapes.get(names[i]) if i < len(names) and names[i] else None

    out = shape(0, outputs=True)
    if kind in CONV_WEIGHT:
        w = shape(CONV_WEIGHT[kind])
        tally.macs(op, count.conv_macs(out, w[1], w[2:]) if count.known(w) and count.known(out) else None)
    elif kind == "ConvTranspose":
        x, w = shape(0), shape(1)
        tally.macs(op, count.conv_transpose_macs(x, w[1], w[2:]) if count.known(x) and count.known(w) else None)
    elif kind in MATMUL_OPS or kind == "Gemm":
        a = shape(0)
        if count.known(a) and count.known(out):
            k = a[0] if kind == "Gemm" and _attr(node, "transA", 0) else a[-1]
            tally.macs(op, count.matmul_macs(out, k))
        else:
            tally.macs(op, None)
    elif kind in POOL_OPS:
        tally.pool(op, out, _attr(node, "kernel_shape"))
    elif kind in GLOBAL_POOL_OPS:
        tally.pool(op, out, None, shape(0))
    elif kind in ("Resize", "Upsample"):
        tally.resize(op, out, str(_attr(node, "mode", "nearest")))
    elif kind in ELEMENTWISE_OPS:
        tally.elementwise(op, out)


def read(path: Path, tally: Tally) -> tuple[str | None, str | None, list[TensorInfo], list[TensorInfo]]:
    """Count an ONNX model into ``tally``; returns (producer, version, inputs, outputs)."""
    from segbench.modelinfo.io import onnx_io

    model = load(path)
    if not model.HasField("graph") or not model.graph.node:
        raise ModelError(f"{path}: not an ONNX model (no graph)")
    inputs, outputs = onnx_io(model)  # as declared, before the batch is fixed below
    _count_params(model, tally)
    if _fix_batch(model):
        tally.notes.append("dynamic batch taken as 1")
    inferred = _infer(model, tally)
    shapes = _shapes(inferred)
    for node in inferred.graph.node:
        if node.op_type == "Constant":
            continue  # a stored tensor, not a computation
        tally.op(_op_name(node))
        with tally.guard(_op_name(node)):
            _count_op(node, shapes, tally)
        if any(a.type in (5, 10) for a in node.attribute):  # GRAPH / GRAPHS: If, Loop, Scan bodies
            tally.notes.append(f"ops inside {node.op_type} subgraphs are not counted")
    if model.functions:
        tally.notes.append("ops inside model-local functions are not counted")
    producer = " ".join(_text(p) for p in (model.producer_name, model.producer_version) if p) or None
    opsets = {o.domain or "ai.onnx": o.version for o in model.opset_import}
    version = f"opset {opsets.get('ai.onnx', '?')}, IR {model.ir_version}"
    return producer, version, inputs, outputs
