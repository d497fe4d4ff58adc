"""Paddle models on this machine, in a worker process: Paddle Lite (paddlelite wheels exist for Python <= 3.10
only) and, for programs, Paddle Inference (paddlepaddle, the x86 runtime PaddleSeg itself deploys with).

Which engine runs a model: a ``.nb`` is Paddle Lite's own format. A program (``.pdmodel`` / PIR ``.json``) runs
with Paddle Inference where paddlepaddle is installed: Paddle Lite's x86 build lacks ops that mobile models use
(PP-MobileSeg's ``linear_interp_v2``, VIM's ``index_put`` in a ``while`` block), which its ARM build has. Without
paddlepaddle, a program is converted for x86 by Paddle Lite. A session can ask for another order (the emulated
phone's benchmark_bin tries Paddle Lite first, as the real tool converts with it); the record's ``tool`` names the
engine that ran.

Why a worker and not in process, like ONNX Runtime and LiteRT:

- Paddle Lite stops the whole process on a model it cannot read (a glog ``Check failed`` is an abort, not
  an exception): in process, one corrupt ``.nb`` would end the run. The worker dies instead, and the case
  fails with Paddle Lite's own fatal line.
- The x86 build has no ``set_threads``: threads come from OMP_NUM_THREADS when the library loads, so a
  thread sweep needs a fresh process per thread count.

``.nb`` models load with ``MobileConfig``; combined ``.pdmodel`` + ``.pdiparams`` models are first converted
to a cached ``.nb`` for this machine with ``paddlelite.lite.Opt`` (x86 target), as Paddle Lite's own benchmark
does with ``--optimized_model_file``. The worker times ``run()`` itself, so the pipe is not in the samples.
The worker inherits the CPU binding of the process that opens the session.
"""

from __future__ import annotations

import collections
import hashlib
import importlib.util
import os
import pickle
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from segbench.errors import ModelError
from segbench.model import TensorInfo
from segbench.runners.host import HostRuntime, Timed, missing, package_version, timed

INSTALL_HINT = "pip install 'segbench[paddle]' on Python 3.10 (paddlelite has no wheels for newer Pythons)"
LITE, INFERENCE = "paddlelite", "paddle-inference"
# What each engine is called in records, and the package that carries it.
TOOLS = {LITE: ("paddlelite-python", "paddlelite"), INFERENCE: ("paddle-inference-python", "paddlepaddle")}
HOST_ORDER = (INFERENCE, LITE)


def installed(engine: str) -> bool:
    module = "paddlelite" if engine == LITE else "paddle"
    return importlib.util.find_spec(module) is not None
_HEADER = struct.Struct("<Q")


