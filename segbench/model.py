"""Value types shared by every layer. Frozen dataclasses, no I/O.

A Measurement is what one case produced; it is stored as one JSON object per line
(see docs/results-format.md). ``to_dict``/``from_dict`` are the only (de)serialisers.

Every command imports this module, so its classes are declared ``@value`` (segbench.frozen): dataclasses whose
methods (__init__, repr, ==, hash, the frozen setattr) are those @dataclass(frozen=True) would write, written once:
dataclasses compiling them for each class was half of `segbench report`'s own start-up (docs/report.md, "Start-up").
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import field
from typing import Any

from segbench.frozen import Frozen, asdict, value
from segbench.validate import of_kind

# RUNTIMES lives in vocab so that the CLI offers the choice without importing this module.
from segbench.vocab import RUNTIMES as RUNTIMES

MEASUREMENT_SCHEMA = "segbench.measurement/1"
ACCURACY_SCHEMA = "segbench.accuracy/1"
RUN_SCHEMA = "segbench.run/1"

STATUSES = ("ok", "failed", "timeout", "skipped")

# Power modes (docs/design.md, "Power modes and CPU binding"). Paddle Lite's vocabulary: benchmark_bin binds its own
# threads by it (its --power_mode numbers below), the other tools run under taskset on the cluster it names.
POWER_MODES = ("high", "low", "full", "no_bind", "rand_high", "rand_low")
PADDLE_POWER_MODE = {"high": 0, "low": 1, "full": 2, "no_bind": 3, "rand_high": 4, "rand_low": 5}
# Cluster modes, and ``cpus:LIST`` (``cpus:4-7``, ``cpus:0,7``): one CPU set, the same for every tool (every tool,
# Paddle Lite too, runs under it; Paddle Lite is told NO_BIND so that it keeps to it). ``big`` is gold + prime.
CLUSTER_MODES = ("prime", "gold", "silver", "big")
CPUS_PREFIX = "cpus:"


def is_explicit_mode(mode: str | None) -> bool:
    """A mode naming CPUs for every tool alike (a cluster or ``cpus:LIST``), not a tool's own binding."""
    return mode is not None and (mode in CLUSTER_MODES or mode.startswith(CPUS_PREFIX))


def paddle_power_mode(mode: str) -> int | None:
    """Paddle Lite's --power_mode number for a mode: its own for its vocabulary, NO_BIND for an explicit CPU set
    (the taskset mask is then the only binding); None for a mode that is neither."""
    if is_explicit_mode(mode):
        return PADDLE_POWER_MODE["no_bind"]
    return PADDLE_POWER_MODE.get(mode)

MODEL_FORMATS = ("onnx", "tflite", "paddle", "paddle-nb")
# Measurement.extra keys: a case that failed because of the phone or its link (unplugged, gone, disk full), not the
# model; and a case that was not run because its phone had been set aside after several such failures in a row.
DEVICE_FAILURE = "device_failure"
SET_ASIDE = "set_aside"
# What executes a case (`run --backend`): the CPU path each tool takes by default, or an accelerator. Each tool
# module maps the names it has to its own flags (runners/*.backend_args); "-fp16" lets the accelerator compute
# in half precision. The default is not part of a case's identity, so records of older (CPU) runs keep their ids.
DEFAULT_BACKEND = "cpu"
BACKENDS = ("cpu", "xnnpack", "gpu", "gpu-fp16", "nnapi", "nnapi-fp16", "npu")
# Measurement.extra keys of a case run on an accelerator: whether the tool says the accelerator ran the model
# (False: it fell back to the CPU entirely; None: the log does not say), how many nodes it took, and the
# report's one-line flag for a fallback (absent when the accelerator ran the whole model).
BACKEND_APPLIED = "backend_applied"
BACKEND_NODES = "backend_nodes"
BACKEND_FALLBACK = "backend_fallback"
# The runtime that executes each model format.
RUNTIME_FOR_FORMAT = {"onnx": "onnxruntime", "tflite": "tflite", "paddle": "paddlelite", "paddle-nb": "paddlelite"}


