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
import hashlib
import posixpath
import re
import secrets
import shlex
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import Protocol, TypeVar

import numpy as np

from segbench import power
from segbench.assets import Tool
from segbench.devices import Completed, Facts
from segbench.errors import DeviceError, DeviceGone, InputError, SegbenchError, UsageError
from segbench.model import (
    BACKEND_FALLBACK,
    DEFAULT_BACKEND,
    DEVICE_FAILURE,
    Case,
    DeviceInfo,
    Latency,
    Measurement,
    ModelRef,
    TensorInfo,
)
from segbench.runners.host import Timed
from segbench.store import log_bytes, utc_now

REMOTE_ROOT = "/data/local/tmp/segbench"
T = TypeVar("T")
# A reading taken when a case ended is the next case's start if that starts within this many seconds; later, the
# phone may have cooled (or heated) since, and the next case takes its own (in its tool's command: no round trip).
FACTS_SHARED_S = 5.0
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
    def push(self, local: str, remote: str, digest: str | None = None, mode: int | None = None) -> bool: ...
    def pull(self, remote: str, local: str) -> None: ...
    def thermal_c(self) -> dict[str, float]: ...
    def cur_khz(self) -> dict[str, int]: ...
    def cap_khz(self) -> dict[str, int]: ...
    # and, where the phone offers it (AdbDevice), facts(): the three readings above in one shell command
    # and look_ahead(files): the phone's hashes of the files a run will push, read by one command for them all


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


@dataclass(frozen=True)
class Upload:
    """A file for the phone: where it goes, its sha256 when known, the mode it gets (None: the local file's)."""

    local: Path
    remote: str
    digest: str | None = None
    mode: int | None = None


@dataclass
class _Prepared:
    """A model made ready on the phone for one input."""

    model_path: str
    params_path: str | None
    input_path: str | None
    input_names: tuple[str, ...] | None
    input_shapes: tuple[tuple[int, ...], ...] | None
    note: dict  # what the case feeds (inputs.case_inputs), kept in the record's extra.input


