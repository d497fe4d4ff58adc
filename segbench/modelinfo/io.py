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
    """(inputs, outputs) of a model: ONNX, TFLite, a Paddle program (.pdmodel / PIR .json) or a Paddle Lite .nb.

    A .nb does not record its input shape: it is taken from the program it was converted from when that sits
    next to it (same stem), else from ``input_size = [H, W]`` in the directory's manifest.toml (a float32
    [1, 3, H, W] input, as PaddleSeg exports; its outputs are then unknown, empty), else from the export folder of its
    name beside it (``pp_mobileseg_tiny.nb`` next to ``pp_mobileseg_tiny/``), else from the export of its own folder
    (PaddleSeg's model.pdmodel beside an opt.nb).
    """
    from segbench.models import model_format

    path = Path(path)
    fmt = model_format(path)
    if fmt == "onnx":
        return _onnx_io(path)
    if fmt == "tflite":
        return _tflite_io(path)
    if fmt == "paddle":
        from segbench.modelinfo.paddle_model import read_io as paddle_read_io

        return paddle_read_io(path)
    if fmt == "paddle-nb":
        return _nb_io(path)
    raise ModelError(f"{path}: reading inputs of {fmt} models is not supported", hint="use an ONNX or TFLite model")


def _nb_io(path: Path) -> tuple[list[TensorInfo], list[TensorInfo]]:
    from segbench.modelinfo.count import known
    from segbench.modelinfo.paddle_model import read_io as paddle_read_io
    from segbench.models import export_program, read_manifest

    for program in (path.with_suffix(".pdmodel"), path.with_suffix(".json")):
        if program.is_file() and program.with_suffix(".pdiparams").is_file():
            return paddle_read_io(program)
    entry = read_manifest(path.parent).get(path.name)
    size = entry.input_size if entry else None
    beside = path.with_suffix("")  # opt --optimize_out=pp_mobileseg_tiny next to tools/export.py's folder of that name
    if not size and beside.is_dir() and (program := export_program(beside)) is not None:
        return paddle_read_io(program)
    export = export_program(path.parent)
    if not size and export is not None:  # PaddleSeg's folder: opt.nb converted from model.pdmodel beside it
        return paddle_read_io(export)
    if not size:
        raise ModelError(f"{path}: a Paddle Lite .nb file does not record its input shape",
                         hint=f"add input_size = [H, W] to its [[model]] entry in {path.parent / 'manifest.toml'}, "
                              "or keep the .pdmodel it was converted from next to it")
    if len(size) != 2 or not known(size):
        raise ModelError(f"{path}: manifest.toml input_size {list(size)} is not [H, W] (two positive ints)")
    dims = (1, 3, *size)
    return [TensorInfo("x", dims, "float32", "nchw")], []


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
