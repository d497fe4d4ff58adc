"""In-process runners on this machine: one session type per runtime, one timing loop for all.

Each ``open_session`` returns a HostSession whose ``run_once`` times only the runtime's
inference call (ORT ``run_with_iobinding``, LiteRT ``invoke``, Paddle Lite ``run``): inputs
are bound before the loop and outputs are never converted inside it. Every run is timed on two
clocks (``timed``): wall time, the latency, and the CPU time the process spent, which other work
on a shared machine barely moves (``segbench compare --clock cpu``, docs/report.md).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple, Protocol

import numpy as np

from segbench.errors import InputError, RuntimeUnavailable, UsageError
from segbench.model import TensorInfo


class Timed(NamedTuple):
    """One timed call on two clocks."""

    wall_ms: float
    # CPU time the process that made the call spent during it, all its threads together (None where the call ran
    # elsewhere, e.g. a phone's tool). Time spent waiting for a CPU that other work holds is not in it.
    cpu_ms: float | None = None


def timed(call: Callable[[], object]) -> Timed:
    """Call once; its wall time and this process's CPU time during it, in milliseconds."""
    w0, c0 = time.perf_counter_ns(), time.process_time_ns()
    call()
    c1, w1 = time.process_time_ns(), time.perf_counter_ns()
    return Timed((w1 - w0) / 1e6, (c1 - c0) / 1e6)


class HostSession(Protocol):
    inputs: list[TensorInfo]

    def set_inputs(self, arrays: list[np.ndarray]) -> None: ...

    def run_once(self) -> Timed:
        """One inference, timed (``timed``)."""
        ...

    def outputs(self) -> list[np.ndarray]: ...


def close_session(session: HostSession) -> None:
    """Release what a session holds beyond memory (Paddle Lite's worker process); others need nothing."""
    close = getattr(session, "close", None)
    if close is not None:
        close()


@dataclass(frozen=True)
class HostRuntime:
    name: str  # "onnxruntime" | "tflite" | "paddlelite"
    tool: str  # what the record's `tool` says, e.g. "onnxruntime-python"
    open_session: Callable[[str, int], HostSession]
    version: Callable[[], str | None]


def runtime_for(runtime: str) -> HostRuntime:
    """The in-process runtime by name; raises RuntimeUnavailable with the install hint."""
    if runtime == "onnxruntime":
        from segbench.runners import host_onnxruntime as mod
    elif runtime == "tflite":
        from segbench.runners import host_litert as mod
    elif runtime == "paddlelite":
        from segbench.runners import host_paddlelite as mod
    else:
        raise UsageError(f"unknown runtime {runtime!r}", hint="use onnxruntime, tflite or paddlelite")
    return mod.RUNTIME


# The largest input tensor segbench makes (random or from an image). A model declaring more (1x3x100000x100000 float32
# is 120 GB) is refused before anything is allocated; real segmentation inputs are a few hundred MB at most.
MAX_INPUT_BYTES = 1 << 30


def check_input_size(info: TensorInfo) -> None:
    """InputError when the input's declared static shape would take more than MAX_INPUT_BYTES."""
    dims = [d for d in info.shape if isinstance(d, int) and d > 0]
    try:
        itemsize = np.dtype(info.dtype).itemsize or 1
    except TypeError:
        itemsize = 1
    size = math.prod(dims) * itemsize
    if size > MAX_INPUT_BYTES:
        raise InputError(f"input {info.name!r} declares {list(info.shape)} {info.dtype}: {size / 1e9:,.1f} GB, more "
                         f"than segbench allocates for an input ({MAX_INPUT_BYTES / 2**30:g} GiB)",
                         hint="export the model with the input size to benchmark")


def random_input(info: TensorInfo, seed: int = 0) -> np.ndarray:
    """A seeded random tensor of the input's own shape and dtype.

    A dynamic batch dimension becomes 1; any other dynamic dimension cannot be guessed.
    """
    shape = []
    for i, d in enumerate(info.shape):
        if isinstance(d, int) and d > 0:
            shape.append(d)
        elif i == 0:
            shape.append(1)
        else:
            raise UsageError(
                f"input {info.name!r} has a dynamic dimension {i} ({d})",
                hint="pass --input with a tensor or image of the size to benchmark",
            )
    check_input_size(info)
    rng = np.random.default_rng(seed)
    try:
        dtype = np.dtype(info.dtype)
    except TypeError:  # a string or bfloat16 input
        raise UsageError(f"input {info.name!r} has dtype {info.dtype}, which segbench cannot generate",
                         hint="pass --input") from None
    if dtype.kind == "f":
        return rng.uniform(-1.0, 1.0, size=shape).astype(dtype)
    if dtype.kind in "iu":
        lo, hi = (0, 256) if dtype == np.uint8 else (-128, 128) if dtype == np.int8 else (0, 2)
        return rng.integers(lo, hi, size=shape).astype(dtype)
    if dtype.kind == "b":
        return rng.integers(0, 2, size=shape).astype(dtype)
    raise UsageError(f"input {info.name!r} has dtype {dtype}, which segbench cannot generate", hint="pass --input")


def package_version(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def missing(runtime: str, what: str, hint: str) -> RuntimeUnavailable:
    return RuntimeUnavailable(f"{runtime} is not installed, so {what} cannot run here", hint=hint)
