"""The counting conventions shared by every format (docs/inspect.md states them for users).

Readers translate their graph into calls on a Tally: weights seen, ops seen, and for each op
the shapes the conventions need. Keeping the formulas here means ONNX, TFLite and Paddle
models of the same network give the same numbers.

- MACs (multiply-accumulates), as fvcore, thop and TI's model zoo count them, bias not counted:
  convolution = output elements x (input channels / groups) x kernel area (so depthwise is
  output elements x kernel area; stride and dilation act through the output shape);
  transposed convolution = input elements x (output channels / groups) x kernel area;
  matrix product (MatMul, Gemm, FullyConnected, BatchMatMul) = output elements x K.
- Other ops are counted apart (``other_ops``), never in MACs: pooling = output elements x
  kernel area (global pooling and mean = input elements); resize = output elements x the
  points each output reads (nearest 1, (bi)linear 4, (bi)cubic 16); elementwise arithmetic
  and activations = 1 per output element.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TypeGuard

from segbench.model import ModelInfo, TensorInfo

Shape = Sequence[int]

# Bumped whenever a rule below changes what a model counts to, so cached inspections made
# under older rules are redone (segbench.modelinfo.cache).
CONVENTIONS = 1

# Points each output element reads, by interpolation mode (all names the formats use).
RESIZE_POINTS = {"nearest": 1, "linear": 4, "bilinear": 4, "cubic": 16, "bicubic": 16, "trilinear": 8}

# Dtypes whose constant tensors are weights. Integer constants count only when quantized
# (the reader decides), because int32/int64 constants are mostly shapes, axes and indices.
FLOAT_DTYPES = frozenset({"float32", "float16", "bfloat16", "float64"})
QUANT_DTYPES = frozenset({"int8", "uint8", "int4", "uint4", "int16"})


def numel(shape: Shape) -> int:
    return math.prod(int(d) for d in shape)


def known(shape: Sequence[object] | None) -> TypeGuard[Sequence[int]]:
    """A shape every dimension of which is a positive int."""
    return shape is not None and all(isinstance(d, int) and d > 0 for d in shape)


def conv_macs(out_shape: Shape, in_per_group: int, kernel: Shape) -> int:
    return numel(out_shape) * in_per_group * numel(kernel)


def conv_transpose_macs(in_shape: Shape, out_per_group: int, kernel: Shape) -> int:
    return numel(in_shape) * out_per_group * numel(kernel)


def matmul_macs(out_shape: Shape, k: int) -> int:
    return numel(out_shape) * k


class Tally:
    """What a reader found, accumulated op by op; ``info`` turns it into a ModelInfo."""

    def __init__(self) -> None:
        self.params_by_dtype: Counter[str] = Counter()
        self.ops: Counter[str] = Counter()
        self.macs_by_op: Counter[str] = Counter()
        self.other_ops: Counter[str] = Counter()
        self.unknown: Counter[str] = Counter()
        self.unreadable: Counter[str] = Counter()
        self.notes: list[str] = []

    @contextmanager
    def guard(self, op_type: str) -> Iterator[None]:
        """Count one op; an op whose attributes or shapes do not fit its kind (a damaged or
        unusual file) is noted and skipped rather than stopping the whole inspection."""
        try:
            yield
        except (AttributeError, IndexError, KeyError, TypeError, ValueError, ZeroDivisionError):
            self.unreadable[op_type] += 1

    def weight(self, dtype: str, count: int) -> None:
        self.params_by_dtype[dtype] += count

    def op(self, op_type: str) -> None:
        self.ops[op_type] += 1

    def macs(self, op_type: str, value: int | None) -> None:
        """MACs of one op; None when its shapes are not known."""
        if value is None:
            self.unknown[op_type] += 1
        else:
            self.macs_by_op[op_type] += value

    def other(self, op_type: str, value: int | None) -> None:
        if value is not None:
            self.other_ops[op_type] += value

    def elementwise(self, op_type: str, out_shape: Sequence[object] | None) -> None:
        self.other(op_type, numel(out_shape) if known(out_shape) else None)

    def pool(self, op_type: str, out_shape: Sequence[object] | None, kernel: Shape | None,
             in_shape: Sequence[object] | None = None) -> None:
        """Windowed pooling (kernel given) or global pooling (kernel None: every input element)."""
        if kernel is None:
            self.other(op_type, numel(in_shape) if known(in_shape) else None)
        elif known(out_shape):
            self.other(op_type, numel(out_shape) * numel(kernel))

    def resize(self, op_type: str, out_shape: Sequence[object] | None, mode: str) -> None:
        if known(out_shape):
            self.other(op_type, numel(out_shape) * RESIZE_POINTS.get(mode.lower(), 1))

    def info(self, *, path: str, format: str, file_size: int, sha256: str, producer: str | None,
             version: str | None, inputs: Sequence[TensorInfo], outputs: Sequence[TensorInfo]) -> ModelInfo:
        notes = list(dict.fromkeys(self.notes))
        if self.unreadable:
            notes.append("not counted (attributes or shapes that do not fit the op): " +
                         ", ".join(f"{n} {op}" for op, n in sorted(self.unreadable.items())))
        if self.unknown:
            notes.append("MACs are a lower bound: shapes unknown for " +
                         ", ".join(f"{n} {op}" for op, n in sorted(self.unknown.items())))
        return ModelInfo(
            path=path, format=format, file_size=file_size, sha256=sha256, producer=producer, version=version,
            inputs=tuple(inputs), outputs=tuple(outputs),
            params=sum(self.params_by_dtype.values()), params_by_dtype=dict(sorted(self.params_by_dtype.items())),
            macs=sum(self.macs_by_op.values()), macs_by_op=_by_value(self.macs_by_op),
            other_ops=_by_value(self.other_ops), macs_unknown=tuple(sorted(self.unknown)),
            ops=_by_value(self.ops), notes=tuple(notes),
        )


def _by_value(counter: Counter[str]) -> dict[str, int]:
    """Largest first, then by name, so tables read top-down."""
    return dict(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))
