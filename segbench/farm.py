"""A device farm: several phones (on one or several adb servers) run the same suite at once.

Split ``each`` (the default): every phone runs every case (results are per device, told apart by
``device_id``), to compare phones. Split ``shard``: the cases are shared out, each runs once on whichever
phone claims it first, to finish a long suite sooner on phones of one kind. One worker thread per phone,
each with its own device lock, backend and set-aside policy (segbench.execute.SetAside), all appending to
the run's one results.jsonl (the store locks each append). Threads are enough: the work is waiting on
phones. A single phone is a farm of one, run without a thread.

Phones are named by serial; when two servers have a phone with the same serial, both are named
``HOST:PORT/SERIAL`` (docs/farm.md).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from segbench.errors import DeviceError, UsageError
from segbench.execute import Backend, Outcome, Progress, SetAside, execute, record_not_run
from segbench.model import SET_ASIDE, Case, Measurement, recorded
from segbench.store import RunDir

if TYPE_CHECKING:
    from segbench.sweep import SweepSettings

# After Ctrl-C, how long the workers get to finish the case in flight before the run ends without them.
STOP_GRACE_S = 5.0


class Shard:
    """Cases shared out among phones (split shard): the first phone to claim a case runs it.

    A case that fails because of its phone (``device_failure``: it dropped off the bus, it was gone) is
    handed back and offered to the phones that have not failed it yet, once they are through their own
    share; phones through their share wait while others still have a case in flight that might come back.
    A handed-back case that no phone is left to take is an orphan: run_all stores its last failed attempt.
    """

    def __init__(self, device_ids: Sequence[str]) -> None:
        self._cond = threading.Condition()
        self._taken: set[str] = set()
        self._busy: dict[str, str] = {}  # device -> the case (run key: case id and launch) in flight there
        self._active = set(device_ids)  # devices that may still take cases
        self._returned: dict[str, tuple[Case, Measurement]] = {}  # handed back, waiting for a taker
        self._failed_on: dict[str, list[Measurement]] = {}  # run key -> its failed attempts, in order

    def claim(self, case: Case, device_id: str) -> bool:
        with self._cond:
            if case.run_key in self._taken:
                return False
            self._taken.add(case.run_key)
            self._busy[device_id] = case.run_key
            return True

    def hand_back(self, case: Case, device_id: str, failed: Measurement) -> bool:
        with self._cond:
            self._busy.pop(device_id, None)
            tried = self._failed_on.setdefault(case.run_key, [])
            tried.append(failed)
            if not self._takers(case.run_key):
                self._cond.notify_all()
                return False
            self._returned[case.run_key] = (case, failed)
            self._cond.notify_all()
            return True

    def settle(self, device_id: str) -> None:
        with self._cond:
            self._busy.pop(device_id, None)
            self._cond.notify_all()

    def next_returned(self, device_id: str, leaving: bool, stop: threading.Event | None) -> Case | None:
        with self._cond:
            while not leaving and not (stop is not None and stop.is_set()):
                for case_id, (case, _) in list(self._returned.items()):
                    if device_id not in self._tried_on(case_id):
                        del self._returned[case_id]
                        self._busy[device_id] = case_id
                        return case
                if not any(d != device_id for d in self._busy):  # nothing in flight elsewhere: no more to come
                    break
                self._cond.wait(0.2)
            self._active.discard(device_id)
            self._cond.notify_all()
            return None

    def attempts(self, key: str) -> list[dict[str, str]]:
        """The earlier attempts at a case's launch (its run key)."""
        with self._cond:
            return [{"device_id": m.device_id or "", "error": m.error or "", "log_path": m.log_path or ""}
                    for m in self._failed_on.get(key, [])]

    def orphans(self) -> list[Measurement]:
        """Handed-back cases no phone took (all that had not failed them left): their last failed attempt."""
        with self._cond:
            return [self._failed_on[case_id][-1] for case_id in self._returned]

    def _tried_on(self, case_id: str) -> set[str]:
        return {m.device_id or "" for m in self._failed_on.get(case_id, [])}

    def _takers(self, case_id: str) -> set[str]:
        return self._active - self._tried_on(case_id)


@dataclass(frozen=True)
class Target:
    """One phone of the farm: where it is attached and what records call it."""

    server: str | None  # HOST:PORT as given with --adb-server; None = the default server
    serial: str
    device_id: str  # the serial, or SERVER/SERIAL when the serial is on several servers


def _attached(servers: Sequence[str | None]) -> list[tuple[str | None, str, str]]:
    """(server, serial, state) of every phone every server knows."""
    from segbench.devices import adb

    out = []
    for server in servers:
        client = adb.client(server)
        out += [(server, d.serial, d.state) for d in adb.attached(client)]
    return out


def _name(server: str | None) -> str:
    from segbench.devices import adb

    host, port = adb.server_address(server)
    return f"{host}:{port}"


