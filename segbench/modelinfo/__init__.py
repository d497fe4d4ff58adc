"""Reading model files without running them: inputs/outputs, params, MACs and ops.

Dispatch is by file suffix (segbench.models.model_format). ``inspect_model`` is the one entry
point; each format module counts into a Tally (segbench.modelinfo.count holds the conventions).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from segbench.errors import ModelError
from segbench.model import ModelInfo, TensorInfo

if TYPE_CHECKING:
    from segbench.modelinfo.count import Tally
    from segbench.modelinfo.io import read_io

__all__ = ["inspect_model", "read_io"]


def __getattr__(name: str) -> Any:
    """``read_io``, imported when it is asked for: `segbench report` imports this package for its cache module
    (segbench.modelinfo.cache), which reads no model file (tests/test_startup.py)."""
    if name == "read_io":
        from segbench.modelinfo.io import read_io

        return read_io
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# Errors a damaged file can provoke deep in a reader: reported as one line about the file.
_DAMAGE = (AttributeError, IndexError, KeyError, TypeError, ValueError, UnicodeError, RecursionError)


def inspect_model(path: str | Path) -> ModelInfo:
    """Format, size, sha256, producer/version, inputs/outputs, params, MACs and op histogram of a model."""
    from segbench.models import model_format, sha256_file, special_file

    path = Path(path)
    if not path.exists():
        raise ModelError(f"{path}: no such file")
    if special := special_file(path):  # never read: a FIFO would hang, /dev/zero never end
        raise ModelError(f"{path}: {special}, not a model file")
    if path.is_dir():
        raise ModelError(f"{path}: is a directory", hint="give model files, e.g. models/*.onnx")
    fmt = model_format(path)
    if path.stat().st_size == 0:
        raise ModelError(f"{path}: empty file")
    if fmt == "paddle-nb":
        raise ModelError(f"{path}: Paddle Lite .nb files cannot be inspected (an undocumented, versioned "
                         "serialization of the optimized program)", hint="inspect the .pdmodel/.json it was made from")
    from segbench.modelinfo.count import Tally

    tally = Tally()
    try:
        if fmt == "onnx":  # its external tensors: there and readable, or one line naming the one that is not
            _external_data(path, tally)
        inputs, outputs, producer, version = _read(path, fmt, tally)
        return tally.info(path=str(path), format=fmt, file_size=path.stat().st_size, sha256=sha256_file(path),
                          producer=producer, version=version, inputs=inputs, outputs=outputs)
    except OSError as exc:
        raise ModelError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except _DAMAGE as exc:  # a field of the wrong type or size that the format readers did not foresee
        raise ModelError(f"{path}: damaged {fmt} file ({type(exc).__name__}: {str(exc)[:160]})") from None


def _external_data(path: Path, tally: Tally) -> None:
    from segbench.models import companion_files

    for data in map(Path, companion_files(path, "onnx")):
        try:
            with open(data, "rb"):
                size = data.stat().st_size
        except OSError as exc:
            raise ModelError(f"{path}: cannot read its file {data}: {exc.strerror or exc}") from None
        tally.notes.append(f"external data {data.name} ({size:,} bytes)")


def _read(path: Path, fmt: str, tally: Tally) -> tuple[list[TensorInfo], list[TensorInfo], str | None, str | None]:
    if fmt == "onnx":
        from segbench.modelinfo import onnx_model

        producer, version, inputs, outputs = onnx_model.read(path, tally)
        return inputs, outputs, producer, version
    if fmt == "tflite":
        from segbench.modelinfo import tflite_model

        producer, version, inputs, outputs = tflite_model.read(path, tally)
        return inputs, outputs, producer, version
    from segbench.modelinfo import paddle_model

    return paddle_model.read(path, tally)
