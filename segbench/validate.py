"""Typed checks for every value segbench reads from a file, the environment or an option (a leaf: it imports errors
only, so every layer may use it).

A reader takes each value through ``want`` (``want_list`` for lists, ``item`` for a table's key), naming where the
value came from: a value of the wrong type or out of range is then one error line that names the file, the key and
what was expected, raised as the reader's error class, whose exit code is the documented one (UsageError, 2, for
suites and options; the data-file errors, 1, for manifests, run.json, results.jsonl and baselines). Never a
traceback from a ``TypeError`` deep in a report.
"""

from __future__ import annotations

import math
from typing import Any

from segbench.errors import SegbenchError

# A key the file does not have (TOML has no null; JSON's null is None).
MISSING: Any = type("Missing", (), {"__repr__": lambda self: "missing"})()

_NAMES = {str: ("a string", "strings"), int: ("a whole number", "whole numbers"), float: ("a number", "numbers"),
          bool: ("true or false", "true or false values"), dict: ("a table", "tables"), list: ("a list", "lists")}


def read_toml(path: Any, error: type[SegbenchError]) -> dict[str, Any]:
    """A TOML file's tables; one ``error`` line for a file that cannot be read or is not TOML."""
    from segbench.compat import tomllib

    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"cannot read {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{path} is not valid TOML: {exc}") from None


def shown(value: object) -> str:
    """A value as the error line shows it: its repr, cut short."""
    if value is None:
        return "null"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def expected(kind: type, minimum: float | None = None, maximum: float | None = None,
             choices: tuple[object, ...] | None = None, plural: bool = False, unit: str | None = None) -> str:
    if choices:
        return "one of " + ", ".join(map(str, choices))
    text = _NAMES[kind][1 if plural else 0] + (f" of {unit}" if unit else "")
    if minimum is not None and maximum is not None:
        return f"{text} from {_num(minimum)} to {_num(maximum)}"
    if minimum is not None:
        return f"{text} >= {_num(minimum)}"
    if maximum is not None:
        return f"{text} <= {_num(maximum)}"
    return text


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def of_kind(value: object, kind: type) -> bool:
    if kind is float:  # a finite int or float; not a bool, NaN or infinity
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def want(value: Any, kind: type, where: str, *, optional: bool = False, minimum: float | None = None,
         maximum: float | None = None, choices: tuple[object, ...] | None = None, nonempty: bool = False,
         unit: str | None = None, error: type[SegbenchError] = SegbenchError) -> Any:
    """``value`` if it is a ``kind`` (str, int, float: any finite number, bool, dict: a table, list) within
    ``minimum``/``maximum``/``choices``; None for a missing or null value when ``optional``. Anything else raises
    ``error("<where> must be <what>, not <value>")`` (``unit``: "a number of seconds")."""
    if optional and (value is None or value is MISSING):
        return None
    ok = of_kind(value, kind) and (choices is None or value in choices)
    if ok and kind in (int, float):
        ok = (minimum is None or value >= minimum) and (maximum is None or value <= maximum)
    if ok and nonempty and isinstance(value, str):
        ok = bool(value.strip())
    if not ok:
        what = expected(kind, minimum, maximum, choices, unit=unit)
        what = f"a non-empty {what[2:]}" if nonempty and kind is str else what
        raise error(f"{where} must be {what}, not {shown(value)}")
    return float(value) if kind is float else value


def want_list(value: Any, kind: type, where: str, *, optional: bool = False, minimum: float | None = None,
              maximum: float | None = None, choices: tuple[object, ...] | None = None, nonempty: bool = False,
              error: type[SegbenchError] = SegbenchError) -> list[Any] | None:
    """A list whose every element passes ``want`` (named ``where[i]``); None for a missing one when ``optional``."""
    if optional and (value is None or value is MISSING):
        return None
    if not isinstance(value, list):
        raise error(f"{where} must be a list of {expected(kind, minimum, maximum, choices, plural=True)}, "
                    f"not {shown(value)}")
    return [want(x, kind, f"{where}[{i}]", minimum=minimum, maximum=maximum, choices=choices, nonempty=nonempty,
                 error=error) for i, x in enumerate(value)]


def named(where: str, key: str) -> str:
    """``FILE: [[model]] 2`` and ``input_size`` -> ``FILE: [[model]] 2: input_size``; a ``where`` ending in a dot
    (``FILE: [[model]] 2: published.``) takes the key after it."""
    return f"{where}{key}" if where.endswith(".") else f"{where}: {key}"


def item(table: dict, key: str, kind: type, where: str, **checks: Any) -> Any:
    """``want(table[key], ...)`` named ``<where>: <key>`` (missing when the table has no such key)."""
    return want(table.get(key, MISSING), kind, named(where, key), **checks)


def items(table: dict, key: str, kind: type, where: str, **checks: Any) -> list[Any] | None:
    """``want_list(table[key], ...)`` named ``<where>: <key>``."""
    return want_list(table.get(key, MISSING), kind, named(where, key), **checks)


def want_mapping(value: Any, kind: type, where: str, *, optional: bool = False, null_values: bool = False,
                 keys_as: type = str, error: type[SegbenchError] = SegbenchError) -> dict[Any, Any] | None:
    """A table whose values are all ``kind`` (``null_values``: or null), keys made ``keys_as`` (int for CPU indices
    stored as JSON strings); None for a missing one when ``optional``."""
    if optional and (value is None or value is MISSING):
        return None
    want(value, dict, where, error=error)
    out = {}
    for k, v in value.items():
        if keys_as is int:
            if not (isinstance(k, str) and k.strip().isascii() and k.strip().isdigit()) and not of_kind(k, int):
                raise error(f"{where} keys must be whole numbers, not {shown(k)}")
            k = int(k)
        out[k] = want(v, kind, f"{where}[{k!r}]", optional=null_values, error=error)
    return out


def want_port(text: str, where: str, *, error: type[SegbenchError] = SegbenchError) -> int:
    """A TCP port given as text (an option, an environment variable): a whole number from 1 to 65535."""
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 65535:
        raise error(f"{where} must be a port number from 1 to 65535, not {shown(text)}")
    return int(text)
