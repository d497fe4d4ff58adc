"""segbench gen-input: images to input tensors in every tool's format (docs/gen-input.md)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from segbench.cli import InputPath
from segbench.errors import UsageError

FORMATS = ("paddle-txt", "raw", "ort-pb", "npy")
PRESET_NAMES = ("paddleseg", "imagenet", "tf", "raw", "unit", "pixels")  # segbench.inputs.PRESET_NAMES
# With no model and no --shape: the PP-MobileSeg speed test's input (the seed's gen_val_txt.py), which Paddle
# Lite's benchmark_bin reads with --input_data_path.
SEED_SHAPE = (1, 3, 512, 512)


def _floats(text: str | None, flag: str) -> tuple[float, ...] | None:
    if text is None:
        return None
    try:
        values = tuple(float(x) for x in text.split(","))
    except ValueError:
        raise UsageError(f"bad {flag} {text!r}", hint="give numbers separated by commas, e.g. 0.485,0.456,0.406") from None
    return values


def _default_format(model: Path | None, shape_given: bool) -> str:
    from segbench.inputs import FORMAT_FOR_MODEL
    from segbench.models import model_format

    if model is None:
        return "npy" if shape_given else "paddle-txt"
    return FORMAT_FOR_MODEL[model_format(model)]


@contextlib.contextmanager
def _progress(items: list[Any], show: bool) -> Iterator[Any]:
    if not show:
        yield items
        return
    with click.progressbar(items, label="gen-input", file=sys.stderr, show_pos=True, show_eta=True) as bar:
        yield bar


@click.command("gen-input")
@click.argument("images", nargs=-1, required=True, type=InputPath(path_type=Path), metavar="IMAGE_OR_DIR...")
@click.option("-o", "--output", "out", type=click.Path(path_type=Path),
              help="Output file (one image), directory (several images, or ort-pb).")
@click.option("--model", type=InputPath(path_type=Path), help="Read the target input from this model (ONNX, TFLite, Paddle .pdmodel; a .nb: docs/gen-input.md); its PaddleSeg deploy.yaml, if any, gives the normalisation.")
@click.option("--models", "models_dir", type=InputPath(path_type=Path), metavar="DIR",
              help="One tensor per model in DIR (as `segbench run --models` finds them), each in its tool's format "
                   "and recipe: IMAGE_STEM.MODEL.EXT next to the image (or in -o DIR).")
@click.option("--input-name", help="Which model input, when the model has several.")
@click.option("--shape", help="Target shape by hand, e.g. 1,3,512,512 (fills a model's dynamic dims).")
@click.option("--layout", type=click.Choice(["nchw", "nhwc"]), help="Target layout (default: guessed from the shape).")
@click.option("--dtype", type=click.Choice(["float32", "float16", "uint8", "int8"]), help="Target dtype (default: the model's, else float32).")
@click.option("--preset", type=click.Choice(PRESET_NAMES),
              help="Normalisation: paddleseg [-1,1] via mean/std 0.5, imagenet, tf [-1,1], raw 0..255, unit [0,1], "
                   "pixels (an integer input holds the pixels: uint8 0..255, int8 -128..127, whatever its scale and "
                   "zero point). Default: the model's deploy.yaml, else paddleseg for float inputs, pixels for integer.")
@click.option("--mean", help="Per-channel mean (1 or 3 values), replaces the preset's.")
@click.option("--std", help="Per-channel std (1 or 3 values), replaces the preset's.")
@click.option("--scale", type=float, help="Pixel multiplier applied before mean/std (e.g. 0.00392156862745098).")
@click.option("--bgr", is_flag=True, help="Feed channels in BGR order.")
@click.option("--resize", "resize_mode", type=click.Choice(["stretch", "pad", "crop"]), default="stretch",
              show_default=True, help="stretch, keep aspect and pad (centred, black), or keep aspect and centre-crop.")
@click.option("--format", "fmt", type=click.Choice(FORMATS),
              help="paddle-txt, raw, ort-pb or npy. Default: by model (.onnx ort-pb, .tflite raw, Paddle paddle-txt); "
                   "npy with --shape; paddle-txt with neither.")
@click.option("--json", "as_json", is_flag=True, help="Print the sidecar records as JSON.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or summary.")
def command(
    images: tuple[Path, ...], out: Path | None, model: Path | None, models_dir: Path | None, input_name: str | None,
    shape: str | None, layout: str | None, dtype: str | None, preset: str | None, mean: str | None, std: str | None,
    scale: float | None, bgr: bool, resize_mode: str, fmt: str | None, as_json: bool, quiet: bool,
) -> int:
    """Make input tensors from images, in the file format each benchmark tool reads.

    With no --model, --models or --shape it does the PP-MobileSeg speed test's job (the seed's
    gen_val_txt.py): IMAGE becomes the float32 [1,3,512,512] tensor, PaddleSeg-normalised to [-1, 1], as
    benchmark_bin --input_data_path text, written next to the image as IMAGE_STEM.txt.

    One image gives one tensor file (plus OUT.json: transform, source hash, output hash); a
    directory or several images give one tensor per image under the directory OUT.
    """
    from segbench import inputs
    from segbench.errors import EXIT_ERROR

    means, stds = _floats(mean, "--mean"), _floats(std, "--std")
    if models_dir is not None:
        if model is not None or shape is not None:
            raise UsageError("--models makes each model's own input: leave out --model and --shape")
        failed = _per_model(images, models_dir, out, input_name, preset, means, stds, scale, bgr, resize_mode, fmt,
                            as_json, quiet)
        return EXIT_ERROR if failed else 0
    seed_default = model is None and shape is None
    target = inputs.resolve_target(
        model, input_name=input_name, shape=inputs.parse_shape(shape) if shape else SEED_SHAPE if seed_default else None,
        layout=layout, dtype=dtype,
    )
    norm, source = _norm(model, target, preset, means, stds, scale, bgr)
    fmt = fmt or _default_format(model, shape is not None)
    pairs, batch = inputs.collect_images(list(images))
    outs = inputs.output_paths(pairs, batch, fmt, out)
    records = []
    show = batch and not quiet and not as_json and sys.stderr.isatty()
    with _progress(list(zip(pairs, outs, strict=True)), show) as items:
        for (image, _), dest in items:
            records.append(_one(image, target, norm, source, resize_mode, fmt, dest))
    if as_json:
        click.echo(json.dumps(records if batch else records[0], indent=2))
    elif not quiet:
        _summary(records, batch, out or Path("inputs"))
    return 0


def _norm(model: Path | None, target: Any, preset: str | None, means: tuple[float, ...] | None,
          stds: tuple[float, ...] | None, scale: float | None, bgr: bool) -> tuple[Any, str]:
    """The normalisation and where it came from: hand values, --preset, the model's deploy.yaml, the default."""
    from segbench import inputs

    if means is None and stds is None and scale is None and preset is None:
        recipe = inputs.recipe_for(model, target)
        norm = dataclasses.replace(recipe.norm, bgr=bgr)
        return norm, recipe.source
    norm = inputs.make_normalization(preset, mean=means, std=stds, scale=scale, bgr=bgr, dtype=target.dtype,
                                     quant=(target.scale, target.zero_point))
    return norm, "--preset" if preset and norm.preset == preset else "given by hand"


