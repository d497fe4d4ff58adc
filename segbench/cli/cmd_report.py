"""`segbench report`: tables from stored runs."""

from __future__ import annotations

import gc
import itertools
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from segbench.frozen import Frozen, value

if TYPE_CHECKING:
    from segbench.columns import Columns
    from segbench.model import Accuracy, Architecture, Measurement, RunInfo
    from segbench.report.full import Context
    from segbench.report.published import PublishedRow
    from segbench.store import RunDir, Store

T = TypeVar("T")
FORMATS = ("markdown", "csv", "json", "html", "latex")
VIEWS = ("cases", "comparison", "sweep", "runtimes", "ops", "all")
# Reported runs whose results.jsonl files hold at most this many bytes together (some 700 records) are tabled from
# the records themselves, in plain Python (_small_table), when the report is the per-case markdown table: reading
# them costs less than importing numpy and pandas, which the columnar cache and the documents need.
SMALL_BYTES = 1 << 20


@click.command("report")
@click.option("--run", "run_ids", multiple=True, metavar="RUN_ID", help="Run(s) to report (default: the latest).")
@click.option("--all", "all_runs", is_flag=True, help="Every run in the reports directory.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="markdown", show_default=True)
@click.option("--view", type=click.Choice(VIEWS),
              help="Which tables: the per-case table (the default for markdown/csv/json), the paper's comparison "
                   "(the default with --config/--baseline), the sweep, one architecture across runtimes and "
                   "float/int8 (runtimes), the per-operator breakdown, or all of them (the default for html/latex).")
@click.option("--config", "config_text", metavar="KEY=VALUE,...",
              help="Which measured config fills the comparison's latency column (and the runtimes table), e.g. "
                   "threads=1,power_mode=high "
                   "(keys: threads, power_mode, runtime, device). Default: threads=1,power_mode=high when measured.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write here instead of stdout.")
@click.option("--reports", default="reports", show_default=True, metavar="DIR", help="Where runs are stored.")
@click.option("--published", is_flag=True,
              help="Render a published table from the manifest (deltas recomputed, disagreements listed); no runs.")
@click.option("--table", "table_name", default="Compare with SOTA", show_default=True,
              help="Which published table: rendered by --published, merged into the comparison otherwise.")
@click.option("--baseline", "baselines", multiple=True, metavar="MODEL=BASELINE",
              help="Compute MODEL's deltas against BASELINE instead of the manifest's choice.")
@click.option("--plot", "plot_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Also write the plots (PNG, SVG) here: latency vs mIoU, params vs latency, thread scaling, "
                   "power modes, per-op bars (html embeds them either way).")
@click.option("--manifest", default="models_dir/manifest.toml", show_default=True,
              type=click.Path(dir_okay=False, path_type=Path), help="Where published tables are read from.")
def command(run_ids: tuple[str, ...], all_runs: bool, fmt: str, view: str | None, config_text: str | None,
            output: Path | None, reports: str, published: bool, table_name: str, baselines: tuple[str, ...],
            plot_dir: Path | None, manifest: Path) -> int:
    """Tables of stored runs; by default one row per model x runtime x threads x power mode.

    --view comparison: the paper's table (measured cells preferred over the manifest's published table,
    each marked with its source). Params come from inspecting each model (by the sha256 recorded with its
    measurements), cached in DIR/inspect/; see docs/report.md and docs/inspect.md.
    """
    # A farm's report makes millions of small lists, tuples and dicts and no reference cycles worth collecting:
    # the cycle collector would walk them again and again as they are made (a tenth of the time at 100k rows).
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _report(run_ids, all_runs, fmt, view, config_text, output, reports, published, table_name, baselines,
                       plot_dir, manifest)
    finally:
        if enabled:
            gc.enable()


def _report(run_ids: tuple[str, ...], all_runs: bool, fmt: str, view: str | None, config_text: str | None,
            output: Path | None, reports: str, published: bool, table_name: str, baselines: tuple[str, ...],
            plot_dir: Path | None, manifest: Path) -> int:
    from segbench.errors import StoreError, UsageError
    from segbench.report.accuracy import with_accuracy
    from segbench.report.tables import render_chunks, summary_of
    from segbench.store import Store

    if published:
        return _published(manifest, table_name, baselines, fmt, output, plot_dir)
    asked_view = view
    view = view or _default_view(fmt, bool(config_text or baselines))
    store = Store(reports)
    if all_runs and run_ids:
        raise UsageError("--all and --run exclude each other")
    warn = _Warnings()
    if all_runs:
        ids = store.run_ids(half_made=warn.half_made)
        if not ids:
            raise StoreError(f"no runs in {store.runs_dir}", hint="run `segbench run` first, or pass --reports")
        # Every run that can be read: a damaged one (or one of a newer segbench) is said and left out.
        runs = [r for r in (_readable(store, i, warn) for i in ids) if r is not None]
        if not runs:
            raise StoreError(f"no readable runs in {store.runs_dir} (see the warnings above)")
    else:
        chosen = [store.run(i) for i in run_ids] if run_ids else [store.latest(warn.half_made)]
        if view == "cases" and fmt == "markdown" and not plot_dir and _small(chosen):
            text = _small_table(store, chosen, asked_view is None and _table_rows(manifest, table_name), warn)
            if text is not None:
                _write(text, output)
                return 0
        runs = [_Loaded.of(run, warn) for run in chosen]
    from segbench.columns import Columns

    records = Columns.concat([r.records for r in runs])
    known, reported = _accuracies(store, [r.run.run_id for r in runs], warn, [r.run for r in runs])
    shas, names = records["sha256"].tolist(), records["model"].tolist()
    paths_, formats = records["model_path"].tolist(), records["model_format"].tolist()
    paths = {sha: path for sha, path in zip(shas, paths_) if sha}
    inspected = _inspected(store, shas, names, paths_, formats)
    params = {sha: info.params for sha, info in inspected.items()}
    gmacs = {sha: info.macs / 1e9 for sha, info in inspected.items() if info.macs}
    table = with_accuracy(summary_of(records, params), known, reported, paths)
    infos = [r.info for r in runs]
    from segbench.report.comparison import parse_config
    from segbench.report.full import Context

    ctx = Context(table=table, records=records, infos=infos, published=_table_rows(manifest, table_name),
                  models=_manifest_models(manifest), baselines=_baseline_map(baselines),
                  config=parse_config(config_text), gmacs=gmacs,
                  architectures=_architectures(records) if view in ("runtimes", "all") else {})
    if view == "cases" and fmt in ("markdown", "csv", "json"):
        parts = render_chunks(table, fmt, infos)  # the table `segbench run` prints; its json/csv shape is kept
        if asked_view is None and fmt == "markdown" and _compares(ctx):
            parts = itertools.chain(parts, ["\n\n" + _comparison_text(ctx)])  # the paper's table, when measured
        _write(parts, output)
        if plot_dir:  # the per-case table has no plots of its own: draw those of the full report
            _plots_only(ctx, plot_dir)
        return 0
    _document(ctx, view, fmt, output, plot_dir)
    return 0


def _accuracies(store: Store, run_ids: list[str], warn: _Warnings, read: Iterable[RunDir] = (),
                ) -> tuple[list[Accuracy], list[Accuracy]]:
    """Every accuracy record of the store (to join on), and those of the reported runs. mIoU is a property of the
    model file: the report joins the newest `segbench eval` result from any (readable) run. Every run's accuracy
    records come from the store's index: they are parsed again only when a run's file changed, and not even then
    for the runs in ``read`` whose columnar cache was just built from it (the same pass found them)."""
    accuracies = store.accuracies_by_run(skipped=lambda i, exc: warn.skipped(i, str(exc)), read=read)
    known = [a for records in accuracies.values() for a in records]  # in run order, as accuracies_by_run reads
    return known, [a for run_id in run_ids for a in accuracies.get(run_id, ())]


def _inspected(store: Store, shas: list[str | None], names: list[str], paths: list[str | None],
               formats: list[str | None]) -> dict:
    """sha256 -> ModelInfo of each measured file (records' columns): params and MACs come from inspecting the very
    file measured (tied by sha256), cached in the reports dir."""
    from segbench.model import ModelRef
    from segbench.modelinfo.cache import InspectCache

    first = {sha: i for i, sha in reversed(list(enumerate(shas))) if sha}
    return InspectCache(store.root).infos(ModelRef(names[i], paths[i], formats[i], sha)
                                          for sha, i in sorted(first.items(), key=lambda kv: kv[1]))


def _small(runs: list[RunDir]) -> bool:
    """Whether the runs' records are few enough (SMALL_BYTES) to table without the columnar cache."""
    total = 0
    for run in runs:
        try:
            total += run.results_path.stat().st_size
        except OSError:
            return False  # missing or unreadable: the usual path says what is wrong
    return total <= SMALL_BYTES


def _small_table(store: Store, runs: list[RunDir], published: list[PublishedRow] | bool,
                 warn: _Warnings) -> str | None:
    """The per-case markdown table of a few records, as the columnar path prints it, from the records themselves
    (tables.summary_rows: no numpy, no pandas). None when the paper's comparison follows the table (``published``:
    the published table's rows, when the comparison may be added): that one is the documents' (full.build)."""
    from segbench.report.accuracy import accuracy_rows
    from segbench.report.tables import render, summary_rows

    infos = [run.info() for run in runs]
    measured: list[Measurement] = [m for run in runs for m in run.measurements(warn=warn.note)]
    if published and _names_measured(measured) & {r.model for r in published}:
        return None
    known, reported = _accuracies(store, [run.run_id for run in runs], warn)
    shas = [m.model.sha256 for m in measured]
    names = [m.model.name for m in measured]
    paths_ = [m.model.path for m in measured]
    inspected = _inspected(store, shas, names, paths_, [m.model.format for m in measured])
    params = {sha: info.params for sha, info in inspected.items()}
    paths = {sha: path for sha, path in zip(shas, paths_) if sha}
    return render(accuracy_rows(summary_rows(measured, params), known, reported, paths), "markdown", infos)


def _names_measured(records: list[Measurement]) -> set[str]:
    return {m.model.name for m in records if m.status == "ok"}


def _architectures(records: Columns) -> dict[str, Architecture]:
    """Each measured model's architecture, format and precision, by sha256 (else name), from the manifest entry next
    to its file or its name (segbench.models.architecture_of)."""
    from segbench.model import ModelRef
    from segbench.models import architecture_of

    out: dict[str, Architecture] = {}
    for name, path, fmt, sha in zip(records["model"].tolist(), records["model_path"].tolist(),
                                    records["model_format"].tolist(), records["sha256"].tolist()):
        key = sha or name
        if key not in out:
            out[key] = architecture_of(ModelRef(name, path, fmt, sha))
    return out


def _compares(ctx: Context) -> bool:
    """Whether the published table names a model measured ok in these runs."""
    names = {r.model for r in ctx.published}
    return any(status == "ok" and name in names
               for status, name in zip(ctx.records["status"].tolist(), ctx.records["model"].tolist()))


def _comparison_text(ctx: Context) -> str:
    from segbench.report.document import render as render_doc
    from segbench.report.full import build

    return render_doc(build(ctx, "comparison", None), "markdown")


@value
class _Loaded(Frozen):
    """A run: its run.json and latency records as columns, through the store's cache (StoreError when it is
    damaged or of a newer segbench). Frozen's repr and ==, as segbench.model's classes: not compiled at start-up."""

    run: RunDir
    info: RunInfo
    records: Columns

    @classmethod
    def of(cls, run: RunDir, warn: _Warnings) -> _Loaded:
        from segbench.report.tables import derive_tag, record_rows

        info = run.info()
        # The report reads the figures cached per record, never the samples themselves (compare does).
        return cls(run, info, run.columns(record_rows, derive_tag(), warn.note, samples=False))


class _Warnings:
    """Each skipped run, and each warning, said once on stderr (a run's damaged lines are found again when the
    small table hands over to the columnar path)."""

    def __init__(self) -> None:
        self.said: set[str] = set()
        self.noted: set[str] = set()

    def note(self, text: str) -> None:
        if text not in self.noted:
            self.noted.add(text)
            click.echo(f"segbench: warning: {text}", err=True)

    def half_made(self, path: Path) -> None:
        from segbench.store import half_made_text

        self.note(f"{half_made_text(path)}: skipped (delete the folder)")

    def skipped(self, run_id: str, why: str) -> None:
        if run_id not in self.said:
            self.said.add(run_id)
            click.echo(f"segbench: warning: skipped run {run_id}: {why}", err=True)


def _readable(store: Store, run_id: str, warn: _Warnings) -> _Loaded | None:
    from segbench.errors import StoreError

    try:
        return _Loaded.of(store.run(run_id), warn)
    except StoreError as exc:
        warn.skipped(run_id, str(exc))
        return None


def _drawn(where: Path | None, draw: Callable[[], T]) -> T:
    """``draw()``, which writes plots to ``where``; a directory that cannot take them is one error line."""
    from segbench.errors import StoreError

    try:
        return draw()
    except OSError as exc:
        raise StoreError(f"cannot write plots to {where}: {exc.strerror or exc}") from None


def _plots_only(ctx: Context, plot_dir: Path) -> None:
    from segbench.report.full import build

    _drawn(plot_dir, lambda: build(ctx, "all", plot_dir))
    click.echo(f"wrote plots to {plot_dir}", err=True)


def _default_view(fmt: str, comparing: bool) -> str:
    """html/latex are documents: everything. --config/--baseline only mean something for the comparison.
    Otherwise the per-case table, which `segbench run` prints and scripts read as csv/json."""
    if fmt in ("html", "latex"):
        return "all"
    return "comparison" if comparing else "cases"


def _table_rows(manifest: Path, table: str) -> list[PublishedRow]:
    """The published table the comparison merges with; none when there is no manifest."""
    if not manifest.is_file():
        return []
    from segbench.report.published import read_published

    return [r for r in read_published(manifest) if r.table == table]


def _manifest_models(manifest: Path) -> dict[str, dict[str, object]]:
    """[[model]] entries by name: backbone, baseline and head (from `segbench zoo export`)."""
    from segbench.models import read_manifest

    if not manifest.is_file():
        return {}
    return {e.name: {"backbone": e.backbone, **e.extra} for e in read_manifest(manifest.parent).values()}


def _document(ctx: Context, view: str, fmt: str, output: Path | None, plot_dir: Path | None) -> None:
    """Build and write the report; html gets its plots even without --plot (a temporary directory)."""
    import tempfile

    from segbench.report.document import render as render_doc
    from segbench.report.full import build

    with tempfile.TemporaryDirectory(prefix="segbench-plots-") as tmp:
        where = plot_dir or (Path(tmp) if fmt == "html" else None)
        doc = _drawn(where, lambda: build(ctx, view, where))
        _write(render_doc(doc, fmt), output)
    if plot_dir:
        click.echo(f"wrote plots to {plot_dir}", err=True)


def _baseline_map(pairs: tuple[str, ...]) -> dict[str, str]:
    from segbench.errors import UsageError

    out = {}
    for pair in pairs:
        model, sep, base = pair.partition("=")
        if not sep or not model or not base:
            raise UsageError(f"--baseline {pair!r}: expected MODEL=BASELINE")
        out[model] = base
    return out


def _published(manifest: Path, table: str, baselines: tuple[str, ...], fmt: str, output: Path | None,
               plot_dir: Path | None) -> int:
    import tempfile

    from segbench.errors import StoreError
    from segbench.report.document import render as render_doc
    from segbench.report.plots import plot_published
    from segbench.report.published import published_document, read_published, render_published

    if not manifest.is_file():
        raise StoreError(f"{manifest}: no such manifest", hint="pass --manifest models_dir/manifest.toml")
    rows = read_published(manifest)
    text = render_published(rows, table, _baseline_map(baselines))  # also the check that the table exists
    written: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="segbench-plots-") as tmp:
        where = plot_dir or (Path(tmp) if fmt == "html" else None)  # html embeds its plots either way
        if where is not None:
            written = _drawn(where, lambda: plot_published(rows, table, where))
        if fmt != "markdown":
            doc = published_document(rows, table, _baseline_map(baselines),
                                     [p for p in written if p.suffix == ".png"])
            text = render_doc(doc, fmt)
    _write(text, output)
    if plot_dir:
        click.echo(f"wrote {len(written)} plot files to {plot_dir}", err=True)
    return 0


