"""Power modes -> CPU sets, from a CPU's real cluster topology. Pure; no I/O.

The topology is the per-CPU ``cpuinfo_max_freq`` (kHz) read from cpufreq on a phone or on
this host. Clusters are CPUs with the same max frequency. ``low`` is the slowest cluster,
``high`` every faster cluster (on a Snapdragon 855: silver 0-3 low, gold 4-6 + prime 7 high),
``full`` all CPUs, ``no_bind`` no affinity. A machine with one cluster (most hosts, or
cpufreq unreadable) maps every binding mode to all CPUs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from segbench.errors import UsageError
from segbench.model import POWER_MODES


def clusters(max_khz: Mapping[int, int]) -> list[list[int]]:
    """CPUs grouped by max frequency, slowest cluster first."""
    by_freq: dict[int, list[int]] = {}
    for cpu, khz in sorted(max_khz.items()):
        by_freq.setdefault(khz, []).append(cpu)
    return [by_freq[f] for f in sorted(by_freq)]


def cpus_for_mode(mode: str, max_khz: Mapping[int, int], all_cpus: Iterable[int] | None = None) -> list[int] | None:
    """CPU indices a power mode binds to, or None for no binding.

    ``rand_high``/``rand_low`` bind like ``high``/``low`` (Paddle Lite picks cores at random
    inside the same cluster; for taskset the whole cluster is the honest mask).
    """
    if mode not in POWER_MODES:
        raise UsageError(f"unknown power mode {mode!r}", hint=f"use one of {', '.join(POWER_MODES)}")
    if mode == "no_bind":
        return None
    everything = sorted(all_cpus) if all_cpus is not None else sorted(max_khz)
    groups = clusters({c: f for c, f in max_khz.items() if c in set(everything)})
    if len(groups) < 2 or mode == "full":
        return everything
    if mode in ("low", "rand_low"):
        return groups[0]
    return sorted(c for g in groups[1:] for c in g)


def mask_hex(cpus: Iterable[int] | None) -> str | None:
    """taskset's hex mask for a CPU set (cpus 4-7 -> 'f0'); None for no binding."""
    if cpus is None:
        return None
    value = 0
    for c in cpus:
        value |= 1 << c
    return f"{value:x}"


def parse_power_modes(text: str) -> list[str]:
    """'high,low' -> ['high', 'low'], rejecting unknown names with one clear message."""
    modes = [m.strip() for m in text.split(",") if m.strip()]
    if not modes:
        raise UsageError("--power-mode is empty", hint=f"use one or more of {', '.join(POWER_MODES)}")
    for m in modes:
        if m not in POWER_MODES:
            raise UsageError(f"unknown power mode {m!r}", hint=f"use one or more of {', '.join(POWER_MODES)}")
    return list(dict.fromkeys(modes))


# More threads than this many per CPU only measure the scheduler (and each thread costs memory and a stack).
THREADS_PER_CPU = 4
MAX_THREADS = 1024  # whatever the machine; the bound where the CPU count is unknown


def check_threads(threads: Iterable[int], cores: int | None, where: str) -> None:
    """UsageError for a thread count above THREADS_PER_CPU x the CPUs of the machine or phone that runs it."""
    limit = THREADS_PER_CPU * cores if cores else MAX_THREADS
    over = [n for n in threads if n > limit]
    if over:
        raise UsageError(f"--threads {max(over)}: more than {THREADS_PER_CPU} x the {cores} CPUs of {where}"
                         if cores else f"--threads {max(over)}: more than {MAX_THREADS}",
                         hint=f"at most {limit} there")


def parse_threads(text: str) -> list[int]:
    """'1,2,4' -> [1, 2, 4]; every count must be a positive integer."""
    out = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            n = int(part)
        except ValueError:
            raise UsageError(f"--threads: {part!r} is not a whole number", hint="e.g. --threads 1,2,4") from None
        if n < 1:
            raise UsageError(f"--threads: {n} is not a valid thread count", hint="thread counts start at 1")
        if n > MAX_THREADS:
            raise UsageError(f"--threads: {n} is not a sane thread count", hint=f"at most {MAX_THREADS}")
        out.append(n)
    if not out:
        raise UsageError("--threads is empty", hint="e.g. --threads 1,2,4")
    return list(dict.fromkeys(out))
