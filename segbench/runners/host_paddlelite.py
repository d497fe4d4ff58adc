"""Paddle Lite in process (paddlelite wheels exist for Python <= 3.10 only).

``.nb`` models load with ``MobileConfig``; combined ``.pdmodel`` + ``.pdiparams`` models are
first converted to a cached ``.nb`` for this machine with ``paddlelite.lite.Opt`` (x86 target),
as Paddle Lite's own benchmark does with ``--optimized_model_file``. The x86 build has no
``set_threads``: threads come from OMP_NUM_THREADS, which is set before the library loads.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

from segbench.errors import ModelError
from segbench.model import TensorInfo
from segbench.runners.host import HostRuntime, missing, package_version

INSTALL_HINT = "pip install 'segbench[paddle]' on Python 3.10 (paddlelite has no wheels for newer Pythons)"


def _lite():
    try:
        from paddlelite import lite
    except ImportError:
        raise missing("paddlelite", "Paddle models", INSTALL_HINT) from None
    return lite


def _optimize(lite, model_file: Path) -> Path:
    out_dir = Path(tempfile.gettempdir()) / "segbench-paddle-opt"
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"{model_file.stem}-{model_file.stat().st_mtime_ns}"
    if not out.with_suffix(".nb").exists():
        opt = lite.Opt()
        opt.set_model_file(str(model_file))
        opt.set_param_file(str(model_file.with_suffix(".pdiparams")))
        opt.set_valid_places("x86")
        opt.set_model_type("naive_buffer")
        opt.set_optimize_out(str(out))
        opt.run()
    if not out.with_suffix(".nb").exists():
        raise ModelError(f"{model_file}: Paddle Lite's opt could not convert it for x86")
    return out.with_suffix(".nb")


class PaddleLiteSession:
    def __init__(self, path: str, threads: int) -> None:
        os.environ["OMP_NUM_THREADS"] = str(threads)
        os.environ["MKL_NUM_THREADS"] = str(threads)
        lite = _lite()
        model = Path(path)
        nb = model if model.suffix == ".nb" else _optimize(lite, model)
        config = lite.MobileConfig()
        config.set_model_from_file(str(nb))
        try:
            self._predictor = lite.create_paddle_predictor(config)
        except Exception as exc:  # paddlelite raises plain RuntimeError/Exception
            raise ModelError(f"{path}: Paddle Lite cannot load it: {exc}") from None
        self._input = self._predictor.get_input(0)
        shape = tuple(int(d) for d in self._input.shape()) if self._input.shape() else ()
        self.inputs = [TensorInfo("x", shape, "float32", "nchw")]

    def set_inputs(self, arrays: list[np.ndarray]) -> None:
        arr = np.ascontiguousarray(arrays[0])
        self.inputs = [TensorInfo("x", tuple(arr.shape), arr.dtype.name, "nchw")]
        self._input.from_numpy(arr)

    def run_once(self) -> float:
        t0 = time.perf_counter_ns()
        self._predictor.run()
        return (time.perf_counter_ns() - t0) / 1e6

    def outputs(self) -> list[np.ndarray]:
        return [np.array(self._predictor.get_output(0).numpy())]


RUNTIME = HostRuntime("paddlelite", "paddlelite-python", PaddleLiteSession, lambda: package_version("paddlelite"))
