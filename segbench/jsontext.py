"""``json.dumps(obj, indent=2)``'s text, written faster (a leaf).

With an indent the standard library encodes in pure Python, a generator per value: a report's json of 100,000
rows spends most of its time there. ``dumps`` builds the same text by joining strings, with the C encoder's string
escaping; tests/test_jsontext.py checks it against json.dumps on generated documents."""

from __future__ import annotations

from collections.abc import Callable
from json.encoder import encode_basestring_ascii
from typing import Any

_INF = float("inf")


def dumps(obj: Any, default: Callable[[Any], Any] | None = None) -> str:
    """``json.dumps(obj, indent=2, default=default)`` (ensure_ascii, allow_nan, keys in their order)."""
    newlines = ["\n"]

    def nl(level: int) -> str:
        while len(newlines) <= level:
            newlines.append("\n" + "  " * len(newlines))
        return newlines[level]

    def enc(o: Any, level: int) -> str:
        t = type(o)
        if t is str:
            return encode_basestring_ascii(o)
        if o is None:
            return "null"
        if o is True:
            return "true"
        if o is False:
            return "false"
        if t is float:
            return _float(o)
        if t is int:
            return int.__repr__(o)
        if t is dict:
            return enc_dict(o, level)
        if t is list or t is tuple:
            return enc_list(o, level)
        if isinstance(o, str):
            return encode_basestring_ascii(o)
        if isinstance(o, int):
            return int.__repr__(o)
        if isinstance(o, float):
            return _float(o)
        if isinstance(o, (list, tuple)):
            return enc_list(o, level)
        if isinstance(o, dict):
            return enc_dict(o, level)
        if default is None:
            raise TypeError(f"Object of type {o.__class__.__name__} is not JSON serializable")
        return enc(default(o), level)

    def enc_list(o: list | tuple, level: int) -> str:
        if not o:
            return "[]"
        inner = nl(level + 1)
        return "[" + inner + ("," + inner).join([enc(v, level + 1) for v in o]) + nl(level) + "]"

    def enc_dict(o: dict, level: int) -> str:
        if not o:
            return "{}"
        inner = nl(level + 1)
        items = [encode_basestring_ascii(k if type(k) is str else _key(k)) + ": " + enc(v, level + 1)
                 for k, v in o.items()]
        return "{" + inner + ("," + inner).join(items) + nl(level) + "}"

    return enc(obj, 0)


def _float(o: float) -> str:
    if o != o:
        return "NaN"
    if o == _INF:
        return "Infinity"
    if o == -_INF:
        return "-Infinity"
    return float.__repr__(o)


def _key(k: Any) -> str:
    """A dict key as json writes it (keys become strings)."""
    if isinstance(k, str):
        return k
    if isinstance(k, float):
        return _float(k)
    if k is True:
        return "true"
    if k is False:
        return "false"
    if k is None:
        return "null"
    if isinstance(k, int):
        return int.__repr__(k)
    raise TypeError(f"keys must be str, int, float, bool or None, not {k.__class__.__name__}")