@value
class ModelRef(Frozen):
    """Which model file a measurement is about; sha256 ties it to inspection results."""

    name: str
    path: str
    format: str
    sha256: str | None = None
    # Extra files that belong to the model (a Paddle .pdiparams next to its .pdmodel), and their sha256 in the
    # same order: one program with two sets of weights is two models.
    companions: tuple[str, ...] = ()
    companions_sha256: tuple[str, ...] = ()


@value
class Architecture(Frozen):
    """Which architecture a model file is, in which format and precision: the runtime comparison's row and column
    (segbench.models.architecture_of says how it is decided; docs/report.md)."""

    name: str  # e.g. "topformer_tiny [argmax] 64x64" (a zoo export) or "deeplabv3_mnv2_ade20k" (a file's stem)
    format: str  # onnx, tflite, paddle, nb
    quant: str  # none (float), int8, uint8
    source: str  # where it was read: "manifest" (the entry next to the file) or "name" (the model's name)


@value
class TensorInfo(Frozen):
    """A model input or output as the file declares it.

    ``shape`` holds ints, or None (or the symbol's name) for dynamic dimensions. ``dtype`` is
    a numpy dtype name ("float32", "uint8", ...). ``layout`` is a guess: "nchw", "nhwc" or None.
    ``scale``/``zero_point`` are set for quantized tensors.
    """

    name: str
    shape: tuple[int | str | None, ...]
    dtype: str
    layout: str | None = None
    scale: float | None = None
    zero_point: int | None = None


@value
class Latency(Frozen):
    """Latency figures in milliseconds; a figure the source does not give is None."""

    avg: float | None = None
    min: float | None = None
    max: float | None = None
    std: float | None = None
    median: float | None = None
    p90: float | None = None
    p95: float | None = None


@value
class Case(Frozen):
    """One thing to measure: a model on a runtime with one thread count and power mode."""

    model: ModelRef
    runtime: str
    threads: int
    power_mode: str
    warmup: int
    repeats: int
    input_path: str | None = None
    # gen-input normalisation preset for an image input (None: the default for the input's dtype).
    input_preset: str | None = None
    # What executes it (BACKENDS): part of its identity when it is not the default.
    backend: str = DEFAULT_BACKEND
    # Which launch of the case this is (``run --launches K``: 1..K, interleaved with the other cases). Not part of
    # the case's identity: the launches of a case share its case_id, and ``run_key`` tells them apart in a run.
    launch: int = 1

    @property
    def run_key(self) -> str:
        return run_key(self.case_id, self.launch)

    @property
    def log_id(self) -> str:
        """The case's log name in its run: the case id, with the launch after the first."""
        return self.case_id if self.launch == 1 else f"{self.case_id}.launch{self.launch}"

    @property
    def case_id(self) -> str:
        """Stable id across runs of the same settings, distinct for distinct cases; names logs, pairs --resume.

        A readable prefix (the sanitised ``name__runtime__tN__mode``, then ``__backend`` unless it is the
        default) and a hash of the exact identity: model name (unsanitised: ``a b`` and ``a_b`` differ), the
        model's sha256 and its companions', runtime, threads, power mode and, unless it is the default, the
        backend (so a CPU case keeps the id it had before backends existed).
        """
        fields = [self.model.name, self.model.sha256, list(self.model.companions_sha256), self.runtime, self.threads,
                  self.power_mode]
        if self.backend != DEFAULT_BACKEND:
            fields.append(self.backend)
        import hashlib  # here: readers of stored records (`segbench report`) never make a case id

        identity = json.dumps(fields)
        digest = hashlib.sha256(identity.encode()).hexdigest()[:CASE_HASH_LEN]
        prefix = self.legacy_case_id if self.backend == DEFAULT_BACKEND else f"{self.legacy_case_id}__{self.backend}"
        return f"{prefix[:CASE_PREFIX_MAX]}__{digest}"

    @property
    def legacy_case_id(self) -> str:
        """The id segbench gave this case before ids carried a hash (records of older runs); not unique."""
        return legacy_case_id(self.model.name, self.runtime, self.threads, self.power_mode)

    def is_recorded_by(self, m: Measurement) -> bool:
        """Whether ``m`` is a record of this case: the same id, or for a record an older segbench wrote
        (its id is the legacy one its own fields give) the same exact name, model sha256, runtime,
        threads and power mode."""
        if (m.launch or 1) != self.launch or (m.backend or DEFAULT_BACKEND) != self.backend:
            return False
        if m.case_id == self.case_id:
            return True
        return (m.case_id == self.legacy_case_id == legacy_case_id(m.model.name, m.runtime, m.threads, m.power_mode)
                and (m.model.name, m.model.sha256) == (self.model.name, self.model.sha256))


