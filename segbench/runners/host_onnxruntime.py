"""ONNX Runtime in process. Times ``run_with_iobinding``: inputs are bound once as OrtValues,
outputs are left in ORT-allocated buffers and only converted when asked for."""

from __future__ import annotations

import numpy as np

from segbench.errors import ModelError
from segbench.model import TensorInfo
from segbench.modelinfo.io import guess_layout
from segbench.runners.host import HostRuntime, Timed, missing, package_version, timed

_ORT_TYPES = {
    "tensor(float)": "float32", "tensor(float16)": "float16", "tensor(double)": "float64",
    "tensor(uint8)": "uint8", "tensor(int8)": "int8", "tensor(int16)": "int16", "tensor(int32)": "int32",
    "tensor(int64)": "int64", "tensor(bool)": "bool",
}


def _ort_type_name(ort_type: str) -> str:
    """An input type with no numpy counterpart segbench feeds ("tensor(string)" -> "string"): kept by its own name,
    so that making an input for it says what it is instead of feeding float32 to it."""
    return ort_type.removeprefix("tensor(").removesuffix(")")


class OrtSession:
    def __init__(self, path: str, threads: int, profile_prefix: str | None = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise missing("onnxruntime", "ONNX models", "pip install onnxruntime") from None
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.log_severity_level = 3
        if profile_prefix:  # run --profile: ORT's own trace, per node (end_profiling names the file)
            opts.enable_profiling = True
            opts.profile_file_prefix = profile_prefix
        try:
            self._sess = ort.InferenceSession(path, sess_options=opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # ORT raises its own Fail/InvalidGraph/InvalidProtobuf types
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"{path}: onnxruntime cannot load it: {first}") from None
        self.inputs = [
            TensorInfo(i.name, tuple(d if isinstance(d, int) else None for d in i.shape),
                       _ORT_TYPES.get(i.type) or _ort_type_name(i.type), guess_layout(tuple(i.shape)))
            for i in self._sess.get_inputs()
        ]
        self._binding = self._sess.io_binding()
        for o in self._sess.get_outputs():
            self._binding.bind_output(o.name)

    def set_inputs(self, arrays: list[np.ndarray]) -> None:
        for info, arr in zip(self.inputs, arrays):
            self._binding.bind_cpu_input(info.name, np.ascontiguousarray(arr))

    def run_once(self) -> Timed:
        return timed(lambda: self._sess.run_with_iobinding(self._binding))

    def outputs(self) -> list[np.ndarray]:
        return self._binding.copy_outputs_to_cpu()

    def end_profiling(self) -> str:
        """Stop profiling; the trace file's path."""
        return self._sess.end_profiling()


RUNTIME = HostRuntime("onnxruntime", "onnxruntime-python", OrtSession, lambda: package_version("onnxruntime"))
