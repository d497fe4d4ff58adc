"""The three flag grammars of the vendor tools, as their own parsers read argv.

- ``tflite``: TFLite/LiteRT ``benchmark_model`` (tflite/tools/command_line_flags.cc). Only ``--NAME=VALUE``
  matches a flag; anything else (``--num_threads 4``, ``-num_threads=4``, an unknown name) is left over and
  the tool warns "Unconsumed cmdline flags" and goes on. A value that does not parse is an error. Numbers are
  read as ``std::istringstream >> T`` does: a leading number is enough (``4x`` is 4).
- ``gflags``: Paddle Lite ``benchmark_bin`` (gflags). ``--NAME=VALUE``, ``-NAME=VALUE``, ``--NAME VALUE``;
  bools ``--NAME``, ``--noNAME``, ``--NAME=true|false|1|0|t|f|y|n|yes|no``. An unknown flag or a bad value is
  reported on stderr (sorted by flag name, a flag missing its value with its help text) and the tool exits 1
  before anything runs; the help flags act first.
- ``absl``: onnxruntime_perf_test 1.23 (absl::ParseCommandLine). ``-NAME VALUE``, ``-NAME=VALUE`` and the same
  with ``--``; bools bare (``-s``), ``-s=false``, ``--nos``. No attached values (``-x4`` is the unknown flag
  ``x4``) and no bundling (``-sI`` is ``sI``). Non-flag arguments are positional, wherever they are. Bad values
  are reported as met, unknown names after them with absl's "Did you mean" suggestions; exit 1.

Each parser takes a table ``name -> type`` (``string``, ``bool``, ``int32``, ``int``, ``size_t``, ``float``,
``double``) and returns the values given, as typed Python values; a failure raises :class:`FlagStop`
with what the real parser prints and its exit status.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

INT32 = (-(2 ** 31), 2 ** 31 - 1)
_INTS = {"int32": INT32, "int": INT32, "int64": (-(2 ** 63), 2 ** 63 - 1), "size_t": (0, 2 ** 64 - 1)}


@dataclass
class FlagStop(Exception):
    """The tool stops here: ``stdout``/``stderr`` as it prints them, then ``code`` (134 = abort)."""

    code: int
    stderr: str = ""
    stdout: str = ""

    def emit(self) -> int:
        import os

        if self.stdout:
            sys.stdout.write(self.stdout)
        sys.stdout.flush()
        if self.stderr:
            sys.stderr.write(self.stderr)
        sys.stderr.flush()
        if self.code == 134:
            os.abort()
        return self.code


@dataclass
class Parsed:
    values: dict[str, object] = field(default_factory=dict)  # flags given, typed
    order: list[str] = field(default_factory=list)  # names in the order given
    leftover: list[str] = field(default_factory=list)  # tflite: unconsumed arguments
    positional: list[str] = field(default_factory=list)  # absl/gflags: non-flag arguments
    errors: list[str] = field(default_factory=list)  # tflite: flags whose value did not parse


# ---------------------------------------------------------------------------------------------
# TFLite


_STREAM_INT = re.compile(r"\s*([-+]?\d+)")
_STREAM_FLOAT = re.compile(r"\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)")


def _stream_read(kind: str, text: str) -> tuple[bool, object]:
    """``istringstream >> T`` then the tool's check ``!eof && !good`` is a failure."""
    if kind == "bool":
        return (text in ("true", "false", "1", "0")), text in ("true", "1")
    if kind == "string":
        return True, text
    m = (_STREAM_FLOAT if kind in ("float", "double") else _STREAM_INT).match(text)
    if m is None:
        # Nothing read: the stream failed; at end of input (empty or blank) the eof bit makes it pass.
        return text.strip() == "", 0
    if kind in ("float", "double"):
        return True, float(m.group(1))
    lo, hi = _INTS.get(kind, INT32)
    return True, min(max(int(m.group(1)), lo), hi)  # an overflow saturates (failbit at eof passes)


def parse_tflite(argv: list[str], table: dict[str, str]) -> Parsed:
    """Each flag takes the first ``--NAME=`` argument; the rest are unconsumed; bad values are errors."""
    out = Parsed()
    used = [False] * len(argv)
    for name, kind in table.items():
        prefix = f"--{name}="
        for i, arg in enumerate(argv):
            if used[i] or not arg.startswith(prefix):
                continue
            used[i] = True
            ok, value = _stream_read(kind, arg[len(prefix):])
            if ok:
                out.values[name] = value
                out.order.append(name)
            else:
                out.errors.append(f"Failed to parse flag '{name}' against argv '{arg}'")
            break
    out.leftover = [a for a, u in zip(argv, used) if not u]
    return out


# ---------------------------------------------------------------------------------------------
# gflags and absl: one grammar, two libraries

