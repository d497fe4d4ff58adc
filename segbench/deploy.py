"""PaddleSeg's ``deploy.yaml``: what an export says about its own input (a leaf module: reads one file).

PaddleSeg's ``tools/export.py`` writes it beside ``model.pdmodel``/``model.pdiparams``::

    Deploy:
      input_shape: [1, 3, 512, 512]      # or [-1, 3, -1, -1]
      model: model.pdmodel
      output_dtype: float32
      output_op: none                     # none | argmax | softmax
      params: model.pdiparams
      transforms:
      - type: Normalize                   # (pixel / 255 - mean) / std, mean and std default 0.5
      - type: Resize
        target_size: [512, 512]           # (width, height), as PaddleSeg's Resize takes it

Only the transforms that decide a tensor's values and size are read (Normalize, Resize); any other is
named in ``unsupported`` so that whoever uses the recipe can say so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from segbench.errors import ModelError

FILE_NAME = "deploy.yaml"
# PaddleSeg's Normalize defaults.
DEFAULT_MEAN = (0.5, 0.5, 0.5)
DEFAULT_STD = (0.5, 0.5, 0.5)


@dataclass(frozen=True)
class DeployConfig:
    path: str
    model: str | None = None  # file names, relative to the yaml's folder
    params: str | None = None
    input_shape: tuple[int, ...] | None = None  # -1 for a dynamic dim
    mean: tuple[float, ...] = DEFAULT_MEAN
    std: tuple[float, ...] = DEFAULT_STD
    normalize: bool = False  # whether a Normalize transform is listed
    target_size: tuple[int, int] | None = None  # (width, height) from Resize
    keep_ratio: bool = False
    output_op: str | None = None
    unsupported: tuple[str, ...] = ()


def find(program: Path) -> Path | None:
    """The deploy.yaml that describes ``program``: in its folder, naming it (or naming no model)."""
    candidate = program.parent / FILE_NAME
    if not candidate.is_file():
        return None
    try:
        config = read(candidate)
    except ModelError:
        return candidate  # a damaged one is still "the" recipe: reading it again gives the error to show
    return candidate if config.model in (None, program.name) else None


def read(path: Path) -> DeployConfig:
    """The ``Deploy`` section of a deploy.yaml; a file that is not one is a ModelError naming the key."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    except yaml.YAMLError as exc:
        raise ModelError(f"{path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    deploy = data.get("Deploy") if isinstance(data, dict) else None
    if not isinstance(deploy, dict):
        raise ModelError(f"{path}: no 'Deploy' section", hint="PaddleSeg's tools/export.py writes one")
    where = f"{path}: Deploy"
    transforms = deploy.get("transforms") or []
    if not isinstance(transforms, list) or not all(isinstance(t, dict) and isinstance(t.get("type"), str)
                                                   for t in transforms):
        raise ModelError(f"{where}.transforms must be a list of {{type: ...}} tables")
    mean, std, normalize, size, keep, unsupported = DEFAULT_MEAN, DEFAULT_STD, False, None, False, []
    for t in transforms:
        kind = t["type"]
        if kind == "Normalize":
            normalize = True
            # PaddleSeg's own configs list a bare `- type: Normalize` (its defaults), as tools/export.py writes it
            mean = _floats(t.get("mean", list(DEFAULT_MEAN)), f"{where}.transforms Normalize.mean")
            std = _floats(t.get("std", list(DEFAULT_STD)), f"{where}.transforms Normalize.std")
            if any(s == 0 for s in std):
                raise ModelError(f"{where}.transforms Normalize.std must not hold 0")
        elif kind == "Resize":
            size = _size(t.get("target_size", (512, 512)), f"{where}.transforms Resize.target_size")
            keep = bool(t.get("keep_ratio", False))
        else:
            unsupported.append(kind)
    return DeployConfig(
        path=str(path), model=_text(deploy.get("model"), f"{where}.model"),
        params=_text(deploy.get("params"), f"{where}.params"),
        input_shape=_shape(deploy.get("input_shape"), f"{where}.input_shape"), mean=mean, std=std,
        normalize=normalize, target_size=size, keep_ratio=keep,
        output_op=_text(deploy.get("output_op"), f"{where}.output_op"), unsupported=tuple(unsupported))


def _text(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ModelError(f"{where} must be a file name (text), not {value!r}")
    return value


def _floats(value: Any, where: str) -> tuple[float, ...]:
    if (isinstance(value, list) and value and len(value) in (1, 3)
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
        return tuple(float(v) for v in value)
    raise ModelError(f"{where} must be a list of 1 or 3 numbers, not {value!r}")


def _size(value: Any, where: str) -> tuple[int, int]:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value, value
    if (isinstance(value, list) and len(value) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)):
        return value[0], value[1]
    raise ModelError(f"{where} must be a positive int or [width, height], not {value!r}")


def _shape(value: Any, where: str) -> tuple[int, ...] | None:
    if value is None:
        return None
    if isinstance(value, list) and len(value) == 4:
        dims = [-1 if v is None else v for v in value]  # export.py writes None for an open dim
        if all(isinstance(v, int) and not isinstance(v, bool) and (v > 0 or v == -1) for v in dims):
            return tuple(dims)
    raise ModelError(f"{where} must be 4 ints (positive, or -1 / null for any), not {value!r}")
