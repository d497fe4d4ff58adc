"""The three flag grammars of the vendor tools, as their own parsers read argv.

- ``tflite``: TFLite/LiteRT ``benchmark_model`` (tflite/tools/command_line_flags.cc). Only ``--NAME=VALUE``
  matches a flag; anything else (``--num_threads 4``, ``-num_threads=4``, an unknown name) is left over and
  the tool warns "Unconsumed cmdline flags" and goes on. A value that does not parse is an error. Numbers are
  read as ``std::istringstream >> T`` does: a leading number is enough (``4x`` is 4).
- ``gflags``: Paddle Lite ``benchmark_bin`` (gflags). ``--NAME=VALUE``, ``-NAME=VALUE``, ``--NAME VALUE``;
  bools ``--NAME``, ``--noNAME``, ``--NAME=true|false|1|0|t|f|y|n|yes|no``. An unknown flag or a bad value is
  reported on stderr and the tool exits 1 before anything runs.
- ``absl``: onnxruntime_perf_test 1.23 (absl::ParseCommandLine). ``-NAME VALUE``, ``-NAME=VALUE`` and the same
  with ``--``; bools bare (``-s``), ``-s=false``, ``--nos``. No attached values (``-x4`` is the unknown flag
  ``x4``) and no bundling (``-sI`` is ``sI``). Non-flag arguments are positional, wherever they are.

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
# gflags

_GFLAGS_TRUE = ("true", "t", "yes", "y", "1")
_GFLAGS_FALSE = ("false", "f", "no", "n", "0")
_GFLAGS_TYPE = {"int32": "int32", "int": "int32", "double": "double", "float": "double", "bool": "bool",
                "string": "string", "size_t": "uint64"}


def _gflags_value(kind: str, text: str) -> tuple[bool, object]:
    if kind == "string":
        return True, text
    if kind == "bool":
        low = text.lower()
        return (low in _GFLAGS_TRUE + _GFLAGS_FALSE), low in _GFLAGS_TRUE
    if kind in ("double", "float"):
        try:
            value = float(text)
        except ValueError:
            return False, None
        return text.strip() == text and text != "", value
    m = re.fullmatch(r"([-+]?)(0[xX][0-9a-fA-F]+|\d+)", text)
    if m is None:
        return False, None
    value = int(m.group(2), 16 if m.group(2)[:2].lower() == "0x" else 10) * (-1 if m.group(1) == "-" else 1)
    lo, hi = _INTS.get(kind, INT32)
    return lo <= value <= hi, value


def _parse_dashed(argv: list[str], table: dict[str, str], value_of: Callable[[str, str], tuple[bool, object]],
                  unknown: Callable[[str], str], missing: Callable[[str, str], str],
                  illegal: Callable[[str, str, str], str]) -> Parsed:
    """The grammar gflags and absl share (``--name=value``, ``--name value``, ``-name``, ``--noname`` for a bool,
    ``--`` ending the flags); each library's own value parsing and error lines come in as functions."""
    out = Parsed()
    errors: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg == "--":
            out.positional += argv[i:]
            break
        if not arg.startswith("-") or arg == "-":
            out.positional.append(arg)
            continue
        body = arg[2:] if arg.startswith("--") else arg[1:]
        name, eq, value = body.partition("=")
        kind = table.get(name)
        if kind is None and name.startswith("no") and table.get(name[2:]) == "bool" and not eq:
            out.values[name[2:]] = False
            out.order.append(name[2:])
            continue
        if kind is None:
            errors.append(unknown(name))
            continue
        if not eq:
            if kind == "bool":
                value = "true"
            elif i < len(argv):
                value, i = argv[i], i + 1
            else:
                errors.append(missing(arg, name))
                continue
        ok, typed = value_of(kind, value)
        if not ok:
            errors.append(illegal(value, kind, name))
            continue
        out.values[name] = typed
        out.order.append(name)
    if errors:
        raise FlagStop(1, stderr="".join(e + "\n" for e in errors))
    return out


def parse_gflags(argv: list[str], table: dict[str, str]) -> Parsed:
    return _parse_dashed(
        argv, table, _gflags_value, lambda name: f"ERROR: unknown command line flag '{name}'",
        lambda arg, name: f"ERROR: flag '{arg}' is missing its argument; flag description: {name}",
        lambda value, kind, name: f"ERROR: illegal value '{value}' specified for {_GFLAGS_TYPE.get(kind, kind)} "
                                  f"flag '{name}'")


# ---------------------------------------------------------------------------------------------
# absl

_ABSL_TRUE = ("true", "t", "yes", "y", "1")
_ABSL_FALSE = ("false", "f", "no", "n", "0")
# absl's own flags: accepted by every absl program.
ABSL_BUILTIN = {"help": "bool", "helpfull": "bool", "helpshort": "bool", "helppackage": "bool", "version": "bool",
                "only_check_args": "bool", "flagfile": "string", "fromenv": "string", "tryfromenv": "string",
                "undefok": "string"}


def _absl_value(kind: str, text: str) -> tuple[bool, object]:
    if kind == "string":
        return True, text
    if kind == "bool":
        low = text.lower()
        return (low in _ABSL_TRUE + _ABSL_FALSE), low in _ABSL_TRUE
    if kind in ("double", "float"):
        try:
            return text.strip() != "", float(text)
        except ValueError:
            return False, None
    m = re.fullmatch(r"\s*([-+]?)(0[xX][0-9a-fA-F]+|\d+)\s*", text)
    if m is None:
        return False, None
    value = int(m.group(2), 0 if m.group(2)[:2].lower() == "0x" else 10) * (-1 if m.group(1) == "-" else 1)
    lo, hi = _INTS.get(kind, INT32)
    return lo <= value <= hi, value


def parse_absl(argv: list[str], table: dict[str, str]) -> Parsed:
    return _parse_dashed(
        argv, {**ABSL_BUILTIN, **table}, _absl_value, lambda name: f"ERROR: Unknown command line flag '{name}'",
        lambda arg, name: f"ERROR: Missing the value for the flag '{name}'",
        lambda value, kind, name: f"ERROR: Illegal value '{value}' specified for flag '{name}'")
