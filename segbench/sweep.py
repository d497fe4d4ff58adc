"""Settings -> the list of cases: models x runtime x threads x power mode x backend. Pure; no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace

from segbench.errors import UsageError
from segbench.model import BACKENDS, DEFAULT_BACKEND, RUNTIME_FOR_FORMAT, Case, ModelRef

SUITE_KEYS = {"models", "threads", "power_modes", "warmup", "repeats", "input", "input_preset", "runtime", "device",
              "include", "exclude", "timeout", "cooldown", "reconnect_wait", "set_aside_after", "split", "launches", "backends", "profile", "memory"}


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

    def to_dict(self) -> dict:
        d = asdict(self)
        for key in ("threads", "power_modes", "include", "exclude", "adb_servers", "backends"):
            d[key] = list(d[key])
        return d

    @classmethod
    def from_dict(cls, d: dict) -> SweepSettings:
        fields = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        fields["threads"] = tuple(fields.get("threads", (1,)))
        fields["power_modes"] = tuple(fields.get("power_modes", ("high",)))
        fields["include"] = tuple(fields.get("include", ()))
        fields["exclude"] = tuple(fields.get("exclude", ()))
        fields["adb_servers"] = tuple(fields.get("adb_servers", ()))
        fields["backends"] = tuple(fields.get("backends", (DEFAULT_BACKEND,)))  # runs from before backends: the CPU
        return cls(**fields)


def read_suite(text: str, source: str) -> dict:
    """A suite TOML (bench/*.toml) as settings keys; unknown keys are an error, not ignored."""
    from segbench.compat import tomllib

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{source} is not valid TOML: {exc}") from None
    suite = data.get("suite", data)
    unknown = sorted(set(suite) - SUITE_KEYS - {"name", "description"})
    if unknown:
        raise UsageError(f"{source}: unknown suite keys {', '.join(unknown)}", hint=f"known: {', '.join(sorted(SUITE_KEYS))}")
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
