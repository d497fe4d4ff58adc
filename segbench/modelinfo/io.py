"""Model inputs and outputs (name, shape, dtype, layout guess, quantization) from the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from segbench.errors import ModelError
from segbench.model import TensorInfo


def guess_layout(shape: tuple[int | str | None, ...]) -> str | None:
    """NCHW when dim 1 looks like channels (1-4) and the last does not, NHWC the other way round."""
    if len(shape) != 4:
        return None
    c_first, c_last = shape[1], shape[3]
    small = lambda d: isinstance(d, int) and 1 <= d <= 4  # noqa: E731
    if small(c_first) and not small(c_last):
        return "nchw"
    if small(c_last) and not small(c_first):
        return "nhwc"
    return None


def read_io(path: str | Path) -> tuple[list[TensorInfo], list[TensorInfo]]:
    """(inputs, outputs) of an ONNX or TFLite model."""
    from segbench.models import model_format

    path = Path(path)
    fmt = model_format(path)
    if fmt == "onnx":
        return _onnx_io(path)
    if fmt == "tflite":
        return _tflite_io(path)
    raise ModelError(f"{path}: reading inputs of {fmt} models is not supported", hint="use an ONNX or TFLite model")


def _onnx_io(path: Path) -> tuple[list[TensorInfo], list[TensorInfo]]:
    from segbench.modelinfo.onnx_model import load

    return onnx_io(load(path))


def onnx_io(model: Any) -> tuple[list[TensorInfo], list[TensorInfo]]:
    """(inputs, outputs) of a loaded onnx.ModelProto; initializers listed as inputs are weights, not inputs."""
    from segbench.modelinfo.onnx_model import np_dtype

    initializers = {t.name for t in model.graph.initializer}

    def info(vi: Any) -> TensorInfo:
        tt = vi.type.tensor_type
        dims: tuple[int | str | None, ...] = tuple(
            d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in tt.shape.dim
        )
        dtype = np_dtype(tt.elem_type)
        return TensorInfo(vi.name, dims, dtype, guess_layout(dims))

    inputs = [info(v) for v in model.graph.input if v.name not in initializers]
    outputs = [info(v) for v in model.graph.output]
    return inputs, outputs


def _tflite_io(path: Path) -> tuple[list[TensorInfo], list[TensorInfo]]:
    # Read from the flatbuffer (as `inspect` does): no interpreter, so custom ops do not matter.
    from segbench.modelinfo.tflite_model import read_io as tflite_read_io

    return tflite_read_io(path)


__all__ = ["read_io", "guess_layout"]
