"""pandas' ``DataFrame.to_csv(index=False)`` text, written a column at a time (a leaf).

pandas formats a frame for csv a block at a time (numpy's text of every float, then a Python list per row handed to
the csv module): most of a report's csv time at 100,000 rows. ``table`` writes the same text from columns of Python
values: each column's cells made at once (a missing value, None or NaN, as ""; a float as its repr, which is also
numpy's text of a float64; anything else as str() makes it, as the csv module does), a cell quoted when the csv
module would quote it (``_QUOTING``: asked of the csv module itself), and each line one join; ``chunks`` yields the
text a block of rows at a time, so that a table of a million rows is written without holding its text whole.
``frame`` does it for a DataFrame; a frame or a value it does not expect (another dtype, an odd object) is left to
pandas. tests/test_csvtext.py checks both against ``to_csv``."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from segbench.distinct import each_once

if TYPE_CHECKING:
    import pandas as pd

LINE = os.linesep  # to_csv's line terminator
_BLOCK = 20_000  # rows per chunk
# The values a cell is made of here; any other type (numpy scalars, pandas' NA, dates) goes through pandas.
_PLAIN = frozenset((str, float, int, bool, type(None), list))


def _writes(cell: str) -> str:
    """The csv module's text of one cell (to_csv's dialect; beside a second cell: a lone empty one is quoted)."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator=LINE).writerow((cell, ""))
    return buf.getvalue()[:-len(LINE) - 1]


# The characters that make the csv module quote a cell (the delimiter, the quote, the line terminator's; whether
# "\r" does depends on the Python version), asked of it once; a quoted cell is wrapped in quotes, its own doubled.
_QUOTING = tuple(c for c in dict.fromkeys(',"\r\n' + LINE) if _writes(f"a{c}b") != f"a{c}b")


def _quoted(cell: str) -> str:
    return '"' + cell.replace('"', '""') + '"'


def table(headers: Sequence[str], columns: Sequence[Sequence[Any]]) -> str:
    """``pd.DataFrame(dict(zip(headers, columns)), dtype=object).to_csv(index=False)``: each column a list of
    Python values (str, int, float, bool, None, list), of equal lengths."""
    return "".join(chunks(headers, columns))


def chunks(headers: Sequence[str], columns: Sequence[Sequence[Any]]) -> Iterator[str]:
    """table's text in pieces: the header line, then blocks of rows."""
    if not headers or not all(set(map(type, col)) <= _PLAIN for col in columns):
        import pandas as pd

        yield pd.DataFrame(dict(zip(headers, columns)), dtype=object).to_csv(index=False)
        return
    yield from _lines(headers, columns)


def frame(df: pd.DataFrame) -> str:
    """``df.to_csv(index=False)``."""
    return "".join(frame_chunks(df))


def frame_chunks(df: pd.DataFrame) -> Iterator[str]:
    """frame's text in pieces: the header line, then blocks of rows."""
    columns = _values(df)
    if columns is None:
        yield df.to_csv(index=False)
        return
    yield from _lines(list(df.columns), columns)


def _values(df: pd.DataFrame) -> list[Sequence[Any]] | None:
    """The frame's columns as the Python values to_csv writes (None where it writes ""): lists, or numpy arrays of
    numbers and bools (made Python values a block at a time); None for a frame of something else (then pandas
    writes it)."""
    import numpy as np
    import pandas as pd

    names = list(df.columns)
    if not len(df) or not names or len(set(names)) != len(names) or not all(type(n) is str for n in names):
        return None
    columns = []
    for name in names:
        s = df[name]
        dtype = s.dtype
        if dtype == np.float64 or (isinstance(dtype, np.dtype) and dtype.kind in "iub"):
            columns.append(s.to_numpy())  # floats (NaN: a float64's text is its repr), ints, bools
            continue
        if dtype != np.dtype(object) and not isinstance(dtype, pd.StringDtype):
            return None  # float32 (numpy's text is not the repr), nullable ints, dates, categories: pandas'
        values = s.tolist()  # objects; a str column's missing values as NaN
        if not set(map(type, values)) <= _PLAIN:
            return None
        for i in np.flatnonzero(pd.isna(s).to_numpy()).tolist():  # what pandas writes as ""
            values[i] = None
        columns.append(values)
    return columns


def _lines(headers: Sequence[str], columns: Sequence[Sequence[Any]]) -> Iterator[str]:
    buf = io.StringIO()
    csv.writer(buf, lineterminator=LINE).writerow(headers)
    yield buf.getvalue()
    n = len(columns[0])
    for start in range(0, n, _BLOCK):
        cells = [_cells(col[start:start + _BLOCK]) for col in columns]
        if len(cells) == 1:  # one column: an empty cell is a line of its own, which the csv module writes as ""
            cells = [['""' if c == "" else c for c in cells[0]]]
        yield LINE.join(map(",".join, zip(*cells))) + LINE


def _listed(values: Any) -> Sequence[Any]:
    """A block of a column as Python values (a numpy array's, as tolist makes them)."""
    return values.tolist() if hasattr(values, "tolist") else values


def _cells(values: Sequence[Any]) -> list[str]:
    """Each value's cell text, quoted where the csv module quotes it (a block of a column: a list of Python values,
    or a numpy array)."""
    if getattr(values, "dtype", None) == "float64":  # a float's repr, all at once (segbench.floattext); NaN as ""
        return _floats(values)
    values = _listed(values)
    kinds = set(map(type, values))
    if kinds <= {str}:
        cells = list(values)
    elif kinds <= {float}:
        return _floats(values)
    elif kinds <= {int, type(None)}:
        cells = each_once(values, _int)
    elif kinds <= {bool, type(None)}:
        cells = ["" if v is None else "True" if v else "False" for v in values]
    else:
        cells = [_cell(v) for v in values]
    text = "".join(cells)
    quoting = [c for c in _QUOTING if c in text]
    if not quoting:
        return cells
    return each_once(cells, lambda cell: _quoted(cell) if any(c in cell for c in quoting) else cell)


def _floats(values: Sequence[float]) -> list[str]:
    """Cells of floats: each one's repr, NaN as "" (no float's text holds a character that is quoted)."""
    import numpy as np

    from segbench.floattext import reprs

    a = np.asarray(values, dtype=np.float64)
    cells = reprs(a)
    for i in np.flatnonzero(np.isnan(a)).tolist():
        cells[i] = ""
    return cells


def _int(v: int | None) -> str:
    return "" if v is None else int.__repr__(v)


def _cell(v: Any) -> str:
    if type(v) is str:
        return v
    if v is None or (type(v) is float and v != v):
        return ""
    return repr(v) if isinstance(v, float) else str(v)
