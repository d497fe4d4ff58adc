"""Settings -> the list of cases: models x runtime x threads x power mode. Pure; no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from segbench.model import RUNTIME_FOR_FORMAT, Case, ModelRef


@dataclass(frozen=True)
class SweepSettings:
    """What a `segbench run` asked for; stored in run.json so that --resume can rebuild the cases."""

    models: str
    threads: tuple[int, ...] = (1,)
    power_modes: tuple[str, ...] = ("high",)
    warmup: int = 20
    repeats: int = 50
    input: str | None = None
    runtime: str | None = None
    device: str | None = None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["threads"], d["power_modes"] = list(self.threads), list(self.power_modes)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> SweepSettings:
        fields = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        fields["threads"] = tuple(fields.get("threads", (1,)))
        fields["power_modes"] = tuple(fields.get("power_modes", ("high",)))
        return cls(**fields)


def plan(models: Sequence[ModelRef], settings: SweepSettings) -> list[Case]:
    """Every case in a stable order: model, then threads, then power mode.

    With ``settings.runtime`` set, only models that runtime executes are kept.
    """
    cases = []
    for model in models:
        runtime = RUNTIME_FOR_FORMAT[model.format]
        if settings.runtime and settings.runtime != runtime:
            continue
        for threads in settings.threads:
            for mode in settings.power_modes:
                cases.append(Case(model, runtime, threads, mode, settings.warmup, settings.repeats, settings.input))
    return cases