def _write(text: str | Iterable[str], output: Path | None) -> None:
    """The report's text (or its pieces, written as they come) to ``output`` (ending in a newline) or stdout. A
    file is written beside its place and moved there whole: a report that fails midway (an error, Ctrl-C, a full
    disk) leaves the previous file, never half of the new one."""
    import os

    from segbench.errors import StoreError

    parts = [text] if isinstance(text, str) else text
    if not output:
        for part in parts:
            if part:
                click.echo(part, nl=False)
        click.echo()
        return
    # A pipe, a device (-o /dev/stdout) or a missing parent is written in place (or fails there, with its own error).
    special = output.exists() and not output.is_file()
    target = output if special else output.with_name(f".{output.name}.{os.getpid()}.tmp")
    try:
        try:
            # UTF-8 whatever the locale; a file name's bytes that are not UTF-8 are written back as they are.
            with target.open("w", encoding="utf-8", errors="surrogateescape") as f:
                last = ""
                for part in parts:
                    if part:
                        f.write(part)
                        last = part
                if not last.endswith("\n"):
                    f.write("\n")
            if target != output:
                os.replace(target, output)
        finally:
            if target != output:
                target.unlink(missing_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot write {output}: {exc.strerror or exc}") from None
    click.echo(f"wrote {output}", err=True)