@dataclass
class DeviceBackend:
    """Runs cases on one phone with the vendor tools (segbench.runners.<tool>)."""

    phone: Phone
    device: DeviceInfo
    tools: dict[str, Tool]  # runtime -> tool for the phone's ABI
    missing: dict[str, str] = field(default_factory=dict)  # runtime -> why its tool is not there (skip_missing)
    workdir: Path = Path("inputs")  # host directory for prepared inputs; the run sets it inside its directory
    timeout_s: float = 600.0
    cooldown: Cooldown = field(default_factory=Cooldown)
    reconnect: Callable[[float], bool] | None = None  # waits up to N s for the phone to come back; True if it did
    reconnect_wait_s: float = 90.0
    retries: int = 2
    pushes: PushStats = field(default_factory=PushStats)
    _prepared: dict[tuple[str, str | None, str | None], _Prepared] = field(default_factory=dict)
    _plans: dict[tuple[str, str | None, str | None], tuple[_Prepared, list[Upload]]] = field(default_factory=dict)
    _tool_paths: dict[str, str] = field(default_factory=dict)
    op_profiling: bool = False  # run --profile: per-operator times from the tool (ops_by_type)
    memory_profile: bool = False  # run --memory: the tool's memory figures (memory_mb)
    _accelerators: dict[str, str | None] | None = None
    _lost: bool = False
    _running: bool = False
    _closed: bool = False  # the run is over (Ctrl-C): no tool starts any more
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _runner: threading.Thread | None = None  # the thread whose command runs the tool
    _last_facts: Facts | None = None  # read when the last case ended: the next case's start, unless time was let pass
    _last_facts_at: float = 0.0  # time.monotonic() when it came

    def summary(self) -> str | None:
        return f"{self.device.id}: {self.pushes.describe()}"

    def versions(self) -> dict[str, str | None]:
        from segbench.runinfo import package_version

        tools = {t.binary.name: t.version or "version unknown" for t in self.tools.values()}
        return {**tools, "adbutils": package_version("adbutils")}

    # -- pushing ---------------------------------------------------------------------------
    def _push(self, upload: Upload) -> None:
        pushed = (self.phone.push(str(upload.local), upload.remote, upload.digest, upload.mode)
                  if upload.mode is not None else self.phone.push(str(upload.local), upload.remote, upload.digest))
        self.pushes.add(pushed, upload.local.stat().st_size)

    def _tool_uploads(self, tool: Tool) -> tuple[str, list[Upload]]:
        """Where the tool's binary goes on the phone, and its files' uploads."""
        # A variant (LiteRT's benchmark_model) keeps the upstream name in a directory of its own.
        remote_dir = f"{REMOTE_ROOT}/bin/{tool.variant}" if tool.variant else f"{REMOTE_ROOT}/bin"
        # Executable as it arrives (the mode travels in the push itself): no `chmod` round trip.
        uploads = [Upload(f, f"{remote_dir}/{f.name}", None, 0o755 if f == tool.binary else None) for f in tool.files]
        return f"{remote_dir}/{tool.binary.name}", uploads

    def _tool_path(self, tool: Tool) -> str:
        if tool.runtime not in self._tool_paths:
            remote, uploads = self._tool_uploads(tool)
            for upload in uploads:
                self._push(upload)
            self._tool_paths[tool.runtime] = remote
        return self._tool_paths[tool.runtime]

    def push_model(self, model: ModelRef) -> tuple[str, str, str | None]:
        """The model and its companions on the phone: (its directory, model, Paddle's params or None)."""
        remote_dir, model_remote, params_remote, uploads = self._model_uploads(model)
        for upload in uploads:
            self._push(upload)
        return remote_dir, model_remote, params_remote

    @staticmethod
    def _model_uploads(model: ModelRef) -> tuple[str, str, str | None, list[Upload]]:
        """Where the model and its companions go: (its directory, model, Paddle's params or None, uploads).

        The directory is keyed by content: the model's sha256 and its companions' (one program with two sets of
        weights, e.g. PaddleSeg's model.pdmodel/model.pdiparams exported twice, gets two directories). Companions
        keep their place relative to the model (an ONNX model's external data files, which onnxruntime_perf_test
        opens relative to the .onnx's folder, as their ``location`` says). The digests are those discovery recorded
        (ModelRef.companions_sha256, as the model's own sha256 is): an ONNX model's external data can be gigabytes."""
        from segbench.models import sha256_file

        digests = model.companions_sha256
        if len(digests) != len(model.companions):  # a ModelRef made without them: hashed here
            digests = tuple(sha256_file(Path(c)) for c in model.companions)
        companions = list(zip(map(Path, model.companions), digests))
        key = model.sha256 or "unhashed"
        if companions:
            key = hashlib.sha256("".join([key, *(digest for _, digest in companions)]).encode()).hexdigest()
        remote_dir = f"{REMOTE_ROOT}/models/{key[:16]}"
        model_remote = f"{remote_dir}/{Path(model.path).name}"
        uploads = [Upload(Path(model.path), model_remote, model.sha256)]
        remotes = []
        for companion, digest in companions:
            remotes.append(f"{remote_dir}/{_beside(companion, Path(model.path))}")
            uploads.append(Upload(companion, remotes[-1], digest))
        params_remote = remotes[0] if remotes and model.format == "paddle" else None
        return remote_dir, model_remote, params_remote, uploads

    def _prepare(self, case: Case) -> _Prepared:
        key = (case.model.path, case.input_path, case.input_preset)
        if key in self._prepared:
            return self._prepared[key]
        prepared, uploads = self._plan(case)
        for upload in uploads:
            self._push(upload)
        self._prepared[key] = prepared
        return prepared

    def _plan(self, case: Case) -> tuple[_Prepared, list[Upload]]:
        """What the case's model and input make on the phone, and the uploads that put them there (kept: the input
        is made once, whether look_ahead or the case itself asks first)."""
        key = (case.model.path, case.input_path, case.input_preset)
        if key not in self._plans:
            remote_dir, model_remote, params_remote, uploads = self._model_uploads(case.model)
            prepared, upload = self._prepare_input(case, remote_dir)
            prepared.model_path, prepared.params_path = model_remote, params_remote
            self._plans[key] = (prepared, [*uploads, upload])
        return self._plans[key]

    def look_ahead(self, cases: Iterable[Case]) -> None:
        """Before a sweep: the files its cases will push, checked on the phone all at once where it can
        (AdbDevice.look_ahead: one `sha256sum` for all), so that a file already there costs its push no command of
        its own. It only reads: each push still STATs its file, and one that changed or vanished since is hashed or
        sent as before. A case whose files cannot be made now is left out here; its own turn says why."""
        from segbench.runners import tools

        ahead = getattr(self.phone, "look_ahead", None)
        if ahead is None:
            return
        files: dict[str, Upload] = {}
        for case in cases:
            tool = self.tools.get(case.runtime)
            try:
                if tool is None or self.bound(tools.tool_for_runtime(case.runtime), case).lacking:
                    continue  # skipped at its turn: it pushes nothing
                uploads = [*self._tool_uploads(tool)[1], *self._plan(case)[1]]
            except Exception:  # noqa: BLE001 - measure() meets it again, inside the case's error boundary
                continue
            files.update((u.remote, u) for u in uploads)
        with contextlib.suppress(SegbenchError, OSError):  # the pushes then check each file themselves
            ahead([(str(u.local), u.remote) for u in files.values()])

    def _prepare_input(self, case: Case, remote_dir: str) -> tuple[_Prepared, Upload]:
        """The case's input in the tool's format, and its upload; seeded random when no --input was given."""
        from segbench.inputs import SUFFIX, case_inputs, write_tensor
        from segbench.modelinfo.io import read_io

        specs, _ = read_io(case.model.path)  # a .nb without a known input shape: ModelError with the fix
        fmt = TOOL_INPUT_FORMAT[case.runtime]
        tensors, note = case_inputs(case.model.path, specs, case.input_path, case.input_preset)
        if len(tensors) != 1:
            raise InputError(f"{case.model.name} has {len(tensors)} inputs; on a device segbench feeds single-input models")
        tensor, spec = tensors[0], specs[0]
        digest = _tensor_digest(tensor)
        local_dir = self.workdir / digest
        if fmt == "ort-pb":
            local = write_tensor(tensor, fmt, local_dir / "test_data_set_0", spec.name)
            upload = Upload(local, f"{remote_dir}/test_data_set_0/input_0.pb")
            remote_input = f"{remote_dir}/test_data_set_0"
        else:
            local = write_tensor(tensor, fmt, local_dir / f"input{SUFFIX[fmt]}", spec.name)
            remote_input = f"{REMOTE_ROOT}/inputs/{digest}{SUFFIX[fmt]}"
            upload = Upload(local, remote_input)
        return _Prepared("", None, remote_input, (spec.name,), (tuple(int(d) for d in tensor.shape),), note), upload

    # -- CPU binding -----------------------------------------------------------------------
    def bound(self, module: ModuleType, case: Case) -> Bound:
        """Where the case's tool runs: the power mode's CPU set on this phone (power.binding) under taskset, or, for
        a tool that binds by itself in its own modes (Paddle Lite: high, low...), the cores its rule picks on this
        phone's topology (power.paddle_binding; what its log says of it is read back after the run)."""
        from segbench.runners import tools

        every = sorted(self.device.cpu_max_khz) or list(range(self.device.cores or 0)) or None
        b = power.binding(case.power_mode, self.device.cpu_max_khz, every)
        if b.lacking:
            return Bound(None, None, b.lacking, {})
        taskset = tools.taskset_mask(module, b.mask, case.power_mode)
        if taskset is not None or b.cpus is None or not getattr(module, "SELF_BINDING", False):
            extra = {"bound_by": "taskset" if taskset else None, **power.thread_load(case.threads, b.cpus)}
            return Bound(b.cpus, taskset, None, extra)
        own = power.paddle_binding(case.power_mode, case.threads, self.device.cpu_max_khz)
        extra = {"bound_by": f"{module.TOOL} --power_mode", **power.thread_load(own.threads, own.cpus)}
        if own.threads != case.threads:
            extra["threads_run"] = own.threads
        if own.note and own.cpus is None:
            extra["cpus_unknown"] = own.note
        return Bound(own.cpus, None, None, extra)

    # -- accelerators ----------------------------------------------------------------------
    def lacks(self, backend: str) -> str | None:
        """Why the phone cannot run ``backend`` (model.BACKENDS), or None. A GPU needs the vendor's OpenCL driver
        (every tool here reaches the GPU through OpenCL), NNAPI Android's runtime (API 27+). An NPU is left to the
        tool: only it can tell whether its vendor library finds one."""
        if backend in ("gpu", "gpu-fp16"):
            return None if self._libs().get("opencl") else (
                f"{self.device.id} has no OpenCL driver (no libOpenCL.so in /vendor/lib64 or /system/vendor/lib64): "
                "no GPU the tools can use")
        if backend in ("nnapi", "nnapi-fp16"):
            api = self.device.api_level
            if self._libs().get("nnapi") or (api is not None and api >= 27):
                return None
            return f"{self.device.id} has no NNAPI (Android API {api if api is not None else 'unknown'}; NNAPI needs 27+)"
        return None

    def _libs(self) -> dict[str, str | None]:
        """Which accelerator libraries the phone has (read once)."""
        if self._accelerators is None:
            found: dict[str, str | None] = {"opencl": None, "nnapi": None}
            paths = {"opencl": ("/vendor/lib64/libOpenCL.so", "/system/vendor/lib64/libOpenCL.so"),
                     "nnapi": ("/system/lib64/libneuralnetworks.so",)}
            listing = self.phone.shell("ls " + " ".join(p for ps in paths.values() for p in ps) + " 2>/dev/null", 30)
            seen = set(listing.stdout.decode(errors="replace").split())
            for kind, candidates in paths.items():
                found[kind] = next((p for p in candidates if p in seen), None)
            self._accelerators = found
        return self._accelerators

    # -- one case --------------------------------------------------------------------------
    def measure(self, case: Case, run_id: str) -> tuple[Measurement, bytes]:
        from segbench.runners import tools

        tool = self.tools.get(case.runtime)
        module = tools.tool_for_runtime(case.runtime)
        bound = self.bound(module, case)
        cpus = list(bound.cpus) if bound.cpus is not None else None
        base = Measurement(
            run_id=run_id, case_id=case.case_id, model=case.model, runtime=case.runtime, status="failed",
            threads=case.threads, power_mode=case.power_mode, backend=case.backend, device_id=self.device.id,
            cpu_mask=power.mask_hex(cpus), warmup=case.warmup, repeats=case.repeats, started=utc_now(),
            tool=tool.binary.name if tool else None, tool_version=tool.version if tool else None,
        )
        if tool is None:
            why = self.missing.get(case.runtime) or f"no {case.runtime} tool for {self.device.abi} in the assets"
            return replace(base, status="skipped", error=why, finished=utc_now()), log_bytes(f"skipped: {why}\n")
        if bound.lacking:
            error = f"power mode {case.power_mode}: {bound.lacking} on {self.device.id}"
            return replace(base, status="skipped", error=error, finished=utc_now()), log_bytes(f"skipped: {error}\n")
        try:
            tool_backend, backend_options = tools.tool_backend(module, case.backend, tool.variant)
            lacking = self.with_reconnect(lambda: self.lacks(case.backend))
        except tools.NoBackend as exc:
            lacking = str(exc)
        except SegbenchError as exc:
            extra = {DEVICE_FAILURE: True} if isinstance(exc, DeviceError) else {}
            return (replace(base, error=str(exc), finished=utc_now(), extra=extra),
                    log_bytes(f"failed before running: {exc}\n"))
        if lacking:
            return (replace(base, status="skipped", error=f"no {case.backend} backend: {lacking}", finished=utc_now()),
                    log_bytes(f"skipped: no {case.backend} backend: {lacking}\n"))
        try:
            prepared, tool_path = self.with_reconnect(lambda: (self._prepare(case), self._tool_path(tool)))
        except SegbenchError as exc:
            extra = {DEVICE_FAILURE: True} if isinstance(exc, DeviceError) else {}
            return (replace(base, error=str(exc), finished=utc_now(), extra=extra),
                    log_bytes(f"failed before running: {exc}\n"))
        # A tool whose report holds no per-run times but whose result file does (onnxruntime_perf_test)
        # writes one beside the model; it is read back after the run as the record's samples.
        read_samples = getattr(module, "read_result_file", None)
        # One whose build writes a result message (LiteRT 2.x's --result_file_path) gets a path for it too: its
        # median, p5 and p95 are read back after the run.
        read_proto = (getattr(module, "read_result_proto", None)
                      if tool.variant in getattr(module, "RESULT_FILE_VARIANTS", ()) else None)
        stem = f"{posixpath.dirname(prepared.model_path)}/perf_{hashlib.sha256(case.case_id.encode()).hexdigest()[:16]}"
        result_path = f"{stem}.txt" if read_samples else f"{stem}.pb" if read_proto else None
        # LiteRT 2.x's benchmark_model cannot read an input file: it runs on its own random data, said in the record.
        own_data = tool.variant == "litert"
        input_note = ("the tool's own random data (LiteRT's benchmark_model has no input-file flag)" if own_data
                      else prepared.note)
        tc = tools.ToolCase(
            case=case, tool_path=tool_path, model_path=prepared.model_path, params_path=prepared.params_path,
            input_path=None if own_data else prepared.input_path, input_names=prepared.input_names,
            input_shapes=prepared.input_shapes, cpu_mask=bound.taskset, result_path=result_path,
            variant=tool.variant, backend=tool_backend, backend_options=backend_options,
            # onnxruntime_perf_test says which provider ran each node only in its verbose log (-v)
            per_run_times=module.RUNTIME == "onnxruntime" and case.backend != DEFAULT_BACKEND,
            op_profiling=self.op_profiling and getattr(module, "OP_PROFILING", True),
            profile_prefix=(f"{posixpath.dirname(prepared.model_path)}/prof_{hashlib.sha256(case.case_id.encode()).hexdigest()[:16]}"
                            if self.op_profiling and module.RUNTIME == "onnxruntime" else None),
            memory_profile=self.memory_profile,
        )
        try:
            argv = module.build_command(tc)
        except SegbenchError as exc:
            return replace(base, error=str(exc), finished=utc_now()), log_bytes(f"failed before running: {exc}\n")
        cooled_s, cool = self._cool_down()
        # One reading per case boundary: the previous case's end is this one's start, unless time passed since (a
        # cooldown, a long push, a farm phone waiting for a case handed back): then this case reads its own start,
        # at no cost. Both readings, and the tool's result file, travel in the tool's own command (run_framed).
        fresh = time.monotonic() - self._last_facts_at <= FACTS_SHARED_S
        shared, self._last_facts = (self._last_facts if cooled_s is None and fresh else None), None
        if shared is None and getattr(self.phone, "facts_command", None) is None:
            shared = self._facts()  # a phone whose reading cannot ride in the tool's command: one of its own
        libs = posixpath.dirname(tool_path) if len(tool.files) > 1 else None
        done, framed = self._run_with_retries(argv, libs=libs, fresh=result_path, read_back=result_path is not None,
                                              facts_before=shared is None)
        start = shared if shared is not None else framed.before or Facts({}, {}, {})  # cut off with the link: none
        end = self._last_facts = framed.after if framed.after is not None else self._facts()
        self._last_facts_at = time.monotonic()
        before_t, before_f = start.thermal_c, start.cur_khz
        # Already hot when the case started: its CPUs capped below their maximum, or still above the --cooldown limit.
        at_start = _capped(start.cap_khz, self.device.cpu_max_khz, cpus)
        if not cool:
            at_start = True
        after_t, after_f = end.thermal_c, end.cur_khz
        log = done.stdout + done.stderr
        during = _throttled(before_f, after_f, cpus)
        base = replace(
            base, temps_before_c=before_t or None, temps_after_c=after_t or None, cpu_khz_before=before_f or None,
            cpu_khz_after=after_f or None, throttled=True if at_start else during, throttled_at_start=at_start,
            cooldown_s=cooled_s,
            extra={"command": shlex.join(argv), "input": input_note, "returncode": done.returncode, **bound.extra},
        )
        measurement = _bound_as_logged(_tool_version(self._outcome(module, done, log, base), tool))
        measurement = _backend_evidence(measurement, module, case.backend, tool.variant, log)
        if result_path and measurement.status == "ok":
            measurement = (self._with_samples(measurement, result_path, read_samples, framed.file) if read_samples
                           else self._with_result_proto(measurement, result_path, read_proto, framed.file))
        if self.op_profiling or self.memory_profile:
            measurement = self._with_profile(measurement, module, tc)
        return replace(measurement, finished=utc_now()), log

    def _with_profile(self, m: Measurement, module: ModuleType, tc) -> Measurement:
        """--profile: the per-operator times the tool printed (benchmark_model's tables, parsed with its log) or wrote
        (onnxruntime_perf_test's -p trace, read back from the phone and removed); benchmark_bin needs a
        --with_profile=ON build. --memory: what the tool reported is already in memory_mb. The record says what
        was asked and what came of it (extra.profiled, extra.profile)."""
        extra = dict(m.extra)
        if self.memory_profile:
            extra["memory_asked"] = True
            if not m.memory_mb and m.status == "ok":
                extra["memory"] = f"{module.TOOL} printed no memory figures"
        if self.op_profiling:
            extra["profiled"] = True  # the timed runs carried the profiler's overhead
            if tc.profile_prefix and m.status == "ok":
                ops, why = self._ort_profile(tc.profile_prefix)
                if ops:
                    m = replace(m, ops_by_type=ops)
                else:
                    extra["profile"] = why
            elif not tc.op_profiling:
                extra["profile"] = (f"{module.TOOL} has no runtime switch for per-operator times "
                                    "(Paddle Lite prints them only from a --with_profile=ON build, parsed when present)")
            if m.status == "ok" and not m.ops_by_type and "profile" not in extra:
                extra["profile"] = f"{module.TOOL} printed no per-operator table"
        return replace(m, extra=extra)

    def _ort_profile(self, prefix: str) -> tuple[dict[str, float] | None, str | None]:
        """onnxruntime_perf_test -p PREFIX writes PREFIX_<timestamp>.json on the phone: read, parse, remove."""
        from segbench.errors import ParseError
        from segbench.runners.onnxruntime_perf_test import parse_profile

        pattern = shlex.quote(prefix) + "_*.json"
        done = self.phone.shell(f"cat {pattern}; rm -f {pattern}", 60)
        text = done.stdout.decode("utf-8", errors="replace")
        if done.returncode != 0 or not text.strip():
            return None, f"no profile file {prefix}_*.json on the phone"
        try:
            return parse_profile(text) or None, None
        except ParseError as exc:
            return None, f"its profile could not be read: {exc}"

    def _with_samples(self, m: Measurement, remote: str, read: Callable[[str], tuple[float, ...]],
                      data: bytes | None) -> Measurement:
        """The per-run times of the tool's result file (``data``, read back by the tool's own command; None: there
        was none) as the record's samples; the figures the tool printed stay, those it does not print (std) come
        from the samples. Without them the record keeps the summary and says why."""
        from segbench import stats

        samples = read(data.decode("utf-8", errors="replace")) if data is not None else ()
        if not samples or (m.count is not None and len(samples) != m.count):
            why = (f"its result file holds {len(samples)} run(s) for {m.count}" if samples
                   else f"its result file {remote} could not be read")
            return replace(m, extra={**m.extra, "samples": f"no per-run times: {why}"})
        lat = m.latency_ms or Latency()
        computed = stats.summarize(samples)
        merged = Latency(**{k: getattr(lat, k) if getattr(lat, k) is not None else getattr(computed, k)
                            for k in Latency.__dataclass_fields__})
        return replace(m, samples_ms=samples, latency_ms=merged)

    def _with_result_proto(self, m: Measurement, remote: str, read: Callable[[bytes], dict],
                           data: bytes | None) -> Measurement:
        """The tool's result message (``data``, read back by the tool's own command and removed on the phone; None:
        there was none): its median and p95 fill the record's latency and its p5 extra.p5_ms where the log gave
        none; the log's figures stay. A file that is missing or unreadable is a warning in extra.result_file, never
        a failed record."""
        from segbench.errors import ParseError

        try:
            if data is None:
                raise DeviceError("no such file on the phone")
            figures = read(data)
        except (DeviceError, ParseError) as exc:  # no such file on the phone, or no such message
            return replace(m, extra={**m.extra, "result_file": f"warning: {remote} could not be read: {exc}"})
        lat = m.latency_ms or Latency()
        filled = {k: figures[f"{k}_ms"] for k in ("median", "p95")
                  if getattr(lat, k) is None and figures.get(f"{k}_ms") is not None}
        extra = {**m.extra, "result_file": "read: " + ", ".join(
            k for k in ("median_ms", "p5_ms", "p95_ms") if figures.get(k) is not None) or "read: no percentiles"}
        if extra.get("p5_ms") is None and figures.get("p5_ms") is not None:
            extra["p5_ms"] = figures["p5_ms"]
        return replace(m, latency_ms=replace(lat, **filled), extra=extra)

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

    def run_tool(self, argv: list[str], libs: str | None, fresh: str | None = None) -> Completed:
        """One run of a tool's argv (``libs``: the directory of the libraries pushed beside it, LD_LIBRARY_PATH;
        ``fresh``: a file the tool writes, removed first); run_framed says how."""
        return self.run_framed(argv, libs, fresh)[0]

    def run_framed(self, argv: list[str], libs: str | None, fresh: str | None = None, read_back: bool = False,
                   facts_before: bool = False, facts_after: bool = False) -> tuple[Completed, Framed]:
        """One run of a tool, and what the case needs next to it, in one shell command (one round trip): the phone's
        reading before it (``facts_before``) and after it (``facts_after``), and the file ``fresh`` it wrote
        (``read_back``: read, then removed). The tool runs in the background of that shell, its pid in run.pid, so
        that a timeout or Ctrl-C can kill exactly it; the shell waits for it and exits with its exit status.
        The Completed is the tool's own: its stdout cut at the frame's marker, the shell's exit status its own."""
        facts = getattr(self.phone, "facts_command", None)  # phones that cannot batch a reading get none here
        frame = Frame(secrets.token_hex(8), fresh if read_back else None,
                      facts if facts_before else None, facts if facts_after else None)
        with self._lock:
            if self._closed:  # Ctrl-C came while this case was being prepared: it is not run (nor recorded)
                raise KeyboardInterrupt
            self._running = True  # stays set when Ctrl-C cuts the run off: close() then kills the tool
            self._runner = threading.current_thread()
        done = self.phone.shell(frame.command(argv, libs, fresh), self.timeout_s)
        self._running = False
        if self._closed:  # close() killed it (Ctrl-C): the case was cut off, not failed, and is not recorded
            raise KeyboardInterrupt
        done, framed = frame.split(done)
        read = getattr(self.phone, "read_facts", None)
        if read is not None:
            framed = replace(framed, before=None if framed.before_text is None else read(framed.before_text),
                             after=None if framed.after_text is None else read(framed.after_text))
        return done, framed

    def _run_with_retries(self, argv: list[str], libs: str | None, fresh: str | None = None, read_back: bool = False,
                          facts_before: bool = False) -> tuple[Completed, Framed]:
        """The tool run again (``retries`` times at most) when the phone dropped off during it and came back. The
        reading after it comes with the last run; the one before it with the first that brought one."""
        before: Facts | None = None
        for attempt in range(self.retries + 1):
            done, framed = self.run_framed(argv, libs, fresh, read_back, facts_before and before is None, True)
            before = before if before is not None else framed.before
            if not done.disconnected or attempt == self.retries or not self._reconnect():
                break
        return done, replace(framed, before=before)

    def close(self, wait_s: float = 5.0) -> None:
        """End of the run: a case cut off by Ctrl-C leaves its tool running on the phone; kill it. A phone worker
        may be between starting the tool and the tool writing its pid, so the kill is repeated until the worker's
        command returns (``wait_s`` at most); and no tool starts after this."""
        with self._lock:
            self._closed = True
            running, runner = self._running, self._runner
        if not running:
            return
        deadline = time.monotonic() + wait_s
        self._kill()
        # Cut off in this very thread (eval's loop), the command was abandoned once its tool was running; a phone
        # worker's command returns once the kill reached the tool.
        while self._running and runner is not threading.current_thread() and time.monotonic() < deadline:
            time.sleep(0.2)
            self._kill()

    def with_reconnect(self, step: Callable[[], T]) -> T:
        """``step()``; when the phone drops off the bus (DeviceGone) it is waited for and the step run
        again, ``retries`` more times at most. The last DeviceGone says how many attempts were made."""
        attempts = 1
        while True:
            try:
                return step()
            except DeviceGone as exc:
                if attempts > self.retries or not self._reconnect():
                    gone = "; it did not come back" if self._lost else ""
                    raise DeviceGone(f"{exc} ({attempts} attempt{'s' if attempts > 1 else ''}{gone})") from None
                attempts += 1

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

    def _cool_down(self) -> tuple[float | None, bool]:
        """Wait as --cooldown says: (the seconds it took, None without a cooldown; False when the CPU zones were
        still above the limit when the wait gave up)."""
        t0 = time.monotonic()
        if self.cooldown.kind == "pause":
            time.sleep(self.cooldown.value)
        elif self.cooldown.kind == "below":
            deadline = t0 + self.cooldown.max_wait_s
            while True:
                zones = cpu_zones(self._safe(self.phone.thermal_c))
                if not zones or max(zones.values()) < self.cooldown.value:
                    break
                if time.monotonic() >= deadline:
                    return round(time.monotonic() - t0, 2), False
                time.sleep(min(2.0, max(0.0, deadline - time.monotonic())))
        else:
            return None, True
        return round(time.monotonic() - t0, 2), True

    def _facts(self) -> Facts:
        """Temperatures and frequencies now: one shell command where the phone batches them (AdbDevice.facts),
        else one per reading (phones that offer only those)."""
        batched = getattr(self.phone, "facts", None)
        if batched is None:
            return Facts(self._safe(self.phone.thermal_c), self._safe(self.phone.cur_khz),
                         self._safe(self.phone.cap_khz))
        try:
            return batched()
        except Exception:  # as _safe: a vanished phone shows up in the case itself
            return Facts({}, {}, {})

    @staticmethod
    def _safe(read: Callable[[], dict]) -> dict:
        try:
            return read()
        except Exception:  # a reading is a nice-to-have; a vanished phone shows up in the case itself
            return {}



