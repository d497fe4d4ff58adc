"""`segbench compare`: regressions between two stored runs."""

from __future__ import annotations

from pathlib import Path

import click


def _threshold(text: str) -> float:
    from segbench.errors import UsageError

    try:
        value = float(text.rstrip("%")) / (100.0 if text.endswith("%") else 1.0)
    except ValueError:
        raise UsageError(f"--threshold {text!r}: expected a number such as 5% or 0.05") from None
    if not 0 <= value < 1:
        raise UsageError(f"--threshold {text!r}: must be between 0% and 100%")
    return value


@click.command("compare")
@click.argument("runs", nargs=-1, metavar="BASELINE_RUN CANDIDATE_RUN | --baseline CANDIDATE_RUN")
@click.option("--baseline", "saved", is_flag=True,
              help="Compare the one run given with the saved baseline of each kind of phone and tool version in it "
                   "(segbench baseline save; docs/farm.md).")
@click.option("--threshold", default="5%", show_default=True, help="Slowdown of the median that counts (5% or 0.05).")
@click.option("--clock", type=click.Choice(["wall", "cpu"]), default="wall", show_default=True,
              help="What to judge host runs on: wall time, or the CPU time of each run (not moved by other work "
                   "holding the CPU: a gate on a shared, loaded machine). Phone runs are always wall time.")
@click.option("--junit", "junit_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write JUnit XML here (one testcase per model/config).")
@click.option("--reports", default="reports", show_default=True, metavar="DIR", help="Where runs are stored.")
def command(runs: tuple[str, ...], saved: bool, threshold: str, clock: str, junit_path: Path | None,
            reports: str) -> int:
    """Pair the cases of two runs; exit 4 when one is slower by more than the threshold and the noise, or when the
    candidate failed or lacks a case (an empty comparison is never green).

    The noise is a 95% interval over launches (run --launches K); with one launch a side, from within the launch,
    and the verdict says it is weak (docs/report.md).
    """
    from segbench.errors import EXIT_REGRESSION, StoreError, UsageError
    from segbench.report.compare import gate, junit, render
    from segbench.store import Store

    limit = _threshold(threshold)
    store = Store(reports)
    if len(runs) != (1 if saved else 2):
        raise UsageError("expected BASELINE_RUN CANDIDATE_RUN, or --baseline CANDIDATE_RUN",
                         hint=f"got {len(runs)} run id(s)")
    if saved:
        verdicts, name = _against_saved(store, runs[0], reports, limit, clock), f"segbench compare --baseline {runs[0]}"
    else:
        from segbench.report.compare import compare_columns
        from segbench.report.tables import derive_tag, record_rows

        def note(text: str) -> None:
            click.echo(f"segbench: warning: {text}", err=True)

        if runs[0] == runs[1]:  # every case "same", a green gate that compared nothing
            raise UsageError(f"BASELINE_RUN and CANDIDATE_RUN are the same run ({runs[0]})",
                             hint="compare two different runs")
        for r in runs:  # a run.json that is damaged or of a newer segbench is refused, as `report` refuses it
            store.run(r).info()
        base, cand = (store.run(r).columns(record_rows, derive_tag(), note) for r in runs)
        verdicts = compare_columns(base, cand, limit, clock)
        name = f"segbench compare {runs[0]} {runs[1]}"
    click.echo(render(verdicts))
    if junit_path:
        from segbench.store import write_atomic

        try:  # whole or not at all (a full disk leaves no empty file); XML takes no stray bytes: escaped
            write_atomic(junit_path, junit(verdicts, name).encode("utf-8", "backslashreplace"))
        except OSError as exc:
            raise StoreError(f"cannot write {junit_path}: {exc.strerror or exc}") from None
    green, line = gate(verdicts)
    click.echo(f"{line}, threshold {limit:.1%}", err=True)
    return 0 if green else EXIT_REGRESSION


def _against_saved(store, run_id: str, reports: str, limit: float, clock: str) -> list:
    """The run's records of each device kind x tool version against that baseline; every kind needs one."""
    from segbench.baselines import Baselines, group
    from segbench.errors import StoreError
    from segbench.report.compare import against_baseline

    run = store.run(run_id)
    groups = group(run.measurements(warn=lambda text: click.echo(f"segbench: warning: {text}", err=True)),
                   run.info())
    if not groups:
        raise StoreError(f"run {run_id} has no measured case to compare")
    baselines = Baselines(reports)
    found = {key: baselines.load(key) for key in groups}
    missing = [key.describe() for key, b in found.items() if b is None]
    if missing:
        saved = "; ".join(baselines.saved()) or "none"
        raise StoreError(f"no baseline for {', '.join(missing)} in {baselines.root}",
                         hint=f"saved: {saved}; save one with `segbench baseline save RUN`")
    verdicts = []
    for key, records in groups.items():
        baseline = found[key]
        _same_kind_of_device(baseline, records)
        click.echo(f"{key.describe()}: against baseline run {baseline.run_id} (saved {baseline.saved})", err=True)
        verdicts += against_baseline(baseline.records, records, limit, clock)
    return verdicts


def _same_kind_of_device(baseline, records: list) -> None:
    """An emulated phone's figures are the host's CPU: never judged against a real phone's, nor the reverse (the
    baseline key keeps them apart; this catches a baseline file saved or edited otherwise)."""
    from segbench.errors import StoreError

    def kinds(ms) -> set[bool]:
        return {bool(m.emulated) for m in ms if m.emulated is not None}

    theirs, ours = kinds(baseline.records), kinds(records)
    if theirs and ours and theirs != ours or len(theirs) > 1:
        what = {frozenset({True}): "emulated", frozenset({False}): "real"}.get(frozenset(theirs), "mixed")
        raise StoreError(f"baseline {baseline.path} holds {what} phones' records and the run's are "
                         f"{'emulated' if True in ours else 'real'}: they are not compared",
                         hint="save a baseline from a run on the same kind of device")
