"""A report as data (titled tables, notes, footer, plots) and its five renderings.

Every table is built once as a Section (display cells plus machine records), then rendered as
markdown, csv, json, html or latex, so the formats cannot drift apart. Source markers in display
cells are written ``[n]`` (a footnote number); html and latex turn them into superscripts.
"""

from __future__ import annotations

import base64
import html
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPORT_SCHEMA = "segbench.report/1"
MARKER = re.compile(r" \[(\d+)\]")
CODE = re.compile(r"`([^`]+)`")  # markdown's inline code (`segbench inspect`, run ids) in notes and footers
NUMERIC = re.compile(r"^[-+(]?(\d|\.\d)")  # a cell that starts with a number: 0.335 [1], 1.00x, 36.70 (+1.7)


def numeric_columns(s: Section) -> list[bool]:
    """Per column: True when every non-empty cell starts with a number (right-aligned), else text (left)."""
    out = []
    for i in range(len(s.headers)):
        cells = [row[i].strip() for row in s.rows if i < len(row) and row[i].strip()]
        out.append(bool(cells) and all(NUMERIC.match(c) for c in cells))
    return out


@dataclass(frozen=True)
class Section:
    key: str  # json key and csv block name: comparison, sweep, ops, cases, published
    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    # machine values (csv, json): unrounded, sources in their own fields; a large table's as jsontext.Rows (columns)
    records: Sequence[dict[str, Any]] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Document:
    title: str
    sections: tuple[Section, ...]
    footer: tuple[str, ...] = ()
    runs: tuple[dict[str, Any], ...] = ()
    plots: tuple[Path, ...] = field(default=())  # PNGs embedded by the html rendering


def render(doc: Document, fmt: str) -> str:
    return {"markdown": to_markdown, "csv": to_csv, "json": to_json, "html": to_html, "latex": to_latex}[fmt](doc)


def _table_md(section: Section) -> str:
    from segbench.report.markdown import github_table

    if not section.rows:
        return "_no rows_"
    return github_table(section.headers, section.rows)


def to_markdown(doc: Document) -> str:
    parts = [f"# {doc.title}"]
    for s in doc.sections:
        parts += [f"## {s.title}", _table_md(s)]
        if s.notes:
            parts.append("\n".join(f"- {n}" for n in s.notes))
    if doc.footer:
        parts += ["## What the numbers mean", "\n".join(f"- {line}" for line in doc.footer)]
    return "\n\n".join(parts)


def to_csv(doc: Document) -> str:
    """One block per table: a ``# key: title`` line, then the records as csv; blocks separated by a blank line."""
    import pandas as pd

    from segbench import csvtext
    from segbench.jsontext import Rows

    blocks = []
    for s in doc.sections:
        # dtype=object: a column of ints with one null stays "1", not "1.0"; lists (run ids) as the cases csv has them
        if isinstance(s.records, Rows) and len(s.records):  # columns already: no dict per row
            text = csvtext.table(list(s.records.columns), [[" ".join(map(str, v)) if isinstance(v, list) else v
                                                             for v in col] for col in s.records.columns.values()])
        else:
            records = [{k: " ".join(map(str, v)) if isinstance(v, list) else v for k, v in r.items()}
                       for r in s.records]
            text = csvtext.frame(pd.DataFrame(records, dtype=object) if records else
                                 pd.DataFrame(list(s.rows), columns=list(s.headers)))
        blocks.append(f"# {s.key}: {s.title}\n" + text)
    return "\n".join(blocks)


def to_json(doc: Document) -> str:
    from segbench.jsontext import Rows, dumps

    body = {"schema": REPORT_SCHEMA, "title": doc.title,
            "sections": {s.key: {"title": s.title, "columns": list(s.headers),
                                 "rows": s.records if isinstance(s.records, Rows) else list(s.records),
                                 "notes": list(s.notes)} for s in doc.sections},
            "footer": list(doc.footer), "runs": list(doc.runs)}
    return dumps(body, default=str)  # json.dumps(body, indent=2, default=str)