# Case ids: the sanitised prefix is cut so that ``<id>.log`` stays far below file-name limits (255 bytes).
CASE_PREFIX_MAX = 120
CASE_HASH_LEN = 16


def legacy_case_id(name: str, runtime: str, threads: int | None, power_mode: str | None) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]+", "_", f"{name}__{runtime}__t{threads}__{power_mode}")


def run_key(case_id: str, launch: int | None) -> str:
    """A case's launch within a run: what --resume, a farm's sharing and the logs tell apart."""
    return f"{case_id}@{launch or 1}"


def recorded(records: list[Measurement], cases: list[Case]) -> set[str]:
    """The run keys (case and launch) of ``cases`` that ``records`` already hold a record of (Case.is_recorded_by)."""
    by_id: dict[str, list[Measurement]] = {}
    for m in records:
        by_id.setdefault(m.case_id, []).append(m)
    return {c.run_key for c in cases
            if any(c.is_recorded_by(m) for m in (*by_id.get(c.case_id, ()), *by_id.get(c.legacy_case_id, ())))}


def phones_fault(m: Measurement) -> bool:
    """Whether a record says its phone, not its model, kept the case from a result: a device failure (unplugged,
    gone, disk full) or a case not run because its phone had been set aside. ``--resume`` runs such cases again."""
    return bool(m.extra.get(DEVICE_FAILURE) or m.extra.get(SET_ASIDE))


def current(records: list[Measurement], shard: bool = False) -> list[Measurement]:
    """The records that count, in file order: of several records of one case's launch on one device (``shard``: on
    any device, as a shard run has one record per launch), the later one. A resumed run's retry of a case its phone
    failed thus replaces the failure in reports and verdicts; results.jsonl keeps both."""
    last: dict[tuple, int] = {}
    for i, m in enumerate(records):
        # The exact name and file too: ids written before they carried a hash are shared by `a b` and `a_b`.
        last[(None if shard else m.device_id, m.run_key, m.model.name, m.model.sha256)] = i
    keep = set(last.values())
    return [m for i, m in enumerate(records) if i in keep]


@value
class DeviceInfo(Frozen):
    """Where the numbers were measured: a phone or this host."""

    id: str
    kind: str  # "android" or "host"
    brand: str | None = None
    model: str | None = None
    device: str | None = None
    soc: str | None = None
    os: str | None = None
    android_version: str | None = None
    api_level: int | None = None
    abi: str | None = None
    cpu_model: str | None = None
    cores: int | None = None
    # cpu index -> max frequency in kHz, as cpufreq reports it; empty when unknown.
    cpu_max_khz: dict[int, int] = field(default_factory=dict)
    memory_mb: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # The device says it is emulated (ro.kernel.qemu / ro.boot.qemu, which no real phone sets): its latencies are
    # the host's CPU behind a phone's protocol, labelled so in reports and never pooled with real phones'.
    emulated: bool = False