def select(servers: Sequence[str | None], wanted: str) -> list[Target]:
    """The phones ``--device`` names: ``all``, ``auto`` (the only one), or ``SERIAL[,SERIAL...]``.

    A serial may be qualified as ``HOST:PORT/SERIAL`` to pick it on one server. Every phone named
    must be attached and ready; ``all`` takes the ready ones and ignores the rest.
    """
    from segbench.devices import adb

    servers = list(servers) or [None]
    if len(servers) == 1 and wanted != "all" and "," not in wanted and "/" not in wanted:
        # One phone on one server: adb.choose's own checks and messages (ANDROID_SERIAL for auto).
        serial = adb.choose(adb.client(servers[0]), None if wanted == "auto" else wanted)
        return [Target(servers[0], serial, serial)]
    found = _attached(servers)
    counts: dict[str, int] = {}
    for _, serial, _ in found:
        counts[serial] = counts.get(serial, 0) + 1

    def target(server: str | None, serial: str) -> Target:
        return Target(server, serial, serial if counts[serial] == 1 else f"{_name(server)}/{serial}")

    ready = [target(srv, serial) for srv, serial, state in found if state == "device"]
    if wanted in ("all", "auto"):
        if not ready:
            others = "; ".join(f"{serial} {state}" for _, serial, state in found)
            raise DeviceError("no device attached" + (f" ({others})" if others else ""),
                              hint="plug phones in with USB debugging on, or `adb connect HOST:PORT`")
        if wanted == "auto" and len(ready) > 1:
            raise DeviceError(f"{len(ready)} devices attached ({', '.join(t.device_id for t in ready)})",
                              hint="choose with --device SERIAL[,SERIAL...] or --device all")
        return ready
    return [_one(name, found, ready) for name in _split(wanted)]


def _split(wanted: str) -> list[str]:
    names = [n.strip() for n in wanted.split(",") if n.strip()]
    if len(set(names)) != len(names):
        raise UsageError(f"--device {wanted}: a phone is named twice")
    if not names:
        raise UsageError("--device: no serial given", hint="SERIAL[,SERIAL...], all or auto")
    return names


def _one(name: str, found: list[tuple[str | None, str, str]], ready: list[Target]) -> Target:
    server, _, serial = name.rpartition("/")
    matches = [t for t in ready if t.serial == serial and (not server or _name(t.server) == server)]
    if len(matches) == 1:
        return replace(matches[0], device_id=name if server else matches[0].device_id)
    if len(matches) > 1:
        names = [f"{_name(t.server)}/{serial}" for t in matches]
        raise DeviceError(f"device {serial} is attached to several adb servers "
                          f"({', '.join(_name(t.server) for t in matches)})", hint=f"name one: {' or '.join(names)}")
    states = [state for srv, s, state in found if s == serial and (not server or _name(srv) == server)]
    if states:
        raise DeviceError(f"device {name} is {states[0]}", hint="wait until `adb devices` shows it as 'device'")
    known = ", ".join(t.device_id for t in ready) or "none"
    raise DeviceError(f"device {name} is not attached", hint=f"attached: {known}")


@contextlib.contextmanager
def open_phones(targets: Sequence[Target], settings: SweepSettings, cases: Sequence[Case], assets: Path,
                echo: Callable[[str], None], variants: dict[str, str] | None = None,
                announce: Callable[[str], None] | None = None) -> Iterator[list[Backend]]:
    """Each phone locked for this run, with its facts read and the vendor tools its cases need (each tool named
    once through ``announce``, default ``echo``; warnings always through ``echo``)."""
    from segbench.devices import adb
    from segbench.ondevice import open_backend, parse_cooldown

    shown: set[Path | tuple[str, str]] = set()
    runtimes = {c.runtime for c in cases}
    with contextlib.ExitStack() as stack:
        backends: list[Backend] = []
        for t in targets:
            try:
                backends.append(stack.enter_context(open_backend(
                    adb.client(t.server), t.serial, runtimes, assets, announce or echo, device_id=t.device_id, shown=shown,
                    variants=variants, skip_missing=settings.missing_tools == "skip",
                    timeout_s=settings.timeout, cooldown=parse_cooldown(settings.cooldown),
                    reconnect_wait_s=settings.reconnect_wait, op_profiling=settings.profile,
                    memory_profile=settings.memory)))
            except DeviceError as exc:
                # `all` means the phones that can run: one that is busy or went away is left out, loudly.
                # A phone named on the command line must run, and a missing tool stops every phone.
                if settings.device != "all":
                    raise
                echo(f"segbench: warning: left out {t.device_id}: {exc}")
        if not backends:
            raise DeviceError("no phone could be opened (see the warnings above)")
        yield backends


@dataclass(frozen=True)
class PhoneOutcome:
    """What one phone of the farm did."""

    device_id: str
    label: str  # brand and model
    outcome: Outcome
    seconds: float
    pushes: str | None

    def counts(self) -> dict[str, int]:
        out = {"ok": 0, "failed": 0, "timeout": 0, "skipped": 0, "not run": 0}
        for m in self.outcome.measurements:
            key = "not run" if m.extra.get(SET_ASIDE) else m.status
            out[key] = out.get(key, 0) + 1
        return out


