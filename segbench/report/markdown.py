"""GitHub-flavoured markdown tables, written directly: the same text as tabulate's ``github`` format with
``disable_numparse`` (every cell a string, left-aligned; a column at least its header plus two wide), at a cost
that stays small for tables of a million rows: the checks are made a column at a time over its joined text, and
each line is one %-format; a table with columns given as ASCII bytes (numpy ``S``, as segbench.floattext writes
numbers: a report's large table) is laid out a block of rows at a time in one byte array instead (every cell at its
column's offset, the padding spaces and bars from a template row), with no Python call per cell. A table of text
alone needs no numpy (a small report imports none). Cells tabulate would measure otherwise (non-ASCII,
whose display width wcwidth decides, several lines, or spaces at either end, which it trims) are left to tabulate
itself."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Union

if TYPE_CHECKING:
    import numpy as np

_BLOCK = 20_000  # rows per piece (github_chunks)
Column = Union[Sequence[str], "np.ndarray"]  # text, or its ASCII bytes (numpy S)


def github_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    if rows and set(map(len, rows)) != {len(headers)}:
        from tabulate import tabulate

        return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)
    return github_columns(headers, [list(col) for col in zip(*rows)] if rows else [[] for _ in headers])


def github_columns(headers: Sequence[str], columns: Sequence[Column]) -> str:
    """github_table of the table given a column at a time (each as long as the others)."""
    return "".join(github_chunks(headers, columns))


def github_chunks(headers: Sequence[str], columns: Sequence[Column]) -> Iterator[str]:
    """github_columns' text in pieces: the header lines, then a block of rows at a time (a table of a million rows
    is written without holding its lines whole)."""
    heads = [str(h) for h in headers]
    texts = [col if _is_bytes(col) or set(map(type, col)) <= {str} else list(map(str, col)) for col in columns]
    if not plain(heads) or not all(_is_bytes(col) or plain(col) for col in texts):
        from tabulate import tabulate

        cells = [col.astype(str).tolist() if _is_bytes(col) else col for col in texts]
        yield tabulate(list(zip(*cells)), headers=headers, tablefmt="github", disable_numparse=True)
        return
    if not any(map(_is_bytes, texts)):  # text only (a small report's table: no numpy imported), a line per row
        widths = [max(len(h) + 2, max(map(len, col), default=0)) for h, col in zip(heads, texts)]
        yield _head(heads, widths)
        # "%-*s" pads as str.ljust does; a literal % in a cell is a value, never part of the template.
        template = "| " + " | ".join(f"%-{w}s" for w in widths) + " |"
        n = len(texts[0]) if texts else 0
        for start in range(0, n, _BLOCK):
            yield "\n" + "\n".join([template % row for row in zip(*(col[start:start + _BLOCK] for col in texts))])
        return
    yield from _byte_rows(heads, texts)


def _head(heads: Sequence[str], widths: Sequence[int]) -> str:
    return "| " + " | ".join(h.ljust(w) for h, w in zip(heads, widths)) + " |\n|" \
        + "|".join("-" * (w + 2) for w in widths) + "|"


def _byte_rows(heads: Sequence[str], texts: Sequence[Column]) -> Iterator[str]:
    """github_chunks of plain columns, some given as bytes: a block of rows laid out in one byte array."""
    import numpy as np

    arrays = [col if _is_bytes(col) else np.array(col, dtype="S") for col in texts]
    widths = [max(len(h) + 2, int(np.char.str_len(a).max()) if a.size else 0) for h, a in zip(heads, arrays)]
    yield _head(heads, widths)
    # Each row is "\n| cell | ... |": a template of that shape with blank cells, each column's bytes put at its
    # offset; numpy pads a shorter cell with NULs, which become the spaces that pad it.
    template = np.frombuffer(("\n| " + " | ".join(" " * w for w in widths) + " |").encode("ascii"), dtype=np.uint8)
    offsets = np.cumsum([3] + [w + 3 for w in widths[:-1]])
    n = len(arrays[0]) if arrays else 0
    for start in range(0, n, _BLOCK):
        rows = min(_BLOCK, n - start)
        block = np.empty((rows, template.size), dtype=np.uint8)
        block[:] = template
        for a, at, w in zip(arrays, offsets.tolist(), widths):
            part = np.ascontiguousarray(a[start:start + rows])
            size = min(part.dtype.itemsize, w)
            block[:, at:at + size] = part.view(np.uint8).reshape(rows, part.dtype.itemsize)[:, :size]
        block[block == 0] = ord(" ")
        yield block.tobytes().decode("ascii")


def _is_bytes(col: Column) -> bool:
    """A column given as ASCII bytes (a numpy S array: text made here, e.g. numbers, never needs checking)."""
    return getattr(col, "dtype", None) is not None and col.dtype.kind == "S"


def plain(values: Sequence[str]) -> bool:
    """Every value ASCII, printable and without a space at either end. Checked on the values' joined text: printable
    ASCII holds no other whitespace than the space, and a newline (not printable) separates them only here."""
    if not values:
        return True
    text = "\n".join(values)
    if not text.isascii() or text.count("\n") != len(values) - 1 or not text.replace("\n", "").isprintable():
        return False
    return not (text.startswith(" ") or text.endswith(" ") or " \n" in text or "\n " in text)
