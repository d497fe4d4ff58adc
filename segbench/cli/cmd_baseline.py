"""`segbench baseline save RUN`: keep a run's results as what later runs are compared against."""

from __future__ import annotations

import click


@click.group("baseline")
def command() -> None:
    """Baselines for `segbench compare --baseline RUN`, one per kind of phone and tool version (docs/farm.md)."""


@command.command("save")
@click.argument("run_id", metavar="RUN")
@click.option("--reports", default="reports", show_default=True, metavar="DIR",
              help="Where runs are stored; baselines go to DIR/baselines/.")
def save(run_id: str, reports: str) -> int:
    """Save RUN's successful records as the baseline of each device kind x tool version in it.

    A saved baseline replaces the previous one of the same kind of phone and tool version.
    """
    from segbench.baselines import Baselines, group
    from segbench.errors import StoreError
    from segbench.store import Store

    run = Store(reports).run(run_id)
    info = run.info()
    groups = group(run.measurements(warn=lambda text: click.echo(f"segbench: warning: {text}", err=True)), info)
    store = Baselines(reports)
    saved = 0
    for key, records in groups.items():
        ok = [m for m in records if m.status == "ok"]
        if not ok:
            click.echo(f"{key.describe()}: no successful case, nothing saved", err=True)
            continue
        replaced = store.load(key)
        path = store.save(key, run_id, ok)
        phones = len({m.device_id for m in ok})
        click.echo(f"{key.describe()}: {len(ok)} record(s) of {phones} phone(s) from run {run_id} -> {path}"
                   + (f" (replaces run {replaced.run_id})" if replaced else ""))
        saved += 1
    if not saved:
        raise StoreError(f"run {run_id} has no successful measurement to keep as a baseline")
    return 0