@value
class Measurement(Frozen):
    """What one case asked for and what was seen."""

    run_id: str
    case_id: str
    model: ModelRef
    runtime: str
    status: str
    threads: int | None = None
    power_mode: str | None = None
    # What executed it (BACKENDS); None in records from before backends, which all ran on the CPU.
    backend: str | None = None
    tool: str | None = None
    tool_version: str | None = None
    device_id: str | None = None
    cpu_mask: str | None = None
    warmup: int | None = None
    repeats: int | None = None
    count: int | None = None
    latency_ms: Latency = field(default_factory=Latency)
    samples_ms: tuple[float, ...] | None = None
    # Host runs: the CPU time the process spent in each timed run (all its threads), beside its wall time in
    # samples_ms; waiting for a CPU held by other work is not in it (`compare --clock cpu`). None from the tools.
    cpu_samples_ms: tuple[float, ...] | None = None
    first_ms: float | None = None
    init_ms: float | None = None
    memory_mb: dict[str, float | None] | None = None
    ops_by_type: dict[str, float] | None = None
    temps_before_c: dict[str, float] | None = None
    temps_after_c: dict[str, float] | None = None
    cpu_khz_before: dict[str, int] | None = None
    cpu_khz_after: dict[str, int] | None = None
    throttled: bool | None = None
    # True when the case started on a phone already throttled (its CPUs' cap below their maximum, or a
    # --cooldown limit never reached); throttled is then true as well.
    throttled_at_start: bool | None = None
    cooldown_s: float | None = None  # the time the --cooldown pause or wait took before the case
    emulated: bool | None = None  # measured on an emulated device (DeviceInfo.emulated); null: not known
    error: str | None = None
    log_path: str | None = None
    started: str | None = None
    finished: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # Which launch of its case this record is (1..K with `run --launches K`; None in records from before launches,
    # which were all single launches).
    launch: int | None = None
    schema: str = MEASUREMENT_SCHEMA

    @property
    def run_key(self) -> str:
        return run_key(self.case_id, self.launch)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["model"]["companions"] = list(self.model.companions)
        d["model"]["companions_sha256"] = list(self.model.companions_sha256)
        for key in ("samples_ms", "cpu_samples_ms"):
            if d[key] is not None:
                d[key] = list(d[key])
            elif key == "cpu_samples_ms":
                del d[key]  # records without CPU times keep the shape they had
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "record") -> Measurement:
        """Build from a stored dict, every value of its type (a StoreError naming ``where`` and the key otherwise);
        unknown keys (from newer writers) are kept in ``extra``."""
        _check(d, _MEASUREMENT_TYPES, where)
        known = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in d.items() if k in known}
        extra = dict(kwargs.get("extra") or {})
        extra.update({k: v for k, v in d.items() if k not in known})
        kwargs["extra"] = extra
        kwargs["model"] = _model_ref(kwargs["model"], f"{where}: model")
        kwargs["latency_ms"] = Latency(
            **{k: v for k, v in (kwargs.get("latency_ms") or {}).items() if k in _LATENCY_FIELDS}
        )
        for key in ("samples_ms", "cpu_samples_ms"):
            if kwargs.get(key) is not None:
                kwargs[key] = tuple(float(x) for x in kwargs[key])
        return cls(**kwargs)


@value
class Accuracy(Frozen):
    """What ``segbench eval`` measured: one model on one dataset (a record kind of results.jsonl).

    ``confusion`` is the full matrix ``[label class][predicted class]`` with a last column for
    predictions outside the dataset's classes, so every score can be recomputed from it; the
    scores (fractions 0..1, per-class lists indexed by class id, None = not scored) are kept too.
    """

    run_id: str
    case_id: str
    model: ModelRef
    runtime: str
    status: str
    dataset: dict[str, Any]
    images: int = 0
    miou: float | None = None
    pixel_acc: float | None = None
    mean_acc: float | None = None
    per_class_iou: tuple[float | None, ...] = ()
    per_class_acc: tuple[float | None, ...] = ()
    confusion: tuple[tuple[int, ...], ...] = ()
    prediction: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    tool: str | None = None
    tool_version: str | None = None
    device_id: str | None = None
    emulated: bool | None = None  # evaluated on an emulated device (DeviceInfo.emulated)
    seconds: float | None = None
    error: str | None = None
    started: str | None = None
    finished: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    schema: str = ACCURACY_SCHEMA

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["model"]["companions"] = list(self.model.companions)
        d["model"]["companions_sha256"] = list(self.model.companions_sha256)
        for key in ("per_class_iou", "per_class_acc"):
            d[key] = list(d[key])
        d["confusion"] = [list(row) for row in self.confusion]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "record") -> Accuracy:
        _check(d, _ACCURACY_TYPES, where)
        known = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in d.items() if k in known}
        kwargs["extra"] = {**(kwargs.get("extra") or {}), **{k: v for k, v in d.items() if k not in known}}
        kwargs["model"] = _model_ref(kwargs["model"], f"{where}: model")
        for key in ("per_class_iou", "per_class_acc"):
            kwargs[key] = tuple(kwargs.get(key) or ())
        kwargs["confusion"] = tuple(tuple(int(x) for x in row) for row in kwargs.get("confusion") or ())
        return cls(**kwargs)


