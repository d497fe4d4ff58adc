"""Write Paddle inference models for tests: a ProgramDesc protobuf and a combined .pdiparams.

The ProgramDesc is encoded by the real protobuf library from a descriptor of the framework.proto
messages used (same names, field numbers and proto2 rules as Paddle's framework.proto), so the
reader's own wire decoder is checked against an independent encoder. Enums are declared as
int32, which has the same wire encoding.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import numpy as np
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

F = descriptor_pb2.FieldDescriptorProto
DTYPE_IDS = {"bool": 0, "int32": 2, "int64": 3, "float16": 4, "float32": 5, "uint8": 20, "int8": 21}


def _message(name: str, fields: list[tuple], nested: list | None = None) -> descriptor_pb2.DescriptorProto:
    m = descriptor_pb2.DescriptorProto(name=name)
    for fname, number, ftype, repeated, type_name in fields:
        f = m.field.add(name=fname, number=number, type=ftype,
                        label=F.LABEL_REPEATED if repeated else F.LABEL_OPTIONAL)
        if type_name:
            f.type_name = type_name
    m.nested_type.extend(nested or [])
    return m


def _classes() -> dict[str, Any]:
    P = ".paddle.framework.proto."
    S, I32, I64, FL, B, MSG = F.TYPE_STRING, F.TYPE_INT32, F.TYPE_INT64, F.TYPE_FLOAT, F.TYPE_BOOL, F.TYPE_MESSAGE
    fdp = descriptor_pb2.FileDescriptorProto(name="segbench_tests/framework.proto", package="paddle.framework.proto",
                                             syntax="proto2")
    fdp.message_type.extend([
        _message("Version", [("version", 1, I64, False, None)]),
        _message("OpDesc", [
            ("inputs", 1, MSG, True, P + "OpDesc.Var"), ("outputs", 2, MSG, True, P + "OpDesc.Var"),
            ("type", 3, S, False, None), ("attrs", 4, MSG, True, P + "OpDesc.Attr"),
        ], [
            _message("Attr", [("name", 1, S, False, None), ("type", 2, I32, False, None), ("i", 3, I32, False, None),
                              ("f", 4, FL, False, None), ("s", 5, S, False, None), ("ints", 6, I32, True, None),
                              ("b", 10, B, False, None), ("l", 13, I64, False, None)]),
            _message("Var", [("parameter", 1, S, False, None), ("arguments", 2, S, True, None)]),
        ]),
        _message("VarType", [("type", 1, I32, False, None),
                             ("dense_tensor", 3, MSG, False, P + "VarType.DenseTensorDesc")], [
            _message("TensorDesc", [("data_type", 1, I32, False, None), ("dims", 2, I64, True, None)]),
            _message("DenseTensorDesc", [("tensor", 1, MSG, False, P + "VarType.TensorDesc"),
                                         ("legacy_lod_level", 2, I32, False, None)]),
        ]),
        _message("VarDesc", [("name", 1, S, False, None), ("type", 2, MSG, False, P + "VarType"),
                             ("persistable", 3, B, False, None)]),
        _message("BlockDesc", [("idx", 1, I32, False, None), ("parent_idx", 2, I32, False, None),
                               ("vars", 3, MSG, True, P + "VarDesc"), ("ops", 4, MSG, True, P + "OpDesc")]),
        _message("ProgramDesc", [("blocks", 1, MSG, True, P + "BlockDesc"), ("version", 4, MSG, False, P + "Version")]),
    ])
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    names = ("ProgramDesc", "VarType.TensorDesc")
    return {n: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"paddle.framework.proto.{n}"))
            for n in names}


CLASSES = _classes()


class Program:
    """One block: variables and ops, serialized as a ProgramDesc."""

    def __init__(self) -> None:
        self.proto = CLASSES["ProgramDesc"]()
        self.block = self.proto.blocks.add(idx=0, parent_idx=-1)
        self.proto.version.version = 2006002

    def var(self, name: str, shape: list[int] | None = None, dtype: str = "float32", persistable: bool = False,
            kind: int = 7) -> str:
        v = self.block.vars.add(name=name, persistable=persistable)
        v.type.type = kind
        if shape is not None:
            v.type.dense_tensor.tensor.data_type = DTYPE_IDS[dtype]
            v.type.dense_tensor.tensor.dims.extend(shape)
        return name

    def op(self, kind: str, inputs: dict[str, list[str]], outputs: dict[str, list[str]], **attrs: Any) -> None:
        op = self.block.ops.add(type=kind)
        for slots, target in ((inputs, op.inputs), (outputs, op.outputs)):
            for slot, args in slots.items():
                target.add(parameter=slot, arguments=args)
        for name, value in attrs.items():
            a = op.attrs.add(name=name)
            if isinstance(value, bool):
                a.type, a.b = 6, value
            elif isinstance(value, int):
                a.type, a.i = 0, value
            elif isinstance(value, str):
                a.type, a.s = 2, value
            else:
                a.type = 3
                a.ints.extend(value)

    def serialize(self) -> bytes:
        return self.proto.SerializeToString()


def params_file(tensors: list[np.ndarray]) -> bytes:
    """Tensors in Paddle's combined stream layout (docs/inspect.md), in the order given."""
    out = bytearray()
    for t in tensors:
        desc = CLASSES["VarType.TensorDesc"](data_type=DTYPE_IDS[t.dtype.name], dims=list(t.shape)).SerializeToString()
        out += struct.pack("<IQ", 0, 0)  # DenseTensor version 0, no LoD levels
        out += struct.pack("<Ii", 0, len(desc)) + desc  # tensor version 0, TensorDesc size and bytes
        out += np.ascontiguousarray(t).astype(t.dtype.newbyteorder("<")).tobytes()
    return bytes(out)


REAL_PROGRAM = Path(__file__).parent / "fixtures" / "paddle" / "mobilenet_v2_paddleclas.pdmodel"


def real_mobilenet_v2(directory: Path, stem: str = "inference", scale: float | None = None) -> Path:
    """The real PaddleClas MobileNetV2 program (tests/fixtures/paddle) as ``<stem>.pdmodel`` in ``directory``,
    with a ``.pdiparams`` rebuilt from the variable shapes that the real protobuf library reads from it:
    zeros, or seeded normal values times ``scale`` (runnable weights for Paddle Lite)."""
    program = CLASSES["ProgramDesc"].FromString(REAL_PROGRAM.read_bytes())
    persistable = sorted((v for v in program.blocks[0].vars if v.persistable and v.type.type == 7),
                         key=lambda v: v.name)
    rng = np.random.default_rng(0)
    shapes = [list(v.type.dense_tensor.tensor.dims) for v in persistable]
    tensors = [np.zeros(s, np.float32) if scale is None else (rng.standard_normal(s) * scale).astype(np.float32)
               for s in shapes]
    if scale is not None:  # batch-norm variances must be positive (Paddle Inference's conv+bn fusion checks)
        tensors = [np.abs(t) + 1.0 if v.name.endswith("variance") else t for v, t in zip(persistable, tensors)]
    model = directory / f"{stem}.pdmodel"
    model.write_bytes(REAL_PROGRAM.read_bytes())
    (directory / f"{stem}.pdiparams").write_bytes(params_file(tensors))
    return model
