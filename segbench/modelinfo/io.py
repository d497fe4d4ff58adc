"""Model inputs and outputs (name, shape, dtype, layout guess, quantization) from the file."""

from __future__ import annotations

from pathlib import Path

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
    import onnx
    from onnx import helper

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # onnx raises DecodeError, ValueError, OSError...
        raise ModelError(f"{path}: not a readable ONNX model ({type(exc).__name__})") from None
    initializers = {t.name for t in model.graph.initializer}

    def info(vi: onnx.ValueInfoProto) -> TensorInfo:
        tt = vi.type.tensor_type
        dims: tuple[int | str | None, ...] = tuple(
            d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in tt.shape.dim
        )
        dtype = helper.tensor_dtype_to_np_dtype(tt.elem_type).name if tt.elem_type else "float32"
        return TensorInfo(vi.name, dims, dtype, guess_layout(dims))

    inputs = [info(v) for v in model.graph.input if v.name not in initializers]
    outputs = [info(v) for v in model.graph.output]
    return inputs, outputs


def _tflite_io(path: Path) -> tuple[list[TensorInfo], list[TensorInfo]]:
    from segbench.runners.host_litert import load_interpreter_class

    interpreter_cls = load_interpreter_class()
    try:
        interp = interpreter_cls(model_path=str(path))
    except (ValueError, RuntimeError) as exc:
        raise ModelError(f"{path}: not a loadable TFLite model: {str(exc).splitlines()[0]}") from None
    except OSError as exc:
        raise ModelError(f"{path}: {exc.strerror or exc}") from None

    def info(d: dict) -> TensorInfo:
        shape = tuple(int(x) for x in d["shape_signature"]) if "shape_signature" in d else tuple(d["shape"])
        shape = tuple(None if x < 0 else x for x in shape)
        scale, zp = d.get("quantization", (0.0, 0))
        quant = scale not in (0, 0.0)
        return TensorInfo(
            d["name"], shape, d["dtype"].__name__ if hasattr(d["dtype"], "__name__") else str(d["dtype"]),
            guess_layout(shape), float(scale) if quant else None, int(zp) if quant else None,
        )

    return [info(d) for d in interp.get_input_details()], [info(d) for d in interp.get_output_details()]


__all__ = ["read_io", "guess_layout"]
