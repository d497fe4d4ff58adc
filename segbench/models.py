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

``file`` may also name a PaddleSeg export folder (``file = "pp_mobileseg_tiny"``), or, in a folder's own
manifest.toml, ``file = "."`` for the folder's export. A model without an entry is named by where it lies
(``default_name``): an export folder's program by the folder, any other file by its stem.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from segbench.errors import ModelError, UsageError
from segbench.model import RUNTIME_FOR_FORMAT, Architecture, ModelRef
from segbench.store import write_atomic
from segbench.validate import item as item_of
from segbench.validate import items, read_toml
from segbench.vocab import MANIFEST as MANIFEST

MODEL_SUFFIXES = {".onnx": "onnx", ".tflite": "tflite", ".pdmodel": "paddle", ".nb": "paddle-nb"}


def model_format(path: Path) -> str:
    """The model format of a file, from its suffix (PIR ``model.json`` needs a ``.pdiparams`` beside it).

    A file of a format that no runtime here runs (``foreign_model``) is an error that says what to convert it to."""
    fmt = MODEL_SUFFIXES.get(path.suffix.lower())
    if fmt:
        return fmt
    if path.suffix.lower() == ".json" and path.with_suffix(".pdiparams").exists():
        return "paddle"
    foreign = foreign_model(path)
    if foreign:
        raise ModelError(foreign)
    raise ModelError(
        f"{path}: not a model file", hint=f"expected one of {', '.join(sorted(MODEL_SUFFIXES))} or Paddle model.json"
    )


# What the seeds' own flows hand people besides the formats above: TF Hub's SavedModel (MOSAIC), a frozen GraphDef
# and TF checkpoints (MLPerf's export_model.py), PaddleSeg's trained .pdparams (PP-MobileSeg's model link), PyTorch
# checkpoints (TI's edgeai training). None of them runs here; each gets what to make of it instead.
_TO_TFLITE_OR_ONNX = "convert it to .tflite (TensorFlow's TFLiteConverter) or .onnx (tf2onnx) and benchmark that file"
_FOREIGN_SUFFIXES = {
    ".h5": ("a Keras model", _TO_TFLITE_OR_ONNX),
    ".keras": ("a Keras model", _TO_TFLITE_OR_ONNX),
    ".pdparams": ("Paddle training weights (a dygraph state dict, not a program)",
                  "export a program with PaddleSeg's tools/export.py --config CONFIG --model_path FILE "
                  "(model.pdmodel + model.pdiparams + deploy.yaml) and benchmark that folder"),
    ".pt": ("a PyTorch file", "export it to .onnx (torch.onnx.export) and benchmark that file"),
    ".pth": ("a PyTorch file", "export it to .onnx (torch.onnx.export) and benchmark that file"),
    ".ckpt": ("a training checkpoint", "export it to .onnx or .tflite and benchmark that file"),
    ".caffemodel": ("a Caffe model", "convert it to .onnx and benchmark that file"),
    ".mnn": ("an MNN model", "benchmark the .onnx or .tflite it was converted from"),
}


# Paddle 1.x's save_inference_model layout. Paddle 2.x still loads it (load_inference_model with a folder and
# model_filename/params_filename; Paddle Lite's opt with --model_dir, or --model_file/--param_file when combined), but
# segbench's runners and its on-device commands take a program + .pdiparams pair: it is re-saved once into that.
_RESAVE_PADDLE_1X = ("re-save it as model.pdmodel + model.pdiparams with Paddle 2.x: prog, feeds, fetches = "
                     "paddle.static.load_inference_model(FOLDER, exe, model_filename='__model__', "
                     "params_filename='__params__' (leave it out for one file per weight)), then "
                     "paddle.static.save_inference_model('OUT/model', [prog.global_block().var(n) for n in feeds], "
                     "fetches, exe, program=prog), and benchmark OUT")