# A few lines of JS: click a header to sort by it (numbers by their leading value, else text); again to reverse.
_SORT_JS = """
document.querySelectorAll('table.sortable th').forEach(function (th) {
  th.addEventListener('click', function () {
    var i = th.cellIndex, body = th.closest('table').tBodies[0], rows = Array.from(body.rows), up = th.dataset.dir !== 'asc';
    var key = function (r) { var t = r.cells[i].textContent.trim(), v = parseFloat(t); return isNaN(v) ? t : v; };
    rows.sort(function (a, b) { var x = key(a), y = key(b); return (x > y ? 1 : x < y ? -1 : 0) * (up ? 1 : -1); });
    th.dataset.dir = up ? 'asc' : 'desc'; rows.forEach(function (r) { body.appendChild(r); });
  });
});
"""
_CSS = ("body{font-family:sans-serif;margin:2em;max-width:80em}table{border-collapse:collapse;margin:1em 0}"
        "th,td{border:1px solid #bbb;padding:.25em .6em;text-align:left}th.num,td.num{text-align:right}"
        "th{cursor:pointer;background:#eee}img{max-width:100%;display:block;margin:1em 0}sup{color:#06c}")


def _cell_html(text: str) -> str:
    return CODE.sub(r"<code>\1</code>", MARKER.sub(r"<sup>\1</sup>", html.escape(text)))


def _table_html(s: Section) -> str:
    align = [' class="num"' if n else "" for n in numeric_columns(s)]
    head = "".join(f"<th{a}>{html.escape(h)}</th>" for a, h in zip(align, s.headers))
    body = "".join("<tr>" + "".join(f"<td{a}>{_cell_html(c)}</td>" for a, c in zip(align, row)) + "</tr>"
                   for row in s.rows)
    notes = "".join(f"<li>{_cell_html(n)}</li>" for n in s.notes)
    return (f'<h2>{html.escape(s.title)}</h2>\n<table class="sortable" id="{s.key}"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>" + (f"<ul>{notes}</ul>" if notes else ""))


def _img_html(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<figure><img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}"></figure>'


def to_html(doc: Document) -> str:
    """One self-contained page: inline CSS and JS, plots as base64 PNG (no file or network references)."""
    out = io.StringIO()
    out.write(f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(doc.title)}</title>"
              f"<style>{_CSS}</style></head><body>\n<h1>{html.escape(doc.title)}</h1>\n")
    for s in doc.sections:
        out.write(_table_html(s) + "\n")
    if doc.plots:
        out.write('<h2>Plots</h2>\n<div id="plots">' + "".join(_img_html(p) for p in doc.plots) + "</div>\n")
    if doc.footer:
        out.write("<h2>What the numbers mean</h2>\n<ul id=\"footer\">"
                  + "".join(f"<li>{_cell_html(line)}</li>" for line in doc.footer) + "</ul>\n")
    out.write(f"<script>{_SORT_JS}</script>\n</body></html>\n")
    return out.getvalue()


_LATEX_SPECIALS = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                   "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def latex_escape(text: str) -> str:
    """Special characters escaped, ``[n]`` markers as superscripts, `code` as \\texttt."""
    parts = CODE.split(text)  # odd items are the code spans
    out = []
    for i, part in enumerate(parts):
        escaped = MARKER.sub(r"\\textsuperscript{\1}", "".join(_LATEX_SPECIALS.get(ch, ch) for ch in part))
        out.append(rf"\texttt{{{escaped}}}" if i % 2 else escaped)
    return "".join(out)


def _table_latex(s: Section) -> str:
    spec = "".join("r" if n else "l" for n in numeric_columns(s)) or "l"
    lines = [f"% {s.key}", r"\begin{table}[ht]", r"\centering", rf"\caption{{{latex_escape(s.title)}}}",
             rf"\begin{{tabular}}{{{spec}}}", r"\toprule", " & ".join(latex_escape(h) for h in s.headers) + r" \\",
             r"\midrule"]
    lines += [" & ".join(latex_escape(c) for c in row) + r" \\" for row in s.rows]
    lines += [r"\bottomrule", r"\end{tabular}"]
    if s.notes:
        lines += [r"\par\footnotesize", *[latex_escape(n) + r"\par" for n in s.notes]]
    lines.append(r"\end{table}")
    return "\n".join(lines)


def to_latex(doc: Document) -> str:
    """Table environments (booktabs) to \\input into a paper; the footer as a comment block and an itemize."""
    parts = [f"% {doc.title} (segbench report); needs \\usepackage{{booktabs}}"]
    parts += [_table_latex(s) for s in doc.sections]
    if doc.footer:
        parts.append("\\begin{itemize}\n" + "\n".join(rf"\item {latex_escape(line)}" for line in doc.footer)
                     + "\n\\end{itemize}")
    return "\n\n".join(parts)
