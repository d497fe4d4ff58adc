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
def command(run_ids: tuple[str, ...], all_runs: bool, fmt: str, output: Path | None, reports: str) -> int:
    """One row per model x runtime x threads x power mode: median, p90, min, std, CV, count and params.

    Params come from inspecting each model (by the sha256 recorded with its measurements), cached in
    DIR/inspect/; see docs/inspect.md.
    """
    from segbench.errors import StoreError, UsageError
    from segbench.modelinfo.cache import InspectCache
    from segbench.report.accuracy import with_accuracy
    from segbench.report.tables import render, summary
    from segbench.store import Store

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
    if output:
        try:
            output.write_text(text if text.endswith("\n") else text + "\n")
        except OSError as exc:
            raise StoreError(f"cannot write {output}: {exc.strerror or exc}") from None
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text)
    return 0