def _model_ref(d: dict[str, Any], where: str = "model") -> ModelRef:
    _check(d, _MODELREF_TYPES, where)
    model = dict(d)
    model["companions"] = tuple(model.get("companions") or ())
    model["companions_sha256"] = tuple(model.get("companions_sha256") or ())
    return ModelRef(**{k: v for k, v in model.items() if k in _MODELREF_FIELDS})


# -- what each stored field must be (segbench.validate; docs/results-format.md) ------------------------------------
# name -> (kind, checks); "list:" kinds are lists of that kind ("float?": or null), "map:" kinds tables of it (values
# may be null, as absent figures are, except CPU frequencies); required names are marked with required=True.
_R = {"required": True}
_OPT_STR = ("str", {})
_MODELREF_TYPES = {"name": ("str", _R), "path": ("str", _R), "format": ("str", _R), "sha256": _OPT_STR,
                   "companions": ("list:str", {}), "companions_sha256": ("list:str", {})}
_MEASUREMENT_TYPES = {
    "run_id": ("str", _R), "case_id": ("str", _R), "model": ("dict", _R), "runtime": ("str", _R),
    "status": ("str", {"required": True, "choices": STATUSES}), "threads": ("int", {}), "power_mode": _OPT_STR,
    "tool": _OPT_STR, "tool_version": _OPT_STR, "device_id": _OPT_STR, "cpu_mask": _OPT_STR, "warmup": ("int", {}),
    "repeats": ("int", {}), "count": ("int", {}), "latency_ms": ("map:float", {}), "samples_ms": ("list:float", {}),
    "cpu_samples_ms": ("list:float", {}), "first_ms": ("float", {}), "init_ms": ("float", {}), "memory_mb": ("map:float", {}),
    "ops_by_type": ("map:float", {}), "temps_before_c": ("map:float", {}), "temps_after_c": ("map:float", {}),
    "cpu_khz_before": ("map:float", {}), "cpu_khz_after": ("map:float", {}), "throttled": ("bool", {}),
    "throttled_at_start": ("bool", {}), "cooldown_s": ("float", {}), "emulated": ("bool", {}), "error": _OPT_STR,
    "log_path": _OPT_STR, "started": _OPT_STR, "finished": _OPT_STR, "extra": ("dict", {}),
    "launch": ("int", {"minimum": 1}), "schema": _OPT_STR,
}
_ACCURACY_TYPES = {
    "run_id": ("str", _R), "case_id": ("str", _R), "model": ("dict", _R), "runtime": ("str", _R),
    "status": ("str", {"required": True, "choices": STATUSES}), "dataset": ("dict", _R), "images": ("int", {}),
    "miou": ("float", {}), "pixel_acc": ("float", {}), "mean_acc": ("float", {}),
    "per_class_iou": ("list:float?", {}), "per_class_acc": ("list:float?", {}), "confusion": ("list:list", {}),
    "prediction": _OPT_STR, "settings": ("dict", {}), "tool": _OPT_STR, "tool_version": _OPT_STR,
    "device_id": _OPT_STR, "emulated": ("bool", {}), "seconds": ("float", {}), "error": _OPT_STR,
    "started": _OPT_STR, "finished": _OPT_STR, "extra": ("dict", {}), "schema": _OPT_STR,
}
_DEVICE_TYPES = {
    "id": ("str", _R), "kind": ("str", _R), "brand": _OPT_STR, "model": _OPT_STR, "device": _OPT_STR, "soc": _OPT_STR,
    "os": _OPT_STR, "android_version": _OPT_STR, "api_level": ("int", {}), "abi": _OPT_STR, "cpu_model": _OPT_STR,
    "cores": ("int", {"minimum": 0}), "cpu_max_khz": ("map:int", {}), "memory_mb": ("float", {}),
    "extra": ("dict", {}), "emulated": ("bool", {}),
}
RUN_STATUSES = ("running", "completed", "interrupted", "failed")
_RUN_TYPES = {
    "run_id": ("str", _R), "started": ("str", _R), "harness_version": ("str", _R), "device": ("dict", _R),
    "settings": ("dict", _R), "host": ("dict", {}), "versions": ("map:str?", {}), "git_sha": _OPT_STR,
    "finished": _OPT_STR, "status": ("str", {"choices": RUN_STATUSES}), "cases_total": ("int", {"minimum": 0}),
    "devices": ("list:dict", {}), "schema": _OPT_STR,
}
_KINDS = {"str": str, "int": int, "float": float, "bool": bool, "dict": dict, "list": list}