@dataclass(frozen=True)
class Framed:
    """What a tool's command brought besides the tool's own output: the readings printed before and after it (text,
    then Facts where the phone reads them; None: not asked, or cut off with the link) and the file it wrote (None:
    not asked, or not there)."""

    before_text: str | None = None
    after_text: str | None = None
    file: bytes | None = None
    before: Facts | None = None
    after: Facts | None = None


@dataclass(frozen=True)
class Frame:
    """One shell command that runs a tool between markers no tool can print (a fresh random ``nonce`` each):

        [reading; MARK start]  TOOL & echo $! > run.pid; wait $!; rc=$?; MARK tool RC
        [reading; MARK after]  [MARK file; the result file's bytes; rm]  exit RC

    so the tool's stdout is exactly the bytes before "MARK tool", and the shell ends with the tool's exit status
    (shell v2 carries it). Every part printed after the tool comes only once the tool has ended; a part whose
    closing marker never came (the link went) is taken as not read."""

    nonce: str
    read_back: str | None = None  # the file to print after the tool (then removed)
    before: str | None = None  # a reading command to print before the tool
    after: str | None = None  # and after it

    @property
    def mark(self) -> str:
        return f"##segbench-{self.nonce}"

    def command(self, argv: list[str], libs: str | None, fresh: str | None) -> str:
        q, mark = shlex.quote, self.mark
        env = f"LD_LIBRARY_PATH={q(libs)} " if libs else ""
        parts = [f"rm -f {q(fresh)}"] if fresh else []
        if self.before:
            parts.append(f"{self.before}; echo '{mark} start'")
        parts += [f"{env}{shlex.join(argv)} & echo $! > {REMOTE_ROOT}/run.pid", "wait $!", "rc=$?",
                  f"printf '%s tool %d\\n' '{mark}' $rc"]
        if self.after:
            parts.append(f"{self.after}; echo '{mark} after'")
        if self.read_back:
            f = q(self.read_back)
            parts.append(f"if [ -f {f} ]; then echo '{mark} file'; cat {f}; rm -f {f}; fi")
        return "; ".join([*parts, "exit $rc"])

    def split(self, done: Completed) -> tuple[Completed, Framed]:
        """The command's output -> the tool's own Completed and the rest."""
        mark = self.mark.encode()
        out, framed = done.stdout, Framed()
        if self.before:
            head, sep, out = out.partition(mark + b" start\n")
            if not sep:  # cut off before the tool even started
                return replace(done, stdout=b""), framed
            framed = replace(framed, before_text=head.decode(errors="replace"))
        tool_out, sep, rest = out.partition(mark + b" tool ")
        if not sep:
            return replace(done, stdout=out), framed
        rest = rest.partition(b"\n")[2]
        if self.after:
            text, sep, rest = rest.partition(mark + b" after\n")
            framed = replace(framed, after_text=text.decode(errors="replace") if sep else None)
        if self.read_back and done.returncode is not None:  # the whole output came: the file is all of its tail
            _, sep, data = rest.partition(mark + b" file\n")
            framed = replace(framed, file=data if sep else None)
        return replace(done, stdout=tool_out), framed


