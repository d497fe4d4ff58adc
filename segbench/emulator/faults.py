"""Fault SPECs for the emulated phone (docs/emulator.md, "Faults").

A SPEC is a comma-separated list of items; each item is ``name`` or ``name=value``:

    drop-after=N        the connection drops when command N+1 is opened (the phone is unplugged)
    drop-during=TEXT    the connection drops while a shell command containing TEXT runs; the phone
                        is back a second later (a loose cable), for every such command
    crash=TOOL          TOOL (benchmark_bin, benchmark_model, onnxruntime_perf_test or any)
                        dies of SIGSEGV after printing its first lines (rc 139)
    hang=TOOL           TOOL prints its first lines, then never finishes
    garbage=TOOL        TOOL prints garbage instead of its report and exits 0
    disk-full[=BYTES]   pushes fail with "No space left on device" once BYTES were stored (default 0)
    throttle[=CELSIUS]  the phone is hot (CPU zones at CELSIUS, default 85), so cpufreq is capped
    latency=MS          the tool stand-ins report every run as MS ms instead of the host's time (reproducible)
    slow=FACTOR         the tool stand-ins report every run FACTOR times as long (a slower phone)
    fallback=DELEGATE   the tools' DELEGATE (gpu, nnapi, xnnpack or any) takes no node: the tool says so and the
                        model runs on the CPU, as a real delegate that rejects a model does
    delegate-fail=DELEGATE  applying DELEGATE fails: the tool prints the driver's error and stops
    offline             the phone connects, then drops off the bus and refuses to come back
    unauthorized        the phone asks for an RSA key it never accepts (adb shows "unauthorized")
"""

from __future__ import annotations

from dataclasses import dataclass

from segbench.errors import UsageError

TOOLS = ("benchmark_bin", "benchmark_model", "onnxruntime_perf_test")
DELEGATES = ("gpu", "nnapi", "xnnpack")
_TOOL_FAULTS = ("crash", "hang", "garbage")


@dataclass(frozen=True)
class Faults:
    drop_after: int | None = None
    drop_during: str | None = None
    crash: str | None = None
    hang: str | None = None
    garbage: str | None = None
    disk_full: int | None = None
    throttle_c: float | None = None
    latency_ms: float | None = None
    slow: float | None = None
    fallback: str | None = None
    delegate_fail: str | None = None
    offline: bool = False
    unauthorized: bool = False

    def tool_fault(self, tool: str) -> str | None:
        """'crash', 'hang' or 'garbage' when that fault applies to ``tool``."""
        for kind in _TOOL_FAULTS:
            target = getattr(self, kind)
            if target in (tool, "any"):
                return kind
        return None

    def env_value(self) -> str:
        """The tool faults as passed to stand-ins in SEGBENCH_EMU_FAULT ('crash=any,latency=2.5,...')."""
        items = [f"{k}={getattr(self, k)}" for k in _TOOL_FAULTS if getattr(self, k)]
        items += [f"{k}={v!r}" for k, v in (("latency", self.latency_ms), ("slow", self.slow)) if v is not None]
        items += [f"{k}={v}" for k, v in (("fallback", self.fallback), ("delegate-fail", self.delegate_fail)) if v]
        return ",".join(items)


def _int(name: str, value: str) -> int:
    if not (value.isascii() and value.isdigit()):
        raise UsageError(f"--fault {name}={value!r}: expected a non-negative whole number")
    return int(value)


def _positive(name: str, value: str, what: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not number > 0 or number == float("inf"):
        raise UsageError(f"--fault {name}={value!r}: expected {what} above 0")
    return number


def _celsius(value: str) -> float:
    """A CPU temperature a phone can report: finite, from absolute zero to 200 C (sysfs holds millidegrees)."""
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not -273.0 <= number <= 200.0:  # NaN fails both
        raise UsageError(f"--fault throttle={value!r}: expected degrees Celsius from -273 to 200")
    return number


def _tool(name: str, value: str) -> str:
    if value not in (*TOOLS, "any"):
        raise UsageError(f"--fault {name}={value!r}: unknown tool", hint=f"use one of {', '.join(TOOLS)} or any")
    return value


def parse_faults(spec: str | None) -> Faults:
    """'drop-after=3,crash=benchmark_bin' -> Faults; a bad SPEC is a usage error."""
    fields: dict[str, object] = {}
    for item in (spec or "").split(","):
        item = item.strip()
        if not item:
            continue
        name, has_value, value = item.partition("=")
        value = value.strip()
        if name == "drop-after" and has_value:
            fields["drop_after"] = _int(name, value)
        elif name == "drop-during" and value:
            fields["drop_during"] = value
        elif name in _TOOL_FAULTS and has_value:
            fields[name] = _tool(name, value)
        elif name == "disk-full":
            fields["disk_full"] = _int(name, value) if has_value else 0
        elif name == "throttle":
            fields["throttle_c"] = _celsius(value) if has_value else 85.0
        elif name == "latency" and has_value:
            fields["latency_ms"] = _positive(name, value, "milliseconds")
        elif name == "slow" and has_value:
            fields["slow"] = _positive(name, value, "a factor")
        elif name in ("fallback", "delegate-fail") and has_value:
            if value not in (*DELEGATES, "any"):
                raise UsageError(f"--fault {name}={value!r}: unknown delegate",
                                 hint=f"use one of {', '.join(DELEGATES)} or any")
            fields[name.replace("-", "_")] = value
        elif name in ("offline", "unauthorized") and not has_value:
            fields[name] = True
        else:
            raise UsageError(f"--fault: cannot read {item!r}", hint="see docs/emulator.md for the SPEC grammar")
    return Faults(**fields)  # type: ignore[arg-type]