def foreign_model(path: Path) -> str | None:
    """One line saying what ``path`` is and what to do, for a model file of a format segbench cannot run; None
    for anything else (parts of such a model, ONNX's test tensors, files that are no model at all)."""
    name, suffix = path.name.lower(), path.suffix.lower()
    what = None
    if name in ("saved_model.pb", "saved_model.pbtxt"):
        what = (f"a TensorFlow SavedModel (the folder {path.parent})",
                "convert it to .tflite (tf.lite.TFLiteConverter.from_saved_model) or .onnx "
                "(python -m tf2onnx.convert --saved-model) and benchmark that file")
    elif suffix == ".pb":
        # A SavedModel's other .pb files (fingerprint.pb, keras_metadata.pb) and ONNX's test_data_set_N tensors
        # (what gen-input writes for onnxruntime_perf_test) are not models of their own.
        if (path.parent / "saved_model.pb").exists() or path.parent.name.startswith("test_data_set"):
            return None
        what = ("a TensorFlow frozen graph (GraphDef)",
                "convert it to .tflite (tf.compat.v1.lite.TFLiteConverter.from_frozen_graph) or .onnx "
                "(python -m tf2onnx.convert --graphdef) and benchmark that file")
    elif path.name == "__model__":  # once per folder: __params__ and the per-weight files are its parts
        what = (f"a Paddle 1.x inference model (the folder {path.parent}: __model__ with __params__ or one file per "
                "weight)", _RESAVE_PADDLE_1X)
    elif ".ckpt" in name and suffix == ".index":  # model.ckpt-200000.index: once per checkpoint, not per shard
        what = ("a TensorFlow checkpoint",
                "export a graph from it (MLPerf's export_model.py), convert that to .tflite and benchmark the file")
    elif suffix in _FOREIGN_SUFFIXES:
        what = _FOREIGN_SUFFIXES[suffix]
    if what is None:
        return None
    return f"{path}: {what[0]}, which segbench cannot run ({what[1]})"


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


# (path, device, inode, size, mtime_ns, ctime_ns) -> sha256, for files that stood still while they were hashed.
_DIGESTS: dict[tuple, str] = {}
_SETTLED_NS = 2_000_000_000


