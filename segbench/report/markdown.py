"""GitHub-flavoured markdown tables, written directly: the same text as tabulate's ``github`` format with
``disable_numparse`` (every cell a string, left-aligned; a column at least its header plus two wide), at a cost
that stays small for tables of 100,000 rows. Cells tabulate would measure otherwise (non-ASCII, whose display width
wcwidth decides, several lines, or spaces at either end, which it trims) are left to tabulate itself."""

from __future__ import annotations

from collections.abc import Sequence


def github_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    cells = [list(map(str, row)) for row in rows]
    heads = [str(h) for h in headers]
    if not _plain(heads) or not all(_plain(row) for row in cells):
        from tabulate import tabulate

        return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)
    widths = [len(h) + 2 for h in heads]
    for row in cells:
        for j, cell in enumerate(row):
            if len(cell) > widths[j]:
                widths[j] = len(cell)

    def line(values: Sequence[str]) -> str:
        return "| " + " | ".join(v.ljust(w) for v, w in zip(values, widths)) + " |"

    return "\n".join([line(heads), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, cells)])


def _plain(values: Sequence[str]) -> bool:
    return all(v.isascii() and v.isprintable() and v == v.strip() for v in values)
