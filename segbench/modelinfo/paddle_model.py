"""Paddle inference models without paddlepaddle: ``.pdmodel`` (ProgramDesc protobuf) or PIR
``.json``, each with its ``.pdiparams``.

The program gives ops and variable shapes; the params file gives the weights. The ProgramDesc
is read with a small protobuf wire decoder over the few fields of framework.proto used here
(field numbers below), which spares a generated-code dependency tied to one protobuf version.
The params file is Paddle's combined tensor stream (save_combine): per tensor, uint32 version
0, uint64 LoD level count and each level's uint64 byte size + data, uint32 tensor version 0,
int32 size of a VarType.TensorDesc protobuf, that protobuf, then the raw little-endian data.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from segbench.errors import ModelError
from segbench.model import TensorInfo
from segbench.modelinfo import count
from segbench.modelinfo.count import Tally
from segbench.modelinfo.io import guess_layout

# framework.proto VarType.Type -> (numpy dtype name, bytes per element)
DTYPES = {
    0: ("bool", 1), 1: ("int16", 2), 2: ("int32", 4), 3: ("int64", 8), 4: ("float16", 2), 5: ("float32", 4),
    6: ("float64", 8), 20: ("uint8", 1), 21: ("int8", 1), 22: ("bfloat16", 2), 23: ("complex64", 8),
    24: ("complex128", 16), 32: ("float8_e4m3fn", 1), 33: ("float8_e5m2", 1), 37: ("uint32", 4), 38: ("uint64", 8),
}
DENSE_TENSOR = 7
# PIR builtin type ids -> numpy dtype names
PIR_DTYPES = {"t_f32": "float32", "t_f16": "float16", "t_bf16": "bfloat16", "t_f64": "float64", "t_i64": "int64",
              "t_i32": "int32", "t_i16": "int16", "t_i8": "int8", "t_ui8": "uint8", "t_bool": "bool"}
PIR_DIALECTS = {"0": "builtin", "1": "pd_op", "2": "cf", "3": "custom_op", "4": "dist_op"}
# Bookkeeping ops, not computations: left out of the op histogram.
BOOKKEEPING = {"feed", "fetch", "data", "parameter", "shadow_output", "full_int_array"}

CONV_OPS = {"conv2d", "depthwise_conv2d", "conv3d", "fused_conv2d", "conv2d_fusion", "fused_conv2d_add_act"}
CONV_TRANSPOSE_OPS = {"conv2d_transpose", "depthwise_conv2d_transpose", "conv3d_transpose"}
RESIZE_OPS = {"bilinear_interp": "bilinear", "bilinear_interp_v2": "bilinear", "nearest_interp": "nearest",
              "nearest_interp_v2": "nearest", "bicubic_interp": "bicubic", "bicubic_interp_v2": "bicubic",
              "linear_interp": "linear", "linear_interp_v2": "linear", "trilinear_interp": "trilinear",
              "trilinear_interp_v2": "trilinear"}
ELEMENTWISE_OPS = {
    "elementwise_add", "elementwise_sub", "elementwise_mul", "elementwise_div", "elementwise_max", "elementwise_min",
    "elementwise_pow", "add", "subtract", "multiply", "divide", "maximum", "minimum", "relu", "relu6", "sigmoid",
    "hard_swish", "hardswish", "hard_sigmoid", "hardsigmoid", "swish", "silu", "tanh", "leaky_relu", "prelu",
    "gelu", "scale", "batch_norm", "batch_norm_", "softmax", "exp", "sqrt", "abs", "clip", "pow", "relu_",
    "elu", "mish", "sum",
}


# --- protobuf wire format --------------------------------------------------------------------

def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise ValueError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def _fields(buf: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, value) of each field: ints for varint/fixed, bytes for length-delimited."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = int.from_bytes(buf[pos:pos + 8], "little"), pos + 8
        elif wire == 2:
            size, pos = _varint(buf, pos)
            value, pos = buf[pos:pos + size], pos + size
        elif wire == 5:
            value, pos = int.from_bytes(buf[pos:pos + 4], "little"), pos + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        if pos > len(buf) or number == 0:
            raise ValueError("truncated message")
        yield number, value


def _signed(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


def _ints(values: list[int | bytes]) -> list[int]:
    """A repeated integer field, packed (bytes) or not."""
    out: list[int] = []
    for v in values:
        if isinstance(v, bytes):
            pos = 0
            while pos < len(v):
                x, pos = _varint(v, pos)
                out.append(_signed(x))
        else:
            out.append(_signed(v))
    return out


def _group(buf: bytes) -> dict[int, list[int | bytes]]:
    fields: dict[int, list[int | bytes]] = {}
    for number, value in _fields(buf):
        fields.setdefault(number, []).append(value)
    return fields


def _msgs(fields: dict[int, list[int | bytes]], number: int) -> list[bytes]:
    """The length-delimited values (sub-messages, strings) of a field."""
    return [v for v in fields.get(number, []) if isinstance(v, bytes)]


def _str(fields: dict[int, list[int | bytes]], number: int) -> str:
    v = fields.get(number, [b""])[-1]
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)


# --- the program -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Var:
    name: str
    dtype: str | None
    shape: tuple[int, ...] | None  # -1 for dynamic dims
    persistable: bool


@dataclass(frozen=True)
class Op:
    type: str
    inputs: dict[str, tuple[str, ...]]
    outputs: dict[str, tuple[str, ...]]
    attrs: dict[str, Any]


def _var(buf: bytes) -> Var:
    f = _group(buf)
    vtype = _group(_msgs(f, 2)[0]) if _msgs(f, 2) else {}  # VarType
    dtype = shape = None
    if _ints(vtype.get(1, [0]))[-1] == DENSE_TENSOR and _msgs(vtype, 3):
        desc = _group(_msgs(_group(_msgs(vtype, 3)[0]), 1)[0])  # DenseTensorDesc.tensor -> TensorDesc
        dtype = DTYPES.get(_ints(desc.get(1, [5]))[-1], ("unknown", 0))[0]
        shape = tuple(_ints(desc.get(2, [])))
    return Var(_str(f, 1), dtype, shape, bool(_ints(f.get(3, [0]))[-1]))


def _attr(buf: bytes) -> tuple[str, Any]:
    f = _group(buf)
    kind = _ints(f.get(2, [0]))[-1]
    # AttrType -> field: INT i(3), FLOAT f(4), STRING s(5), INTS(6), FLOATS(7), STRINGS(8), BOOLEAN b(10),
    # BOOLEANS(11), LONG l(13), LONGS(15)
    if kind in (0, 9):
        value: Any = _ints(f.get(3 if kind == 0 else 13, [0]))[-1]
    elif kind == 1:
        value = struct.unpack("<f", struct.pack("<I", _ints(f.get(4, [0]))[-1] & 0xFFFFFFFF))[0]
    elif kind == 2:
        value = _str(f, 5)
    elif kind in (3, 11):
        value = _ints(f.get(6 if kind == 3 else 15, []))
    elif kind == 5:
        value = [v.decode("utf-8", "replace") for v in f.get(8, []) if isinstance(v, bytes)]
    elif kind == 6:
        value = bool(_ints(f.get(10, [0]))[-1])
    else:
        value = None
    return _str(f, 1), value


def _slots(values: list[bytes]) -> dict[str, tuple[str, ...]]:
    slots = {}
    for v in values:
        f = _group(v)
        slots[_str(f, 1)] = tuple(a.decode("utf-8", "replace") for a in _msgs(f, 2))
    return slots


def _op(buf: bytes) -> Op:
    f = _group(buf)
    attrs = dict(_attr(a) for a in _msgs(f, 4))
    return Op(_str(f, 3), _slots(_msgs(f, 1)), _slots(_msgs(f, 2)), attrs)


def parse_program(data: bytes) -> tuple[dict[str, Var], list[Op], int | None, int]:
    """(variables by name, ops, program version, number of blocks) of the main block of a ProgramDesc."""
    program = _group(data)
    blocks = _msgs(program, 1)
    if not blocks:
        raise ValueError("no blocks")
    block = _group(blocks[0])
    variables = {v.name: v for v in (_var(b) for b in _msgs(block, 3))}
    ops = [_op(b) for b in _msgs(block, 4)]
    version_msg = _msgs(program, 4)
    version = _ints(_group(version_msg[0]).get(1, [0]))[-1] if version_msg else None
    return variables, ops, version, len(blocks)


# --- the params file ---------------------------------------------------------------------------

@dataclass(frozen=True)
class StoredTensor:
    dtype: str
    shape: tuple[int, ...]


def read_params(data: bytes) -> list[StoredTensor]:
    """Every tensor of a combined .pdiparams stream, checking that the file holds all its bytes."""
    tensors: list[StoredTensor] = []
    try:
        return _read_params(data, tensors)
    except struct.error:
        raise ValueError(f"the header of tensor {len(tensors) + 1} is cut off") from None


def _read_params(data: bytes, tensors: list[StoredTensor]) -> list[StoredTensor]:
    pos = 0
    while pos < len(data):
        version, lod_levels = struct.unpack_from("<IQ", data, pos)
        if version != 0:
            raise ValueError(f"tensor {len(tensors) + 1} has version {version}, expected 0")
        pos += 12
        for _ in range(lod_levels):
            (size,) = struct.unpack_from("<Q", data, pos)
            pos += 8 + size
        tensor_version, desc_size = struct.unpack_from("<Ii", data, pos)
        if tensor_version != 0 or desc_size < 0:
            raise ValueError(f"tensor {len(tensors) + 1} has a bad header")
        pos += 8
        desc = _group(data[pos:pos + desc_size])
        pos += desc_size
        dtype_id = _ints(desc.get(1, [-1]))[-1]
        if dtype_id not in DTYPES:
            raise ValueError(f"tensor {len(tensors) + 1} has unknown data type {dtype_id}")
        dtype, width = DTYPES[dtype_id]
        shape = tuple(_ints(desc.get(2, [])))
        if any(d < 0 for d in shape):  # a stored tensor has a size; a negative one would walk back in the file
            raise ValueError(f"tensor {len(tensors) + 1} has a negative dimension {list(shape)}")
        pos += math.prod(shape) * width
        if pos > len(data):
            raise ValueError(f"tensor {len(tensors) + 1} ends at byte {pos}, past the end ({len(data)})")
        tensors.append(StoredTensor(dtype, shape))
    return tensors


# --- counting (one vocabulary for .pdmodel and PIR ops) ----------------------------------------

Shape = tuple[int, ...]


def _concrete(shape: tuple[int, ...] | None) -> Shape | None:
    """A shape with the dynamic batch (-1 in dim 0) taken as 1; None if another dim is dynamic."""
    if shape is None:
        return None
    dims = (1, *shape[1:]) if shape and shape[0] == -1 else shape
    return dims if count.known(dims) else None


def _count_op(tally: Tally, op: str, x: Shape | None, w: Shape | None, out: Shape | None,
              attrs: dict[str, Any], kernel: list[int] | None = None) -> None:
    if op in CONV_OPS:  # filter [O, I/groups, kH, kW]
        tally.macs(op, count.conv_macs(out, w[1], w[2:]) if w and out else None)
    elif op in CONV_TRANSPOSE_OPS:  # filter [I, O/groups, kH, kW]
        tally.macs(op, count.conv_transpose_macs(x, w[1], w[2:]) if x and w else None)
    elif op in ("matmul", "matmul_v2"):
        trans = attrs.get("trans_x", attrs.get("transpose_x", attrs.get("transpose_X", False)))
        tally.macs(op, count.matmul_macs(out, x[-2] if trans else x[-1]) if x and out and len(x) >= 2 else None)
    elif op == "mul":
        k = math.prod(x[int(attrs.get("x_num_col_dims", 1)):]) if x else None
        tally.macs(op, count.matmul_macs(out, k) if k and out else None)
    elif op == "fc":  # W [K, N]
        tally.macs(op, count.matmul_macs(out, w[0]) if w and out else None)
    elif op == "pool2d":
        if attrs.get("global_pooling") or attrs.get("adaptive"):
            tally.pool(op, out, None, x)
        else:
            tally.pool(op, out, kernel or attrs.get("ksize"), x)
    elif op in RESIZE_OPS:
        tally.resize(op, out, RESIZE_OPS[op])
    elif op in ELEMENTWISE_OPS:
        tally.elementwise(op, out)


def _legacy(program: bytes, tally: Tally) -> tuple[list[TensorInfo], list[TensorInfo], str, int]:
    variables, ops, version, blocks = parse_program(program)
    if blocks > 1:
        tally.notes.append(f"ops in {blocks - 1} sub-block(s) (control flow) are not counted")

    def shape(op: Op, slots: dict[str, tuple[str, ...]], *names: str) -> Shape | None:
        for name in names:
            if slots.get(name):
                var = variables.get(slots[name][0])
                return _concrete(var.shape) if var else None
        return None

    feeds, fetches = [], []
    for op in ops:
        if op.type == "feed":
            feeds.append((op.attrs.get("col", 0), op.outputs.get("Out", ("",))[0]))
        elif op.type == "fetch":
            fetches.append((op.attrs.get("col", 0), op.inputs.get("X", ("",))[0]))
        if op.type in BOOKKEEPING:
            continue
        tally.op(op.type)
        x = shape(op, op.inputs, "Input", "X")
        w = shape(op, op.inputs, "Filter", "W", "Y")
        out = shape(op, op.outputs, "Output", "Out", "Y")
        with tally.guard(op.type):
            _count_op(tally, op.type, x, w, out, op.attrs)

    def io(name: str) -> TensorInfo:
        var = variables.get(name)
        dims = tuple(None if d < 0 else d for d in (var.shape or ())) if var else ()
        return TensorInfo(name, dims, (var.dtype if var else None) or "float32", guess_layout(dims))

    persistable = sum(1 for v in variables.values() if v.persistable and v.dtype and v.name not in ("feed", "fetch"))
    return ([io(n) for _, n in sorted(feeds)], [io(n) for _, n in sorted(fetches)],
            f"ProgramDesc version {version}", persistable)


def _pir_attr(at: Any) -> Any:
    if isinstance(at, dict):
        data = at.get("D")
        return [_pir_attr(x) for x in data] if isinstance(data, list) else data
    return at


def _pir_type(tt: Any) -> tuple[str, tuple[int, ...] | None]:
    """(dtype, dims) of a PIR value type {"#": "0.t_dtensor", "D": [dtype, dims, layout, lod, offset]}."""
    if not isinstance(tt, dict) or not str(tt.get("#", "")).endswith("t_dtensor"):
        return "unknown", None
    data = tt.get("D") or [{}, None]
    dtype_id = str(data[0].get("#", "")).split(".")[-1] if isinstance(data[0], dict) else ""
    dims = data[1] if len(data) > 1 and isinstance(data[1], list) else None
    return PIR_DTYPES.get(dtype_id, dtype_id or "unknown"), tuple(int(d) for d in dims) if dims is not None else None


def _pir_ops(program: Any) -> Iterator[dict[str, Any]]:
    """Ops of the top-level block(s), in order."""
    for region in program.get("regions", []):
        for block in region.get("blocks", []):
            yield from block.get("ops", [])


def _pir_name(op: dict[str, Any]) -> str:
    raw = str(op.get("#", ""))
    if raw == "p":
        return "parameter"
    dialect, _, name = raw.partition(".")
    return name if name and (dialect in PIR_DIALECTS or dialect in PIR_DIALECTS.values()) else raw


def _pir(text: bytes, tally: Tally) -> tuple[list[TensorInfo], list[TensorInfo], str, int]:
    doc = json.loads(text)
    base = doc.get("base_code") if isinstance(doc, dict) else None
    if not isinstance(base, dict) or base.get("magic") != "pir" or not isinstance(doc.get("program"), dict):
        raise ValueError("no PIR base_code/program")
    types: dict[int, tuple[str, tuple[int, ...] | None]] = {}
    consts: dict[int, list[int]] = {}
    inputs, outputs, params = [], [], 0
    for op in _pir_ops(doc["program"]):
        name = _pir_name(op)
        results = op.get("O", [])
        results = [results] if isinstance(results, dict) else results
        for r in results:
            types[r.get("%")] = _pir_type(r.get("TT"))
        attrs = {a.get("N"): _pir_attr(a.get("AT")) for a in op.get("A", []) if isinstance(a, dict)}
        operands = [o.get("%") for o in op.get("I", [])]
        if name == "full_int_array" and results:
            consts[results[0].get("%")] = [int(v) for v in attrs.get("value") or []]
        if name == "parameter":
            params += 1
        elif name == "data" and results:
            inputs.append(_pir_io(str(attrs.get("name", "")), types[results[0].get("%")]))
        elif name == "fetch" and operands:
            outputs.append(_pir_io(str(attrs.get("name", "")), types.get(operands[0], ("unknown", None))))
        if name in BOOKKEEPING:
            continue
        tally.op(name)
        x, w = ([_concrete(types.get(o, ("", None))[1]) for o in operands[:2]] + [None, None])[:2]
        out = _concrete(types[results[0].get("%")][1]) if results else None
        kernel = consts.get(operands[1]) if name == "pool2d" and len(operands) > 1 else None
        with tally.guard(name):
            _count_op(tally, name, x, w, out, attrs, kernel)
    return inputs, outputs, f"PIR version {base.get('version')}", params


def _pir_io(name: str, typ: tuple[str, tuple[int, ...] | None]) -> TensorInfo:
    dims = tuple(None if d < 0 else d for d in (typ[1] or ()))
    return TensorInfo(name, dims, typ[0], guess_layout(dims))


def _count_params(tensors: list[StoredTensor], tally: Tally) -> None:
    for t in tensors:
        if t.dtype in count.FLOAT_DTYPES or t.dtype in count.QUANT_DTYPES:
            tally.weight(t.dtype, math.prod(t.shape))


def _program(path: Path, tally: Tally) -> tuple[list[TensorInfo], list[TensorInfo], str, int]:
    pir = path.suffix.lower() == ".json"
    kind = "PIR model.json" if pir else "Paddle .pdmodel (ProgramDesc)"
    try:
        return (_pir if pir else _legacy)(path.read_bytes(), tally)
    except (ValueError, KeyError, IndexError, TypeError, AttributeError, struct.error, RecursionError) as exc:
        raise ModelError(f"{path}: not a readable {kind} ({exc or type(exc).__name__})") from None


def read_io(path: Path) -> tuple[list[TensorInfo], list[TensorInfo]]:
    """(inputs, outputs) of a Paddle program file; its parameters file is not read."""
    inputs, outputs, _, _ = _program(path, Tally())
    return inputs, outputs


def read(path: Path, tally: Tally) -> tuple[list[TensorInfo], list[TensorInfo], str | None, str | None]:
    """Count a Paddle model (program + its .pdiparams) into ``tally``; returns (inputs, outputs, producer, version)."""
    params_path = path.with_suffix(".pdiparams")
    if not params_path.is_file():
        raise ModelError(f"{path}: Paddle model without its parameters file {params_path.name}",
                         hint="keep the .pdiparams next to the program file")
    inputs, outputs, version, declared = _program(path, tally)
    try:
        tensors = read_params(params_path.read_bytes())
    except ValueError as exc:
        raise ModelError(f"{params_path}: truncated or corrupt Paddle params file ({exc})") from None
    _count_params(tensors, tally)
    if any(t.shape and t.shape[0] is None for t in inputs):
        tally.notes.append("dynamic batch taken as 1")
    if len(tensors) != declared:
        tally.notes.append(f"{params_path.name} holds {len(tensors)} tensors; the program declares {declared}")
    if "batch_norm" in tally.ops or "batch_norm_" in tally.ops:
        tally.notes.append("BatchNorm is not folded in this program: its mean and variance are counted as params")
    return inputs, outputs, None, version