def _check(d: object, types: dict[str, tuple[str, dict[str, Any]]], where: str) -> None:
    """Every key of ``types`` in ``d`` of its kind (null allowed unless required); a StoreError naming ``where``
    and the key otherwise."""
    from segbench.errors import StoreError
    from segbench.validate import MISSING, named, want, want_list, want_mapping

    want(d, dict, where, error=StoreError)
    assert isinstance(d, dict)
    for key, required, container, nullable, inner_kind, checks in _plan(types):
        value = d.get(key, MISSING)
        if not required and (value is None or value is MISSING):
            continue
        if _plainly_valid(value, key, container, nullable, inner_kind, checks):
            continue  # the common case, decided without building the error's names
        name = named(where, key)
        if container == "list":
            if nullable:
                want(value, list, name, error=StoreError)
                for i, x in enumerate(value):
                    want(x, inner_kind, f"{name}[{i}]", optional=True, error=StoreError)
            else:
                want_list(value, inner_kind, name, error=StoreError, **checks)
        elif container == "map":
            want_mapping(value, inner_kind, name, null_values=key != "cpu_max_khz",
                         keys_as=int if key == "cpu_max_khz" else str, error=StoreError)
        else:
            want(value, inner_kind, name, error=StoreError, **checks)


_Plan = list[tuple[str, bool, str, bool, type, dict[str, Any]]]
_PLANS: dict[int, _Plan] = {}


def _plan(types: dict[str, tuple[str, dict[str, Any]]]) -> _Plan:
    """``types`` taken apart once: (key, required, container, nullable, inner kind, other checks) per key."""
    plan = _PLANS.get(id(types))
    if plan is None:
        plan = []
        for key, (kind, checks) in types.items():
            rest = dict(checks)
            required = bool(rest.pop("required", False))
            container, _, inner = kind.rpartition(":")
            plan.append((key, required, container, inner.endswith("?"), _KINDS[inner.rstrip("?")], rest))
        _PLANS[id(types)] = plan
    return plan


def _plainly_valid(value: object, key: str, container: str, nullable: bool, kind: type, checks: dict) -> bool:
    """Whether ``value`` passes _check's test of ``key`` for certain, by a quick look (False: ask the full test,
    which also says what is wrong). Only checks without limits or choices are decided here."""
    if checks:
        return False
    if not container:
        return of_kind(value, kind)
    if container == "list" and not nullable and type(value) is list:
        if kind is float:  # every element a float and their sum finite: no NaN or infinity among them
            return all(type(x) is float for x in value) and math.isfinite(sum(value))
        return all(of_kind(x, kind) for x in value)
    if container == "map" and key != "cpu_max_khz" and type(value) is dict:
        return all(v is None or of_kind(v, kind) for v in value.values())
    return False


_MODELREF_FIELDS = {f.name for f in dataclasses.fields(ModelRef)}
_LATENCY_FIELDS = {f.name for f in dataclasses.fields(Latency)}


