"""segbench gen-input: images to input tensors in every tool's format (docs/gen-input.md)."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from segbench.errors import UsageError

FORMATS = ("paddle-txt", "raw", "ort-pb", "npy")
PRESET_NAMES = ("paddleseg", "imagenet", "tf", "raw", "unit")


def _floats(text: str | None, flag: str) -> tuple[float, ...] | None:
    if text is None:
        return None
    try:
        values = tuple(float(x) for x in text.split(","))
    except ValueError:
        raise UsageError(f"bad {flag} {text!r}", hint="give numbers separated by commas, e.g. 0.485,0.456,0.406") from None
    return values


def _default_format(model: Path | None) -> str:
    if model is None:
        return "npy"
    from segbench.inputs import FORMAT_FOR_MODEL
    from segbench.models import model_format

    return FORMAT_FOR_MODEL[model_format(model)]


@contextlib.contextmanager
def _progress(items: list[Any], show: bool) -> Iterator[Any]:
    if not show:
        yield items
        return
    with click.progressbar(items, label="gen-input", file=sys.stderr, show_pos=True, show_eta=True) as bar:
        yield bar


@click.command("gen-input")
@click.argument("images", nargs=-1, required=True, type=click.Path(path_type=Path), metavar="IMAGE_OR_DIR...")
@click.option("-o", "--output", "out", type=click.Path(path_type=Path),
              help="Output file (one image), directory (several images, or ort-pb).")
@click.option("--model", type=click.Path(path_type=Path), help="Read the target input from this model (ONNX, TFLite, Paddle .pdmodel; a .nb: docs/gen-input.md).")
@click.option("--input-name", help="Which model input, when the model has several.")
@click.option("--shape", help="Target shape by hand, e.g. 1,3,512,512 (fills a model's dynamic dims).")
@click.option("--layout", type=click.Choice(["nchw", "nhwc"]), help="Target layout (default: guessed from the shape).")
@click.option("--dtype", type=click.Choice(["float32", "float16", "uint8", "int8"]), help="Target dtype (default: the model's, else float32).")
@click.option("--preset", type=click.Choice(PRESET_NAMES),
              help="Normalisation: paddleseg [-1,1] via mean/std 0.5, imagenet, tf [-1,1], raw 0..255, unit [0,1]. "
                   "Default: paddleseg for float inputs, raw for integer ones.")
@click.option("--mean", help="Per-channel mean (1 or 3 values), replaces the preset's.")
@click.option("--std", help="Per-channel std (1 or 3 values), replaces the preset's.")
@click.option("--scale", type=float, help="Pixel multiplier applied before mean/std (e.g. 0.00392156862745098).")
@click.option("--bgr", is_flag=True, help="Feed channels in BGR order.")
@click.option("--resize", "resize_mode", type=click.Choice(["stretch", "pad", "crop"]), default="stretch",
              show_default=True, help="stretch, keep aspect and pad (centred, black), or keep aspect and centre-crop.")
@click.option("--format", "fmt", type=click.Choice(FORMATS),
              help="paddle-txt, raw, ort-pb or npy. Default: by model (.onnx ort-pb, .tflite raw, Paddle paddle-txt), else npy.")
@click.option("--json", "as_json", is_flag=True, help="Print the sidecar records as JSON.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or summary.")
def command(
    images: tuple[Path, ...], out: Path | None, model: Path | None, input_name: str | None, shape: str | None,
    layout: str | None, dtype: str | None, preset: str | None, mean: str | None, std: str | None,
    scale: float | None, bgr: bool, resize_mode: str, fmt: str | None, as_json: bool, quiet: bool,
) -> int:
    """Make input tensors from images, in the file format each benchmark tool reads.

    One image gives one tensor file (plus OUT.json: transform, source hash, output hash); a
    directory or several images give one tensor per image under the directory OUT.
    """
    from segbench import inputs

    target = inputs.resolve_target(
        model, input_name=input_name, shape=inputs.parse_shape(shape) if shape else None, layout=layout, dtype=dtype,
    )
    norm = inputs.make_normalization(
        preset, mean=_floats(mean, "--mean"), std=_floats(std, "--std"), scale=scale, bgr=bgr, dtype=target.dtype,
    )
    fmt = fmt or _default_format(model)
    pairs, batch = inputs.collect_images(list(images))
    outs = inputs.output_paths(pairs, batch, fmt, out)
    records = []
    show = batch and not quiet and not as_json and sys.stderr.isatty()
    with _progress(list(zip(pairs, outs, strict=True)), show) as items:
        for (image, _), dest in items:
            prepared = inputs.prepare(image, target, norm, resize_mode)
            for warning in prepared.warnings:
                click.echo(f"segbench: warning: {warning}", err=True)
            records.append(inputs.write_one(prepared, fmt, dest))
    if as_json:
        click.echo(json.dumps(records if batch else records[0], indent=2))
    elif not quiet:
        _summary(records, batch, out or Path("inputs"))
    return 0


def _summary(records: list[dict[str, Any]], batch: bool, root: Path) -> None:
    first = records[0]
    t = first["target"]
    what = f"{t['dtype']} [{','.join(str(d) for d in t['shape'])}] {t['layout']}, preset {first['transform']['preset']}"
    if not batch:
        o = first["output"]
        side = Path(o["path"]).parent if first["format"] == "ort-pb" else Path(o["path"])
        click.echo(f"wrote {o['path']} ({o['bytes']} bytes, {first['format']}, {what}) + {side.name}.json")
        return
    click.echo(f"wrote {len(records)} tensors under {root}/ ({first['format']}, {what}), each with a .json sidecar")