# What C's isspace skips before a number (strtol, strtod).
_CSPACE = " \t\n\v\f\r"
_HEX_FLOAT = r"0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][-+]?\d+)?"
_DEC_FLOAT = r"(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_SPECIAL_FLOAT = r"(?i:inf(?:inity)?|nan(?:\([0-9A-Za-z_]*\))?)"


def _c_double(text: str, hex_ok: bool) -> tuple[bool, float]:
    """A whole-string decimal (or, for strtod, hexadecimal) floating number with C's words for infinity and NaN;
    a finite number out of double's range is refused (strtod's ERANGE, from_chars' out of range)."""
    forms = [_DEC_FLOAT, _SPECIAL_FLOAT] + ([_HEX_FLOAT] if hex_ok else [])
    m = re.fullmatch(r"([-+]?)(" + "|".join(forms) + ")", text)
    if m is None:
        return False, 0.0
    body = m.group(2)
    if re.fullmatch(_SPECIAL_FLOAT, body):
        value = float("nan") if body.lower().startswith("nan") else float("inf")
    else:
        value = float.fromhex(body) if body[:2].lower() == "0x" else float(body)
        digits = re.sub(r"[eEpP].*", "", body[2:] if body[:2].lower() == "0x" else body)
        if value in (float("inf"), 0.0) and (value or re.search(r"[1-9a-fA-F]", digits)):
            return False, 0.0  # overflow, or a non-zero number that underflowed
    return True, -value if m.group(1) == "-" else value


@dataclass(frozen=True)
class _Problem:
    key: str  # the name the library files it under
    line: str  # what it prints, without the newline
    unknown: bool = False  # an unknown name (absl reports those after the bad values)


def _scan_dashed(argv: list[str], table: dict[str, str], on_flag: Callable[..., object], out: Parsed) -> None:
    """The grammar gflags and absl share: ``-name``/``--name``, ``=value`` or the next argument, ``--noname``
    (looked up when ``noname`` is no flag), ``--`` ending the flags, anything else positional. For each flag
    argument ``on_flag(arg, given, name, kind, negative, value, next_value)`` decides; it returns ``"next"`` when
    it took the next argument as the value and ``"stop"`` to end parsing."""
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg == "--":
            out.positional += argv[i:]
            return
        if not arg.startswith("-") or arg == "-":
            out.positional.append(arg)
            continue
        body = arg[2:] if arg.startswith("--") else arg[1:]
        given, eq, value = body.partition("=")
        name, kind, negative = given, table.get(given), False
        if kind is None and given.startswith("no") and given[2:] in table:
            name, kind, negative = given[2:], table[given[2:]], True
        step = on_flag(arg, given, name, kind, negative, value if eq else None,
                       argv[i] if i < len(argv) else None)
        if step == "next":
            i += 1
        elif step == "stop":
            return


def _set(out: Parsed, name: str, value: object) -> None:
    out.values[name] = value
    out.order.append(name)


# ---------------------------------------------------------------------------------------------
# gflags (gflags.cc, the release Paddle Lite v2.12 vendors)

_GFLAGS_TRUE = ("true", "t", "yes", "y", "1")
_GFLAGS_FALSE = ("false", "f", "no", "n", "0")
_GFLAGS_TYPE = {"int32": "int32", "int": "int32", "double": "double", "float": "double", "bool": "bool",
                "string": "string", "size_t": "uint64"}
# gflags' own flags, defined in every gflags program, with their help text (printed when one lacks its value).
GFLAGS_BUILTIN = {"flagfile": "string", "fromenv": "string", "tryfromenv": "string", "undefok": "string",
                  "tab_completion_word": "string", "tab_completion_columns": "int32", "help": "bool",
                  "helpfull": "bool", "helpshort": "bool", "helpon": "string", "helpmatch": "string",
                  "helppackage": "bool", "helpxml": "bool", "version": "bool"}
GFLAGS_BUILTIN_HELP = {  # gflags' own flags, described in our words (the real library prints its own text)
    "flagfile": "read more flags from this file",
    "fromenv": "take these flags' values from FLAGS_<name> environment variables",
    "tryfromenv": "take these flags' values from the environment where set",
    "undefok": "flag names that may be given although the program does not define them (use name=value)",
    "tab_completion_word": "complete this word as a flag name for the shell, then exit",
    "tab_completion_columns": "output width for tab completion",
    "helpon": "show help for the named modules",
    "helpmatch": "show help for modules whose name contains this text"}
# The help flags gflags acts on after parsing and before it reports errors (all exit 1 but --version, 0).
GFLAGS_HELP = ("helpshort", "help", "helpfull", "helpon", "helpmatch", "helppackage", "helpxml")


