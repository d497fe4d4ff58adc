"""`segbench parse`: read logs of the vendor tools into records, and optionally store them as a run."""

from __future__ import annotations

import codecs
import os
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import click

if TYPE_CHECKING:  # types only: the modules themselves are imported where used (fast CLI start)
    from segbench.model import Measurement
    from segbench.runners.tools import ParsedRun
    from segbench.store import RunDir

    Parsed = list[tuple[Path, "_Log", list[ParsedRun]]]
    Member = tuple[Path, "_Log", ParsedRun]

# A benchmark log is a few KB; a pasted session with op profiles a few MB. Anything far larger is
# not a log (a model, a video) and would only be read to be rejected.
MAX_BYTES = 64 * 2**20
# Logs are read a block at a time and parsed as they stream by (tools.Scan): memory holds a block, the open run
# and the runs parsed, not the file (a farm's logs concatenated may hold thousands of runs).
BLOCK = 2**20
# How much of the text tools.foreign_tool looks at (ncnn's and MNN's markers are near the top).
FOREIGN_CHARS = 1_000_000
SUPPORTED = "Paddle Lite benchmark_bin, TFLite benchmark_model and onnxruntime_perf_test"


@click.command("parse")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path, readable=False))
@click.option("--json", "as_json", is_flag=True, help="JSON Lines, one object per run.")
@click.option("--store", is_flag=True, help="Import the records into the reports store as a run.")
@click.option("--reports", default="reports", show_default=True, metavar="DIR", help="Where runs are stored.")
def command(files: tuple[Path, ...], as_json: bool, store: bool, reports: str) -> int:
    """Read benchmark_bin, benchmark_model and onnxruntime_perf_test logs (one record per run; - reads stdin).

    The tool is detected for each run, so a pasted console session with several runs (of several
    tools) gives one record each. Without --json, a table. --store makes `segbench report` show them.

    A directory stands for the files in it (not its subdirectories). Each file is read on its own: one that
    cannot be read or holds no run of these tools is reported on one line and the rest are parsed.

    Exit codes: 0 every file read (failed runs are records), 3 some files could not be used (the others
    were parsed and, with --store, stored), 1 none could, 2 usage.
    """
    import json

    from segbench.errors import ParseError

    parsed: list = []
    problems: list[str] = []
    for path in _expand(files):
        try:
            log, runs = _parse_file(path, android=store)
        except ParseError as exc:
            problems.append(str(exc))
            continue
        parsed.append((path, log, runs))
    if not parsed:
        if len(problems) == 1:
            raise ParseError(problems[0])
        for line in problems[:-1]:
            click.echo(f"segbench: error: {line}", err=True)
        raise ParseError(f"{problems[-1]}; none of the {len(problems)} files holds a benchmark run")
    for line in problems:
        click.echo(f"segbench: error: {line}", err=True)
    if as_json:
        for path, _, runs in parsed:
            for run in runs:
                click.echo(json.dumps({"file": str(path), **run.to_json()}, allow_nan=False))
    else:
        click.echo(_table([(path, run) for path, _, runs in parsed for run in runs]))
    if store:
        for run_dir, count in _store(parsed, reports):
            click.echo(f"stored {count} record(s) as run {run_dir.run_id} in {run_dir.path}", err=True)
    return 3 if problems else 0


def _expand(files: tuple[Path, ...]) -> list[Path]:
    """The files to read: a directory gives its regular files in name order (an empty one is reported)."""
    out: list[Path] = []
    for path in files:
        if str(path) != "-" and path.is_dir():
            inside = sorted(p for p in path.iterdir() if p.is_file())
            out.extend(inside or [path])  # an empty directory stays, to be reported as one
        else:
            out.append(path)
    return out


