"""`segbench inspect`: params, MACs, shapes and ops of model files, without running them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from segbench.cli import InputPath

if TYPE_CHECKING:  # annotations only: the command module stays light to import
    from segbench.model import ModelInfo, TensorInfo

INSPECT_SCHEMA = "segbench.inspect/1"


@click.command("inspect")
@click.argument("models", nargs=-1, required=True, type=InputPath(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help=f'One JSON document: {{"schema": "{INSPECT_SCHEMA}", "models": [...]}}.')
@click.option("--top", default=8, show_default=True, metavar="N", help="Op types listed per line (0: all).")
def command(models: tuple[Path, ...], as_json: bool, top: int) -> int:
    """Params, MACs, shapes and ops of ONNX, TFLite and Paddle models, without running them.

    For each model: format, size, sha256, producer/opset, inputs/outputs, params, MACs/FLOPs by op type
    and the op histogram; several models are then compared in one table. Paddle: .pdmodel or PIR .json,
    with its .pdiparams. A directory means every model in it, as `segbench run` finds them (export folders too).

    A file that cannot be read gets one `segbench: error:` line and the others are still inspected (exit 1).
    Conventions (what counts as a param, a MAC): docs/inspect.md.
    """
    import json

    from segbench.errors import EXIT_ERROR, SegbenchError
    from segbench.modelinfo import inspect_model

    infos, failed = [], 0
    for path in _expand(models):
        try:
            infos.append(inspect_model(path))
        except SegbenchError as exc:
            click.echo(f"segbench: error: {exc}", err=True)
            failed += 1
            continue
        if not as_json:
            click.echo(_text(infos[-1], top))
    if as_json:
        click.echo(json.dumps({"schema": INSPECT_SCHEMA, "models": [i.to_dict() for i in infos]}, indent=2))
    elif len(infos) > 1:
        click.echo(_summary(infos))
    return EXIT_ERROR if failed else 0


def _summary(infos: list[ModelInfo]) -> str:
    """Several models side by side, as a comparison table reads them."""
    from tabulate import tabulate

    rows = [[Path(i.path).name, i.format, f"{i.params / 1e6:.3f}",
             f"{i.macs / 1e9:.3f}" + (" (lower bound)" if i.macs_unknown else ""),
             ", ".join(_shape(t.shape) for t in i.inputs)] for i in infos]
    headers = ["model", "format", "params (M)", "GMACs", "inputs"]
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def _expand(paths: tuple[Path, ...]) -> list[Path]:
    """Files as given; a directory replaced by the model files `segbench run` finds in it (export folders and
    nested suites too, sorted), with a warning for each model of a format segbench cannot read."""
    from segbench.models import model_files

    out = []
    for path in paths:
        if not path.is_dir():
            out.append(path)
            continue
        out += sorted(model_files(path, lambda text: click.echo(f"segbench: warning: {text}", err=True)))
    return out


def _si(n: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.3f} {unit}"
    return f"{n:g}"


def _table(counts: dict[str, int], top: int, fmt: Callable[[int], str]) -> str:
    items = list(counts.items())
    shown = items if top <= 0 else items[:top]
    parts = [f"{k} {fmt(v)}" for k, v in shown]
    if len(items) > len(shown):
        parts.append(f"... {len(items) - len(shown)} more")
    return ", ".join(parts) or "none"


def _shape(shape: tuple[int | str | None, ...]) -> str:
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def _tensor(t: TensorInfo) -> str:
    shape = _shape(t.shape)
    quant = f" scale {t.scale:g} zero point {t.zero_point}" if t.scale is not None else ""
    return f"{t.name} {shape} {t.dtype}{' ' + t.layout if t.layout else ''}{quant}"


def _text(i: ModelInfo, top: int) -> str:
    by_dtype = ", ".join(f"{k} {v:,}" for k, v in i.params_by_dtype.items())
    share = lambda v: f"{_si(v)} ({100 * v / i.macs:.1f}%)"  # noqa: E731
    lines = [
        i.path,
        f"  format    {i.format}, {i.file_size:,} bytes, sha256 {i.sha256}",
        f"  producer  {i.producer or 'unknown'}; {i.version or 'version unknown'}",
        *(f"  input     {_tensor(t)}" for t in i.inputs),
        *(f"  output    {_tensor(t)}" for t in i.outputs),
        f"  params    {i.params:,} ({i.params / 1e6:.3f} M){'; ' + by_dtype if by_dtype else ''}",
        f"  MACs      {i.macs:,} ({i.macs / 1e9:.3f} G), FLOPs {_si(i.flops)}",
        f"    by op   {_table(i.macs_by_op, top, share)}",
        f"  other     {_table(i.other_ops, top, _si)}  (pooling/resize/elementwise ops; not in MACs)",
        f"  ops       {sum(i.ops.values())}: {_table(i.ops, top, str)}",
        *(f"  note      {n}" for n in i.notes),
    ]
    return "\n".join(lines) + "\n"
