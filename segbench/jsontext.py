"""``json.dumps(obj, indent=2)``'s text, written faster (a leaf).

With an indent the standard library encodes in pure Python, a generator per value: a report's json of 100,000
rows spends most of its time there. ``dumps`` builds the same text by joining strings, with the C encoder's string
escaping; tests/test_jsontext.py checks it against json.dumps on generated documents. A table's rows can be given
as ``Rows`` (columns, not a dict per row): they are written as the list of dicts they stand for, a column's values
encoded at once (a column of floats can be given as ``Floats``, a numpy
array; texts that repeat are encoded once each) and each row made by one join of its pieces (a column of one text
throughout a block of rows is written into the text between the others), and ``chunks`` yields the text a block of
rows at a time, so that a report of a million rows is written without holding its text whole."""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from json.encoder import encode_basestring_ascii
from typing import TYPE_CHECKING, Any

from segbench.distinct import each_once

if TYPE_CHECKING:
    import numpy as np

_INF = float("inf")
_BLOCK = 20_000  # rows per chunk
_MARK = "\x00"  # around a Rows' number in the text of the rest: encoded strings escape it, never hold it raw


class Rows(Sequence[dict]):
    """Dicts with the same keys in the same order, held as one list of values per key (of equal lengths; with no
    keys there are no rows)."""

    def __init__(self, columns: Mapping[str, Sequence[Any]]) -> None:
        self.columns = dict(columns)
        lengths = {len(v) for v in self.columns.values()}
        if len(lengths) > 1:
            raise ValueError("columns of different lengths")
        self._n = lengths.pop() if lengths else 0

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self._n))]
        if not -self._n <= i < self._n:
            raise IndexError(i)
        return {k: v[i] for k, v in self.columns.items()}

    def __iter__(self) -> Iterator[dict]:
        keys = list(self.columns)
        return (dict(zip(keys, values)) for values in zip(*self.columns.values()))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and len(self) == len(other) and list(self) == list(other)


class Floats(Sequence["float | None"]):
    """A Rows column of float64 values (a numpy array) whose missing and non-finite values are null, as a table's
    json writes them: its values are floats and None, and its json text is made at once (floattext)."""

    def __init__(self, values: np.ndarray) -> None:
        import numpy as np

        self.array = np.asarray(values, dtype=np.float64)

    def __len__(self) -> int:
        return len(self.array)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return Floats(self.array[i])
        v = float(self.array[i])
        return v if v - v == 0.0 else None  # NaN and the infinities: null

    def __iter__(self) -> Iterator[float | None]:
        return (v if v - v == 0.0 else None for v in self.array.tolist())

    def texts(self) -> list[str]:
        import numpy as np

        from segbench.floattext import reprs

        texts = reprs(self.array)
        for i in np.flatnonzero(~np.isfinite(self.array)).tolist():
            texts[i] = "null"
        return texts


def dumps(obj: Any, default: Callable[[Any], Any] | None = None) -> str:
    """``json.dumps(obj, indent=2, default=default)`` (ensure_ascii, allow_nan, keys in their order)."""
    return "".join(chunks(obj, default))


def chunks(obj: Any, default: Callable[[Any], Any] | None = None) -> Iterator[str]:
    """dumps' text in pieces: ``Rows`` a block of rows at a time, the rest whole."""
    newlines = ["\n"]
    tables: list[tuple[Rows, int]] = []

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
        if t is Rows:
            if not outer:  # Rows in a Rows' cell: written in place
                return "".join(enc_rows(o, level))
            tables.append((o, level))
            return f"{_MARK}{len(tables) - 1}{_MARK}"
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

    def enc_column(values: Sequence[Any], level: int) -> list[str]:
        if type(values) is Floats:
            return values.texts()
        kinds = set(map(type, values))
        if kinds <= {str}:
            return each_once(values, encode_basestring_ascii)
        if kinds <= {type(None)}:  # a column no row has a value in (mIoU of a latency-only report)
            return ["null"] * len(values)
        if kinds <= {bool, type(None)}:
            return ["null" if v is None else "true" if v else "false" for v in values]
        if kinds <= {list}:  # lists of text (run ids): each one join
            inner, sep, end = nl(level + 1), "," + nl(level + 1), nl(level) + "]"
            if set(map(len, values)) == {1}:  # one text each (a row of one run): each distinct one written once
                firsts = list(map(operator.itemgetter(0), values))
                if set(map(type, firsts)) == {str}:
                    return each_once(firsts, lambda v: "[" + inner + encode_basestring_ascii(v) + end)
            try:
                return ["[" + inner + sep.join(map(encode_basestring_ascii, v)) + end if v else "[]" for v in values]
            except TypeError:  # an item that is not text
                return [enc(v, level) for v in values]
        if kinds <= {float, type(None)}:
            return float_texts(values)
        if kinds <= {int, type(None)}:
            return each_once(values, _int)
        return [enc(v, level) for v in values]

    def enc_rows(rows: Rows, level: int) -> Iterator[str]:
        if not len(rows):
            yield "[]"
            return
        inner = nl(level + 2)
        keys = [encode_basestring_ascii(k if type(k) is str else _key(k)) for k in rows.columns]
        yield "[" + nl(level + 1)
        for start in range(0, len(rows), _BLOCK):
            n = len(range(start, min(start + _BLOCK, len(rows))))
            block = [enc_column(v[start:start + _BLOCK], level + 2) for v in rows.columns.values()]
            # Each row is one join of its pieces: the text between two varying columns (keys, and any column of
            # one text throughout the block, a runtime or a status, written there once) and the varying columns'
            # texts. zip and join make a row in C: no format string parsed per row.
            pieces: list[Iterable[str]] = []
            between = "{" + inner if keys else "{"
            for i, (key, texts) in enumerate(zip(keys, block)):
                between += ("," + inner if i else "") + key + ": "
                if texts.count(texts[0]) == len(texts):
                    between += texts[0]
                else:
                    pieces += [itertools.repeat(between), texts]
                    between = ""
            between += nl(level + 1) + "}" if keys else "}"
            texts = list(map("".join, zip(*pieces, itertools.repeat(between)))) if pieces else [between] * n
            yield ("," + nl(level + 1) if start else "") + ("," + nl(level + 1)).join(texts)
        yield nl(level) + "]"

    outer = True  # encoding the document around its Rows (each left as a mark, written after)
    text = enc(obj, 0)
    outer = False
    if not tables:
        yield text
        return
    for i, part in enumerate(text.split(_MARK)):
        if i % 2:
            yield from enc_rows(*tables[int(part)])
        elif part:
            yield part


def float_texts(values: Sequence[float | None]) -> list[str]:
    """Each value's json text: float.__repr__'s for the finite ones, all at once (segbench.floattext), the few
    others (None, NaN, infinities) one by one."""
    import numpy as np

    from segbench.floattext import reprs

    a = np.array(values, dtype=np.float64)  # None as NaN
    texts = reprs(a)
    for i in np.flatnonzero(~np.isfinite(a)).tolist():
        texts[i] = "null" if values[i] is None else _float(values[i])
    return texts


def _int(o: int | None) -> str:
    return "null" if o is None else int.__repr__(o)


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
