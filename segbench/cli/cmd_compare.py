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
@click.argument("baseline_run")
@click.argument("candidate_run")
@click.option("--threshold", default="5%", show_default=True, help="Slowdown of the median that counts (5% or 0.05).")
@click.option("--junit", "junit_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write JUnit XML here (one testcase per model/config).")
@click.option("--reports", default="reports", show_default=True, metavar="DIR", help="Where runs are stored.")
def command(baseline_run: str, candidate_run: str, threshold: str, junit_path: Path | None, reports: str) -> int:
    """Pair the cases of two runs; exit 4 when one is slower by more than the threshold and the noise.

    The noise is a bootstrap 95% interval of the median ratio from the stored samples (docs/report.md).
    """
    from segbench.errors import EXIT_REGRESSION, StoreError
    from segbench.report.compare import compare, junit, render
    from segbench.store import Store

    limit = _threshold(threshold)
    store = Store(reports)
    verdicts = compare(store.run(baseline_run).measurements(), store.run(candidate_run).measurements(), limit)
    click.echo(render(verdicts))
    if junit_path:
        try:
            junit_path.write_text(junit(verdicts, f"segbench compare {baseline_run} {candidate_run}"))
        except OSError as exc:
            raise StoreError(f"cannot write {junit_path}: {exc.strerror or exc}") from None
    regressions = [v for v in verdicts if v.status == "regression"]
    click.echo(f"{len(regressions)} regression(s) of {len(verdicts)} case(s), threshold {limit:.1%}", err=True)
    return EXIT_REGRESSION if regressions else 0
