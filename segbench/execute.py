"""The one orchestrator: for each case run it on a backend, save its raw log, append its record.

Records are appended (and fsynced) as each case finishes. Ctrl-C or SIGTERM stops between or
inside a case: the case in flight is dropped, everything finished stays, run.json says
"interrupted", and ``segbench run --resume RUN_ID`` runs only the missing cases.

A phone whose cases fail several times in a row because of the phone itself (unplugged, gone) is set
aside: its remaining cases are recorded as ``skipped`` with the reason, so the run ends with every case
accounted for (segbench.farm runs one such loop per phone).
"""

from __future__ import annotations

import contextlib
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import numpy as np

from segbench import power, stats
from segbench.devices import host
from segbench.errors import InputError, ModelError, RuntimeUnavailable, SegbenchError
from segbench.inputs import case_inputs
from segbench.model import (
    DEFAULT_BACKEND,
    DEVICE_FAILURE,
    SET_ASIDE,
    Case,
    DeviceInfo,
    Measurement,
    TensorInfo,
    phones_fault,
    recorded,
)
from segbench.runners.host import HostSession, close_session, runtime_for
from segbench.store import RunDir, log_bytes, utc_now


class Backend(Protocol):
    """Runs one case somewhere and reports what it saw (never raises for a failed case)."""

    device: DeviceInfo
    workdir: Path  # where the backend may keep files of this run (prepared inputs)

    def measure(self, case: Case, run_id: str) -> tuple[Measurement, bytes]: ...

    def summary(self) -> str | None:
        """One line for the end of the run (e.g. what was pushed), or None."""
        ...

    def versions(self) -> dict[str, str | None]:
        """The software that measures: host runtime packages, or the vendor tools on a phone."""
        ...

    # and, where the backend has files to send (ondevice.DeviceBackend), look_ahead(cases): the files those cases will
    # push checked in one go before the first of them, instead of one check each as each case comes


@dataclass
class Progress:
    """Case i/n, model, config, elapsed and ETA on stderr (silent when quiet)."""

    total: int
    echo: Callable[[str], None]
    quiet: bool = False
    started: float = 0.0
    done: int = 0
    prefix: str = ""  # a farm's phone: "[SERIAL] "

    def start(self) -> None:
        self.started = time.monotonic()

    def case_started(self, i: int, case: Case) -> None:
        if not self.quiet:
            launch = f" launch={case.launch}" if case.launch > 1 else ""
            backend = f" backend={case.backend}" if case.backend != DEFAULT_BACKEND else ""
            self.echo(f"{self.prefix}[{i}/{self.total}] {case.model.name} {case.runtime} threads={case.threads} "
                      f"power={case.power_mode}{backend}{launch} ...")

    def case_finished(self, m: Measurement) -> None:
        self.done += 1
        if self.quiet:
            return
        elapsed = time.monotonic() - self.started
        eta = elapsed / self.done * (self.total - self.done) if self.done else 0.0
        lat = m.latency_ms
        figure = next(((k, v) for k in ("median", "avg") if (v := getattr(lat, k, None)) is not None), None)
        result = (f"{figure[0]} {figure[1]:.3f} ms" if m.status == "ok" and figure  # benchmark_bin prints no median
                  else f"{m.status}: {m.error}" if m.error else m.status)
        self.echo(f"{self.prefix}    {result}  (elapsed {_hms(elapsed)}, ETA {_hms(eta)})")
        fed = (m.extra or {}).get("input") or {}
        if not isinstance(fed, dict):  # a sentence instead of a recipe (LiteRT's own random data)
            fed = {}
        if fed.get("recipe") and fed.get("kind") == "image":  # which recipe made the image into this model's input
            self.echo(f"{self.prefix}    input: {fed['path']}, recipe {fed['recipe']['source']} "
                      f"(preset {fed['recipe']['preset']})")
        for warning in fed.get("warnings") or ():
            self.echo(f"{self.prefix}    segbench: warning: input: {warning}")


