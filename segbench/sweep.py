"""Settings -> the list of cases: models x runtime x threads x power mode x backend. Pure; no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from segbench.errors import StoreError, UsageError
from segbench.model import BACKENDS, DEFAULT_BACKEND, RUNTIME_FOR_FORMAT, RUNTIMES, Case, ModelRef
from segbench.validate import MISSING, shown, want, want_list
from segbench.vocab import MAX_RUNS  # the limit: vendor tools read counts as 32-bit ints

SUITE_KEYS = {"models", "threads", "power_modes", "warmup", "repeats", "input", "input_preset", "runtime", "device",
              "include", "exclude", "timeout", "cooldown", "reconnect_wait", "set_aside_after", "split", "launches",
              "backends", "profile", "memory", "missing_tools"}


@dataclass(frozen=True)
class SweepSettings:
    """What a `segbench run` asked for; stored in run.json so that --resume can rebuild the cases."""

    models: str
    threads: tuple[int, ...] = (1,)
    power_modes: tuple[str, ...] = ("high",)
    warmup: int = 20
    repeats: int = 50
    input: str | None = None
    input_preset: str | None = None
    runtime: str | None = None
    device: str | None = None
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    # On a device: seconds before a case's tool is killed, and the wait before each case (ondevice.parse_cooldown).
    timeout: float = 600.0
    cooldown: str = "none"
    # A farm (docs/farm.md): seconds to wait for an unplugged phone to come back, how many device failures in a
    # row set a phone aside, and the adb servers whose phones run (empty: the default server).
    reconnect_wait: float = 90.0
    set_aside_after: int = 3
    adb_servers: tuple[str, ...] = ()
    split: str = "each"  # each: every phone runs every case; shard: each case runs once, on a free phone
    # Launches of every case (a fresh session or tool process each), interleaved: A B A B, not A A B B.
    launches: int = 1
    # What executes each case (model.BACKENDS): every case runs once per backend.
    backends: tuple[str, ...] = (DEFAULT_BACKEND,)
    # Ask each tool for its per-operator times (ops_by_type) and its memory figures (memory_mb).
    profile: bool = False
    memory: bool = False
    # On a device, a runtime whose vendor tool is not in the assets: "error" stops the run before it starts, "skip"
    # records that runtime's cases as skipped with the reason (a nightly suite over every runtime, on a farm that
    # lacks one tool, still times the others).
    missing_tools: str = "error"
    # On a device, what --resume needs besides the above (adb_servers too): the device_assets directory (absolute)
    # and the --tool variants the run picked.
    assets: str | None = None
    tools: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        d = asdict(self)
        for key in ("threads", "power_modes", "include", "exclude", "adb_servers", "backends", "tools"):
            d[key] = list(d[key])
        return d

    @classmethod
    def from_dict(cls, d: dict, where: str = "settings") -> SweepSettings:
        """The settings a run.json keeps (``where`` names them in errors): every value of its type, or a StoreError
        naming the key (a run.json edited or damaged by hand)."""
        want(d, dict, where, error=StoreError)
        fields: dict[str, Any] = {}
        for key in cls.__dataclass_fields__:
            if key not in d:
                continue
            if key in _SUITE_LISTS or key in ("adb_servers", "tools"):
                kind, checks = _SUITE_LISTS.get(key, (str, {}))
                fields[key] = tuple(want_list(d[key], kind, f"{where}: {key}", error=StoreError, **checks))
            else:
                kind, checks = _SUITE_TYPES[key]
                checks = {k: v for k, v in checks.items() if k != "nonempty"} if key == "input" else checks
                optional = key in ("input", "input_preset", "runtime", "device", "assets")
                fields[key] = want(d[key], kind, f"{where}: {key}", optional=optional, error=StoreError, **checks)
        if "models" not in fields:
            want(MISSING, str, f"{where}: models", error=StoreError)
        if "backends" not in fields:  # runs from before backends: the CPU
            fields["backends"] = (DEFAULT_BACKEND,)
        return cls(**fields)


# Each suite key's type and range, as the matching `segbench run` option takes it (threads and power_modes: a list,
# or the option's comma-separated text).
SPLITS = ("each", "shard")
MISSING_TOOLS = ("error", "skip")
_SUITE_TYPES: dict[str, tuple[type, dict]] = {
    "name": (str, {}), "description": (str, {}), "models": (str, {"nonempty": True}), "warmup": (int, {"minimum": 0, "maximum": MAX_RUNS}),
    "repeats": (int, {"minimum": 1, "maximum": MAX_RUNS}), "input": (str, {"nonempty": True}), "input_preset": (str, {}),
    "runtime": (str, {"choices": RUNTIMES}), "device": (str, {}), "timeout": (float, {"minimum": 1, "unit": "seconds"}),
    "cooldown": (str, {}), "reconnect_wait": (float, {"minimum": 0, "unit": "seconds"}),
    "set_aside_after": (int, {"minimum": 1}), "split": (str, {"choices": SPLITS}),
    "launches": (int, {"minimum": 1, "maximum": 1000}), "profile": (bool, {}), "memory": (bool, {}),
    "missing_tools": (str, {"choices": MISSING_TOOLS}),
    "assets": (str, {}),  # run.json only: not a suite key
}
_SUITE_LISTS: dict[str, tuple[type, dict]] = {"threads": (int, {"minimum": 1}), "power_modes": (str, {}),
                                              "include": (str, {}), "exclude": (str, {}),
                                              "backends": (str, {"choices": BACKENDS})}


def read_suite(text: str, source: str) -> dict:
    """A suite TOML (bench/*.toml) as settings keys, each of its documented type (a usage error naming the file and
    key otherwise); unknown keys are an error, not ignored."""
    from segbench.compat import tomllib

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{source} is not valid TOML: {exc}") from None
    suite = want(data.get("suite", data), dict, f"{source}: [suite]", error=UsageError)
    unknown = sorted(set(suite) - SUITE_KEYS - {"name", "description"})
    if unknown:
        raise UsageError(f"{source}: unknown suite keys {', '.join(unknown)}", hint=f"known: {', '.join(sorted(SUITE_KEYS))}")
    for key, value in suite.items():
        if key in _SUITE_TYPES:
            kind, checks = _SUITE_TYPES[key]
            want(value, kind, f"{source}: {key}", error=UsageError, **checks)
        elif key == "threads" and isinstance(value, str):  # "1,2,4" as on the command line
            if not all(part.strip().isascii() and part.strip().isdigit() for part in value.split(",")):
                raise UsageError(f"{source}: threads must be a list of whole numbers >= 1 or their text (\"1,2,4\"), "
                                 f"not {shown(value)}")
        elif key in ("power_modes", "backends") and isinstance(value, str):
            continue  # "high,low" / "cpu,gpu" as on the command line: their parsers read them
        elif key in _SUITE_LISTS:
            kind, checks = _SUITE_LISTS[key]
            want_list(value, kind, f"{source}: {key}", error=UsageError, **checks)
    return {k: v for k, v in suite.items() if k in SUITE_KEYS}


def parse_backends(text: str) -> list[str]:
    """'cpu,gpu' -> ['cpu', 'gpu'] (in order, each once); an unknown name is a usage error."""
    names = [x.strip() for x in text.split(",") if x.strip()]
    if not names:
        raise UsageError("--backend needs at least one name", hint=f"use any of {', '.join(BACKENDS)}")
    unknown = [n for n in names if n not in BACKENDS]
    if unknown:
        raise UsageError(f"unknown backend {unknown[0]!r}", hint=f"use any of {', '.join(BACKENDS)}")
    return list(dict.fromkeys(names))


def _selected(name: str, settings: SweepSettings) -> bool:
    from fnmatch import fnmatchcase

    if settings.include and not any(fnmatchcase(name, p) for p in settings.include):
        return False
    return not any(fnmatchcase(name, p) for p in settings.exclude)


def plan(models: Sequence[ModelRef], settings: SweepSettings) -> list[Case]:
    """Every case in a stable order: model, then threads, then power mode, then backend; with several launches,
    that order once per launch.

    With ``settings.runtime`` set, only models that runtime executes are kept; ``include`` and
    ``exclude`` are shell-style patterns on model names.
    """
    cases = []
    for model in models:
        runtime = RUNTIME_FOR_FORMAT[model.format]
        if (settings.runtime and settings.runtime != runtime) or not _selected(model.name, settings):
            continue
        for threads in settings.threads:
            for mode in settings.power_modes:
                for backend in settings.backends:
                    cases.append(Case(model, runtime, threads, mode, settings.warmup, settings.repeats, settings.input,
                                      settings.input_preset, backend))
    # Launch k of every case before launch k+1 of any: drift (heat, other load) then hits every case alike.
    return [replace(c, launch=k) for k in range(1, settings.launches + 1) for c in cases]