@value
class RunInfo(Frozen):
    """The run.json of a run directory: who measured what, where and how."""

    run_id: str
    started: str
    harness_version: str
    device: DeviceInfo
    settings: dict[str, Any]
    host: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str | None] = field(default_factory=dict)
    git_sha: str | None = None
    finished: str | None = None
    status: str = "running"  # running | completed | interrupted | failed
    cases_total: int | None = None
    # A farm run (several phones): every phone, in the order given; ``device`` is the first of them.
    devices: tuple[DeviceInfo, ...] = ()
    schema: str = RUN_SCHEMA

    def device_for(self, device_id: str | None) -> DeviceInfo:
        """The DeviceInfo of a record's ``device_id`` (the run's device when it is not one of a farm's)."""
        return next((d for d in self.devices if d.id == device_id), self.device)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for dev, info in zip([d["device"], *d["devices"]], [self.device, *self.devices]):
            dev["cpu_max_khz"] = {str(k): v for k, v in info.cpu_max_khz.items()}
        d["devices"] = list(d["devices"])
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "run.json") -> RunInfo:
        """Build from a stored run.json, every value of its type (a StoreError naming ``where`` and the key
        otherwise)."""
        _check(d, _RUN_TYPES, where)
        known = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in d.items() if k in known and v is not None}  # null: the field's default
        kwargs["device"] = _device_info(kwargs["device"], f"{where}: device")
        kwargs["devices"] = tuple(_device_info(x, f"{where}: devices[{i}]")
                                  for i, x in enumerate(kwargs.get("devices") or ()))
        return cls(**kwargs)


def _device_info(d: dict[str, Any], where: str = "device") -> DeviceInfo:
    _check(d, _DEVICE_TYPES, where)
    dev = dict(d)
    dev["cpu_max_khz"] = {int(k): int(v) for k, v in (dev.get("cpu_max_khz") or {}).items()}
    dev_fields = {f.name for f in dataclasses.fields(DeviceInfo)}
    return DeviceInfo(**{k: v for k, v in dev.items() if k in dev_fields})


MODELINFO_SCHEMA = "segbench.modelinfo/1"


@value
class ModelInfo(Frozen):
    """What inspecting a model file found, without running it (docs/inspect.md has the conventions).

    ``params`` counts elements of constant weight tensors (float, float16 and quantized integer
    tensors; not integer shape/axis/index constants). ``macs`` sums the multiply-accumulates of
    convolutions and matrix products; ``other_ops`` holds pooling, resize and elementwise
    operation counts, which are not MACs and are not in ``macs``. ``macs_unknown`` names the
    MAC ops whose shapes were not known, so ``macs`` is a lower bound when it is non-empty.
    """

    path: str
    format: str
    file_size: int
    sha256: str
    producer: str | None = None
    # "opset 17" / "TFLite schema 3" / "Paddle program version 0" / "PIR version 1"
    version: str | None = None
    inputs: tuple[TensorInfo, ...] = ()
    outputs: tuple[TensorInfo, ...] = ()
    params: int = 0
    params_by_dtype: dict[str, int] = field(default_factory=dict)
    macs: int = 0
    macs_by_op: dict[str, int] = field(default_factory=dict)
    other_ops: dict[str, int] = field(default_factory=dict)
    macs_unknown: tuple[str, ...] = ()
    ops: dict[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    schema: str = MODELINFO_SCHEMA

    @property
    def flops(self) -> int:
        """FLOPs as papers count them: one multiply-accumulate is two operations."""
        return 2 * self.macs

    def counts(self) -> dict[str, Any]:
        """params and macs, and ``macs_unknown`` (the ops whose shapes were not known) when ``macs`` is a lower
        bound: what a zoo manifest entry keeps of an inspection (its ``inspect`` table)."""
        out: dict[str, Any] = {"params": self.params, "macs": self.macs}
        if self.macs_unknown:
            out["macs_unknown"] = list(self.macs_unknown)
        return out

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["flops"] = self.flops
        for key in ("inputs", "outputs"):
            d[key] = [{**t, "shape": list(t["shape"])} for t in d[key]]
        d["macs_unknown"], d["notes"] = list(self.macs_unknown), list(self.notes)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelInfo:
        known = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in d.items() if k in known}
        for key in ("inputs", "outputs"):
            kwargs[key] = tuple(TensorInfo(**{**t, "shape": tuple(t["shape"])}) for t in kwargs.get(key) or ())
        kwargs["macs_unknown"] = tuple(kwargs.get("macs_unknown") or ())
        kwargs["notes"] = tuple(kwargs.get("notes") or ())
        return cls(**kwargs)