def _gflags_value(kind: str, text: str) -> tuple[bool, object]:
    if kind == "string":
        return True, text
    if kind == "bool":
        low = text.lower()
        return (low in _GFLAGS_TRUE + _GFLAGS_FALSE), low in _GFLAGS_TRUE
    if text == "":
        return False, None
    if kind in ("double", "float"):  # strtod, the whole value
        return _c_double(text.lstrip(_CSPACE), hex_ok=True)
    # strtoll: base 16 only when the value itself starts with 0x (not ' 0x', not '-0x'); spaces and a sign before
    # a decimal number are taken; an unsigned flag refuses a '-' after the spaces.
    if text[:2].lower() == "0x":
        m = re.fullmatch(r"0[xX]([0-9a-fA-F]+)", text)
        value = int(m.group(1), 16) if m else None
    else:
        m = re.fullmatch(r"([-+]?\d+)", text.lstrip(_CSPACE))
        value = int(m.group(1)) if m else None
        if kind == "size_t" and text.lstrip(" ").startswith("-"):
            value = None
    lo, hi = _INTS.get(kind, INT32)
    return value is not None and lo <= value <= hi, value


def parse_gflags(argv: list[str], table: dict[str, str], helps: dict[str, str] | None = None,
                 usage: str = "", version: str = "") -> Parsed:
    """gflags::ParseCommandLineFlags. Errors are filed by flag name (a later one for the same name replaces the
    earlier) and printed sorted by name; a non-bool flag with no value left ends parsing; the help flags act
    before the errors are reported (``usage`` on stdout, exit 1; --version prints ``version``, exit 0); names
    in --undefok are no error. ``helps`` gives each flag's help text for the missing-value message."""
    table = {**GFLAGS_BUILTIN, **table}
    helps = {**GFLAGS_BUILTIN_HELP, **(helps or {})}
    out, problems, unknown = Parsed(), {}, set()

    def on_flag(arg, given, name, kind, negative, value, next_value):
        if kind is None:
            unknown.add(given)
            problems[given] = f"ERROR: unknown command line flag '{given}'"
            return None
        if negative and kind != "bool":
            unknown.add(given)
            problems[given] = (f"ERROR: boolean value ({given}) specified for {_GFLAGS_TYPE.get(kind, kind)} "
                               "command line flag")
            return None
        step = None
        if negative:
            value = "0"  # --noNAME=anything is --noNAME
        elif value is None and kind == "bool":
            value = "1"
        elif value is None:
            if next_value is None:
                problems[name] = f"ERROR: flag '{arg}' is missing its argument" + (
                    f"; flag description: {helps[name]}" if helps.get(name) else "")
                return "stop"
            value, step = next_value, "next"
        ok, typed = _gflags_value(kind, value)
        if ok:
            _set(out, name, typed)
        else:
            problems[name] = (f"ERROR: illegal value '{value}' specified for {_GFLAGS_TYPE.get(kind, kind)} "
                              f"flag '{name}'")
        return step

    _scan_dashed(argv, table, on_flag, out)
    for name in GFLAGS_HELP:
        if out.values.get(name):
            raise FlagStop(1, stdout=usage)
    if out.values.get("version"):
        raise FlagStop(0, stdout=version)
    for name in (n for n in str(out.values.get("undefok", "")).split(",") if n):  # as given, else its --no form
        problems.pop(name if name in unknown else f"no{name}" if f"no{name}" in unknown else "", None)
    if problems:
        raise FlagStop(1, stderr="".join(problems[k] + "\n" for k in sorted(problems)))
    return out


# ---------------------------------------------------------------------------------------------
# absl (absl/flags/parse.cc, the releases onnxruntime 1.23 builds with: 20240722 and 20250512 read alike)

_ABSL_TRUE = ("true", "t", "yes", "y", "1")
_ABSL_FALSE = ("false", "f", "no", "n", "0")
# The flags absl's parse.cc registers in every program (lists of strings), beside the program's own.
ABSL_BUILTIN = {"flagfile": "string", "fromenv": "string", "tryfromenv": "string", "undefok": "string"}
# Usage flags: absl reads them by name (any value, never an error) and they are no registered flags.
ABSL_USAGE = ("help", "helpfull", "helpshort", "helppackage", "helpon", "helpmatch", "version", "only_check_args")
_ABSL_SPACE = " \t\n\v\f\r"


