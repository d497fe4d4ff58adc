"""Cases on an Android phone: push the vendor tool, the model and its input (each only when the
phone lacks those bytes), run the tool under the case's threads and power mode, and parse its log.

The remote layout under ``/data/local/tmp/segbench`` is keyed by content, so a second run of the
same models pushes nothing:

    bin/<tool> (+ its libraries)        the vendor tool from device_assets/<abi>/
    models/<sha256[:16]>/<file name>    a model (and a Paddle .pdiparams beside it); an ONNX model's
                                        input set lives beside it in test_data_set_0/ (onnxruntime_perf_test
                                        finds its inputs there)
    inputs/<sha256[:16]>.<ext>          Paddle Lite text / TFLite raw input tensors
    run.pid                             the pid of the tool in flight, so a timeout can kill it
"""

from __future__ import annotations

import contextlib
import re
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

import numpy as np

from segbench import power
from segbench.assets import Tool
from segbench.devices import Completed
from segbench.errors import DeviceError, DeviceGone, InputError, ModelError, SegbenchError, UsageError
from segbench.model import DEVICE_FAILURE, Case, DeviceInfo, Measurement
from segbench.store import utc_now

REMOTE_ROOT = "/data/local/tmp/segbench"
# Input format each tool reads (segbench.inputs writers).
TOOL_INPUT_FORMAT = {"paddlelite": "paddle-txt", "tflite": "raw", "onnxruntime": "ort-pb"}


# ----------------------------------------------------------------------------- cooldown


@dataclass(frozen=True)
class Cooldown:
    """What to wait for before each case: nothing, a fixed pause, or the hottest CPU zone below a limit."""

    kind: str = "none"  # none | pause | below
    value: float = 0.0  # seconds (pause) or degrees C (below)
    max_wait_s: float = 300.0

    def describe(self) -> str:
        return {"none": "none", "pause": f"{self.value:g}s pause",
                "below": f"until CPU zones < {self.value:g} C (at most {self.max_wait_s:g}s)"}[self.kind]


def parse_cooldown(text: str, max_wait_s: float = 300.0) -> Cooldown:
    """'none', '30s' (a pause) or '45C' (wait until the hottest CPU zone is below 45 C)."""
    t = text.strip().lower()
    if t in ("none", "0", "off", ""):
        return Cooldown()
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(s|c)", t)
    if not m:
        raise UsageError(f"--cooldown {text!r} is not understood", hint="use none, a pause like 30s, or a limit like 45C")
    value = float(m.group(1))
    if m.group(2) == "s":
        return Cooldown("pause", value, max_wait_s)
    if not 20 <= value <= 120:
        raise UsageError(f"--cooldown {text}: {value:g} C is not a plausible CPU temperature", hint="e.g. 45C")
    return Cooldown("below", value, max_wait_s)


def cpu_zones(temps: dict[str, float]) -> dict[str, float]:
    """The CPU thermal zones of a reading (names like cpu-1-0-usr, cpu0-gold, cpuss-0); all zones if none match."""
    cpu = {k: v for k, v in temps.items() if k.lower().startswith("cpu")}
    return cpu or temps


# ----------------------------------------------------------------------------- the phone as the backend needs it


class Phone(Protocol):
    """What the backend uses of segbench.devices.adb.AdbDevice."""

    serial: str

    def info(self) -> DeviceInfo: ...
    def shell(self, command: str, timeout: float = 30.0) -> Completed: ...
    def push(self, local: str, remote: str, digest: str | None = None) -> bool: ...
    def thermal_c(self) -> dict[str, float]: ...
    def cur_khz(self) -> dict[str, int]: ...


