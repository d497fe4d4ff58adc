"""Model files: format by suffix, discovery in a models directory, and its manifest.toml.

A models directory holds model files and, optionally, ``manifest.toml``:

    [[model]]
    name = "pp_mobileseg_tiny"
    file = "pp_mobileseg_tiny.onnx"
    backbone = "MobileSegNet-T"
    dataset = "ADE20K"
    input_size = [512, 512]
    [model.published]
    miou = 36.70
    latency_ms = 215.3
    params_m = 1.44
    device = "Xiaomi MI 9 (Snapdragon 855)"
    source = "PaddleSeg configs/pp_mobileseg/README.md"

A file without an entry is named after its stem.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from segbench.compat import tomllib
from segbench.errors import ModelError, UsageError
from segbench.model import RUNTIME_FOR_FORMAT, ModelRef
from segbench.store import write_atomic

MODEL_SUFFIXES = {".onnx": "onnx", ".tflite": "tflite", ".pdmodel": "paddle", ".nb": "paddle-nb"}
MANIFEST = "manifest.toml"


def model_format(path: Path) -> str:
    """The model format of a file, from its suffix (PIR ``model.json`` needs a ``.pdiparams`` beside it)."""
    fmt = MODEL_SUFFIXES.get(path.suffix.lower())
    if fmt:
        return fmt
    if path.suffix.lower() == ".json" and path.with_suffix(".pdiparams").exists():
        return "paddle"
    raise ModelError(
        f"{path}: not a model file", hint=f"expected one of {', '.join(sorted(MODEL_SUFFIXES))} or Paddle model.json"
    )


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class ManifestEntry:
    name: str
    file: str
    backbone: str | None = None
    dataset: str | None = None
    input_size: tuple[int, ...] | None = None
    published: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


def read_manifest(directory: Path) -> dict[str, ManifestEntry]:
    """Entries of ``directory/manifest.toml`` by file name; {} when there is none."""
    path = directory / MANIFEST
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"cannot read {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ModelError(f"{path} is not valid TOML: {exc}") from None
    entries = {}
    for i, item in enumerate(data.get("model", [])):
        if not isinstance(item, dict) or "file" not in item:
            raise ModelError(f"{path}: [[model]] entry {i + 1} has no 'file'")
        known = {"name", "file", "backbone", "dataset", "input_size", "published"}
        entry = ManifestEntry(
            name=str(item.get("name") or Path(item["file"]).stem),
            file=str(item["file"]),
            backbone=item.get("backbone"),
            dataset=item.get("dataset"),
            input_size=tuple(item["input_size"]) if item.get("input_size") else None,
            published=dict(item.get("published") or {}),
            extra={k: v for k, v in item.items() if k not in known},
        )
        entries[entry.file] = entry
    return entries


def write_manifest(directory: Path, entries: list[dict[str, Any]]) -> Path:
    """Add or update ``[[model]]`` entries (matched by ``file``) in ``directory/manifest.toml``.

    Everything else in the file is kept: other entries, comments, and the keys of an updated entry
    that ``entries`` does not set. An existing ``[model.published]`` table is kept as it is (it may
    have been curated by hand). The file is replaced atomically. Uses tomlkit, which preserves
    the file's comments and layout (tomllib only reads).
    """
    import tomlkit

    path = directory / MANIFEST
    existing = path.is_file()
    if existing:
        read_manifest(directory)  # a clear error for an unreadable or invalid manifest, before writing
        doc = tomlkit.parse(path.read_text(encoding="utf-8"))
    else:
        doc = tomlkit.document()
        doc.add(tomlkit.comment("Models in this directory and their published figures (docs/results-format.md)."))
    if "model" not in doc:
        doc.append("model", tomlkit.aot())
    tables = doc["model"]
    by_file = {str(t.get("file")): t for t in tables}
    for entry in entries:
        table = by_file.get(entry["file"])
        if table is None:
            table = tomlkit.table()
            tables.append(table)
            by_file[entry["file"]] = table
        for key, value in entry.items():
            if key == "published" and "published" in table:
                continue
            table[key] = value
    # A blank line before every [[model]], however tomlkit laid out the appended tables.
    text = re.sub(r"(?<=[^\n])\n\[\[model\]\]", "\n\n[[model]]", tomlkit.dumps(doc))
    write_atomic(path, text)
    return path


@dataclass(frozen=True)
class FoundModel:
    """A model file found for benchmarking; ``error`` is set when it cannot be used."""

    ref: ModelRef
    entry: ManifestEntry | None = None
    error: str | None = None


def _companions(path: Path, fmt: str) -> tuple[str, ...]:
    if fmt == "paddle":
        params = path.with_suffix(".pdiparams")
        if not params.is_file():
            raise ModelError(f"{path}: Paddle model without its parameters file {params.name}")
        return (str(params),)
    return ()


def describe(path: Path, entry: ManifestEntry | None = None) -> FoundModel:
    """A FoundModel for one file; unreadable files come back with ``error`` set, never raise."""
    fmt = model_format(path)
    name = entry.name if entry else path.stem
    try:
        companions = _companions(path, fmt)
        digest = sha256_file(path)
    except ModelError as exc:
        return FoundModel(ModelRef(name, str(path), fmt), entry, str(exc))
    except OSError as exc:
        return FoundModel(ModelRef(name, str(path), fmt), entry, f"{path}: cannot read: {exc.strerror or exc}")
    return FoundModel(ModelRef(name, str(path), fmt, digest, companions), entry)


def find_models(target: str | Path) -> list[FoundModel]:
    """Models to benchmark in a directory (sorted by name), or the one model file given.

    Files of other types in a directory are ignored; a directory without any model is an error.
    """
    target = Path(target)
    if not target.exists():
        raise ModelError(f"{target}: no such file or directory")  # a missing file: exit 1 (README, Exit codes)
    if target.is_file():
        model_format(target)  # raises for a non-model file
        entries = read_manifest(target.parent)
        return [describe(target, entries.get(target.name))]
    entries = read_manifest(target)
    found = []
    for path in sorted(target.iterdir()):
        try:
            fmt = model_format(path)
        except ModelError:
            continue
        if fmt == "paddle" and path.suffix == ".json" and path.name == MANIFEST:
            continue
        found.append(describe(path, entries.get(path.name)))
    if not found:
        raise UsageError(
            f"{target}: no model files found",
            hint=f"expected {', '.join(sorted(MODEL_SUFFIXES))} files (or run `segbench zoo export`)",
        )
    # Case ids are name + runtime, so two files may share a name only across runtimes.
    keys = [(f.ref.name, RUNTIME_FOR_FORMAT[f.ref.format]) for f in found]
    dupes = sorted({k[0] for k in keys if keys.count(k) > 1})
    if dupes:
        raise UsageError(f"{target}: several models are named {', '.join(dupes)}", hint="give them distinct names in manifest.toml")
    return sorted(found, key=lambda f: f.ref.name)