@dataclass
class _Log:
    """A log read: where its bytes are (the file, or a temporary copy of stdin or a pipe, which cannot be read
    twice), and whether it names an Android device (``--store``: _ANDROID)."""

    path: Path
    spool: BinaryIO | None = None
    android: bool = False

    def open(self) -> BinaryIO:
        """The bytes from the start (the caller closes them; the temporary copy stays open until the end)."""
        if self.spool is not None:
            f = open(os.dup(self.spool.fileno()), "rb")  # noqa: SIM115 (the caller closes it)
            f.seek(0)
            return f
        return open(self.path, "rb")  # noqa: SIM115 (the caller closes it)


def _open_log(path: Path) -> _Log:
    """The log to read; one clear ParseError for a missing, unreadable or too big one. Standard input and pipes
    (<(adb shell ...), which have no size to check first) are copied to a temporary file, at most MAX_BYTES + 1."""
    from segbench.errors import ParseError

    if str(path) == "-":
        return _spooled(path, sys.stdin.buffer)
    if not path.exists():
        raise ParseError(f"{path}: no such file")
    if path.is_dir():
        raise ParseError(f"{path} is a directory with no files in it")
    try:
        if not path.is_file():
            with open(path, "rb") as f:
                return _spooled(path, f)
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise ParseError(f"{path} is {size / 2**20:.0f} MB, too big for a benchmark log "
                             f"(limit {MAX_BYTES // 2**20} MB)", hint="is it the right file?")
        with open(path, "rb"):
            pass  # readable (a permission problem is said here, as for any file that cannot be opened)
        return _Log(path)
    except OSError as exc:
        raise ParseError(f"cannot read {path}: {exc.strerror or exc}") from None


def _spooled(path: Path, stream: BinaryIO) -> _Log:
    import tempfile  # here: `segbench --help` imports every command module, and tempfile brings shutil and random

    from segbench.errors import ParseError

    spool = tempfile.TemporaryFile(prefix="segbench-parse-")  # noqa: SIM115 (closed with the process)
    left = MAX_BYTES + 1
    while left > 0 and (block := stream.read(min(BLOCK, left))):
        spool.write(block)
        left -= len(block)
    spool.flush()
    if left <= 0:
        raise ParseError(f"{path} is more than {MAX_BYTES // 2**20} MB, too big for a benchmark log",
                         hint="is it the right file?")
    return _Log(path, spool)


def _blocks(log: _Log) -> Iterator[bytes]:
    """The log's bytes a block at a time; ParseError past MAX_BYTES (a file that grew while read)."""
    from segbench.errors import ParseError

    total = 0
    try:
        with log.open() as f:
            while block := f.read(BLOCK):
                total += len(block)
                if total > MAX_BYTES:
                    raise ParseError(f"{log.path} is more than {MAX_BYTES // 2**20} MB, too big for a benchmark "
                                     "log", hint="is it the right file?")
                yield block
    except OSError as exc:
        raise ParseError(f"cannot read {log.path}: {exc.strerror or exc}") from None


def _check(log: _Log) -> str:
    """The text's encoding: UTF-8, or UTF-16 with a BOM (what PowerShell's `>` writes). ParseError for a log too
    big, empty (only whitespace) or binary, in that order (its first block tells all but the first two)."""
    from segbench.errors import ParseError

    first, blank = b"", True
    for block in _blocks(log):  # to the end only while it is blank (and so to say too big before empty)
        first = first or block
        blank = not block.strip()
        if not blank:
            break
    if blank:
        raise ParseError(f"{log.path} is empty")
    encoding = "utf-16" if first.startswith((b"\xff\xfe", b"\xfe\xff")) else "utf-8-sig"
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    sample = decoder.decode(first, final=len(first) < BLOCK)[:65536]
    controls = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\t\n\r\f\v\x1b")
    if "\x00" in sample or controls > len(sample) * 0.05 or sample.count("\ufffd") > len(sample) * 0.3:
        raise ParseError(f"{log.path} is binary data, not a text log")
    return encoding