def _hms(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600:d}:{s % 3600 // 60:02d}:{s % 60:02d}"


@dataclass
class SetAside:
    """Gives up on a device after ``limit`` cases in a row failed because of the device, not the model."""

    limit: int = 3
    streak: int = 0
    reason: str | None = None

    def observe(self, m: Measurement) -> None:
        if not m.extra.get(DEVICE_FAILURE):
            self.streak = 0
            return
        self.streak += 1
        if self.streak >= self.limit and self.reason is None:
            self.reason = f"set aside after {self.streak} device failures in a row (last: {m.error})"


@dataclass(frozen=True)
class Outcome:
    measurements: list[Measurement]
    interrupted: bool
    skipped_existing: int
    set_aside: str | None = None  # why the device was given up on, if it was

    @property
    def any_failed(self) -> bool:
        return any(m.status in ("failed", "timeout") for m in self.measurements)


class Sharing(Protocol):
    """How a farm's phones share the cases out (``--split shard``; segbench.farm.Shard)."""

    def claim(self, case: Case, device_id: str) -> bool:
        """True when this device takes the case (no other device has it)."""
        ...

    def hand_back(self, case: Case, device_id: str, failed: Measurement) -> bool:
        """A case the device failed for the device's sake, offered to a phone that has not failed it yet;
        False when no such phone is left (the caller then stores the failure)."""
        ...

    def settle(self, device_id: str) -> None:
        """The device's case in flight has its record."""
        ...

    def next_returned(self, device_id: str, leaving: bool, stop: threading.Event | None) -> Case | None:
        """After the device's own pass: a handed-back case it may take (waiting while other phones still
        have a case in flight that may come back); None when there is nothing more for it."""
        ...

    def attempts(self, key: str) -> list[dict[str, str]]:
        """The earlier attempts at a handed-back case: device, error and the log it left."""
        ...


def execute(cases: Sequence[Case], backend: Backend, run: RunDir, progress: Progress,
            broken: dict[str, str] | None = None, *, set_aside: SetAside | None = None, log_dir: str | None = None,
            stop: threading.Event | None = None, shard: Sharing | None = None) -> Outcome:
    """Run every case this device has no record of yet in the run (or only one saying the phone kept it from a result:
    a device failure, not run); append each record as it finishes.

    ``broken`` maps model paths that could not even be read to their error: their cases are
    recorded as failed without reaching the backend. ``set_aside`` decides when to stop trying the
    device (its remaining cases are then recorded as skipped); ``log_dir`` keeps a farm phone's logs
    apart; ``stop`` (set by a farm on Ctrl-C) ends the loop between cases as an interruption.
    ``shard`` shares the cases out among a farm's phones (``--split shard``): a case runs here only if
    this device claims it first; any device's record of a case then counts as done, and a device that
    is set aside stops claiming, leaving the rest to the others. A case that fails because of the phone
    (``device_failure``) is handed back and run on another phone; only the last attempt is stored, its
    ``extra.retried_after`` naming the earlier ones.
    """
    broken = broken or {}
    set_aside = set_aside or SetAside()
    device_id = backend.device.id
    # Records are keyed by device: in a farm run every phone runs the same cases (unless they share them out). A case
    # its phone kept from a result (a device failure, set aside: not run) is not done: a resume runs it again, and
    # its new record is the one that counts (model.current).
    done_ids = recorded([m for m in run.measurements() if (shard or m.device_id in (None, device_id))
                         and not phones_fault(m)], list(cases))
    todo = [c for c in cases if c.run_key not in done_ids]
    progress.total = len(todo)
    progress.start()
    results: list[Measurement] = []

    def one(i: int, case: Case) -> None:
        progress.case_started(i, case)
        if set_aside.reason:
            measurement, log = _not_run(case, run.run_id, device_id, "skipped",
                                        f"not run: the phone was {set_aside.reason}")
        elif case.model.path in broken:
            measurement, log = _not_run(case, run.run_id, device_id, "failed", broken[case.model.path])
        else:
            measurement, log = _measured(backend, case, run.run_id, device_id)
            set_aside.observe(measurement)
        log_path = run.write_log(case.log_id, log, log_dir)
        # Every record says whether its device was emulated, so no report can pass it off as a phone's figure.
        measurement = replace(measurement, log_path=str(log_path.relative_to(run.path)), launch=case.launch,
                              emulated=backend.device.emulated)
        if shard is not None:
            earlier = shard.attempts(case.run_key)
            if earlier:
                measurement = replace(measurement, extra={**measurement.extra, "retried_after": earlier})
            if measurement.extra.get(DEVICE_FAILURE) and shard.hand_back(case, device_id, measurement):
                progress.case_finished(replace(measurement, error=f"{measurement.error}; handed to another phone"))
                return
        run.append(measurement)
        if shard is not None:
            shard.settle(device_id)
        results.append(measurement)
        progress.case_finished(measurement)

    def interrupted() -> Outcome:
        return Outcome(results, True, len(cases) - len(todo), set_aside.reason)

    try:
        ahead = getattr(backend, "look_ahead", None)
        if ahead is not None and shard is None:  # shared out, a phone may never get most cases: no point
            ahead([c for c in todo if c.model.path not in broken])
        for i, case in enumerate(todo, 1):
            if stop is not None and stop.is_set():
                return interrupted()
            if shard is not None and (set_aside.reason or not shard.claim(case, device_id)):
                if set_aside.reason:
                    break
                continue
            one(i, case)
        if shard is not None:
            while (case := shard.next_returned(device_id, set_aside.reason is not None, stop)) is not None:
                progress.total += 1
                one(progress.total, case)
            if stop is not None and stop.is_set():
                return interrupted()
    except KeyboardInterrupt:
        return interrupted()
    return Outcome(results, False, len(cases) - len(todo), set_aside.reason)


def _measured(backend: Backend, case: Case, run_id: str, device_id: str) -> tuple[Measurement, bytes]:
    """``backend.measure``, with the error boundary of a case: anything it raises that is not a SegbenchError (a
    runtime failing inside inference, a model segbench has no input for, a bug) is a failed record whose log keeps
    the traceback, and the run goes on. SegbenchErrors (a full disk) still end the run."""
    try:
        return backend.measure(case, run_id)
    except SegbenchError:
        raise
    except Exception as exc:
        detail = " ".join(str(exc).split()) or "no message"
        detail = detail if len(detail) <= 500 else detail[:497] + "..."
        measurement, _ = _not_run(case, run_id, device_id, "failed",
                                  f"{type(exc).__name__}: {detail} (traceback in the case log)")
        log = log_bytes(f"segbench: the case raised {type(exc).__name__}, which segbench did not expect; the run went "
                        f"on.\n{traceback.format_exc()}")
        return measurement, log


@dataclass
class RunLife:
    """What the block of ``running`` sets: how the run ended when the block ends normally."""

    status: str = "completed"


@contextlib.contextmanager
def running(run: RunDir, total: int | None) -> Iterator[RunLife]:
    """run.json says ``running`` for the block and is closed when it ends, however it ends: with the status the
    block set (``completed``, ``interrupted``), ``interrupted`` on Ctrl-C/SIGTERM, ``failed`` on any other error
    (which goes on up). A run.json that cannot even be written then (a full disk) stays ``running``."""
    info = run.info()
    if info.status != "running" or info.finished is not None:  # a resumed run is running again
        run.write_info(replace(info, status="running", finished=None))
    life = RunLife()
    try:
        yield life
    except BaseException as exc:
        with contextlib.suppress(SegbenchError, OSError):
            _close(run, "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed", total)
        raise
    _close(run, life.status, total)


def _close(run: RunDir, status: str, total: int | None) -> None:
    run.write_info(replace(run.info(), status=status, finished=utc_now(), cases_total=total))


def record_not_run(run: RunDir, case: Case, device_id: str, reason: str, log_dir: str | None = None,
                   emulated: bool | None = None) -> Measurement:
    """Store a case no device ran (its phones were set aside) as skipped, with the reason."""
    measurement, log = _not_run(case, run.run_id, device_id, "skipped", f"not run: {reason}")
    log_path = run.write_log(case.log_id, log, log_dir)
    measurement = replace(measurement, log_path=str(log_path.relative_to(run.path)), launch=case.launch,
                          emulated=emulated)
    run.append(measurement)
    return measurement


def _not_run(case: Case, run_id: str, device_id: str, status: str, error: str) -> tuple[Measurement, bytes]:
    now = utc_now()
    m = Measurement(
        run_id=run_id, case_id=case.case_id, model=case.model, runtime=case.runtime, status=status,
        threads=case.threads, power_mode=case.power_mode, backend=case.backend, device_id=device_id, warmup=case.warmup,
        repeats=case.repeats, error=error, started=now, finished=now,
        extra={SET_ASIDE: True} if status == "skipped" else {},
    )
    return m, log_bytes(f"{'failed before running: ' if status == 'failed' else ''}{error}\n")


def _peak_rss_mb() -> float:
    import resource
    import sys

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 1024  # bytes on macOS, KiB on Linux


class InProcessBackend:
    """This machine, timing each runtime's own Python API (segbench.runners.host)."""

    def __init__(self, device: DeviceInfo | None = None, op_profiling: bool = False, memory_profile: bool = False) -> None:
        self.device = device or host.host_info()
        self.op_profiling = op_profiling  # run --profile: onnxruntime's own per-node trace (ops_by_type)
        self.memory_profile = memory_profile  # run --memory: growth of this process's peak RSS (memory_mb)
        self.workdir = Path(".")
        self._inputs: dict[tuple[str, str | None, str | None], tuple[list[np.ndarray], dict]] = {}

    def versions(self) -> dict[str, str | None]:
        from segbench.runinfo import collect_versions

        return collect_versions()

    def summary(self) -> str | None:
        return None

    def measure(self, case: Case, run_id: str) -> tuple[Measurement, bytes]:
        # Every host runner runs under the mode's CPU set (sched_setaffinity): none binds its threads by itself.
        bound = power.binding(case.power_mode, self.device.cpu_max_khz, host.available_cpus())
        cpus = list(bound.cpus) if bound.cpus is not None else None
        base = Measurement(
            run_id=run_id, case_id=case.case_id, model=case.model, runtime=case.runtime, status="failed",
            threads=case.threads, power_mode=case.power_mode, backend=case.backend, device_id=self.device.id,
            cpu_mask=power.mask_hex(cpus), warmup=case.warmup, repeats=case.repeats, started=utc_now(),
            extra=power.thread_load(case.threads, cpus),
        )
        if bound.lacking:
            error = f"power mode {case.power_mode}: {bound.lacking} on this machine"
            return replace(base, status="skipped", error=error, finished=utc_now()), log_bytes(f"skipped: {error}\n")
        if case.backend != DEFAULT_BACKEND:
            # The host runners time each runtime's Python API on the CPU; an accelerator is a phone's (--device).
            error = (f"no {case.backend} backend: on this machine segbench runs {case.runtime} on the CPU only "
                     "(accelerators need --device)")
            return replace(base, status="skipped", error=error, finished=utc_now()), log_bytes(f"skipped: {error}\n")
        log: list[str] = [
            "segbench in-process benchmark",
            f"model: {case.model.path} (sha256 {case.model.sha256})",
            f"runtime: {case.runtime}  threads: {case.threads}  power_mode: {case.power_mode}  "
            f"cpus: {','.join(map(str, cpus)) if cpus is not None else 'no binding'}",
        ]
        try:
            rt = runtime_for(case.runtime)
            base = replace(base, tool=rt.tool, tool_version=rt.version())
            with host.bound_to(cpus):
                measurement = self._timed(case, base, rt.open_session, log)
        except RuntimeUnavailable as exc:
            measurement = replace(base, status="skipped", error=str(exc))
        except (ModelError, InputError, SegbenchError) as exc:
            measurement = replace(base, status="failed", error=str(exc))
        if measurement.error:
            log.append(f"{measurement.status}: {measurement.error}")
        measurement = replace(measurement, finished=utc_now())
        return measurement, log_bytes("\n".join(log) + "\n")

    def _timed(self, case: Case, base: Measurement, open_session: Callable[[str, int], HostSession],
               log: list[str]) -> Measurement:
        temps_before = host.thermal_c()
        rss0 = _peak_rss_mb()
        t0 = time.perf_counter_ns()
        prefix = None
        if self.op_profiling and case.runtime == "onnxruntime":
            from segbench.runners.host_onnxruntime import OrtSession

            prefix = str(self.workdir / "profiles" / case.log_id)
            (self.workdir / "profiles").mkdir(parents=True, exist_ok=True)
            session = OrtSession(case.model.path, case.threads, profile_prefix=prefix)
        else:
            session = open_session(case.model.path, case.threads)
        rss_init = _peak_rss_mb()
        # A session that knows its runtime's own init time says so (Paddle Lite's worker: not its start-up).
        init_ms = getattr(session, "init_ms", None) or (time.perf_counter_ns() - t0) / 1e6
        # A session that picks its engine per model (Paddle: Paddle Inference or Paddle Lite) names it.
        base = replace(base, tool=getattr(session, "tool", base.tool), tool_version=getattr(session, "tool_version",
                                                                                            base.tool_version))
        if getattr(session, "notes", None):
            log.append("engine: " + "; ".join(session.notes))
        try:
            m = self._samples(case, base, session, init_ms, temps_before, log)
            return self._profiled(case, m, session, prefix, (rss0, rss_init, _peak_rss_mb()), log)
        finally:
            close_session(session)

    def _profiled(self, case: Case, m: Measurement, session: HostSession, prefix: str | None,
                  rss: tuple[float, float, float], log: list[str]) -> Measurement:
        """--profile: onnxruntime's trace summed by operator type (the warmup runs left out); other runtimes have no
        per-operator profiler in their Python API, which the record says. --memory: how much this process's peak RSS
        grew while the session was made (init) and by the end of the runs (overall), in MB; 0 when an earlier case
        already peaked higher, as it says."""
        extra = dict(m.extra)
        if self.op_profiling:
            extra["profiled"] = True
            if prefix is not None:
                from segbench.errors import ParseError
                from segbench.runners.onnxruntime_perf_test import parse_profile

                path = Path(session.end_profiling())  # type: ignore[attr-defined]
                try:
                    m = replace(m, ops_by_type=parse_profile(path.read_text(), skip_runs=case.warmup) or None)
                    log.append(f"profile: {path}")
                except (OSError, ParseError) as exc:
                    extra["profile"] = f"its profile could not be read: {exc}"
            else:
                extra["profile"] = (f"on this machine {case.runtime}'s Python API has no per-operator profiler "
                                    "(profiled: onnxruntime)")
        if self.memory_profile:
            rss0, rss_init, rss_end = rss
            m = replace(m, memory_mb={"init": round(rss_init - rss0, 3), "overall": round(rss_end - rss0, 3),
                                      "peak": None})
            extra["memory"] = "growth of this process's peak RSS (ru_maxrss) during the case"
        return replace(m, extra=extra)

    def _samples(self, case: Case, base: Measurement, session: HostSession, init_ms: float,
                 temps_before: dict[str, float], log: list[str]) -> Measurement:
        arrays, fed = self._input_arrays(case, session.inputs)
        names = [i.name for i in session.inputs]
        session.set_inputs(arrays)
        log.append(f"init_ms: {init_ms:.3f}")
        log.append("inputs: " + ", ".join(f"{n} {a.dtype} {list(a.shape)}" for n, a in zip(names, arrays))
                   + (f" from {case.input_path}" if case.input_path else " (seeded random, seed 0)"))
        if fed.get("recipe"):
            log.append(f"input recipe: {fed['recipe']['source']}")
        log += [f"input warning: {w}" for w in fed.get("warnings") or ()]
        first_ms = None
        for _ in range(case.warmup):
            ms = session.run_once().wall_ms
            first_ms = ms if first_ms is None else first_ms
        runs = [session.run_once() for _ in range(case.repeats)]
        samples = [r.wall_ms for r in runs]
        cpu = tuple(round(r.cpu_ms, 6) for r in runs) if runs and all(r.cpu_ms is not None for r in runs) else None
        if first_ms is None and samples:
            first_ms = samples[0]
        log.append(f"warmup: {case.warmup}  repeats: {case.repeats}  first_ms: {first_ms}")
        log.append("samples_ms: " + " ".join(f"{s:.4f}" for s in samples))
        if cpu:
            log.append("cpu_samples_ms: " + " ".join(f"{s:.4f}" for s in cpu))
        lat = stats.summarize(samples)
        log.append(f"median_ms: {lat.median}  avg_ms: {lat.avg}  min_ms: {lat.min}  max_ms: {lat.max}")
        return replace(
            base, status="ok", count=len(samples), latency_ms=lat, samples_ms=tuple(samples), cpu_samples_ms=cpu,
            first_ms=first_ms, init_ms=init_ms, temps_before_c=temps_before or None,
            temps_after_c=host.thermal_c() or None, extra={**base.extra, "input": fed},
        )

    def _input_arrays(self, case: Case, specs: list[TensorInfo]) -> tuple[list[np.ndarray], dict]:
        """One input per model (reused across its thread/power cases), so every case sees the same data."""
        key = (case.model.path, case.input_path, case.input_preset)
        if key not in self._inputs:
            self._inputs[key] = case_inputs(case.model.path, specs, case.input_path, case.input_preset)
        return self._inputs[key]