# ----------------------------------------------------------------------------- eval on the phone

EVAL_DIR = f"{REMOTE_ROOT}/eval"  # one input and one output file, overwritten image after image


def check_evaluable(model: ModelRef, runtime: str, tool_backend: str | None = None) -> None:
    """UsageError unless the runtime's on-device tool can write the model's outputs to a file and has
    ``tool_backend``; called before anything touches the phone."""
    from segbench.runners import tools

    module = tools.tool_for_runtime(runtime)
    if module.NO_OUTPUT_DUMP:
        raise UsageError(f"{model.name} ({runtime}) cannot be evaluated on a device: {module.NO_OUTPUT_DUMP}",
                         hint="evaluate it on this machine (drop --device), or evaluate its TFLite export on the device")
    # The tool module is the one judge of its backends: build a command that only differs in paths.
    module.build_command(tools.ToolCase(case=Case(model, runtime, 1, "no_bind", 1, 1), tool_path="tool",
                                        model_path="model", backend=tool_backend))


@dataclass
class DeviceSession:
    """A model on the phone, driven like a host session (segbench.runners.host.HostSession), so that
    ``segbench eval --device`` runs the very evaluation loop of host eval.

    ``run_once`` writes the tensor given to ``set_inputs`` in the tool's raw format, pushes it, runs the
    tool once with its output dump and pulls the dump back: one image's files exist at a time, on the
    host and on the phone, so a dataset of any size needs no more space than one image.
    """

    backend: DeviceBackend
    model: ModelRef
    runtime: str
    threads: int
    inputs: list[TensorInfo]
    output_specs: list[TensorInfo]
    model_remote: str
    tool_remote: str
    tool_backend: str | None = None  # ToolCase.backend: benchmark_model's delegate; None = the tool's default
    _tensor: np.ndarray | None = None
    _outputs: list[np.ndarray] = field(default_factory=list)

    def set_inputs(self, arrays: list[np.ndarray]) -> None:
        (self._tensor,) = arrays  # segbench.accuracy feeds single-input models

    def run_once(self) -> Timed:
        """One inference on the phone; its outputs are then in ``outputs()``. Returns the tool's time in ms (no CPU
        time: the run's process is on the phone).

        A phone that drops off the bus (DeviceGone: push, run, output check) is waited for and the whole
        image retried: a loose cable late in a long evaluation costs one image's round trip, not the evaluation.
        """
        if self._tensor is None:
            raise UsageError("set_inputs must come before run_once")
        tensor = self._tensor
        return Timed(self.backend.with_reconnect(lambda: self._infer(tensor)))

    def _infer(self, tensor: np.ndarray) -> float:
        from segbench.inputs import write_tensor
        from segbench.runners import tools

        spec, module = self.inputs[0], tools.tool_for_runtime(self.runtime)
        remote_in, remote_out = f"{EVAL_DIR}/input.raw", f"{EVAL_DIR}/output.raw"
        local = write_tensor(tensor, "raw", self.backend.workdir / "eval_input.raw", spec.name)
        # A dump left by the previous image must never be read as this image's outputs; and the previous image's
        # input, of the same size, would make the push compare hashes before sending this one anyway.
        self._shell(f"rm -f {shlex.quote(remote_out)} {shlex.quote(remote_in)}")
        self.backend._push(Upload(local, remote_in))
        # One warm-up (the tool's default) and one timed run; the dump holds the timed run's outputs.
        case = Case(self.model, self.runtime, self.threads, "no_bind", warmup=1, repeats=1)
        tc = tools.ToolCase(case=case, tool_path=self.tool_remote, model_path=self.model_remote, input_path=remote_in,
                            input_names=(spec.name,), input_shapes=(tuple(int(d) for d in tensor.shape),),
                            output_path=remote_out, backend=self.tool_backend,
                            variant=self.backend.tools[self.runtime].variant)
        libs = posixpath.dirname(self.tool_remote) if len(self.backend.tools[self.runtime].files) > 1 else None
        done = self.backend.run_tool(module.build_command(tc), libs=libs)
        ms = self._check(module, done)
        self._outputs = self._fetch(module.TOOL, remote_out, done)
        return ms

    def outputs(self) -> list[np.ndarray]:
        return self._outputs

    def _shell(self, command: str) -> None:
        done = self.backend.phone.shell(command, 30)
        if done.disconnected:
            raise DeviceGone(f"device {self.backend.phone.serial} disconnected during `{command.split()[0]}`")

    def _check(self, module: ModuleType, done: Completed) -> float:
        """The timed run's latency in ms; a clear DeviceError when the tool gave no result."""
        from segbench.runners import tools

        serial = self.backend.phone.serial
        if done.timed_out:
            self.backend._kill()
            raise DeviceError(f"{module.TOOL} gave no result within {self.backend.timeout_s:g}s on {serial}; "
                              "it was killed", hint="raise --timeout for a slow model")
        if done.disconnected:
            raise DeviceGone(f"device {serial} disconnected while {module.TOOL} ran")
        parsed = tools.parse_case_log(module, (done.stdout + done.stderr).decode("utf-8", errors="replace"))
        if parsed.status != "ok":
            status = f" (exit status {done.returncode})" if done.returncode not in (0, None) else ""
            raise DeviceError(f"{module.TOOL} failed on {serial}: {parsed.error}{status}")
        return parsed.latency_ms.avg or 0.0

    def _fetch(self, tool: str, remote_out: str, done: Completed) -> list[np.ndarray]:
        """The dumped outputs, split by the model's output shapes and dtypes (little-endian raw bytes)."""
        want = [int(np.prod(o.shape)) * np.dtype(o.dtype).itemsize for o in self.output_specs]
        stat = self.backend.phone.shell(f"stat -c %s {shlex.quote(remote_out)}", 30)
        if stat.disconnected:
            raise DeviceGone(f"device {self.backend.phone.serial} disconnected after {tool} ran")
        size = stat.stdout.decode(errors="replace").strip()
        if stat.returncode != 0 or not (size.isascii() and size.isdigit()):
            unknown = b"Unconsumed cmdline flags" in done.stdout + done.stderr
            raise DeviceError(f"{tool} wrote no output file ({remote_out})" + (
                ": this build does not know --output_filepath" if unknown else ""),
                hint="use a benchmark_model build that has --output_filepath (its --help lists the flag)")
        if int(size) != sum(want):
            shapes = ", ".join(f"{o.dtype} {list(o.shape)}" for o in self.output_specs)
            raise DeviceError(f"{tool}'s output file is {size} bytes, but the model's outputs ({shapes}) "
                              f"take {sum(want)} bytes")
        local = self.backend.workdir / "eval_output.raw"
        self.backend.phone.pull(remote_out, str(local))
        data = local.read_bytes()
        if len(data) != sum(want):
            raise DeviceError(f"pull of {remote_out} from {self.backend.phone.serial} arrived short "
                              f"({len(data)} of {sum(want)} bytes)")
        return split_outputs(data, self.output_specs)