def _lines(blocks: Iterable[bytes], encoding: str, head: list[str] | None = None) -> Iterator[str]:
    """The text's lines as ``str.splitlines(keepends=True)`` of the whole decoded text gives them (undecodable bytes
    become U+FFFD), decoded and split a block at a time: a break cut between blocks (\\r, then \\n) is one break.
    Each keeps its line break, so that a last line without one is known to be cut (tools.iter_lines ``ended``).
    ``head`` gets the text's first FOREIGN_CHARS characters."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    carry, kept = "", 0
    for block in _ended(blocks):
        text = decoder.decode(block, final=not block)
        if head is not None and kept < FOREIGN_CHARS:
            head.append(text[:FOREIGN_CHARS - kept])
            kept += len(head[-1])
        parts = (carry + text).splitlines(keepends=True)
        # The last part may go on in the next block (a line, or a \\r whose \\n is to come); at the end it is a line.
        carry = parts.pop() if parts and block else ""
        yield from parts


def _ended(blocks: Iterable[bytes]) -> Iterator[bytes]:
    """The blocks, then b"" for the end."""
    yield from blocks
    yield b""


def _android_in(blocks: Iterable[bytes]) -> bool:
    """_ANDROID found in the bytes read as UTF-8 (as a whole: its patterns never span a line), a line at a time."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    carry = ""
    for block in _ended(blocks):
        parts = (carry + decoder.decode(block, final=not block)).split("\n")
        carry = parts.pop() if block else ""
        if any(_ANDROID.search(part) for part in parts):
            return True
    return False


def _parse_file(path: Path, android: bool = False) -> tuple[_Log, list[ParsedRun]]:
    """The runs in one log, read as it streams by; ``android``: also whether it names an Android device."""
    from segbench.errors import ParseError
    from segbench.runners import tools

    log = _open_log(path)
    encoding = _check(log)
    head: list[str] = []
    scan = tools.Scan().read(tools.iter_lines(_lines(_blocks(log), encoding, head), ended=True))
    runs = scan.runs
    foreign = tools.foreign_tool("".join(head))
    if runs:
        if android:
            log.android = _android_in(_blocks(log))
        if foreign:  # a session that also ran ncnn or MNN: say what was left out
            click.echo(f"segbench: warning: {path} also holds {foreign} output, which segbench does not parse",
                       err=True)
        return log, runs
    if foreign:
        raise ParseError(f"{path}: not a log of a supported tool (looks like {foreign} output)",
                         hint=f"segbench parses {SUPPORTED}")
    tool = scan.tool()
    if tool is not None:
        raise ParseError(f"{path}: {tool.TOOL} output, but no benchmark run in it (no timing summary or profile)")
    raise ParseError(f"{path}: no benchmark run found", hint=f"segbench parses {SUPPORTED} logs")


# ---------------------------------------------------------------------------------------------
# Table

_COLUMNS = ("file", "lines", "tool", "status", "model", "threads", "power mode", "warmup", "repeats", "n",
            "avg (ms)", "min (ms)", "max (ms)", "median (ms)", "first (ms)", "init (ms)", "device", "notes")


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _table(rows: list[tuple[Path, ParsedRun]]) -> str:
    from tabulate import tabulate

    out = []
    for path, r in rows:
        lat = r.latency_ms
        device = " ".join(x for x in (r.device.brand, r.device.model) if x)
        if r.device.api_level is not None:
            device += f" (API {r.device.api_level})"
        notes = r.error if r.status != "ok" else "; ".join(r.notes)
        out.append([path.name, f"{r.lines[0]}-{r.lines[1]}", r.tool, r.status, r.model_name, r.threads, r.power_mode,
                    r.warmup, r.repeats, r.count, lat.avg, lat.min, lat.max, lat.median, r.first_ms, r.init_ms,
                    device, notes])
    body = [[_fmt(v) for v in row] for row in out]
    return tabulate(body, headers=list(_COLUMNS), tablefmt="github", disable_numparse=True)


# ---------------------------------------------------------------------------------------------
# Store

_ANDROID = re.compile(r"/data/local/tmp|\badb shell\b|^\d\d-\d\d \d\d:\d\d:\d\d\.\d+ .?/tflite|Android API Level", re.M)