def sha256_cached(path: Path, st: os.stat_result | None = None) -> str:
    """sha256_file, remembered for this process while the file's inode, size, mtime and ctime stay the same.

    Only a file whose mtime was more than 2 s old when it was hashed is remembered: a file rewritten within the
    clock's granularity keeps its mtime (the racy case git's index guards against the same way), so a young
    file is hashed every time. ctime in the key catches a rewrite whose mtime was then set back (cp -p)."""
    import time

    st = st or os.stat(path)
    key = (os.path.abspath(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    if key in _DIGESTS:
        return _DIGESTS[key]
    now = time.time_ns()
    digest = sha256_file(path)
    if now - st.st_mtime_ns > _SETTLED_NS:
        if len(_DIGESTS) > 4096:
            _DIGESTS.clear()
        _DIGESTS[key] = digest
    return digest


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
    data = read_toml(path, ModelError)
    entries: dict[str, ManifestEntry] = {}
    where: dict[str, str] = {}  # the [[model]] that named each file, for the duplicate's error
    for i, item in enumerate(items(data, "model", dict, str(path), optional=True, error=ModelError) or ()):
        entry = _entry(item, f"{path}: [[model]] {i + 1}")
        this = f"[[model]] {i + 1}" + (f" (name {item['name']!r})" if "name" in item else "")
        # Two entries for one file would leave the first unused in silence (the last won): say so instead.
        same = os.path.normpath(entry.file)
        if same in where:
            raise ModelError(f"{path}: {where[same]} and {this} both describe file {entry.file!r}",
                             hint="keep one [[model]] per file")
        where[same] = this
        entries[entry.file] = entry
    return entries


_ENTRY_KEYS = {"name", "file", "backbone", "dataset", "input_size", "published"}


def _entry(item: dict[str, Any], where: str) -> ManifestEntry:
    """One [[model]] table, every value of the type documented for it (docs/results-format.md)."""
    file = item_of(item, "file", str, where, nonempty=True, error=ModelError)
    size = items(item, "input_size", int, where, optional=True, minimum=1, error=ModelError)
    published = item_of(item, "published", dict, where, optional=True, error=ModelError) or {}
    for key in ("miou", "latency_ms", "params_m", "gmacs"):
        item_of(published, key, float, f"{where}: published.", optional=True, error=ModelError)
    for key in ("device", "source"):
        item_of(published, key, str, f"{where}: published.", optional=True, error=ModelError)
    name = item_of(item, "name", str, where, optional=True, error=ModelError)
    for key in ("architecture", "format", "quant"):  # the runtime comparison's identity (architecture_of)
        item_of(item, key, str, where, optional=True, error=ModelError)
    return ManifestEntry(
        name=name or Path(file).stem, file=file,
        backbone=item_of(item, "backbone", str, where, optional=True, error=ModelError),
        dataset=item_of(item, "dataset", str, where, optional=True, error=ModelError),
        input_size=tuple(size) if size else None, published=dict(published),
        extra={k: v for k, v in item.items() if k not in _ENTRY_KEYS},
    )


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


def companion_files(path: Path, fmt: str) -> tuple[str, ...]:
    """The files a model is read with (Paddle's .pdiparams, ONNX's external data), each one there and a regular
    file, or a ModelError naming the one that is not."""
    if fmt == "paddle":
        params = path.with_suffix(".pdiparams")
        if not params.is_file():
            raise ModelError(f"{path}: Paddle model without its parameters file {params.name}")
        return (str(params),)
    if fmt == "onnx":
        return _onnx_external_data(path)
    return ()


def _onnx_external_data(path: Path) -> tuple[str, ...]:
    """The external tensor files the .onnx names (model.onnx.data, or one per tensor), relative to its folder as
    ONNX Runtime resolves them."""
    from segbench.onnx_external import ExternalDataError, external_locations

    try:
        locations = external_locations(path)
    except ExternalDataError as exc:
        raise ModelError(f"{path}: {exc}") from None
    files = []
    for location in locations:
        data = path.parent / location
        special = special_file(data)
        if special:  # never read: a FIFO would hang the hash
            raise ModelError(f"{path}: its external data file {data} is {special}")
        if not data.is_file():
            raise ModelError(f"{path}: its external data file {data} is missing",
                             hint="keep the files onnx.save wrote beside the .onnx")
        files.append(str(data))
    return tuple(files)


def special_file(path: Path) -> str | None:
    """What ``path`` is when it is a FIFO, a device or a socket (after links: a link to /dev/zero is a character
    device), else None. Reading one would hang (a FIFO with no writer) or never end (/dev/zero): never read them."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # a link to itself (or round a ring of links): nothing to read there
            return "a symbolic link loop"
        return None  # missing or unreadable: reading it says so
    kinds = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
             (stat.S_ISSOCK, "a socket"))
    return next((kind for test, kind in kinds if test(mode)), None)


def describe(path: Path, entry: ManifestEntry | None = None, name: str | None = None) -> FoundModel:
    """A FoundModel for one file; unreadable files come back with ``error`` set, never raise."""
    fmt = model_format(path)
    name = entry.name if entry else (name or default_name(path))
    special = special_file(path)
    if special:  # before any read: segbench.cli.cmd_run skips these with a warning
        return FoundModel(ModelRef(name, str(path), fmt), entry, f"{path}: {special}, not a model file; skipped")
    if not _utf8(str(path)):  # the runtimes and adb take text paths: such a file fails its case, saying why
        return FoundModel(ModelRef(name, str(path), fmt), entry,
                          f"{os.fsencode(path).decode('utf-8', 'backslashreplace')}: the file name is not UTF-8, "
                          "which the runtimes cannot open (rename it)")
    try:
        companions = companion_files(path, fmt)
        digest = sha256_file(path)
    except ModelError as exc:
        return FoundModel(ModelRef(name, str(path), fmt), entry, str(exc))
    except OSError as exc:
        return FoundModel(ModelRef(name, str(path), fmt), entry, f"{path}: cannot read: {exc.strerror or exc}")
    try:
        companion_digests = companion_sha256(path, companions)  # part of the case id (model.Case)
    except ModelError as exc:
        return FoundModel(ModelRef(name, str(path), fmt), entry, str(exc))
    return FoundModel(ModelRef(name, str(path), fmt, digest, companions, companion_digests), entry)


def companion_sha256(path: Path, companions: tuple[str, ...]) -> tuple[str, ...]:
    """The sha256 of each of a model's companion files; one that cannot be read is a ModelError naming it."""
    digests = []
    for companion in companions:
        try:
            digests.append(sha256_file(Path(companion)))
        except OSError as exc:
            raise ModelError(f"{path}: cannot read its file {companion}: {exc.strerror or exc}") from None
    return tuple(digests)


def _utf8(text: str) -> bool:
    """Whether a path is UTF-8 text (a name of other bytes is held by Python as surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# -- discovery ---------------------------------------------------------------------------------------------
#
# The layouts people have: flat files (``a.onnx``, ``b.tflite``, ``c.pdmodel`` + ``c.pdiparams``), export folders
# (PaddleSeg's ``tools/export.py``: ``model.pdmodel`` + ``model.pdiparams`` [+ ``.pdiparams.info``,
# ``deploy.yaml``]; Paddle Inference's ``inference.*``; Paddle 3's ``model.json`` program), one folder per model,
# both mixed, and suites of such folders nested. A folder's export is named by the folder (its path below the
# directory given, with ``/``); any other model file by its stem (with its folder's path when nested).

# Program names that say nothing about the model: the folder holding them names it.
EXPORT_STEMS = ("model", "inference")
MAX_DEPTH = 8
_SKIP_DIRS = {"__pycache__", "node_modules"}


def export_program(folder: Path) -> Path | None:
    """The Paddle program of an export folder (deploy.yaml's ``model``, else model/inference.pdmodel|json)."""
    from segbench import deploy

    names: list[str] = []
    yaml_path = folder / deploy.FILE_NAME
    if yaml_path.is_file():
        try:
            named = deploy.read(yaml_path).model
        except ModelError:
            named = None
        if named:
            names.append(named)
    names += [f"{stem}{suffix}" for stem in EXPORT_STEMS for suffix in (".pdmodel", ".json")]
    for name in names:
        path = folder / name
        if path.is_file() and _is_model(path) and model_format(path) == "paddle":
            return path
    return None


def real(path: Path) -> Path:
    """``path`` with its links resolved, as far as they go: a symlink loop stays as it is (Path.resolve raises
    RuntimeError for one on Python 3.11)."""
    return Path(os.path.realpath(path))


# A .nb of these names inside an export folder is that export optimised (benchmark_bin's or opt's output put back
# in the folder): the folder names it, as it names the program.
_NB_STEMS = ("opt", *EXPORT_STEMS)


def nb_of_export(path: Path) -> bool:
    """Whether ``path`` is an ``opt.nb`` (or ``model.nb``, ``inference.nb``) inside a Paddle export folder."""
    return path.suffix.lower() == ".nb" and path.stem.lower() in _NB_STEMS and export_program(path.parent) is not None


def default_name(path: Path, root: Path | None = None) -> str:
    """A model's name from where it lies: an export folder's program (and an ``opt.nb`` in the folder) is named by
    the folder, anything else by its stem; below ``root`` the folders on the way are kept
    (``suite/pp_mobileseg_base``)."""
    folder = path.parent
    if export_program(folder) == path or nb_of_export(path):
        rel = _relative(folder, root) if root is not None else None
        return rel or real(folder).name or path.stem
    rel = _relative(folder, root) if root is not None else None
    return f"{rel}/{path.stem}" if rel else path.stem


def _relative(folder: Path, root: Path) -> str | None:
    try:
        rel = real(folder).relative_to(real(root))
    except ValueError:
        return None
    return rel.as_posix() if rel.parts else None


def _is_model(path: Path) -> bool:
    """A regular file (not a FIFO, device or dangling link) of a model format."""
    return _named_like_model(path) and _regular(path)


def _named_like_model(path: Path) -> bool:
    try:
        model_format(path)
    except ModelError:
        return False
    return True


def _regular(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:
        return False


def _walk(root: Path, foreign: list[str], warn: Callable[[str], None] | None = None) -> list[Path]:
    """Model files under ``root``: every folder down to MAX_DEPTH, hidden ones and symlinked folders left out
    (a link back up would loop). Models of formats segbench cannot run go into ``foreign``, one line each
    (``foreign_model``). ``root`` itself unreadable is a ModelError; a folder below it that cannot be listed (no
    permission) is said to ``warn`` and left out, never passed over in silence."""
    found: list[Path] = []
    stack = [(root, 0)]
    while stack:
        folder, depth = stack.pop()
        try:
            children = sorted(folder.iterdir())
        except OSError as exc:
            if folder == root:
                raise ModelError(f"{root}: cannot read the folder: {exc.strerror or exc}") from None
            if warn:
                warn(f"{folder}: cannot read the folder: {exc.strerror or exc}; the models in it are left out")
            continue
        for child in children:
            if child.name.startswith(".") or child.name in _SKIP_DIRS:
                continue
            if child.is_dir() and not child.is_symlink():
                if depth < MAX_DEPTH:
                    stack.append((child, depth + 1))
            elif _named_like_model(child):
                found.append(child)  # a FIFO or device named like a model: described, never read (special_file)
            elif line := foreign_model(child):
                foreign.append(line)
    return found


def model_files(directory: Path, warn: Callable[[str], None] | None = None) -> list[Path]:
    """The model files in a directory tree, as ``find_models`` finds them (``inspect`` reads the same ones).

    Models of a format segbench cannot run (a TF Hub SavedModel, a frozen .pb, training weights) are left out
    with one line each to ``warn``; when they are all there is, the first of them is the error (exit 1): the user
    has a model, just not one that runs here, and the line says what to do. Folders that cannot be read are said to
    ``warn`` too (``_walk``)."""
    lines: list[str] = []
    found = _walk(directory, lines, warn)
    if not found and lines:
        more = f" (and {len(lines) - 1} more such file(s))" if len(lines) > 1 else ""
        raise ModelError(lines[0] + more)
    if not found:
        raise UsageError(
            f"{directory}: no model files found",
            hint=f"expected {', '.join(sorted(MODEL_SUFFIXES))} files or PaddleSeg export folders "
                 "(or run `segbench zoo export`)",
        )
    for line in lines if warn else ():  # a SavedModel or .pb beside the models that run: said, not left out silently
        warn(f"{line}; skipped")
    return found


def _entry_for(path: Path, root: Path) -> ManifestEntry | None:
    """The manifest.toml entry naming ``path``: in its own folder's manifest (by file name, or the folder itself
    for its export) or in the root's (by path below the root)."""
    keys = [path.name]
    if export_program(path.parent) == path:
        keys.append(".")
    own = read_manifest(path.parent)
    for key in keys:
        if key in own:
            return own[key]
    if real(path.parent) != real(root):
        top = read_manifest(root)
        rel = real(path).relative_to(real(root))
        for key in (rel.as_posix(), *([rel.parent.as_posix()] if export_program(path.parent) == path else [])):
            if key in top:
                return top[key]
    return None


# A precision token at the end of a model's name: MLPerf's deeplabv3_mnv2_ade20k_uint8, a zoo file's _int8.
_QUANT_TOKEN = re.compile(r"^(?P<stem>.+?)[ _.-](?P<quant>int8|uint8|fp32|float32|float)$", re.IGNORECASE)
_FLOAT_TOKENS = ("fp32", "float32", "float")
# Model formats (MODEL_SUFFIXES) as the runtime comparison names them.
_FORMAT_NAMES = {"paddle-nb": "nb"}


def architecture_of(ref: ModelRef) -> Architecture:
    """The architecture, format and precision of a measured model (docs/report.md, "Runtime comparison").

    1. The manifest entry naming the file (its folder's manifest.toml; for an export folder's program also the one
       beside the folder), when it names the architecture: ``architecture`` as given, else a zoo export's
       ``zoo.model`` with its head and input size (``topformer_tiny [argmax] 64x64``); ``format`` and ``quant``
       from the entry, else as in 2.
    2. Otherwise the model's name: a trailing ``_int8``/``_uint8`` (or ``-``/space/``.``) is its precision and the
       rest its architecture (``fp32``/``float32``/``float`` mean float); no such token: float. Format from the
       file's suffix. A name that ends in the file's suffix (``pp_mobileseg_tiny.nb``, a .nb that gave its folder's
       name way to the export it was made from) is read without it, and an ``opt.nb`` inside an export folder
       (``pp_mobileseg_tiny/opt.nb``) by the folder: the same architecture as the folder's program.
    An ``opt.nb`` inside an export folder takes its architecture and precision from the program's manifest entry.
    A manifest that cannot be read (moved, damaged) falls back to 2: a report never fails over it.
    """
    fmt = _FORMAT_NAMES.get(ref.format, ref.format)
    try:
        entry = _entry_beside(Path(ref.path))
    except (ModelError, OSError):
        entry = None
    named = _named_architecture(entry) if entry else None
    if named and entry:
        quant = entry.extra.get("quant") or _split_quant(ref.name)[1]
        given = None if nb_of_export(Path(ref.path)) else entry.extra.get("format")  # the program's entry
        return Architecture(named, given or fmt, quant, "manifest")
    stem, quant = _split_quant(_name_without_suffix(ref))
    return Architecture(stem, fmt, quant, "name")


def _name_without_suffix(ref: ModelRef) -> str:
    path, name = Path(ref.path), ref.name
    if name.endswith(f"/{path.name}") and nb_of_export(path):
        return name[:-len(path.name) - 1]
    if path.suffix and name.lower().endswith(path.suffix.lower()) and len(name) > len(path.suffix):
        return name[:-len(path.suffix)]
    return name


def _entry_beside(path: Path) -> ManifestEntry | None:
    """The manifest entry of ``path`` in its folder, or beside its export folder for an export's program (and for an
    ``opt.nb`` in the folder: the program's entry)."""
    if nb_of_export(path):
        path = export_program(path.parent) or path
    program_of_folder = path.suffix.lower() != ".nb" and export_program(path.parent) == path
    return _entry_for(path, path.parent.parent if program_of_folder else path.parent)


def _named_architecture(entry: ManifestEntry) -> str | None:
    given = entry.extra.get("architecture")
    if given and given.strip():
        return given.strip()
    zoo = entry.extra.get("zoo")
    if not isinstance(zoo, dict) or not isinstance(zoo.get("model"), str):
        return None
    head = f" [{zoo['head']}]" if isinstance(zoo.get("head"), str) else ""
    size = entry.input_size
    return f"{zoo['model']}{head}" + (f" {'x'.join(map(str, size))}" if size else "")


def _split_quant(name: str) -> tuple[str, str]:
    """("deeplabv3_mnv2_ade20k", "uint8") from "deeplabv3_mnv2_ade20k_uint8"; (name, "none") without a token."""
    m = _QUANT_TOKEN.match(name)
    if not m:
        return name, "none"
    quant = m["quant"].lower()
    return m["stem"], "none" if quant in _FLOAT_TOKENS else quant


def find_models(target: str | Path, warn: Callable[[str], None] | None = None) -> list[FoundModel]:
    """Models to benchmark in a directory tree (sorted by name), or the one model file (or export folder) given.

    Files of other types are ignored, those of model formats segbench cannot run and folders that cannot be read
    with a line each to ``warn`` (``model_files``); a directory without any model is an error. Names come from the
    manifest.toml entries, else from where each file lies (``default_name``); two models of one runtime never
    share a name: derived names that would collide are replaced by the files' paths below the directory.
    """
    target = Path(target)
    if special_file(target):
        raise UsageError(f"{target} is {special_file(target)}, not a model file or directory")
    if not target.exists():
        raise ModelError(f"{target}: no such file or directory")  # a missing file: exit 1 (README, Exit codes)
    if target.is_file():
        model_format(target)  # raises for a non-model file
        return [describe(target, _entry_for(target, target.parent))]
    if not target.is_dir():
        raise UsageError(f"{target}: not a regular file or a directory")
    found = [describe(p, _entry_for(p, target), default_name(p, target)) for p in model_files(target, warn)]
    found = _distinct(found, target)
    return sorted(found, key=lambda f: (f.ref.name, f.ref.path))


def _is_export(f: FoundModel) -> bool:
    path = Path(f.ref.path)
    return f.ref.format == "paddle" and export_program(path.parent) == path


def _distinct(found: list[FoundModel], root: Path) -> list[FoundModel]:
    """Derived names made unique per runtime; manifest names that collide are the user's error."""
    from dataclasses import replace

    def key(f: FoundModel) -> tuple[str, str]:
        return f.ref.name, RUNTIME_FOR_FORMAT[f.ref.format]

    def renamed(f: FoundModel, name: str) -> FoundModel:
        return replace(f, ref=replace(f.ref, name=name))

    def rel(f: FoundModel) -> str:
        return real(Path(f.ref.path)).relative_to(real(root)).as_posix()

    keys = [key(f) for f in found]
    # An export folder keeps its folder's name when it is the only export among those sharing it: the .nb that opt
    # made from it gives way, beside the folder to its file name (pp_mobileseg_tiny.nb), inside it (opt.nb) to the
    # same shape of name; should both be there, the one inside is named by its path (pp_mobileseg_tiny/opt.nb).
    is_export = [_is_export(f) for f in found]  # (each a look at the folder's files: once)
    exports = [k for k, export in zip(keys, is_export) if export]
    out = []
    for f, export in zip(found, is_export):
        if keys.count(key(f)) > 1 and f.entry is None and not (export and exports.count(key(f)) == 1):
            nb_inside = nb_of_export(Path(f.ref.path))
            f = renamed(f, f"{f.ref.name}.nb" if nb_inside else rel(f))
        out.append(f)
    keys = [key(f) for f in out]
    out = [renamed(f, rel(f)) if keys.count(key(f)) > 1 and f.entry is None and nb_of_export(Path(f.ref.path))
           else f for f in out]
    keys = [key(f) for f in out]
    dupes = sorted({k[0] for k in keys if keys.count(k) > 1})
    if dupes:
        raise UsageError(f"{root}: several models are named {', '.join(dupes)}",
                         hint="give them distinct names in manifest.toml")
    return out