def run_all(cases: Sequence[Case], backends: Sequence[Backend], run: RunDir, broken: dict[str, str], *,
            set_aside_after: int, echo: Callable[[str], None], quiet: bool, split: str = "each") -> list[PhoneOutcome]:
    """Every case on every backend (or, split shard, on one of them), one worker thread per phone.

    Returns when all are done or on Ctrl-C: the workers then stop after their case in flight (waited for
    up to STOP_GRACE_S); what they finished is saved, and the outcomes say ``interrupted``.
    """
    many = len(backends) > 1
    shard = Shard([b.device.id for b in backends]) if split == "shard" and many else None
    lock = threading.Lock()

    def say(msg: str) -> None:  # whole lines, never interleaved mid-line across phones
        with lock:
            echo(msg)

    stop = threading.Event()
    results: dict[int, PhoneOutcome] = {}
    errors: list[BaseException] = []

    def work(i: int, backend: Backend) -> None:
        t0 = time.monotonic()
        progress = Progress(len(cases), say, quiet, prefix=f"[{backend.device.id}] " if many else "")
        try:
            outcome = execute(cases, backend, run, progress, broken, set_aside=SetAside(set_aside_after),
                              log_dir=backend.device.id if many else None, stop=stop, shard=shard)
        except BaseException as exc:  # a store that cannot be written: re-raised by the main thread
            errors.append(exc)
            stop.set()
            return
        label = " ".join(x for x in (backend.device.brand, backend.device.model) if x) or backend.device.kind
        results[i] = PhoneOutcome(backend.device.id, label, outcome, time.monotonic() - t0, backend.summary())

    if not many:  # one phone (or the host): this thread, so Ctrl-C lands in the case loop itself
        work(0, backends[0])
    else:
        _run_threads([threading.Thread(target=work, args=(i, b), daemon=True, name=f"segbench-{b.device.id}")
                      for i, b in enumerate(backends)], stop)
    if errors:
        raise errors[0]
    interrupted = Outcome([], True, 0)
    phones = [results.get(i) or PhoneOutcome(b.device.id, b.device.model or "", interrupted, 0.0, None)
              for i, b in enumerate(backends)]
    if shard is not None and not any(p.outcome.interrupted for p in phones):
        _left_over(cases, run, phones, shard)
    return phones


def _left_over(cases: Sequence[Case], run: RunDir, phones: list[PhoneOutcome], shard: Shard) -> None:
    """Split shard: a handed-back case no phone took keeps its last failed attempt; cases no phone claimed
    because every phone was set aside are stored as not run."""
    by_device = {p.device_id: p for p in phones}
    for failed in shard.orphans():
        extra = {**failed.extra, "retried_after": shard.attempts(failed.run_key)[:-1]}
        failed = replace(failed, extra=extra if extra["retried_after"] else failed.extra)
        run.append(failed)
        by_device[failed.device_id].outcome.measurements.append(failed)
    done = recorded(run.measurements(), list(cases))
    last = max(phones, key=lambda p: p.seconds)  # the phone that held out longest
    emulated = next((m.emulated for m in last.outcome.measurements if m.emulated is not None), None)
    for case in cases:
        if case.run_key not in done:
            m = record_not_run(run, case, last.device_id, "every phone of the farm was set aside", last.device_id,
                               emulated)
            last.outcome.measurements.append(m)


def _run_threads(threads: list[threading.Thread], stop: threading.Event) -> None:
    for t in threads:
        t.start()
    try:
        while any(t.is_alive() for t in threads):
            for t in threads:
                t.join(0.2)  # short joins, so that Ctrl-C reaches this (main) thread
    except KeyboardInterrupt:
        stop.set()
        deadline = time.monotonic() + STOP_GRACE_S
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))


def summary(phones: Sequence[PhoneOutcome]) -> str:
    """The per-phone table printed at the end of a farm run."""
    from tabulate import tabulate

    rows = []
    for p in phones:
        c = p.counts()
        pushes = (p.pushes or "").removeprefix(f"{p.device_id}: ")
        note = p.outcome.set_aside or ("interrupted" if p.outcome.interrupted else pushes)
        rows.append([p.device_id, p.label, c["ok"], c["failed"] + c["timeout"], c["skipped"], c["not run"],
                     f"{p.seconds:.1f}", note])
    return tabulate(rows, headers=["device", "model", "ok", "failed", "skipped", "not run", "wall (s)", "note"],
                    tablefmt="github", disable_numparse=True)


def not_run(measurements: Sequence[Measurement]) -> list[Measurement]:
    """Records of cases a set-aside phone never ran."""
    return [m for m in measurements if m.extra.get(SET_ASIDE)]
