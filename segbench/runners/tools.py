"""The vendor benchmark tools: one invocation (ToolCase), one parsed run (ParsedRun), the registry.

Three tools run on the phone, one module each, all with the same shape:

- ``benchmark_bin`` (Paddle Lite), ``benchmark_model`` (TFLite/LiteRT), ``onnxruntime_perf_test``;
- each module has ``TOOL`` (upstream binary name), ``RUNTIME``, ``SELF_BINDING`` (True when the tool
  pins its own threads, so no ``taskset`` is needed), ``build_command(tc) -> argv``,
  ``parse_log(text) -> list[ParsedRun]`` and ``MARKERS`` (a regex of lines only that tool prints, used
  to tell the tools' stretches of a mixed log apart; :func:`looks_like` asks it).

Everything here is pure: no I/O, no devices, no store. A log may hold several runs (a pasted
console session), possibly of different tools: :func:`parse_any` cuts it where the tool changes
and returns one record per run, in order. Exit codes lie (Paddle Lite exits 0 on bad flags), so a
record's status comes from what the log says: ``ok`` when the tool printed its timing summary,
``failed`` otherwise, with the tool's own error line.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from types import ModuleType
from typing import Any

from segbench.model import PADDLE_POWER_MODE, Case, Latency, Measurement, is_explicit_mode

# ---------------------------------------------------------------------------------------------
# One invocation on the device


@dataclass(frozen=True)
class ToolCase:
    """One on-device invocation of a vendor tool: the case plus where everything is on the device.

    - ``case``: threads, power_mode, warmup, repeats and the model (segbench.model.Case).
    - ``tool_path``: the binary on the device, e.g. ``/data/local/tmp/segbench/bin/benchmark_model``.
    - ``model_path``: the model on the device (``.onnx``, ``.tflite``, ``.pdmodel`` or ``.nb``).
    - ``params_path``: Paddle ``.pdiparams`` (required with a ``.pdmodel``).
    - ``input_path``: the input in the tool's own format (gen-input): a paddle-txt file for
      benchmark_bin, a raw file for benchmark_model, and for onnxruntime_perf_test a
      ``test_data_set_*`` directory that must sit next to the model (perf_test treats every
      directory beside the model as a data set). None: Paddle Lite feeds 1.0, TFLite random data,
      ORT random data (``-I``).
    - ``input_shapes`` / ``input_names``: Paddle needs the shapes (``--input_shape``); TFLite resizes
      its inputs (``--input_layer``/``--input_layer_shape``) only when both are given, for all inputs
      in order, and needs the name of the input ``input_path`` feeds; ORT reads shapes from the model
      and the test data (``free_dims`` sets dynamic dimensions by name), so it ignores both.
    - ``cpu_mask``: hex ``taskset`` mask ("f0"); None runs without taskset. The device runner passes
      None for tools with ``SELF_BINDING`` in their own power modes (Paddle Lite binds through
      ``--power_mode``), and the mask to every tool for an explicit CPU set (``prime``, ``cpus:4-7``);
      see :func:`taskset_mask`.
    - ``op_profiling``: per-operator times (TFLite ``--enable_op_profiling``; ORT ``-p`` to
      ``profile_prefix``; Paddle Lite needs a ``--with_profile=ON`` build, its tables are parsed).
    - ``backend``: Paddle Lite ``--backend`` (default ``arm``), TFLite delegate (``cpu``,
      ``xnnpack``, ``gpu``, ``nnapi``, ``hexagon``; None = the tool's default), ORT execution
      provider (``-e``, default ``cpu``).
    - ``backend_options``: (key, value) pairs for the backend: TFLite delegate flags
      (``nnapi_accelerator_name``...), Paddle Lite flags (``nnadapter_device_names``...), ORT ``-i``
      provider options. Each module lists the keys it accepts.
    - ``optimized_model_path``: Paddle Lite ``--optimized_model_file`` when converting a .pdmodel
      (where opt writes the .nb; default: beside the model, ``<stem>.opt.nb``).
    - ``result_path``: Paddle Lite ``--result_path`` / ORT result file (a copy of the report).
    - ``memory_profile``: TFLite ``--report_peak_memory_footprint``, Paddle ``--enable_memory_profile``.
    - ``per_run_times``: ORT ``-v`` (prints every iteration's time, parsed into ``samples_ms``).
    - ``output_path``: where the tool writes the outputs of its last run (TFLite ``--output_filepath``:
      every output's raw bytes, in output order); ``segbench eval --device`` reads them. A tool that
      cannot write its outputs says why in its module's ``NO_OUTPUT_DUMP`` and rejects this field.
    - ``variant``: which build of the tool (the manifest entry's ``variant``): None for the classic one,
      ``"litert"`` for LiteRT 2.x's ``benchmark_model``, whose flags differ (docs/vendor-tools.md).
    """

    case: Case
    tool_path: str
    model_path: str
    params_path: str | None = None
    input_path: str | None = None
    input_shapes: tuple[tuple[int, ...], ...] | None = None
    input_names: tuple[str, ...] | None = None
    cpu_mask: str | None = None
    op_profiling: bool = False
    backend: str | None = None
    backend_options: tuple[tuple[str, str], ...] = ()
    free_dims: tuple[tuple[str, int], ...] = ()
    optimized_model_path: str | None = None
    result_path: str | None = None
    profile_prefix: str | None = None
    memory_profile: bool = False
    per_run_times: bool = False
    output_path: str | None = None
    variant: str | None = None


class NoBackend(Exception):
    """A segbench backend (model.BACKENDS) that a tool, at the version segbench targets, does not have; the message
    says why. A case asking for it is a ``skipped`` record with that reason, never run on something else."""


def tool_backend(tool: ModuleType, backend: str, variant: str | None = None) -> tuple[str | None, tuple[tuple[str, str], ...]]:
    """The ToolCase ``backend`` and ``backend_options`` that run ``backend`` (model.BACKENDS) with ``tool`` (a runner
    module; ``variant`` its build); NoBackend when the tool has no such thing. The default (cpu) is the tool's own
    default CPU path: no backend flag at all, so CPU cases keep the command line they had before backends."""
    return tool.backend_args(backend, variant)


def taskset_prefix(mask: str | None) -> list[str]:
    """``["taskset", mask]`` when a mask is set (validated: hex digits only), else nothing."""
    if mask is None:
        return []
    from segbench.errors import UsageError

    if not re.fullmatch(r"(0x)?[0-9a-fA-F]+", mask) or int(mask, 16) == 0:
        raise UsageError(f"CPU mask {mask!r} is not a non-zero hex mask", hint="e.g. f0 for CPUs 4-7")
    return ["taskset", mask.lower().removeprefix("0x")]


def taskset_mask(tool: ModuleType, mask: str | None, power_mode: str | None = None) -> str | None:
    """The taskset mask to use for a tool: None for tools that bind their own threads, unless the power mode is
    an explicit CPU set (model.is_explicit_mode), which every tool runs under alike.

    In its own modes Paddle Lite's ``--power_mode`` calls sched_setaffinity on its worker threads, which
    replaces whatever taskset set; under an explicit set it is told NO_BIND and keeps to the mask.
    """
    if getattr(tool, "SELF_BINDING", False) and not is_explicit_mode(power_mode):
        return None
    return mask


# ---------------------------------------------------------------------------------------------
# One parsed run


@dataclass(frozen=True)
class LogMemory:
    """Memory figures in MB (2^20 bytes) as the tool reports them."""

    init: float | None = None
    overall: float | None = None
    peak: float | None = None


@dataclass(frozen=True)
class LogDevice:
    """What the log says about the device (Paddle Lite prints it on Android)."""

    brand: str | None = None
    model: str | None = None
    android_version: str | None = None
    api_level: int | None = None
    device: str | None = None

    @property
    def known(self) -> bool:
        return any(v is not None for v in dataclasses.astuple(self))


@dataclass(frozen=True)
class ParsedRun:
    """One run of a vendor tool, as its log tells it. Times in ms, memory in MB.

    ``status`` is ``ok`` when the tool printed its timing summary, else ``failed`` with the tool's
    own error line in ``error``. ``first_ms`` is the very first inference, ``init_ms`` model or
    session initialisation. ``count`` is how many timed runs the figures cover (TFLite may run
    more than asked). ``lines`` are the 1-based first and last lines of the run in the text;
    ``notes`` say which quirks were handled; ``extra`` holds tool-specific figures.
    """

    runtime: str
    tool: str
    status: str
    error: str | None = None
    latency_ms: Latency = field(default_factory=Latency)
    count: int | None = None
    first_ms: float | None = None
    init_ms: float | None = None
    threads: int | None = None
    power_mode: str | None = None
    warmup: int | None = None
    repeats: int | None = None
    memory_mb: LogMemory = field(default_factory=LogMemory)
    device: LogDevice = field(default_factory=LogDevice)
    ops_by_type: dict[str, float] | None = None
    tool_version: str | None = None
    samples_ms: tuple[float, ...] | None = None
    cpu_usage_pct: float | None = None
    model_path: str | None = None
    model_name: str | None = None
    backend: str | None = None
    lines: tuple[int, int] = (0, 0)
    notes: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The JSON object `segbench parse --json` prints (null where the log does not say)."""
        d = {
            "runtime": self.runtime, "tool": self.tool, "tool_version": self.tool_version,
            "status": self.status, "error": self.error,
            "latency_ms": dataclasses.asdict(self.latency_ms), "count": self.count,
            "first_ms": self.first_ms, "init_ms": self.init_ms, "threads": self.threads,
            "power_mode": self.power_mode, "warmup": self.warmup, "repeats": self.repeats,
            "memory_mb": dataclasses.asdict(self.memory_mb),
            "device": {k: getattr(self.device, k) for k in ("brand", "model", "android_version", "api_level")},
            "ops_by_type": dict(self.ops_by_type) if self.ops_by_type is not None else None,
            "samples_ms": list(self.samples_ms) if self.samples_ms is not None else None,
            "cpu_usage_pct": self.cpu_usage_pct, "model": self.model_name, "model_path": self.model_path,
            "backend": self.backend, "lines": list(self.lines), "notes": list(self.notes), "extra": dict(self.extra),
        }
        return d


def to_measurement(parsed: ParsedRun, base: Measurement) -> Measurement:
    """Overlay a parsed run on a base record (what was asked: model, case, device, mask).

    The tool's figures replace the base's; settings the base leaves open (threads, power mode,
    warmup, repeats) are taken from the log; where the log disagrees with what was asked, the
    asked value stays and the tool's goes to ``extra["tool_reported"]``.
    """
    reported = {}
    settings: dict[str, Any] = {}
    for key in ("threads", "power_mode", "warmup", "repeats"):
        asked, seen = getattr(base, key), getattr(parsed, key)
        if asked is None:
            settings[key] = seen
        elif seen is not None and seen != asked:
            reported[key] = seen
    extra = dict(base.extra)
    extra.update({k: v for k, v in parsed.extra.items() if v is not None})
    if reported:
        extra["tool_reported"] = reported
    if parsed.notes:
        extra["parse_notes"] = list(parsed.notes)
    if parsed.cpu_usage_pct is not None:
        extra["cpu_usage_pct"] = parsed.cpu_usage_pct
    if parsed.backend is not None:
        extra["backend"] = parsed.backend
    memory = dataclasses.asdict(parsed.memory_mb)
    if base.cpu_mask is None and parsed.extra.get("cpu_mask"):  # a taskset mask seen in the echoed command
        settings["cpu_mask"] = parsed.extra["cpu_mask"]
    return replace(
        base, **settings, status=parsed.status, error=parsed.error, tool=parsed.tool,
        tool_version=parsed.tool_version or base.tool_version, latency_ms=parsed.latency_ms, count=parsed.count,
        first_ms=parsed.first_ms, init_ms=parsed.init_ms,
        memory_mb=memory if any(v is not None for v in memory.values()) else base.memory_mb,
        ops_by_type=parsed.ops_by_type if parsed.ops_by_type is not None else base.ops_by_type,
        samples_ms=parsed.samples_ms if parsed.samples_ms is not None else base.samples_ms, extra=extra,
    )


# ---------------------------------------------------------------------------------------------
# Shared log reading

NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
# Where a figure ends: a number glued to letters or a '[' ("12WARNING: ...", "7.2[W:onnxruntime:...]") is a line of
# stdout interrupted mid-number by a line of stderr (``2>&1`` of a tool that writes both), not the tool's figure.
END = r"(?=[\s,;)\]]|$)"
# A number, or the start of one, at the end of a line (the cut tail: digits, a point, an exponent begun).
NUM_TAIL = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d*)?"

# Android logcat, in each of `adb logcat -v`'s formats (liblog's logprint): time "07-08 15:33:55.768 I/tflite  ( 5395): ",
# threadtime "07-08 15:33:55.768  5395  5395 I tflite  : ", brief "I/tflite  ( 5395): ", tag "I/tflite  : ", thread
# "I( 5395: 5395) " and process "I( 5395) ... (tflite)" (its tag is a suffix: _LOGCAT_TAG_SUFFIX). The time may carry
# the year (-v year), more digits (usec, nsec) and a zone (-v zone: " +0800"), or be seconds (-v epoch, monotonic);
# -v uid puts the uid ("shell:", "10123:"; in threadtime "shell ") before the pid. -v long's "[ time pid:tid I/tag ]"
# header stands on a line of its own (_LOGCAT_HEADER), its message on the next.
_LOGCAT_TIME = r"(?:(?:\d{4}-)?\d\d-\d\d\s+\d\d:\d\d:\d\d\.\d+(?:\s+[+-]\d{4})?|\d+\.\d+)"
_LOGCAT_UID = r"(?:[\w.]+:\s*)?"
_LOGCAT = re.compile(
    rf"^(?:{_LOGCAT_TIME}\s+(?:[A-Za-z_][\w.]*\s+|\d+\s+(?=\d+\s+\d+\s))?(?=\d+\s+\d+\s)|"
    rf"(?={_LOGCAT_TIME}\s+[VDIWEFA]/)(?:{_LOGCAT_TIME}\s+))?(?:"
    r"\d+\s+\d+\s+[VDIWEFA]\s+[^:]*?\s*:\s?"
    rf"|[VDIWEFA]/[^(:]*?\s*\(\s*{_LOGCAT_UID}\d+\)\s*:\s?"
    rf"|[VDIWEFA]\(\s*{_LOGCAT_UID}\d+:\s*\d+\)\s"
    r"|[VDIWEFA]/[^\s(:]+\s*:\s)"
)
# -v process,uid with a numeric uid, "I(10123: 1234) message  (tflite)", has the thread format's head: the tag suffix
# at the end is what tells it (a thread-format line ends with the message itself).
_LOGCAT_PROCESS = re.compile(r"^[VDIWEFA]\(\s*(?:[A-Za-z_][\w.]*:\s*)?\d+\)\s|^[VDIWEFA]\(\s*\d+:\s*\d+\)\s(?=.*  \([^()]*\)$)")
_LOGCAT_TAG_SUFFIX = re.compile(r"  \([^()]*\)$")
_LOGCAT_HEADER = re.compile(rf"^\[\s*{_LOGCAT_TIME}\s+{_LOGCAT_UID}\d+:\s*\d+\s+[VDIWEFA]/[^\]]*\]$")
# Terminal escapes: colours and cursor moves (CSI: ORT's warnings in yellow and errors in red, `adb logcat -v color`,
# a shell's coloured prompt), OSC titles, and the two-character escapes.
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
# Paddle Lite's own logging "[I 10/13 11: 1:19. 51 .../program.h:216 ~RuntimeProgram]" and glog "I0708 15:33:55.768 12 f.cc:3]".
_GLOG = re.compile(r"^(?:\[[IWEF]\s+\d+/\s*\d+\s+[\d: .]+\s+\S+:\d+(?:\s+[^\]]*)?\]|[IWEF]\d{4}\s+[\d:.]+\s+\d+\s+\S+:\d+\])\s?")
_LEVEL = re.compile(r"^(INFO|WARN|WARNING|ERROR|VERBOSE|FATAL|DEBUG):\s?")
# LiteRT's logger puts the source location after the level: "INFO: [./litert/tools/benchmark_litert_model.h:88] ",
# "[.\\litert/tools/...h:57]" on Windows, "[benchmark_litert_model.h:92]" with clang's __FILE_NAME__.
_SOURCE = re.compile(r"^\[[^\]\s]+\.(?:h|hh|hpp|c|cc|cpp):\d+\]\s?")

# What a shell prints when the tool dies or cannot start: an error for every tool.
SHELL_ERROR = re.compile(
    r"(Segmentation fault|Aborted|Killed|Illegal instruction|Bus error|CANNOT LINK EXECUTABLE|"
    r"Permission denied|: not found|: inaccessible or not found|No such file or directory|"
    r"terminate called|libc\+\+abi: terminating|Fatal signal \d+)"
)


@dataclass(frozen=True)
class Line:
    """A log line with its prefixes (logcat, glog, ``INFO:``) removed; ``level`` keeps the level word."""

    no: int
    text: str
    level: str | None
    raw: str
    cut: str | None = None  # the number the text's last line ended in with no line break after it, taken off ``text``


# A number at the very end of a text with no line break after it may be a part of the number printed (the tool was
# killed with its output buffered, the log was cut at a size: "Inference (avg): 2" of 299438, "avg = 3" of 32.723,
# "overall=4" of 45.2); or the text was only saved without its last line break: the digits alone cannot tell. So the
# number is taken off the line (Line.cut keeps it) before any parser reads it: every figure of every tool is then
# either given by another line of the same run (TFLite's summary average by its stat line, ORT's by its total and
# count, an init time by the session line) or absent, and freeze says which line lost its number.
_CUT_NUMBER = re.compile(rf"(?<![\w.]){NUM_TAIL}$")


def lines_of(text: str) -> list[Line]:
    """Every line, 1-based, stripped of logcat/glog/level prefixes and surrounding whitespace."""
    return list(iter_lines(text.splitlines(keepends=True), ended=True))


def iter_lines(raw_lines: Iterable[str], *, ended: bool = False) -> Iterator[Line]:
    """lines_of of a text given as its lines (``str.splitlines()``'s, or a stream's), one at a time. ``ended``: the
    lines keep their line breaks (``splitlines(keepends=True)``), so a last line without one is known to be cut."""
    for no, raw in enumerate(raw_lines, 1):
        cut = None
        if ended:
            body = raw.rstrip("\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
            if body == raw:
                m = _CUT_NUMBER.search(body.rstrip("\x00"))
                cut = m.group(0) if m else None
            raw = body
        s = raw.replace("\x00", "")
        if "\x1b" in s:
            s = _ANSI.sub("", s)
        s = s.strip()
        if _LOGCAT_HEADER.match(s):
            s = ""
        elif _LOGCAT_PROCESS.match(s):
            s = _LOGCAT_TAG_SUFFIX.sub("", _LOGCAT_PROCESS.sub("", s, count=1))
        else:
            s = _LOGCAT.sub("", s, count=1)
        s = _GLOG.sub("", s, count=1)
        level = None
        m = _LEVEL.match(s)
        if m:
            level, s = m.group(1), s[m.end():]
        s = _SOURCE.sub("", s, count=1)
        if cut is not None:
            s = s[:len(s) - len(cut)] if s.endswith(cut) else s
        yield Line(no, s.strip(), level, raw, cut)


def num(text: str | None) -> float | None:
    """A finite float, or None (a mangled number must never become inf/nan in a record)."""
    if text is None:
        return None
    try:
        value = float(text)
    except (ValueError, OverflowError):
        return None
    return value if math.isfinite(value) else None


def whole(text: str | None) -> int | None:
    """A non-negative int of sane size, or None."""
    value = num(text)
    if value is None or value < 0 or value != int(value) or value > 1e12:
        return None
    return int(value)


def power_name(paddle_number: int | None) -> str | None:
    """Paddle Lite's --power_mode number -> the segbench name (0 -> 'high')."""
    for name, n in PADDLE_POWER_MODE.items():
        if n == paddle_number:
            return name
    return None


@dataclass(frozen=True)
class EchoedCommand:
    """A tool's command line echoed in a log (a shell prompt, a CI script): its taskset mask and arguments."""

    mask: str | None
    args: tuple[str, ...]


def echoed_command(text: str, tool: str) -> EchoedCommand | None:
    """The arguments after ``tool`` when a line runs it (``$ adb shell taskset f0 /d/benchmark_model --graph=..``).

    Only a line that executes the tool counts: after an optional prompt (anything up to ``$``, ``#``, ``>``
    or ``%``), each command of the line (``;``, ``&&``, ``|``) may start with launchers (``adb [-s X] shell``,
    ``taskset MASK``, ``env``, ``VAR=value``, ``nice``, ``time``, ``su -c``, ``sh -c "..."``) and then must
    be the tool itself (``/data/local/tmp/benchmark_model``, ``./benchmark_model_plus_flex``). A line that
    only names it (``adb push benchmark_model /data/local/tmp``, ``chmod +x``, an ``ls`` listing) is not a run.
    """
    if tool not in text or re.search(rf"{re.escape(tool)}\s*(?:version|:)", text):
        return None
    starts = [0] + [m.end() for m in re.finditer(r"[$#>%]\s*", text)]
    for start in starts:
        found = _command_in(text[start:], tool, depth=0)
        if found is not None:
            return found
    return None


_SEPARATORS = {";", "&&", "||", "|", "&"}
_PLAIN_LAUNCHERS = {"env", "time", "exec", "nohup", "command", "sudo", "busybox", "toybox"}


# A Windows path in an echoed command: a drive ("C:\\tools\\benchmark_model.exe") or a relative ".\\" start.
_WINDOWS_PATH = re.compile(r"(?<![\w])[A-Za-z]:\\|(?:^|[\s=>])\.{1,2}\\")


def _words(text: str) -> list[str]:
    """Shell words with ``;``/``&&``/``|`` as words of their own; a quote left open by a paste is closed."""
    import shlex

    for candidate in (text, text + '"', text + "'"):
        try:
            lexer = shlex.shlex(candidate, posix=True, punctuation_chars=";&|<>")
            lexer.whitespace_split = True
            if _WINDOWS_PATH.search(text):  # cmd.exe / PowerShell: a backslash is a path separator, not an escape
                lexer.escape = ""
            return list(lexer)
        except ValueError:
            continue
    return text.split()


def _command_in(text: str, tool: str, depth: int) -> EchoedCommand | None:
    segment: list[str] = []
    for word in [*_words(text), ";"]:
        if word in _SEPARATORS or (word and set(word) <= set(";&|")):
            found = _runs(segment, tool, depth)
            if found is not None:
                return found
            segment = []
        else:
            segment.append(word)
    return None


def _is_tool(word: str, tool: str) -> bool:
    base = re.split(r"[\\/]", word)[-1]
    if re.search(r"\.(?:tflite|onnx|ort|nb|pdmodel|txt|log|json|csv|raw|so)$", base, re.I):
        return False
    return re.fullmatch(rf"{re.escape(tool)}(?:[._-]\w+)*", base) is not None


def _runs(words: list[str], tool: str, depth: int) -> EchoedCommand | None:
    """The command this segment runs, if it is ``tool`` behind launchers."""
    mask = None
    i = 0
    while i < len(words):
        w = words[i]
        if _is_tool(w, tool):
            args = []
            for a in words[i + 1:]:
                if a and set(a) <= set("<>&|;0123456789") and any(c in a for c in "<>"):
                    if args and args[-1].isdigit():  # the "2" of 2>&1
                        args.pop()
                    break  # a redirection ends the arguments
                args.append(a)
            return EchoedCommand(mask, tuple(args))
        if w == "adb":
            i += 1
            while i < len(words) and words[i].startswith("-"):
                i += 2 if words[i] in ("-s", "-t", "-P", "-H", "-L") else 1
            if i >= len(words) or words[i] != "shell":
                return None
            i += 1
            while i < len(words) and words[i].startswith("-"):
                i += 1
            continue
        if w == "taskset":
            i += 1
            while i < len(words) and words[i] in ("-a", "-c", "--all-tasks", "--cpu-list"):
                i += 1
            if i < len(words) and re.fullmatch(r"(?:0x)?[0-9a-fA-F]+", words[i]):
                mask = words[i].lower().removeprefix("0x")
            i += 1
            continue
        if w in ("sh", "bash", "su", "/system/bin/sh") and depth < 3:
            rest = words[i + 1:]
            if "-c" in rest and rest.index("-c") + 1 < len(rest):
                inner = _command_in(rest[rest.index("-c") + 1], tool, depth + 1)
                return replace(inner, mask=inner.mask or mask) if inner is not None else None
            i += 1
            while i < len(words) and words[i] in ("0", "root", "shell", "-"):
                i += 1
            continue
        if w == "nice":
            i += 3 if i + 1 < len(words) and words[i + 1] == "-n" else 1
            continue
        if w in _PLAIN_LAUNCHERS or re.fullmatch(r"[A-Za-z_]\w*=.*", w):
            i += 1
            continue
        if " " in w.strip() and depth < 3:  # `adb shell "cd /d && ./tool ..."`: one quoted script
            inner = _command_in(w, tool, depth + 1)
            return replace(inner, mask=inner.mask or mask) if inner is not None else None
        return None
    return None


def marker_count(markers: re.Pattern[str], text: str) -> int:
    """How many lines of the text match a tool's marker pattern."""
    return sum(1 for ln in lines_of(text) if ln.text and markers.search(ln.text))


def looks_like(tool: ModuleType, text: str) -> bool:
    """Whether any line of the text is one only ``tool`` (a runner module) prints: its ``MARKERS``."""
    return marker_count(tool.MARKERS, text) > 0


class Draft:
    """A run being read. ``phase`` only grows within a run: a line from an earlier phase starts a new run."""

    def __init__(self, start: int) -> None:
        self.start = start
        self.end = start
        self.phase = -1
        self.values: dict[str, Any] = {}
        self.errors: list[str] = []
        self.notes: list[str] = []
        self.extra: dict[str, Any] = {}
        self.ops: dict[str, float] | None = None
        self.seen = False
        self.cut: tuple[int, str] | None = None  # (line number, its text) of a line whose last number was cut off

    def set(self, key: str, value: Any) -> None:
        if value is not None:
            self.values[key] = value

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    @property
    def empty(self) -> bool:
        return not self.seen


class Reader:
    """Cuts a tool's lines into runs by phase order and freezes each with ``finish``."""

    def __init__(self, finish: Callable[[Draft], ParsedRun], *, invocation: bool = False) -> None:
        self.finish = finish
        self.invocation = invocation
        self.runs: list[ParsedRun] = []
        self.draft = Draft(1)
        self.cut: tuple[int, str] | None = None  # the cut line seen, until the run it ends is flushed

    def at(self, phase: int, line: Line) -> Draft:
        """The run a line of this phase belongs to (a new one if the phase goes backwards)."""
        if phase < self.draft.phase and not self.draft.empty:
            self.flush()
            self.draft = Draft(line.no)
        self._enter(line)
        self.draft.phase = max(self.draft.phase, phase)
        return self.draft

    def command(self, line: Line) -> Draft:
        """An echoed command line: a new invocation, so a new run whatever the open one has seen."""
        if not self.draft.empty:
            self.flush()
            self.draft = Draft(line.no)
        return self.at(0, line)

    def touch(self, line: Line) -> Draft:
        """A line that belongs to whatever run is open (tables, notes)."""
        self._enter(line)
        return self.draft

    def error(self, line: Line, text: str, *, own: bool) -> None:
        """An error line. The tool's own failure lines (``own``) may start a run: a tool that fails at once
        prints nothing else. Any other error (a shell's ``No such file or directory``, ``adb: error:``, an
        unrelated program's ``Error:`` in a pasted session) only joins a run already open, so output around
        the benchmark never becomes a failed record of its own. In one invocation's own log every error is
        the tool's."""
        if self.draft.empty and not own and not self.invocation:
            return
        self.touch(line).errors.append(text[:500])

    def _enter(self, line: Line) -> None:
        if not self.draft.seen:
            self.draft.start, self.draft.seen = line.no, True
        self.draft.end = line.no

    def saw(self, line: Line) -> None:
        """Every line of the stretch, before the parser reads it: a line whose last number was cut off (the text's
        last line) belongs to the run open when the text ends, whether or not the parser makes anything of what is
        left of it ("avg   =")."""
        if line.cut is not None:
            self.cut = (line.no, line.raw.strip())

    def flush(self, *, last: bool = False) -> None:
        # (A run closed by the cut line itself, which starts the next one, is not the cut one.)
        if self.cut is not None and not self.draft.empty and (last or self.draft.end >= self.cut[0]):
            self.draft.cut, self.cut = self.cut, None
        if not self.draft.empty:
            self.runs.append(self.finish(self.draft))
        self.draft = Draft(self.draft.end + 1)

    def done(self) -> list[ParsedRun]:
        self.flush(last=True)
        return self.runs


def latency_of(values: dict[str, Any]) -> Latency:
    return Latency(**{k: values.get(k) for k in ("avg", "min", "max", "std", "median", "p90", "p95")})


def freeze(draft: Draft, runtime: str, tool: str, *, ok: bool, missing: str) -> ParsedRun:
    """Build the ParsedRun; a run without its result is failed with the tool's error (or ``missing``)."""
    v = draft.values
    if draft.cut is not None:
        # The number the text ended in was never read (iter_lines took it off): what the run shows comes from its
        # other lines. Said on the record either way, since a figure it lacks may be that one.
        no, text = draft.cut
        said = f"the log ends mid-number (line {no}: {text[-80:]!r}): that number is not taken as the tool's"
        draft.note(said + ("; every figure here comes from the run's other lines" if ok else ""))
        missing = f"{said}; {missing}"
    if ok:
        error = None
        for e in draft.errors:
            draft.note(f"tool said: {e}")
    else:
        # The first few distinct error lines: the cause is near the top, a usage dump is not worth keeping.
        error = "; ".join(list(dict.fromkeys(draft.errors))[:3]) if draft.errors else missing
    mem = LogMemory(v.get("mem_init"), v.get("mem_overall"), v.get("mem_peak"))
    dev = LogDevice(v.get("brand"), v.get("device_model"), v.get("android_version"), v.get("api_level"),
                    v.get("device_name"))
    samples = v.get("samples")
    return ParsedRun(
        runtime=runtime, tool=tool, status="ok" if ok else "failed", error=error, latency_ms=latency_of(v),
        count=v.get("count"), first_ms=v.get("first"), init_ms=v.get("init"), threads=v.get("threads"),
        power_mode=v.get("power_mode"), warmup=v.get("warmup"), repeats=v.get("repeats"), memory_mb=mem,
        device=dev, ops_by_type=dict(draft.ops) if draft.ops else None, tool_version=v.get("version"),
        samples_ms=tuple(samples) if samples else None, cpu_usage_pct=v.get("cpu"),
        model_path=v.get("model_path"), model_name=v.get("model_name") or model_name(v.get("model_path")),
        backend=v.get("backend"), lines=(draft.start, draft.end), notes=tuple(draft.notes), extra=dict(draft.extra),
    )


_GENERIC_MODEL_FILES = {"opt", "model", "inference", "__model__", "saved_model", "model_opt"}


def model_name(path: str | None) -> str | None:
    """A readable model name from a path: the file stem, or its directory for generic names (opt.nb)."""
    if not path:
        return None
    parts = [p for p in re.split(r"[\\/]", path.strip()) if p]
    if not parts:
        return None
    stem = re.sub(r"\.(nb|pdmodel|tflite|onnx|ort|pb)$", "", parts[-1])
    if (stem in _GENERIC_MODEL_FILES or not stem) and len(parts) > 1:
        return parts[-2]
    return stem or None


# ---------------------------------------------------------------------------------------------
# Tools segbench recognises but does not parse

FOREIGN: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("ncnn benchncnn", re.compile(
        r"^\s*(loop_count = \d+|num_threads = \d+|powersave = \d+|gpu_device = -?\d+|cooling_down = \d+)\s*$|"
        r"^\s*\S+\s+min =\s*[\d.]+\s+max =\s*[\d.]+\s+avg =\s*[\d.]+\s*$|benchncnn", re.M)),
    ("MNN benchmark.out", re.compile(
        r"^MNN benchmark\s*$|Benchmarking\.\.\. loop = |^\[ - \] \S+\s+max =\s*[\d.]+\s*ms|benchmark\.out", re.M)),
)


def foreign_tool(text: str) -> str | None:
    """The name of a benchmark tool segbench recognises but does not parse (ncnn, MNN), if the text is one."""
    best, hits = None, 0
    for name, pattern in FOREIGN:
        n = len(pattern.findall(text[:1_000_000]))
        if n > hits:
            best, hits = name, n
    return best


# ---------------------------------------------------------------------------------------------
# The registry

from segbench.runners import benchmark_bin, benchmark_model, onnxruntime_perf_test  # noqa: E402

TOOLS: tuple[ModuleType, ...] = (benchmark_bin, benchmark_model, onnxruntime_perf_test)


def tool_for_runtime(runtime: str) -> ModuleType:
    """The tool module that runs a runtime on a phone ("paddlelite" -> benchmark_bin)."""
    for tool in TOOLS:
        if tool.RUNTIME == runtime:
            return tool
    from segbench.errors import UsageError

    raise UsageError(f"no on-device tool for runtime {runtime!r}",
                     hint=f"use one of {', '.join(t.RUNTIME for t in TOOLS)}")


def detect(text: str) -> ModuleType | None:
    """The tool whose output this is (the one with the most marker lines), or None."""
    return Scan().read(iter_lines(text.splitlines(keepends=True), ended=True)).tool()


class Scan:
    """parse_any of a text read one line at a time, with what else is said of the text as a whole: how many
    lines carry each tool's markers (detect). Only the open run's state is held, never the text: a pasted
    session or a farm's concatenated logs of any length is read in memory of the order of one run.

    The text is cut into stretches by tool: a stretch ends where another tool's marker line begins; untagged
    lines stay with the tool before them (those before the first marker, with the first tool). Each stretch is
    read by its tool's parser (``parse_lines``) as it streams by."""

    def __init__(self) -> None:
        self.runs: list[ParsedRun] = []
        self.markers = [0] * len(TOOLS)  # lines that match each tool's MARKERS

    def read(self, lines: Iterable[Line]) -> Scan:
        it = iter(lines)
        head: list[Line] = []  # lines before the first marker: they join the first stretch
        tool: ModuleType | None = None
        for line in it:
            head.append(line)
            tool = self._tag(line)
            if tool is not None:
                break
        while tool is not None:
            stop: list[tuple[Line, ModuleType]] = []
            self.runs.extend(tool.parse_lines(self._stretch(head, it, tool, stop)))
            head, tool = ([stop[0][0]], stop[0][1]) if stop else ([], None)
        return self

    def tool(self) -> ModuleType | None:
        """detect: the tool with the most marker lines (the last of equals), or None."""
        best, i = max((n, i) for i, n in enumerate(self.markers))
        return TOOLS[i] if best > 0 else None

    def _stretch(self, head: list[Line], it: Iterator[Line], tool: ModuleType,
                 stop: list[tuple[Line, ModuleType]]) -> Iterator[Line]:
        """The stretch's lines: ``head``, then the stream's until a line of another tool (left in ``stop``)."""
        yield from head
        head.clear()
        for line in it:
            tag = self._tag(line)
            if tag is not None and tag is not tool:
                stop.append((line, tag))
                return
            yield line

    def _tag(self, line: Line) -> ModuleType | None:
        """The first tool whose marker the line carries, and every tool's marker counted."""
        if not line.text:
            return None
        tag = None
        for i, tool in enumerate(TOOLS):
            if tool.MARKERS.search(line.text):
                self.markers[i] += 1
                tag = tag or tool
        return tag


def parse_any(text: str) -> list[ParsedRun]:
    """Every run of every supported tool in the text, in order (line numbers refer to the whole text)."""
    return Scan().read(iter_lines(text.splitlines(keepends=True), ended=True)).runs


def parse_case_log(tool: ModuleType, text: str) -> ParsedRun:
    """The one run a single invocation produced: the last run in its log, or a failed record
    naming the log's last line when the tool printed nothing it recognises (a crash, garbage)."""
    runs = tool.parse_log(text, invocation=True)
    if runs:
        return runs[-1]
    last = next((ln.text for ln in reversed(lines_of(text)) if ln.text), None)
    error = f"no {tool.TOOL} output in the log" + (f" (last line: {last[:200]})" if last else " (it is empty)")
    return ParsedRun(runtime=tool.RUNTIME, tool=tool.TOOL, status="failed", error=error)
