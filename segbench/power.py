"""Power modes -> CPU sets, from a CPU's real cluster topology. Pure; no I/O.

The topology is the per-CPU ``cpuinfo_max_freq`` (kHz) read from cpufreq on a phone or on this host. Clusters are
CPUs with the same max frequency, slowest first. Two vocabularies (docs/design.md, "Power modes and CPU binding"):

- Explicit CPU sets, the same silicon for every tool: ``silver`` (the slowest cluster), ``gold`` (the clusters
  between the slowest and the fastest; on a two-cluster chip the faster one), ``prime`` (the fastest cluster, on a
  chip of three or more clusters), ``big`` (every cluster but the slowest: gold + prime) and ``cpus:LIST`` (CPU
  numbers and ranges, ``cpus:4-7``, ``cpus:0,7``). A machine without that cluster (``prime`` on a one-cluster host)
  or without those CPUs cannot run the mode: :func:`binding` says why and the case is ``skipped``.
- Paddle Lite's own modes (``high``, ``low``, ``full``, ``no_bind``, ``rand_high``, ``rand_low``): benchmark_bin binds
  its threads by itself (:func:`paddle_binding` is its rule); the other tools run under the cluster's mask (``high``
  every cluster but the slowest, ``low`` the slowest, ``full`` all). A one-cluster machine (or cpufreq unreadable)
  maps every binding mode to all CPUs.

On the SD855 (silver 0-3 @1.79 GHz, gold 4-6 @2.42, prime 7 @2.84): silver 0f, gold 70, prime 80, big f0.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from segbench.errors import UsageError
from segbench.model import CLUSTER_MODES, CPUS_PREFIX, POWER_MODES

ALL_MODES = (*CLUSTER_MODES, *POWER_MODES)
MODES_HINT = f"use {', '.join(ALL_MODES)} or {CPUS_PREFIX}LIST (e.g. {CPUS_PREFIX}4-7)"


def clusters(max_khz: Mapping[int, int]) -> list[list[int]]:
    """CPUs grouped by max frequency, slowest cluster first."""
    by_freq: dict[int, list[int]] = {}
    for cpu, khz in sorted(max_khz.items()):
        by_freq.setdefault(khz, []).append(cpu)
    return [by_freq[f] for f in sorted(by_freq)]


def cpu_list(cpus: Iterable[int]) -> str:
    """CPU numbers as the kernel lists them (Cpus_allowed_list): [4, 5, 6, 7, 9] -> '4-7,9'."""
    out: list[str] = []
    run: list[int] = []
    for c in sorted(set(cpus)):
        if run and c != run[-1] + 1:
            out.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
            run = []
        run.append(c)
    if run:
        out.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
    return ",".join(out)


def parse_cpu_list(text: str, what: str = "CPU list") -> tuple[int, ...]:
    """'4-7,9' -> (4, 5, 6, 7, 9): numbers and ascending ranges, comma-separated; UsageError otherwise."""
    cpus: set[int] = set()
    for part in text.split(","):
        m = re.fullmatch(r"\s*(\d{1,4})(?:\s*-\s*(\d{1,4}))?\s*", part)
        if not m or (m.group(2) is not None and int(m.group(2)) < int(m.group(1))):
            raise UsageError(f"{what} {text!r} is not a list of CPU numbers",
                             hint=f"e.g. {CPUS_PREFIX}4-7 or {CPUS_PREFIX}0,7 (numbers and ascending ranges)")
        cpus.update(range(int(m.group(1)), int(m.group(2) or m.group(1)) + 1))
    return tuple(sorted(cpus))


def cpus_of_mask(mask: str | None) -> list[int] | None:
    """A hex mask -> its CPU numbers ('f0' -> [4, 5, 6, 7]); None stays None."""
    if mask is None:
        return None
    value = int(mask, 16)
    return [i for i in range(value.bit_length()) if value >> i & 1]


def describe(max_khz: Mapping[int, int]) -> str:
    """The topology in words: 'silver 0-3 @1.79 GHz, gold 4-6 @2.42 GHz, prime 7 @2.84 GHz'."""
    groups = clusters(max_khz)
    if not groups:
        return "CPU clusters unknown (no cpufreq cpuinfo_max_freq)"
    names = _names(len(groups))
    return ", ".join(f"{name} {cpu_list(g)} @{max_khz[g[0]] / 1e6:.2f} GHz" for name, g in zip(names, groups))


def _names(n: int) -> list[str]:
    if n == 1:
        return ["all"]
    if n == 2:
        return ["silver", "gold"]
    return ["silver", *(["gold"] * (n - 2)), "prime"]


@dataclass(frozen=True)
class Binding:
    """What a power mode binds to on one machine.

    ``cpus``: the CPU set a tool's process is put on (taskset on a phone, sched_setaffinity on the host); None: no
    affinity. ``explicit``: the set holds for every tool alike, Paddle Lite's benchmark_bin included (it is told
    NO_BIND and runs under the mask); otherwise Paddle Lite binds by itself (:func:`paddle_binding`). ``lacking``:
    why this machine cannot run the mode (a cluster or CPU it does not have): such a case is skipped, never run on
    other cores.
    """

    mode: str
    cpus: tuple[int, ...] | None
    explicit: bool = False
    lacking: str | None = None

    @property
    def mask(self) -> str | None:
        return mask_hex(self.cpus)


def binding(mode: str, max_khz: Mapping[int, int], all_cpus: Iterable[int] | None = None) -> Binding:
    """The CPU set a power mode stands for on a machine whose CPUs have these max frequencies (``all_cpus``: the
    CPUs this process may use, when it is not all of ``max_khz``, e.g. the host's affinity)."""
    everything = sorted(all_cpus) if all_cpus is not None else sorted(max_khz)
    known = {c: f for c, f in max_khz.items() if c in set(everything)}
    groups = clusters(known)
    if mode.startswith(CPUS_PREFIX):
        wanted = parse_cpu_list(mode[len(CPUS_PREFIX):], f"power mode {mode!r}:")
        missing = [c for c in wanted if c not in set(everything)]
        if everything and missing:
            return Binding(mode, None, True, f"no CPU {cpu_list(missing)} here (CPUs {cpu_list(everything)})")
        return Binding(mode, wanted, True)
    if mode in CLUSTER_MODES:
        return _cluster(mode, groups, known)
    if mode not in POWER_MODES:
        raise UsageError(f"unknown power mode {mode!r}", hint=MODES_HINT)
    if mode == "no_bind":
        return Binding(mode, None)
    if len(groups) < 2 or mode == "full":
        return Binding(mode, tuple(everything))
    if mode in ("low", "rand_low"):
        return Binding(mode, tuple(groups[0]))
    return Binding(mode, tuple(sorted(c for g in groups[1:] for c in g)))


def _cluster(mode: str, groups: list[list[int]], known: Mapping[int, int]) -> Binding:
    if len(groups) < 2:
        why = ("the CPU clusters here are unknown (no cpufreq cpuinfo_max_freq)" if not groups
               else f"one cluster here ({describe(known)})")
        return Binding(mode, None, True, f"no {mode} cluster: {why}")
    if mode == "prime" and len(groups) < 3:
        return Binding(mode, None, True, f"no prime cluster: two clusters here ({describe(known)})")
    chosen = {"silver": groups[:1], "big": groups[1:], "prime": groups[-1:],
              "gold": groups[1:-1] if len(groups) > 2 else groups[1:]}[mode]
    return Binding(mode, tuple(sorted(c for g in chosen for c in g)), True)


def cpus_for_mode(mode: str, max_khz: Mapping[int, int], all_cpus: Iterable[int] | None = None) -> list[int] | None:
    """The CPU indices a mode binds a tool's process to, or None for no binding (:func:`binding`; a mode the
    machine lacks binds nothing)."""
    b = binding(mode, max_khz, all_cpus)
    return list(b.cpus) if b.cpus is not None else None


@dataclass(frozen=True)
class ToolBinding:
    """Where a tool that binds by itself puts its threads: ``cpus`` (None: not bound, or not known), how many
    threads it runs, and what it says about it (Paddle Lite's log lines)."""

    cpus: tuple[int, ...] | None
    threads: int
    note: str | None = None


def paddle_binding(mode: str, threads: int, max_khz: Mapping[int, int]) -> ToolBinding:
    """Paddle Lite's own binding (DeviceInfo::SetRunMode, lite/core/device_info.cc) for one of its modes on a CPU
    whose cluster max frequencies are ``max_khz``: threads capped at the CPU count; big cores = every cluster but the
    slowest (all CPUs on a one-cluster CPU), little = the slowest. ``high`` takes the last ``threads`` big cores,
    highest number first (1 thread on an SD855: CPU 7), or all big cores with the thread count cut to them; ``low``
    the first little cores likewise; ``full`` big cores first, then little; ``no_bind`` binds nothing; the ``rand_``
    modes pick cores at random in the cluster (not known in advance)."""
    groups = clusters(max_khz)
    every = sorted(max_khz)
    if not every:
        return ToolBinding(None, threads, "CPU topology unknown")
    threads = min(threads, len(every))
    big = sorted(c for g in groups[1:] for c in g) if len(groups) > 1 else every
    little = groups[0] if len(groups) > 1 else []
    if mode == "no_bind":
        return ToolBinding(None, threads)
    if mode in ("rand_high", "rand_low"):
        return ToolBinding(None, min(threads, len(big if mode == "rand_high" else little or big)),
                           "Paddle Lite picks its cores at random in the cluster")
    if mode == "full":
        return ToolBinding(tuple(sorted((big + little)[:threads])), threads)
    pool, name = (big, "big") if mode == "high" or not little else (little, "little")
    if threads > len(pool):
        return ToolBinding(tuple(pool), len(pool), f"Request thread num: {threads}, exceed the {name} cores size: "
                                                   f"{len(pool)}, truncate thread num to {len(pool)}")
    chosen = pool[len(pool) - threads:] if name == "big" else pool[:threads]
    return ToolBinding(tuple(sorted(chosen)), threads)


def thread_load(threads: int, cpus: Iterable[int] | None) -> dict[str, str]:
    """A record's extra for its CPU set: ``cpus`` (the kernel's list form) and, when more threads run than the set
    has CPUs, ``oversubscribed``. Such a case is run as asked, by every tool alike (none cuts its threads to an
    explicit set), and its record says so; empty without a set."""
    if cpus is None:
        return {}
    n = len(set(cpus))
    extra = {"cpus": cpu_list(cpus)}
    if threads > n:
        extra["oversubscribed"] = f"{threads} threads on {n} CPU{'s' if n > 1 else ''}"
    return extra


def mask_hex(cpus: Iterable[int] | None) -> str | None:
    """taskset's hex mask for a CPU set (cpus 4-7 -> 'f0'); None for no binding."""
    if cpus is None:
        return None
    value = 0
    for c in cpus:
        value |= 1 << c
    return f"{value:x}"


def normal_mode(mode: str) -> str:
    """A power mode as cases and records name it: ``cpus:`` lists in the kernel's form (``cpus:7,4-6`` ->
    ``cpus:4-7``), so one CPU set is one case; UsageError for a name that is no mode."""
    if mode.startswith(CPUS_PREFIX):
        return CPUS_PREFIX + cpu_list(parse_cpu_list(mode[len(CPUS_PREFIX):], f"power mode {mode!r}:"))
    if mode not in ALL_MODES:
        raise UsageError(f"unknown power mode {mode!r}", hint=MODES_HINT)
    return mode


def parse_power_modes(text: str) -> list[str]:
    """'high,low' -> ['high', 'low'], rejecting unknown names with one clear message. ``cpus:`` lists hold commas
    of their own: a part that is a number or a range continues the ``cpus:`` list before it."""
    parts: list[str] = []
    for raw in text.split(","):
        part = raw.strip()
        if not part:
            continue
        if parts and parts[-1].startswith(CPUS_PREFIX) and re.fullmatch(r"\d+(\s*-\s*\d+)?", part):
            parts[-1] += "," + part
        else:
            parts.append(part)
    if not parts:
        raise UsageError("--power-mode is empty", hint=MODES_HINT)
    return list(dict.fromkeys(normal_mode(m) for m in parts))


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
