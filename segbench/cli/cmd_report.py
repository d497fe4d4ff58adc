"""`segbench report`: tables from stored runs."""

from __future__ import annotations

from pathlib import Path

import click

from segbench.report.tables import FORMATS


@click.command("report")
@click.option("--run", "run_ids", multiple=True, metavar="RUN_ID", help="Run(s) to report (default: the latest).")
@click.option("--all", "all_runs", is_flag=True, help="Every run in the reports directory.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="markdown", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write here instead of stdout.")
@click.option("--reports", default="reports", show_default=True, metavar="DIR", help="Where runs are stored.")
@click.option("--published", is_flag=True,
              help="Render a published table from the manifest (deltas recomputed, disagreements listed); no runs.")
@click.option("--table", "table_name", default="Compare with SOTA", show_default=True, help="Which published table (with --published).")
@click.option("--baseline", "baselines", multiple=True, metavar="MODEL=BASELINE",
              help="Compute MODEL's deltas against BASELINE instead of the manifest's choice.")
@click.option("--plot", "plot_dir", type=click.Path(file_okay=False, path_type=Path),
              help="With --published: also write latency-vs-mIoU and params-vs-latency plots (PNG, SVG) here.")
@click.option("--manifest", default="models_dir/manifest.toml", show_default=True,
              type=click.Path(dir_okay=False, path_type=Path), help="Where published tables are read from.")
def command(run_ids: tuple[str, ...], all_runs: bool, fmt: str, output: Path | None, reports: str,
            published: bool, table_name: str, baselines: tuple[str, ...], plot_dir: Path | None,
            manifest: Path) -> int:
    """One row per model x runtime x threads x power mode: median, p90, min, std, CV, count and params.

    Params come from inspecting each model (by the sha256 recorded with its measurements), cached in
    DIR/inspect/; see docs/inspect.md.
    """
    from segbench.errors import StoreError, UsageError
    from segbench.modelinfo.cache import InspectCache
    from segbench.report.accuracy import with_accuracy
    from segbench.report.tables import render, summary
    from segbench.store import Store

    if published:
        return _published(manifest, table_name, baselines, fmt, output, plot_dir)
    store = Store(reports)
    if all_runs and run_ids:
        raise UsageError("--all and --run exclude each other")
    if all_runs:
        ids = store.run_ids()
        if not ids:
            raise StoreError(f"no runs in {store.runs_dir}", hint="run `segbench run` first, or pass --reports")
        runs = [store.run(i) for i in ids]
    elif run_ids:
        runs = [store.run(i) for i in run_ids]
    else:
        runs = [store.latest()]
    measurements = [m for r in runs for m in r.measurements()]
    # mIoU is a property of the model file: join the newest `segbench eval` result from any run.
    known = [a for i in store.run_ids() for a in store.run(i).accuracies()]
    reported = [a for r in runs for a in r.accuracies()]
    paths = {m.model.sha256: m.model.path for m in measurements if m.model.sha256}
    # Params come from inspecting the very file measured (tied by sha256), cached in the reports dir.
    params = InspectCache(store.root).params(m.model for m in measurements)
    table = with_accuracy(summary(measurements, params), known, reported, paths)
    text = render(table, fmt, [r.info() for r in runs])
    _write(text, output)
    return 0


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
    from segbench.errors import StoreError, UsageError
    from segbench.report.published import read_published, render_published

    if fmt != "markdown":
        raise UsageError("--published renders markdown only (for now)")
    if not manifest.is_file():
        raise StoreError(f"{manifest}: no such manifest", hint="pass --manifest models_dir/manifest.toml")
    rows = read_published(manifest)
    _write(render_published(rows, table, _baseline_map(baselines)), output)
    if plot_dir:
        from segbench.report.plots import plot_published

        try:
            written = plot_published(rows, table, plot_dir)
        except OSError as exc:
            raise StoreError(f"cannot write plots to {plot_dir}: {exc.strerror or exc}") from None
        click.echo(f"wrote {len(written)} plot files to {plot_dir}", err=True)
    return 0


def _write(text: str, output: Path | None) -> None:
    from segbench.errors import StoreError

    if output:
        try:
            output.write_text(text if text.endswith("\n") else text + "\n")
        except OSError as exc:
            raise StoreError(f"cannot write {output}: {exc.strerror or exc}") from None
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text)