def _store(parsed: Parsed, reports: str) -> list[tuple[RunDir, int]]:
    """One run per device the logs name (logs that name none form their own run)."""
    groups: dict[tuple, list[Member]] = {}
    for path, log, runs in parsed:
        for run in runs:
            key = (run.device.brand, run.device.model, run.device.android_version, run.device.api_level,
                   run.device.device, log.android or run.device.known)
            groups.setdefault(key, []).append((path, log, run))
    return [_store_group(key, members, reports) for key, members in groups.items()]


def _store_group(key: tuple, members: list[Member], reports: str) -> tuple[RunDir, int]:
    from segbench import __version__
    from segbench.model import DeviceInfo, RunInfo
    from segbench.runinfo import host_details
    from segbench.store import Store, new_run_id, utc_now

    brand, model, android_version, api_level, device_name, android = key
    label = " ".join(x for x in (brand, model) if x) or ("android device" if android else "unknown device")
    device = DeviceInfo(id=label, kind="android" if android else "unknown", brand=brand, model=model,
                        device=device_name, os=f"Android {android_version}" if android_version else None,
                        android_version=android_version, api_level=api_level)
    log_names = _log_names([path for path, _, _ in members])
    measurements = [_measurement(path, run, i, label, log_names[path]) for i, (path, _, run) in enumerate(members)]
    runs = [run for _, _, run in members]
    settings = {"source": "parse", "files": sorted({str(p) for p in log_names}),
                "warmup": _common(r.warmup for r in runs), "repeats": _common(r.repeats for r in runs)}
    versions = {r.tool: r.tool_version for r in runs if r.tool_version}
    info = RunInfo(run_id=new_run_id(), started=utc_now(), harness_version=__version__, device=device,
                   settings=settings, host=host_details(), versions=versions, cases_total=len(measurements))
    run_dir = Store(reports).import_run(info, measurements)
    for path, log, _ in members:
        with log.open() as f:  # copied a block at a time
            run_dir.write_log(log_names[path], f)
    return run_dir, len(measurements)


def _common(values: Iterable[int | None]) -> int | None:
    distinct = {v for v in values if v is not None}
    return distinct.pop() if len(distinct) == 1 else None


def _log_names(paths: list[Path]) -> dict[Path, str]:
    """A distinct, file-system-safe name for each source log inside the run's logs/ directory."""
    names: dict[Path, str] = {}
    for path in dict.fromkeys(paths):
        base = re.sub(r"[^A-Za-z0-9._+-]+", "_", _stem(path)) or "log"
        name, n = base, 1
        while name in names.values():
            n += 1
            name = f"{base}-{n}"
        names[path] = name
    return names


def _stem(path: Path) -> str:
    return "stdin" if str(path) == "-" else path.stem


def _measurement(path: Path, run: ParsedRun, index: int, device_id: str, log_name: str) -> Measurement:
    from segbench.model import Measurement, ModelRef
    from segbench.runners.tools import to_measurement

    name = run.model_name or _stem(path)
    model = ModelRef(name=name, path=run.model_path or "", format=_format(run))
    case_id = re.sub(r"[^A-Za-z0-9._+-]+", "_", f"{log_name}__{index + 1}__{name}")
    base = Measurement(run_id="", case_id=case_id, model=model, runtime=run.runtime, status=run.status,
                       device_id=device_id, log_path=f"logs/{log_name}.log",
                       extra={"source_file": "-" if str(path) == "-" else str(path.resolve()),
                              "source_lines": list(run.lines)})
    return to_measurement(run, base)


def _format(run: ParsedRun) -> str:
    path = (run.model_path or "").lower()
    for suffix, fmt in ((".nb", "paddle-nb"), (".pdmodel", "paddle"), (".tflite", "tflite"), (".onnx", "onnx")):
        if path.endswith(suffix):
            return fmt
    return {"onnxruntime": "onnx", "tflite": "tflite", "paddlelite": "paddle-nb"}[run.runtime]