def _send(stream: Any, message: Any) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def _receive(stream: Any) -> Any:
    """The next message, or None at end of stream (the other side is gone)."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    size = _HEADER.unpack(header)[0]
    data = stream.read(size)
    return pickle.loads(data) if len(data) == size else None


class PaddleLiteSession:
    def __init__(self, path: str, threads: int, engines: tuple[str, ...] = HOST_ORDER) -> None:
        usable = [e for e in engines if installed(e) and (e == LITE or not path.endswith(".nb"))]
        if not usable:
            raise missing("paddlelite", "Paddle models", INSTALL_HINT)
        if path.endswith(".nb"):
            _runs_here(path)
        self.path = path
        self._inputs: list[TensorInfo] | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self.notes: list[str] = []
        # One worker per engine tried: Paddle Lite aborts the process on a model it cannot take (glog CHECK).
        for i, engine in enumerate(usable):
            try:
                self._start(engine, threads)
                # Paddle's own init (conversion of a program + predictor creation), not the worker's start-up;
                # nb_path: the .nb Paddle Lite loaded (converted or given), None under Paddle Inference.
                self.init_ms, self.nb_path = self._call("load")
                break
            except ModelError as exc:
                self.close()
                if i == len(usable) - 1:
                    if self.notes:
                        raise ModelError(f"{exc.message} (after {'; '.join(self.notes)})") from None
                    raise
                self.notes.append(f"{engine}: {exc.message.removeprefix(f'{path}: ')}")
            except BaseException:  # Ctrl-C: no worker left behind
                self.close()
                raise
        self.tool, dist = TOOLS[self.engine]
        self.tool_version = package_version(dist)

    def _start(self, engine: str, threads: int) -> None:
        self.engine = engine
        self._stderr: collections.deque[str] = collections.deque(maxlen=200)
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
        self._proc = subprocess.Popen([sys.executable, "-m", __name__, self.path, engine], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        self._reader = threading.Thread(target=self._drain, args=(self._proc.stderr,), daemon=True)
        self._reader.start()

    @property
    def inputs(self) -> list[TensorInfo]:
        """The model's inputs as its file (or, for a .nb, its manifest entry) declares them; see read_io."""
        if self._inputs is None:
            from segbench.modelinfo.io import read_io

            self._inputs = read_io(self.path)[0]
        return self._inputs

    def set_inputs(self, arrays: list[np.ndarray]) -> None:
        arr = np.ascontiguousarray(arrays[0])
        self._call("set", arr)
        name = self._inputs[0].name if self._inputs else "x"
        self._inputs = [TensorInfo(name, tuple(arr.shape), arr.dtype.name, "nchw")]

    def run_once(self) -> Timed:
        return Timed(*self._call("run"))  # timed in the worker: its wall time and its own CPU time

    def outputs(self) -> list[np.ndarray]:
        return self._call("outputs")

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:  # an idle worker ends at once; one still in a run (after Ctrl-C) gets a moment, then is killed
            _send(proc.stdin, ("close", None))
            proc.stdin.close()
            proc.wait(timeout=3)
        except (OSError, ValueError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()
        self._reader.join(timeout=1)

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown; nothing left to report to
            pass

    def _drain(self, stream: Any) -> None:
        for line in stream:
            self._stderr.append(line.decode("utf-8", errors="replace").rstrip())

    def _call(self, command: str, arg: Any = None) -> Any:
        proc = self._proc
        if proc is None:
            raise ModelError(f"{self.path}: the Paddle Lite session is closed")
        try:
            _send(proc.stdin, (command, arg))
            reply = _receive(proc.stdout)
        except (BrokenPipeError, OSError):
            reply = None
        if reply is None:
            raise self._died()
        status, value = reply
        if status == "error":
            raise ModelError(f"{self.path}: {value}")
        return value

    def _died(self) -> ModelError:
        proc, self._proc = self._proc, None
        code = proc.wait() if proc else None
        self._reader.join(timeout=2)
        fatal = [ln for ln in self._stderr if ln.startswith("[F ") or "Check failed" in ln or "Error" in ln]
        why = fatal[-1] if fatal else (self._stderr[-1] if self._stderr else "no message")
        signal = f"signal {-code}" if code is not None and code < 0 else f"exit status {code}"
        name = "Paddle Lite" if self.engine == LITE else "Paddle Inference"
        return ModelError(f"{self.path}: {name} stopped ({signal}): {why}")


def _runs_here(path: str) -> None:
    """Refuse a .nb optimised for other processors (an ARM one on x86): Paddle Lite would load it and time nothing
    meaningful (docs/zoo.md), a figure that looks like a result."""
    from segbench.errors import RuntimeUnavailable
    from segbench.modelinfo.nb import foreign_targets, this_machine

    try:
        foreign = foreign_targets(path)
    except OSError as exc:
        raise ModelError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if foreign:
        raise RuntimeUnavailable(
            f"{path}: a Paddle Lite model optimised for {', '.join(foreign)} (its kernels), which Paddle Lite on this "
            f"{this_machine()} machine cannot run",
            hint="run it on a phone with --device, or benchmark the .pdmodel it was converted from")


# -- the worker -------------------------------------------------------------------------------------------


def _optimize(lite: Any, model_file: Path) -> Path:
    out_dir = Path(tempfile.gettempdir()) / "segbench-paddle-opt"
    out_dir.mkdir(parents=True, exist_ok=True)
    # Keyed by both files' size and mtime: new weights beside an unchanged program get a fresh conversion.
    params = model_file.with_suffix(".pdiparams")
    stamp = hashlib.sha256(repr([(f.resolve(), f.stat().st_size, f.stat().st_mtime_ns) for f in (model_file, params)])
                           .encode()).hexdigest()[:16]
    out = out_dir / f"{model_file.stem}-{stamp}"
    if not out.with_suffix(".nb").exists():
        opt = lite.Opt()
        opt.set_model_file(str(model_file))
        opt.set_param_file(str(params))
        opt.set_valid_places("x86")
        opt.set_model_type("naive_buffer")
        opt.set_optimize_out(str(out))
        opt.run()
    if not out.with_suffix(".nb").exists():
        raise RuntimeError("Paddle Lite's opt could not convert it for x86")
    return out.with_suffix(".nb")


class _Lite:
    """Paddle Lite: a .nb as given, a program converted for x86 first."""

    def __init__(self, model: Path) -> None:
        from paddlelite import lite

        nb = model if model.suffix == ".nb" else _optimize(lite, model)
        config = lite.MobileConfig()
        config.set_model_from_file(str(nb))
        self.predictor = lite.create_paddle_predictor(config)
        self.nb_path: str | None = str(nb)

    def set(self, arr: np.ndarray) -> None:
        self.predictor.get_input(0).from_numpy(arr)

    def run(self) -> None:
        self.predictor.run()

    def outputs(self) -> list[np.ndarray]:
        return [np.array(self.predictor.get_output(0).numpy())]


class _Inference:
    """Paddle Inference on the CPU, as PaddleSeg's own Python deployment runs an export."""

    def __init__(self, model: Path) -> None:
        import paddle.inference as pi

        config = pi.Config(str(model), str(model.with_suffix(".pdiparams")))
        config.disable_gpu()
        config.set_cpu_math_library_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
        config.disable_glog_info()
        self.predictor = pi.create_predictor(config)
        self.nb_path = None

    def set(self, arr: np.ndarray) -> None:
        handle = self.predictor.get_input_handle(self.predictor.get_input_names()[0])
        handle.reshape(list(arr.shape))
        handle.copy_from_cpu(arr)

    def run(self) -> None:
        self.predictor.run()

    def outputs(self) -> list[np.ndarray]:
        return [self.predictor.get_output_handle(n).copy_to_cpu() for n in self.predictor.get_output_names()]


def _serve(path: str, engine: str) -> int:
    # The protocol gets its own copy of stdout; fd 1 then points at stderr, so what Paddle Lite prints
    # (opt's progress lines) cannot corrupt it.
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    inp = sys.stdin.buffer
    runner = None
    while True:
        message = _receive(inp)
        if message is None or message[0] == "close":
            return 0
        command, arg = message
        try:
            if command == "load":
                t0 = time.perf_counter_ns()
                runner = (_Lite if engine == LITE else _Inference)(Path(path))
                value = ((time.perf_counter_ns() - t0) / 1e6, runner.nb_path)
            elif command == "set":
                runner.set(arg)
                value = None
            elif command == "run":
                value = tuple(timed(runner.run))
            elif command == "outputs":
                value = runner.outputs()
            else:
                raise ValueError(f"unknown command {command!r}")
        except Exception as exc:  # noqa: BLE001 - paddlelite raises plain RuntimeError/Exception; pass it on
            name = "Paddle Lite" if engine == LITE else "Paddle Inference"
            _send(out, ("error", f"{name} cannot {command} it: {exc}"))
            continue
        _send(out, ("ok", value))


RUNTIME = HostRuntime("paddlelite", "paddlelite-python", PaddleLiteSession, lambda: package_version("paddlelite"))

if __name__ == "__main__":
    # Ctrl-C reaches the whole process group: the parent handles it (the case is interrupted, not failed)
    # and then closes this worker, so the worker itself ignores it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.exit(_serve(sys.argv[1], sys.argv[2]))