def split_outputs(data: bytes, specs: list[TensorInfo]) -> list[np.ndarray]:
    """benchmark_model's --output_filepath file -> one array per output: the outputs' raw little-endian
    bytes back to back, in output order, with nothing between them (the tool's OutputSaver)."""
    dtypes = [np.dtype(spec.dtype).newbyteorder("<") for spec in specs]
    counts = [int(np.prod(spec.shape)) for spec in specs]
    total = sum(c * d.itemsize for c, d in zip(counts, dtypes))
    if total != len(data):
        raise DeviceError(f"the output file is {len(data)} bytes, but the outputs take {total}")
    arrays, offset = [], 0
    for spec, dtype, count in zip(specs, dtypes, counts):
        arrays.append(np.frombuffer(data, dtype=dtype, count=count, offset=offset).reshape([int(d) for d in spec.shape]))
        offset += count * dtype.itemsize
    return arrays


def open_device_session(backend: DeviceBackend, model: ModelRef, runtime: str, threads: int,
                        tool_backend: str | None = None) -> DeviceSession:
    """Push the model and the tool (each only if the phone lacks those bytes) and return its session."""
    from segbench.modelinfo.count import known
    from segbench.modelinfo.io import read_io

    check_evaluable(model, runtime, tool_backend)
    inputs, outputs = read_io(model.path)
    for out in outputs:
        if not known(out.shape):
            raise InputError(f"{model.path}: output {out.name!r} has a dynamic shape {list(out.shape)}; on a device "
                             "segbench splits the tool's output file by the shapes the model file declares",
                             hint="export the model with a fixed input size, or evaluate it on this machine")
    _, model_remote, _ = backend.push_model(model)
    tool_remote = backend._tool_path(backend.tools[runtime])
    return DeviceSession(backend, model, runtime, threads, inputs, outputs, model_remote, tool_remote, tool_backend)


