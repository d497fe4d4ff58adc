"""What every stand-in shares: run records, the busy marker that heats the phone, tool faults."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path


def state_dir() -> Path | None:
    value = os.environ.get("SEGBENCH_EMU_STATE")
    return Path(value) if value else None


def tool_fault(tool: str) -> str | None:
    for item in os.environ.get("SEGBENCH_EMU_FAULT", "").split(","):
        kind, _, target = item.partition("=")
        if target in (tool, "any") and kind in ("crash", "hang", "garbage"):
            return kind
    return None


def delegate_fault(delegate: str) -> str | None:
    """'fallback' or 'fail' when SEGBENCH_EMU_FAULT says so for ``delegate`` (gpu, nnapi, xnnpack)."""
    for item in os.environ.get("SEGBENCH_EMU_FAULT", "").split(","):
        kind, _, target = item.partition("=")
        if target in (delegate, "any") and kind in ("fallback", "delegate-fail"):
            return "fallback" if kind == "fallback" else "fail"
    return None


def accelerators() -> dict[str, str]:
    """The emulated phone's accelerators (its sandbox writes them: ``gpu Adreno (TM) 640``, ``nnapi``); none
    when the stand-in runs outside a phone."""
    d = state_dir()
    try:
        lines = (d / "accelerators").read_text().splitlines() if d else []
    except OSError:
        lines = []
    return {kind: rest for kind, _, rest in (ln.partition(" ") for ln in lines if ln.strip())}


def _timing_faults() -> tuple[float | None, float]:
    """(latency=MS as seconds or None, slow=FACTOR or 1) from SEGBENCH_EMU_FAULT."""
    fixed, factor = None, 1.0
    for item in os.environ.get("SEGBENCH_EMU_FAULT", "").split(","):
        kind, _, value = item.partition("=")
        if kind == "latency":
            fixed = float(value) / 1000.0
        elif kind == "slow":
            factor = float(value)
    return fixed, factor


def reported_s(measured_s: float) -> float:
    """The time a stand-in prints for one run: the phone clock's (``phone_s``), or the latency fault's fixed figure
    (so that a test's verdict never hangs on this machine's noise), times the slow fault's factor (a phone that
    slowed down)."""
    fixed, factor = _timing_faults()
    return (measured_s if fixed is None else fixed) * factor


def cores_for(threads: int | None) -> int:
    """How many cores a run of ``threads`` threads keeps busy here: the thread count (a tool's default, 0 or -1,
    is its single-threaded CPU path), at most the CPUs this process may use."""
    avail = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(threads if threads and threads > 0 else 1, avail))


def phone_s(call: Callable[[], object], cores: int) -> float:
    """Run ``call`` once; the seconds the emulated phone's clock gives it, before faults (``reported_s``).

    A phone's cores run the phone's work only, but the stand-ins share this host's CPUs with whatever else runs
    here (other phones of a farm, a test suite, a build). Wall time would hand the host's load to the phone's
    figures: two identical nightlies under load "regress" by tens of percent. So the phone's clock is the CPU
    time the stand-in's process spent on the call, all its threads together, over the cores its threads keep
    busy (``cores_for``): the time the call takes on cores of its own. Waiting for a CPU that other work holds
    costs no CPU time, so a concurrent load barely moves it (docs/emulator.md, "The phone's clock")."""
    from segbench.runners.host import timed

    return timed(call).cpu_ms / 1000.0 / cores


def apply_fault(tool: str, out: Callable[[str], None]) -> None:
    """Act out a crash/hang/garbage fault once the tool printed its first lines."""
    fault = tool_fault(tool)
    if fault is None:
        return
    sys.stdout.flush()
    if fault == "crash":
        os.kill(os.getpid(), signal.SIGSEGV)
    if fault == "hang":
        while True:
            time.sleep(3600)
    if fault == "garbage":
        junk = bytes((i * 73 + 41) % 94 + 33 for i in range(2048)).decode()
        for i in range(0, len(junk), 64):
            out(junk[i:i + 64])
        sys.stdout.flush()
        os._exit(0)


class Busy:
    """Marks the phone busy while the model runs (the thermal model reads these)."""

    def __enter__(self) -> Busy:
        self.start = time.time()
        d = state_dir()
        self.marker = d / "busy" / str(os.getpid()) if d else None
        if self.marker:
            self.marker.write_text(repr(self.start))
        return self

    def __exit__(self, *exc: object) -> None:
        d = state_dir()
        if d and self.marker:
            with open(d / "busy.log", "a") as f:
                f.write(f"{self.start!r} {time.time()!r}\n")
            self.marker.unlink(missing_ok=True)


def cpu_max_khz() -> dict[int, int]:
    """The emulated phone's CPUs and their max frequencies (kHz); empty outside a phone."""
    d = state_dir()
    try:
        lines = (d / "cpufreq").read_text().split("\n") if d else []
    except OSError:
        lines = []
    return {int(cpu): int(khz) for cpu, _, khz in (ln.partition(" ") for ln in lines if ln.strip())}


def inherited_cpus() -> list[int]:
    """The CPUs this process may run on as its parent left it: the taskset applet's mask, else every CPU."""
    from segbench.power import cpus_of_mask

    mask = os.environ.get("SEGBENCH_EMU_CPUMASK")
    return (cpus_of_mask(mask) or []) if mask else sorted(cpu_max_khz())


def record(tool: str, argv: list[str], **figures: object) -> None:
    """Append what ran, under which CPU mask, on which CPUs its threads were allowed (``cpus``: the inherited mask,
    unless the tool bound its threads itself) and what it measured (for tests and users)."""
    d = state_dir()
    if not d:
        return
    figures.setdefault("cpus", inherited_cpus())
    entry = {"tool": tool, "argv": argv, "cpumask": os.environ.get("SEGBENCH_EMU_CPUMASK"), **figures}
    with open(d / "tool_runs.jsonl", "a") as f:
        f.write(json.dumps(entry) + "\n")


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python -m segbench.emulator.tools TOOL ARGS...", file=sys.stderr)
        return 2
    tool, args = argv[0], argv[1:]
    if tool == "onnxruntime_perf_test":
        from segbench.emulator.tools.ort_perf_test import run
    elif tool == "benchmark_model":
        from segbench.emulator.tools.tflite_benchmark import run
    elif tool == "benchmark_bin":
        from segbench.emulator.tools.paddle_benchmark import run
    else:
        print(f"unknown tool {tool}", file=sys.stderr)
        return 2
    return run(args)
