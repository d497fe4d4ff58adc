"""GitHub-flavoured markdown tables, written directly: the same text as tabulate's ``github`` format with
``disable_numparse`` (every cell a string, left-aligned; a column at least its header plus two wide), at a cost
that stays small for tables of a million rows (the checks are made a column at a time over its joined text, each
line is one %-format). Cells tabulate would measure otherwise (non-ASCII, whose display width wcwidth decides,
several lines, or spaces at either end, which it trims) are left to tabulate itself."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

_BLOCK = 20_000  # rows per piece (github_chunks)


def github_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    if rows and set(map(len, rows)) != {len(headers)}:
        from tabulate import tabulate

        return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)
    return github_columns(headers, [list(col) for col in zip(*rows)] if rows else [[] for _ in headers])


def github_columns(headers: Sequence[str], columns: Sequence[Sequence[str]]) -> str:
    """github_table of the table given a column at a time (each as long as the others)."""
    return "".join(github_chunks(headers, columns))


def github_chunks(headers: Sequence[str], columns: Sequence[Sequence[str]]) -> Iterator[str]:
    """github_columns' text in pieces: the header lines, then a block of rows at a time (a table of a million rows
    is written without holding its lines whole)."""
    heads = [str(h) for h in headers]
    columns = [col if set(map(type, col)) <= {str} else list(map(str, col)) for col in columns]
    if not _plain(heads) or not all(map(_plain, columns)):
        from tabulate import tabulate

        yield tabulate(list(zip(*columns)), headers=headers, tablefmt="github", disable_numparse=True)
        return
    widths = [max(len(h) + 2, max(map(len, col), default=0)) for h, col in zip(heads, columns)]
    # "%-*s" pads as str.ljust does; a literal % in a cell is a value, never part of the template.
    template = "| " + " | ".join(f"%-{w}s" for w in widths) + " |"
    yield template % tuple(heads) + "\n|" + "|".join("-" * (w + 2) for w in widths) + "|"
    n = len(columns[0]) if columns else 0
    for start in range(0, n, _BLOCK):
        yield "\n" + "\n".join([template % row for row in zip(*(col[start:start + _BLOCK] for col in columns))])


def _plain(values: Sequence[str]) -> bool:
    """Every value ASCII, printable and without a space at either end. Checked on the values' joined text: printable
    ASCII holds no other whitespace than the space, and a newline (not printable) separates them only here."""
    if not values:
        return True
    text = "\n".join(values)
    if not text.isascii() or text.count("\n") != len(values) - 1 or not text.replace("\n", "").isprintable():
        return False
    return not (text.startswith(" ") or text.endswith(" ") or " \n" in text or "\n " in text)