def _beside(companion: Path, model: Path) -> str:
    """A companion's path relative to its model's folder, '/'-separated (its name when it lies elsewhere)."""
    try:
        return companion.relative_to(model.parent).as_posix()
    except ValueError:
        return companion.name


def _tensor_digest(tensor: np.ndarray) -> str:
    from segbench.inputs import tensor_bytes

    h = hashlib.sha256(tensor_bytes(tensor))
    h.update(f"{tensor.dtype}{tensor.shape}".encode())
    return h.hexdigest()[:16]


def _tool_version(m: Measurement, tool: Tool) -> Measurement:
    """The version a record names: what the log tells (LiteRT 2.x's results block) with the manifest's release.
    The tool prints no version string, so the family comes from its output and the release from the manifest;
    a log of the other family than the manifest entry says is noted."""
    from segbench.runners.benchmark_model import LITERT_VERSION

    seen_litert = m.tool_version == LITERT_VERSION
    if tool.runtime != "tflite" or m.status != "ok":
        return m
    extra = dict(m.extra)
    if seen_litert != (tool.variant == "litert"):
        extra["tool_mismatch"] = (f"the manifest entry is {'LiteRT 2.x' if tool.variant == 'litert' else 'the classic'} "
                                  f"benchmark_model, the log is {'LiteRT 2.x' if seen_litert else 'the classic'} tool's")
    if seen_litert:
        extra["tool_detected"] = LITERT_VERSION
        version = f"LiteRT {tool.version}" if tool.variant == "litert" and tool.version else LITERT_VERSION
        return replace(m, tool_version=version, extra=extra)
    return replace(m, extra=extra)