def _absl_value(kind: str, text: str) -> tuple[bool, object]:
    if kind == "string":
        return True, text
    text = text.strip(_ABSL_SPACE)
    if kind == "bool":
        low = text.lower()
        return (low in _ABSL_TRUE + _ABSL_FALSE), low in _ABSL_TRUE
    if kind in ("double", "float"):  # SimpleAtod: one leading '+' allowed, no hexadecimal
        body = text[1:] if text.startswith("+") and not text.startswith("+-") else text
        return _c_double(body, hex_ok=False) if body else (False, None)
    m = re.fullmatch(r"([-+]?)(?:0[xX]([0-9a-fA-F]+)|(\d+))", text)
    if m is None or (kind == "size_t" and m.group(1) == "-"):
        return False, None
    value = int(m.group(2), 16) if m.group(2) else int(m.group(3))
    value = -value if m.group(1) == "-" else value
    lo, hi = _INTS.get(kind, INT32)
    return lo <= value <= hi, value


def _osa_distance(a: str, b: str) -> int:
    """Edit distance with adjacent transpositions, no substring edited twice (absl's misspelling metric)."""
    d = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        d[i][0] = i
    for j in range(len(b) + 1):
        d[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]


def absl_hints(name: str, table: dict[str, str], undefok: list[str]) -> list[str]:
    """The names absl suggests for an unknown flag: the registered flags by name (each bool also as noNAME),
    then --undefok's names, keeping those at the smallest distance. absl starts its best distance one above
    its cutoff (min(len/2 + 1, 3)), so a name just past the cutoff is still suggested when nothing is closer."""
    best, hints = min(len(name) // 2 + 1, 3) + 1, []
    candidates = []
    for flag in sorted({**ABSL_BUILTIN, **table}):
        candidates.append(flag)
        if table.get(flag) == "bool":
            candidates.append(f"no{flag}")
    candidates += [f"{n} (undefok)" for n in undefok]
    for candidate in candidates:
        distance = _osa_distance(name, candidate.removesuffix(" (undefok)"))
        if distance == best:
            hints.append(candidate)
        elif distance < best:
            best, hints = distance, [candidate]
    return hints


def parse_absl(argv: list[str], table: dict[str, str], usage: str = "", version: str = "") -> Parsed:
    """absl::ParseCommandLine. A bad value is reported where it is met (absl then still parses the empty value
    it fell back to, which can add a second line); unknown names come after, with absl's suggestions, unless
    --undefok lists them; any error exits 1. --help and its kin print ``usage`` (stdout, or stderr after a bad
    value) and exit 1; --version prints ``version`` and --only_check_args nothing, both exit 0."""
    table = {**ABSL_BUILTIN, **table}
    out, lines, unknown, modes, failed_flags = Parsed(), [], [], [], []

    def on_flag(arg, given, name, kind, negative, value, next_value):
        if kind is None:
            if given in ABSL_USAGE:
                modes.append(given)
            else:
                unknown.append(given)
            return None
        step, failed = None, False
        if kind == "bool":
            if value == "":
                lines.append(f"ERROR: Missing the value after assignment for the boolean flag '{name}'")
                failed = True
            elif value is None:
                value = "0" if negative else "1"
            elif negative:
                lines.append(f"ERROR: Negative form with assignment is not valid for the boolean flag '{name}'")
                value, failed = "", True
        elif negative:
            lines.append(f"ERROR: Negative form is not valid for the flag '{name}'")
            value, failed = "", True
        elif value is None:
            if next_value is None:
                lines.append(f"ERROR: Missing the value for the flag '{name}'")
                value, failed = "", True
            else:
                value, step = next_value, "next"
        ok, typed = _absl_value(kind, value)
        if ok:
            _set(out, name, typed)
        else:
            lines.append(f"ERROR: Illegal value '{value}' specified for flag '{name}'")
        if failed or not ok:
            failed_flags.append(name)
        return step

    _scan_dashed(argv, table, on_flag, out)
    undefok = [n for n in str(out.values.get("undefok", "")).split(",") if n]
    unknown = [n for n in unknown if n not in undefok and not (n.startswith("no") and n[2:] in undefok)]
    unknown_lines = []
    for name in unknown:
        hints = absl_hints(name, table, undefok)
        unknown_lines.append(f"ERROR: Unknown command line flag '{name}'" +
                             (f". Did you mean: {', '.join(hints)} ?" if hints else ""))
    mode = modes[-1] if modes else None
    quiet = mode in (None, "version", "only_check_args")
    shown = "" if mode is None else version if mode == "version" else "" if mode == "only_check_args" else usage
    if failed_flags:  # bad values as met, the usage (on stderr now) if asked, then the unknown names; exit 1
        raise FlagStop(1, stderr="".join(ln + "\n" for ln in lines) + ("" if quiet else shown) +
                       "".join(ln + "\n" for ln in unknown_lines))
    if unknown:
        raise FlagStop(1, stdout=shown, stderr="".join(ln + "\n" for ln in unknown_lines))
    if mode:
        raise FlagStop(0 if mode in ("version", "only_check_args") else 1, stdout=shown)
    return out