@dataclass
class PushStats:
    """What a run sent to the phone; shown in the run's summary."""

    pushed_files: int = 0
    pushed_bytes: int = 0
    cached_files: int = 0
    cached_bytes: int = 0

    def add(self, pushed: bool, size: int) -> None:
        if pushed:
            self.pushed_files += 1
            self.pushed_bytes += size
        else:
            self.cached_files += 1
            self.cached_bytes += size

    def describe(self) -> str:
        return (f"pushed {self.pushed_files} file(s), {self.pushed_bytes / 1e6:.1f} MB; "
                f"{self.cached_files} file(s), {self.cached_bytes / 1e6:.1f} MB already on the device")


@dataclass
class _Prepared:
    """A model made ready on the phone for one input."""

    model_path: str
    params_path: str | None
    input_path: str | None
    input_names: tuple[str, ...] | None
    input_shapes: tuple[tuple[int, ...], ...] | None
    note: str


@dataclass
class DeviceBackend:
    """Runs cases on one phone with the vendor tools (segbench.runners.<tool>)."""

    phone: Phone
    device: DeviceInfo
    tools: dict[str, Tool]  # runtime -> tool for the phone's ABI
    workdir: Path = Path("inputs")  # host directory for prepared inputs; the run sets it inside its directory
    timeout_s: float = 600.0
    cooldown: Cooldown = field(default_factory=Cooldown)
    reconnect: Callable[[float], bool] | None = None  # waits up to N s for the phone to come back; True if it did
    reconnect_wait_s: float = 90.0
    retries: int = 2
    pushes: PushStats = field(default_factory=PushStats)
    _prepared: dict[tuple[str, str | None, str | None], _Prepared] = field(default_factory=dict)
    _tool_paths: dict[str, str] = field(default_factory=dict)
    _lost: bool = False

    def summary(self) -> str | None:
        return f"{self.device.id}: {self.pushes.describe()}"

    # -- pushing ---------------------------------------------------------------------------
    def _push(self, local: Path, remote: str, digest: str | None = None) -> None:
        pushed = self.phone.push(str(local), remote, digest)
        self.pushes.add(pushed, local.stat().st_size)

    def _tool_path(self, tool: Tool) -> str:
        if tool.runtime not in self._tool_paths:
            for f in tool.files:
                self._push(f, f"{REMOTE_ROOT}/bin/{f.name}", None)
            remote = f"{REMOTE_ROOT}/bin/{tool.binary.name}"
            self.phone.shell(f"chmod 755 {shlex.quote(remote)}", 30)
            self._tool_paths[tool.runtime] = remote
        return self._tool_paths[tool.runtime]

    def _prepare(self, case: Case) -> _Prepared:
        key = (case.model.path, case.input_path, case.input_preset)
        if key in self._prepared:
            return self._prepared[key]
        model = case.model
        remote_dir = f"{REMOTE_ROOT}/models/{(model.sha256 or 'unhashed')[:16]}"
        model_remote = f"{remote_dir}/{Path(model.path).name}"
        self._push(Path(model.path), model_remote, model.sha256)
        params_remote = None
        for companion in model.companions:
            params_remote = f"{remote_dir}/{Path(companion).name}"
            self._push(Path(companion), params_remote)
        prepared = self._prepare_input(case, remote_dir)
        prepared.model_path, prepared.params_path = model_remote, params_remote
        self._prepared[key] = prepared
        return prepared

    def _prepare_input(self, case: Case, remote_dir: str) -> _Prepared:
        """The case's input in the tool's format, pushed; seeded random when no --input was given."""
        from segbench.inputs import SUFFIX, tensor_for_input, write_tensor
        from segbench.modelinfo.io import read_io
        from segbench.runners.host import random_input

        try:
            specs, _ = read_io(case.model.path)
        except ModelError as exc:
            if case.input_path:
                raise
            # Paddle models: the tool's own default input (all 1.0) when segbench cannot read the input spec.
            return _Prepared("", None, None, None, None, f"tool default input ({exc.message})")
        fmt = TOOL_INPUT_FORMAT[case.runtime]
        if case.input_path and len(specs) != 1:
            raise InputError(f"{case.model.name} has {len(specs)} inputs; --input feeds single-input models")
        tensors = ([tensor_for_input(Path(case.input_path), specs[0], case.input_preset)] if case.input_path
                   else [random_input(s, seed=i) for i, s in enumerate(specs)])
        if len(tensors) != 1:
            raise InputError(f"{case.model.name} has {len(tensors)} inputs; on a device segbench feeds single-input models")
        tensor, spec = tensors[0], specs[0]
        digest = _tensor_digest(tensor)
        local_dir = self.workdir / digest
        note = f"input {spec.name} {tensor.dtype} {list(tensor.shape)} " + (
            f"from {case.input_path}" if case.input_path else "seeded random (seed 0)")
        if fmt == "ort-pb":
            local = write_tensor(tensor, fmt, local_dir / "test_data_set_0", spec.name)
            self._push(local, f"{remote_dir}/test_data_set_0/input_0.pb")
            remote_input = f"{remote_dir}/test_data_set_0"
        else:
            local = write_tensor(tensor, fmt, local_dir / f"input{SUFFIX[fmt]}", spec.name)
            remote_input = f"{REMOTE_ROOT}/inputs/{digest}{SUFFIX[fmt]}"
            self._push(local, remote_input)
        return _Prepared("", None, remote_input, (spec.name,), (tuple(int(d) for d in tensor.shape),), note)

    # -- one case --------------------------------------------------------------------------
    def measure(self, case: Case, run_id: str) -> tuple[Measurement, bytes]:
        from segbench.runners import tools

        cpus = power.cpus_for_mode(case.power_mode, self.device.cpu_max_khz)
        mask = power.mask_hex(cpus)
        tool = self.tools.get(case.runtime)
        base = Measurement(
            run_id=run_id, case_id=case.case_id, model=case.model, runtime=case.runtime, status="failed",
            threads=case.threads, power_mode=case.power_mode, device_id=self.device.id, cpu_mask=mask,
            warmup=case.warmup, repeats=case.repeats, started=utc_now(),
            tool=tool.binary.name if tool else None, tool_version=tool.version if tool else None,
        )
        if tool is None:
            return replace(base, status="skipped", error=f"no {case.runtime} tool for {self.device.abi} in the assets",
                           finished=utc_now()), b""
        for attempt in range(self.retries + 1):
            try:
                prepared = self._prepare(case)
                tool_path = self._tool_path(tool)
                break
            except DeviceGone as exc:
                if attempt == self.retries or not self._reconnect():
                    why = "it did not come back" if self._lost else f"{attempt + 1} attempts"
                    return (replace(base, error=f"{exc} ({why})", finished=utc_now(), extra={DEVICE_FAILURE: True}),
                            f"failed before running: {exc} ({why})\n".encode())
            except SegbenchError as exc:
                extra = {DEVICE_FAILURE: True} if isinstance(exc, DeviceError) else {}
                return (replace(base, error=str(exc), finished=utc_now(), extra=extra),
                        f"failed before running: {exc}\n".encode())
        module = tools.tool_for_runtime(case.runtime)
        tc = tools.ToolCase(
            case=case, tool_path=tool_path, model_path=prepared.model_path, params_path=prepared.params_path,
            input_path=prepared.input_path, input_names=prepared.input_names, input_shapes=prepared.input_shapes,
            cpu_mask=tools.taskset_mask(module, mask),
        )
        try:
            argv = module.build_command(tc)
        except SegbenchError as exc:
            return replace(base, error=str(exc), finished=utc_now()), f"failed before running: {exc}\n".encode()
        self._cool_down()
        before_t, before_f = self._safe(self.phone.thermal_c), self._safe(self.phone.cur_khz)
        done = self._run_with_retries(argv, libs=len(tool.files) > 1)
        after_t, after_f = self._safe(self.phone.thermal_c), self._safe(self.phone.cur_khz)
        log = done.stdout + done.stderr
        base = replace(
            base, temps_before_c=before_t or None, temps_after_c=after_t or None, cpu_khz_before=before_f or None,
            cpu_khz_after=after_f or None, throttled=_throttled(before_f, after_f, cpus),
            extra={"command": shlex.join(argv), "input": prepared.note, "returncode": done.returncode,
                   "bound_by": "taskset" if tc.cpu_mask else f"{module.TOOL} --power_mode" if mask else None},
        )
        return replace(self._outcome(module, done, log, base), finished=utc_now()), log

    def _outcome(self, module, done: Completed, log: bytes, base: Measurement) -> Measurement:
        from segbench.runners import tools

        if done.timed_out:
            self._kill()
            return replace(base, status="timeout", error=f"no result within {self.timeout_s:g}s; the tool was killed")
        if done.disconnected:
            tries = f" ({self.retries + 1} attempts)" if self.reconnect is not None and not self._lost else ""
            gone = "" if not self._lost else "; it did not come back"
            return replace(base, error=f"device {self.phone.serial} disconnected during the case{tries}{gone}",
                           extra={**base.extra, DEVICE_FAILURE: True})
        parsed = tools.parse_case_log(module, log.decode("utf-8", errors="replace"))
        if parsed.status != "ok" and done.returncode not in (0, None):
            parsed = replace(parsed, error=f"{parsed.error} (exit status {done.returncode})")
        return tools.to_measurement(parsed, base)

    def _run_with_retries(self, argv: list[str], libs: bool) -> Completed:
        # The shell records its pid, then becomes the tool (exec), so a timeout can kill exactly it.
        env = f"export LD_LIBRARY_PATH={REMOTE_ROOT}/bin; " if libs else ""
        command = f"echo $$ > {REMOTE_ROOT}/run.pid; {env}exec {shlex.join(argv)}"
        done = self.phone.shell(command, self.timeout_s)
        for _ in range(self.retries):
            if not done.disconnected or not self._reconnect():
                break
            done = self.phone.shell(command, self.timeout_s)
        return done

    def _reconnect(self) -> bool:
        """Wait for a phone that went away; once it failed to come back, later cases only glance."""
        if self.reconnect is None:
            return False
        back = self.reconnect(min(5.0, self.reconnect_wait_s) if self._lost else self.reconnect_wait_s)
        self._lost = not back
        return back

    def _kill(self) -> None:
        with contextlib.suppress(Exception):
            self.phone.shell(f"kill -9 $(cat {REMOTE_ROOT}/run.pid) 2>/dev/null; rm -f {REMOTE_ROOT}/run.pid", 15)

    def _cool_down(self) -> None:
        if self.cooldown.kind == "pause":
            time.sleep(self.cooldown.value)
        elif self.cooldown.kind == "below":
            deadline = time.monotonic() + self.cooldown.max_wait_s
            while time.monotonic() < deadline:
                zones = cpu_zones(self._safe(self.phone.thermal_c))
                if not zones or max(zones.values()) < self.cooldown.value:
                    return
                time.sleep(2.0)

    @staticmethod
    def _safe(read: Callable[[], dict]) -> dict:
        try:
            return read()
        except Exception:  # a reading is a nice-to-have; a vanished phone shows up in the case itself
            return {}


def _tensor_digest(tensor: np.ndarray) -> str:
    import hashlib

    from segbench.inputs import tensor_bytes

    h = hashlib.sha256(tensor_bytes(tensor))
    h.update(f"{tensor.dtype}{tensor.shape}".encode())
    return h.hexdigest()[:16]


def _throttled(before: dict[str, int], after: dict[str, int], cpus: list[int] | None) -> bool | None:
    """True when a bound CPU ran more than 10% slower at the end of the case than at its start."""
    names = [f"cpu{c}" for c in cpus] if cpus is not None else list(before)
    pairs = [(before[n], after[n]) for n in names if n in before and n in after and before[n] > 0]
    if not pairs:
        return None
    return any(a < 0.9 * b for b, a in pairs)


__all__ = ["Cooldown", "DeviceBackend", "PushStats", "parse_cooldown"]