def _backend_evidence(m: Measurement, module: ModuleType, backend: str, variant: str | None,
                      log: bytes) -> Measurement:
    """An accelerator case's record says whether the accelerator ran the model, as the tool's log tells it
    (extra.backend_applied, backend_nodes, backend_fallback): a delegate that fell back to the CPU is flagged,
    never passed off as the accelerator's figure."""
    from segbench.runners import tools

    evidence = getattr(module, "backend_evidence", None)
    if backend == DEFAULT_BACKEND or evidence is None or m.status != "ok":
        return m
    parsed = tools.parse_case_log(module, log.decode("utf-8", errors="replace"))
    found = evidence(parsed, backend, variant)
    if not found:
        return m
    extra = {**m.extra, **{k: v for k, v in found.items()}}
    for key in ("delegates", "delegate_nodes", "nodes_by_provider", "nnapi_capability"):
        extra.pop(key, None)  # said once, in backend_nodes / backend_fallback
    if not found.get(BACKEND_FALLBACK):
        extra.pop(BACKEND_FALLBACK, None)
    return replace(m, extra=extra)


@dataclass(frozen=True)
class Bound:
    """A case's CPUs on the phone: the set its tool runs on (None: unbound or not known), the taskset mask its command
    carries, why the phone cannot run its power mode (the case is skipped), and what its record's extra says."""

    cpus: tuple[int, ...] | None
    taskset: str | None
    lacking: str | None
    extra: dict


