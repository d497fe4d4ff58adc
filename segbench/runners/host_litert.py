"""LiteRT (ai-edge-litert, falling back to tflite-runtime) in process. Times ``invoke()`` only:
reading a large output with ``get_tensor()`` costs more than many models."""

from __future__ import annotations

import time

import numpy as np

from segbench.errors import ModelError
from segbench.model import TensorInfo
from segbench.modelinfo.io import guess_layout
from segbench.runners.host import HostRuntime, missing, package_version


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


class LiteRtSession:
    def __init__(self, path: str, threads: int) -> None:
        interpreter_cls = load_interpreter_class()
        try:
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

    def run_once(self) -> float:
        t0 = time.perf_counter_ns()
        self._interp.invoke()
        return (time.perf_counter_ns() - t0) / 1e6

    def outputs(self) -> list[np.ndarray]:
        return [self._interp.get_tensor(i) for i in self._output_idx]


RUNTIME = HostRuntime("tflite", "ai-edge-litert-python", LiteRtSession, _version)
