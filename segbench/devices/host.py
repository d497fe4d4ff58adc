"""This machine as a benchmark device: what it is, and binding work to its CPUs."""

from __future__ import annotations

import contextlib
import os
import platform
import socket
from collections.abc import Iterator
from pathlib import Path

from segbench.model import DeviceInfo

SYS_CPU = Path("/sys/devices/system/cpu")


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def cpu_max_khz(sys_cpu: Path = SYS_CPU) -> dict[int, int]:
    """cpu index -> cpuinfo_max_freq (kHz) for the CPUs we may run on; {} where cpufreq is absent."""
    out = {}
    for cpu in sorted(available_cpus()):
        value = _read(sys_cpu / f"cpu{cpu}" / "cpufreq" / "cpuinfo_max_freq")
        if value and value.isascii() and value.isdigit():
            out[cpu] = int(value)
    return out


def available_cpus() -> set[int]:
    if hasattr(os, "sched_getaffinity"):
        return set(os.sched_getaffinity(0))
    return set(range(os.cpu_count() or 1))


def _cpu_model() -> str | None:
    text = _read(Path("/proc/cpuinfo")) or ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("model name", "Hardware", "Processor") and value.strip():
            return value.strip()
    return platform.processor() or None


def _memory_mb() -> float | None:
    text = _read(Path("/proc/meminfo")) or ""
    for line in text.splitlines():
        if line.startswith("MemTotal:"):
            return round(int(line.split()[1]) / 1024, 1)
    return None


def host_info() -> DeviceInfo:
    return DeviceInfo(
        id="host",
        kind="host",
        model=socket.gethostname(),
        os=platform.platform(),
        abi=platform.machine(),
        cpu_model=_cpu_model(),
        cores=len(available_cpus()),
        cpu_max_khz=cpu_max_khz(),
        memory_mb=_memory_mb(),
    )


@contextlib.contextmanager
def bound_to(cpus: list[int] | None) -> Iterator[None]:
    """Run the block with this thread's CPU affinity set to ``cpus`` (None: leave as is).

    Threads a runtime creates inside the block inherit the mask, which is why sessions are
    created inside it. The previous affinity is restored afterwards.
    """
    if cpus is None or not hasattr(os, "sched_setaffinity"):
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def thermal_c(root: Path = Path("/sys/class/thermal")) -> dict[str, float]:
    """Thermal zone type -> temperature in °C; {} on hosts (and containers) without zones."""
    out: dict[str, float] = {}
    for zone in sorted(root.glob("thermal_zone*")):
        kind, temp = _read(zone / "type"), _read(zone / "temp")
        if kind and temp and temp.isascii() and temp.lstrip("-").isdigit():
            out[kind if kind not in out else f"{kind}.{zone.name}"] = int(temp) / 1000.0
    return out