def _bound_as_logged(m: Measurement) -> Measurement:
    """What a self-binding tool's log says of its binding, over what its rule predicted: the thread count it cut to
    (extra.threads_run, parsed), or that it bound nothing (some cores offline): the record's CPUs are then unknown."""
    said = m.extra.get("binding_said") or []
    if any("NO BIND" in line for line in said):
        extra = {k: v for k, v in m.extra.items() if k not in ("cpus", "oversubscribed")}
        return replace(m, cpu_mask=None, extra={**extra, "cpus_unknown": "the tool bound no cores: " + said[-1]})
    return m


def _throttled(before: dict[str, int], after: dict[str, int], cpus: list[int] | None) -> bool | None:
    """True when a bound CPU ran more than 10% slower at the end of the case than at its start."""
    names = [f"cpu{c}" for c in cpus] if cpus is not None else list(before)
    pairs = [(before[n], after[n]) for n in names if n in before and n in after and before[n] > 0]
    if not pairs:
        return None
    return any(a < 0.9 * b for b, a in pairs)


def _capped(caps: dict[str, int], max_khz: dict[int, int], cpus: list[int] | None) -> bool | None:
    """True when a bound CPU may not reach 90% of its maximum frequency (scaling_max_freq below
    cpuinfo_max_freq: the thermal governor has capped it); None without readings."""
    names = {f"cpu{c}": c for c in (cpus if cpus is not None else max_khz)}
    pairs = [(caps[n], max_khz[c]) for n, c in names.items() if n in caps and max_khz.get(c)]
    if not pairs:
        return None
    return any(cap < 0.9 * top for cap, top in pairs)


__all__ = ["Cooldown", "DeviceBackend", "DeviceSession", "PushStats", "check_evaluable", "open_device_session",
           "parse_cooldown", "split_outputs"]


@contextlib.contextmanager
def open_backend(client, serial: str, runtimes: Iterable[str], assets: Path, echo: Callable[[str], None] | None = None,
                 device_id: str | None = None, shown: set[Path | tuple[str, str]] | None = None,
                 variants: dict[str, str] | None = None, skip_missing: bool = False,
                 **options) -> Iterator[DeviceBackend]:
    """One phone for a run or an evaluation: locked, its facts read, the vendor tools its runtimes need found
    (each announced once through ``echo``), reconnected when it drops; its tool is killed if Ctrl-C cuts a case.

    ``device_id`` names the phone in records (a farm qualifies serials seen on several adb servers); ``variants``
    picks another build of a runtime's tool from the manifest (``{"tflite": "litert"}``); with ``skip_missing``, a
    runtime whose tool cannot be found is left out (its cases are skipped with the reason) instead of an error;
    ``options`` go to DeviceBackend (timeout_s, cooldown, reconnect_wait_s, workdir).
    """
    from segbench.assets import find_tool
    from segbench.devices import adb

    device_id = device_id or serial
    phone = adb.AdbDevice(client, serial)
    facts = phone.info()  # first: its properties name the phone for the lock (no command of the lock's own)
    with adb.device_lock(phone, device_id):
        info = replace(facts, id=device_id)
        tools: dict[str, Tool] = {}
        missing: dict[str, str] = {}
        for rt in sorted(set(runtimes)):
            try:
                tools[rt] = find_tool(assets, info.abi, rt, (variants or {}).get(rt), info.emulated)
            except SegbenchError as exc:
                if not skip_missing:
                    raise
                missing[rt] = exc.message
        shown = set() if shown is None else shown
        for rt, why in missing.items():
            if echo is not None and ("missing", rt) not in shown:
                shown.add(("missing", rt))
                echo(f"segbench: warning: {rt} cases are skipped: {why}")
        for tool in tools.values():
            if echo is not None and tool.binary not in shown:
                shown.add(tool.binary)
                echo(f"{tool.runtime}: {tool.binary} ({tool.version or 'version unknown'}, sha256 {tool.sha256[:12]})")
        backend = DeviceBackend(phone, info, tools, missing=missing, reconnect=lambda wait_s: adb.wait_online(client, serial, wait_s),
                                **options)
        try:
            yield backend
        finally:
            backend.close()
            phone.close()