def _one(image: Path, target: Any, norm: Any, source: str, resize_mode: str, fmt: str, dest: Path) -> dict[str, Any]:
    from segbench import inputs

    prepared = inputs.prepare(image, target, norm, resize_mode)
    prepared.transform["recipe_source"] = source
    for warning in prepared.warnings:
        click.echo(f"segbench: warning: {warning}", err=True)
    return inputs.write_one(prepared, fmt, dest)


def _per_model(images: tuple[Path, ...], models_dir: Path, out: Path | None, input_name: str | None,
               preset: str | None, means: tuple[float, ...] | None, stds: tuple[float, ...] | None,
               scale: float | None, bgr: bool, resize_mode: str, fmt: str | None, as_json: bool, quiet: bool) -> bool:
    """One tensor per image and model; True when some model could not get one (each said on its own line)."""
    from segbench import inputs
    from segbench.errors import SegbenchError
    from segbench.models import find_models
    from segbench.store import safe_name

    pairs, _ = inputs.collect_images(list(images))
    records, failed = [], False
    found_models = find_models(models_dir, lambda text: click.echo(f"segbench: warning: {text}", err=True))
    for found in found_models:
        path = Path(found.ref.path)
        try:
            if found.error:
                raise SegbenchError(found.error)
            target = inputs.fill_dims(inputs.resolve_target(path, input_name=input_name), path)
            norm, source = _norm(path, target, preset, means, stds, scale, bgr)
            model_fmt = fmt or _default_format(path, False)
            for image, rel in pairs:
                root = out if out is not None else image.parent
                dest = root / rel.parent / f"{rel.name}.{safe_name(found.ref.name)}{inputs.SUFFIX[model_fmt]}"
                record = _one(image, target, norm, source, resize_mode, model_fmt, dest)
                records.append({"model": found.ref.name, **record})
                if not quiet and not as_json:
                    t = record["target"]
                    click.echo(f"wrote {record['output']['path']} for {found.ref.name} ({model_fmt}, {t['dtype']} "
                               f"[{','.join(map(str, t['shape']))}], recipe: {source})")
        except SegbenchError as exc:
            click.echo(f"segbench: error: {found.ref.name}: {exc}", err=True)
            failed = True
    if as_json:
        click.echo(json.dumps(records, indent=2))
    return failed


def _summary(records: list[dict[str, Any]], batch: bool, root: Path) -> None:
    first = records[0]
    t = first["target"]
    what = f"{t['dtype']} [{','.join(str(d) for d in t['shape'])}] {t['layout']}, preset {first['transform']['preset']}"
    if first["transform"].get("recipe_source") not in (None, "--preset", "given by hand"):  # the user's own flags
        what += f" ({first['transform']['recipe_source']})"
    if not batch:
        o = first["output"]
        side = Path(o["path"]).parent if first["format"] == "ort-pb" else Path(o["path"])
        click.echo(f"wrote {o['path']} ({o['bytes']} bytes, {first['format']}, {what}) + {side.name}.json")
        return
    click.echo(f"wrote {len(records)} tensors under {root}/ ({first['format']}, {what}), each with a .json sidecar")
