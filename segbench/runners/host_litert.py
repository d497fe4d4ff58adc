"""LiteRT (ai-edge-litert, falling back to tflite-runtime) in process. Times ``invoke()`` only:
reading a large output with ``get_tensor()`` costs more than many models."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator

import numpy as np

from segbench.errors import ModelError
from segbench.model import TensorInfo
from segbench.modelinfo.io import guess_layout
from segbench.runners.host import HostRuntime, Timed, missing, package_version, timed


def load_interpreter_class() -> type:
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter
        except ImportError:
            raise missing("ai-edge-litert", "TFLite models", "pip install ai-edge-litert") from None
    return Interpreter


def _version() -> str | None:
    v = package_version("ai-edge-litert")
    if v:
        return v
    v = package_version("tflite-runtime")
    return f"tflite-runtime {v}" if v else None


@contextlib.contextmanager
def _without_info_lines() -> Iterator[None]:
    """LiteRT's C++ side prints 'INFO: Created TensorFlow Lite XNNPACK delegate for CPU.' straight to the process's
    stderr (fd 2) when an interpreter is made, and no setting turns it off: it would break `-q` and the progress
    lines. Its output is caught at the file descriptor; everything but its INFO lines is passed on."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            text = caught.read().decode("utf-8", errors="replace")
            sys.stderr.write("".join(ln for ln in text.splitlines(keepends=True) if not ln.startswith("INFO: ")))
            sys.stderr.flush()


class LiteRtSession:
    def __init__(self, path: str, threads: int) -> None:
        interpreter_cls = load_interpreter_class()
        try:
            with _without_info_lines():
                self._interp = interpreter_cls(model_path=path, num_threads=threads)
                self._interp.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"{path}: LiteRT cannot load it: {first}") from None
        details = self._interp.get_input_details()
        self._input_idx = [d["index"] for d in details]
        self._output_idx = [d["index"] for d in self._interp.get_output_details()]
        self.inputs = []
        for d in details:
            scale, zp = d.get("quantization", (0.0, 0))
            shape = tuple(int(x) for x in d["shape"])
            self.inputs.append(TensorInfo(
                d["name"], shape, np.dtype(d["dtype"]).name, guess_layout(shape),
                float(scale) if scale else None, int(zp) if scale else None,
            ))

    def set_inputs(self, arrays: list[np.ndarray]) -> None:
        for idx, arr in zip(self._input_idx, arrays):
            self._interp.set_tensor(idx, np.ascontiguousarray(arr))

    def run_once(self) -> Timed:
        return timed(self._interp.invoke)

    def outputs(self) -> list[np.ndarray]:
        return [self._interp.get_tensor(i) for i in self._output_idx]


RUNTIME = HostRuntime("tflite", "ai-edge-litert-python", LiteRtSession, _version)
