"""`segbench run`: benchmark every model in a directory, on this machine (or a device)."""

from __future__ import annotations

import click

from segbench.errors import EXIT_CASES_FAILED, EXIT_INTERRUPTED, EXIT_OK
from segbench.model import RUNTIMES


@click.command("run")
@click.option("--models", "models", metavar="DIR|FILE", help="Directory of model files (or one model file).")
@click.option("--runtime", type=click.Choice(RUNTIMES), help="Only benchmark models this runtime executes.")
@click.option("--threads", default="1", show_default=True, metavar="N[,N...]", help="Thread counts to sweep.")
@click.option("--power-mode", "power_mode", default="high", show_default=True, metavar="MODE[,MODE...]",
              help="high, low, full, no_bind, rand_high, rand_low (CPU affinity; see docs/design.md).")
@click.option("--warmup", default=20, show_default=True, type=click.IntRange(min=0), help="Untimed runs first.")
@click.option("--repeats", default=50, show_default=True, type=click.IntRange(min=1), help="Timed runs.")
@click.option("--input", "input_path", metavar="FILE", help="Input tensor (.npy or raw bytes); default seeded random.")
@click.option("--reports", default="reports", show_default=True, metavar="DIR", help="Where runs are stored.")
@click.option("--resume", metavar="RUN_ID", help="Finish an interrupted run: only its missing cases run.")
@click.option("-q", "--quiet", is_flag=True, help="No progress lines.")
def command(models: str | None, runtime: str | None, threads: str, power_mode: str, warmup: int, repeats: int,
            input_path: str | None, reports: str, resume: str | None, quiet: bool) -> int:
    """Benchmark models: warmup, then timed repeats, per thread count and power mode.

    Without --device, models run in this process on this machine (ONNX with onnxruntime,
    TFLite with ai-edge-litert, Paddle with paddlelite where installed). Every case's record is
    saved as soon as it finishes; Ctrl-C keeps them (exit 130) and --resume RUN_ID finishes the run.
    """
    from dataclasses import replace
    from pathlib import Path

    from segbench import __version__, power
    from segbench.errors import UsageError
    from segbench.execute import InProcessBackend, Progress, execute
    from segbench.models import find_models
    from segbench.report.tables import render_summary
    from segbench.runinfo import collect_versions, git_sha, host_details
    from segbench.store import Store, new_run_id, utc_now
    from segbench.sweep import SweepSettings, plan

    store = Store(reports)
    echo = lambda msg: click.echo(msg, err=True)  # noqa: E731
    if resume:
        run = store.run(resume)
        info = run.info()
        settings = SweepSettings.from_dict(info.settings)
    else:
        if not models:
            raise UsageError("missing --models DIR", hint="e.g. segbench run --models models_dir")
        settings = SweepSettings(
            models=str(Path(models).resolve()),
            threads=tuple(power.parse_threads(threads)),
            power_modes=tuple(power.parse_power_modes(power_mode)),
            warmup=warmup, repeats=repeats,
            input=str(Path(input_path).resolve()) if input_path else None,
            runtime=runtime,
        )
        if settings.input and not Path(settings.input).is_file():
            raise UsageError(f"--input {input_path}: no such file")
    found = find_models(settings.models)
    cases = plan([f.ref for f in found], settings)
    if not cases:
        raise UsageError(f"no {settings.runtime} models in {settings.models}")
    backend = InProcessBackend()
    if not resume:
        from segbench.model import RunInfo

        info = RunInfo(
            run_id=new_run_id(), started=utc_now(), harness_version=__version__, device=backend.device,
            settings=settings.to_dict(), host=host_details(), versions=collect_versions(), git_sha=git_sha(),
            cases_total=len(cases),
        )
        run = store.create_run(info)
    echo(f"run {run.run_id}: {len(cases)} cases on {backend.device.id} ({backend.device.cpu_model or 'unknown CPU'}); "
         f"results in {run.path}")
    for f in found:
        if f.error:
            echo(f"segbench: warning: {f.error}")
    broken = {f.ref.path: f.error for f in found if f.error}
    outcome = execute(cases, backend, run, Progress(len(cases), echo, quiet), broken)
    status = "interrupted" if outcome.interrupted else "completed"
    run.write_info(replace(run.info(), status=status, finished=utc_now(), cases_total=len(cases)))
    measurements = run.measurements()
    click.echo(render_summary(measurements, run.info()))
    if outcome.interrupted:
        echo(f"segbench: interrupted: {len(measurements)} of {len(cases)} cases saved in {run.path}; "
             f"finish with: segbench run --resume {run.run_id} --reports {reports}")
        return EXIT_INTERRUPTED
    if outcome.skipped_existing:
        echo(f"resumed: {outcome.skipped_existing} cases were already done, ran {len(outcome.measurements)}")
    failed = [m for m in measurements if m.status in ("failed", "timeout")]
    if failed:
        echo(f"segbench: {len(failed)} of {len(measurements)} cases failed (see the table and {run.path / 'logs'})")
        return EXIT_CASES_FAILED
    return EXIT_OK
