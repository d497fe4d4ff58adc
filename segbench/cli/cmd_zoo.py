"""`segbench zoo`: reference architectures of published mobile segmentation tables, listed and exported."""

from __future__ import annotations

from pathlib import Path

import click

from segbench.zoo.registry import HEADS, MODELS


@click.group("zoo")
def command() -> None:
    """Reference models of published tables (needs the 'zoo' extra: torch 2.13.0).

    PP-MobileSeg's comparison (zoo I); TI edgeailite, MLPerf DeepLabv3 and MOSAIC (zoo II). Same topology,
    parameter count and MACs as the reference code, with seeded untrained weights: latency, params and
    MACs are real, accuracy is the published figure. See docs/zoo.md.
    """


@command.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per model instead of the table.")
def list_models(as_json: bool) -> int:
    """Each model's params (measured from the definition, reference code, published), GMACs and heads."""
    import json

    from tabulate import tabulate

    from segbench.zoo import require_torch

    require_torch()
    from segbench.zoo.build import stats

    rows = []
    for model in MODELS:
        s = stats(model.name)
        rows.append({
            "name": model.name, "model": model.title, "backbone": model.backbone, "dataset": model.dataset,
            "num_classes": model.num_classes, "input_size": list(model.input_size),
            "params": s.params, "params_reference": model.reference_params or None,
            "params_published_m": model.published.get("params_m"),
            "gmacs": round(s.gmacs, 3), "gmacs_published": model.published.get("gmacs"),
            "gflops_reference": model.reference_gflops,
            "heads": list(HEADS), "default_head": model.default_head,
        })
    if as_json:
        click.echo(json.dumps({"schema": "segbench.zoo/2", "models": rows}, indent=2))
        return 0
    click.echo(tabulate([_list_row(r) for r in rows], headers=[
        "name", "model", "dataset", "input (HxW)", "params (M)", "reference (M)", "vs reference", "published (M)",
        "GMACs", "published GMACs", "vs published", "reference GFLOPs", "heads (* published)"],
        tablefmt="github", disable_numparse=True))
    click.echo("\nparams: torch sum(p.numel()) of the definition; reference: the reference code's count "
               "(docs/zoo.md); GMACs: convolutions and matmuls at the input size, as `segbench inspect` counts "
               "them in the exported ONNX.")
    return 0


def _list_row(r: dict) -> list[str]:
    def vs(measured: float, reference: float | None) -> str:
        return f"{(measured / reference - 1) * 100:+.2f}%" if reference else "-"

    ref, pub_gmacs = r["params_reference"], r["gmacs_published"]
    return [
        r["name"], r["model"], r["dataset"], "x".join(map(str, r["input_size"])), f"{r['params'] / 1e6:.3f}",
        f"{ref / 1e6:.3f}" if ref else "-", vs(r["params"], ref), r["params_published_m"] or "-",
        f"{r['gmacs']:.3f}", pub_gmacs or "-", vs(r["gmacs"], pub_gmacs),
        r["gflops_reference"] if r["gflops_reference"] is not None else "-",
        ", ".join(h + ("*" if h == r["default_head"] else "") for h in r["heads"]),
    ]


@command.command("export")
@click.argument("names", nargs=-1, metavar="NAME...")
@click.option("--all", "all_models", is_flag=True, help="Every model of the zoo.")
@click.option("--head", "heads", default="default", show_default=True, metavar="HEAD[,HEAD...]",
              help="logits, argmax, vim, or 'default' (the head the published latency used: "
                   "argmax, vim for PP-MobileSeg).")
@click.option("--size", "size_text", default=None, metavar="N|HxW",
              help="Input size: a side, or height x width (default: each model's published size, e.g. 512, "
                   "384x768, 1024x2048).")
@click.option("--format", "fmt", type=click.Choice(["onnx"]), default="onnx", show_default=True)
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0), help="Weight seed.")
@click.option("-o", "--output", "output", required=True, metavar="DIR",
              help="Models directory; its manifest.toml gets one entry per exported file.")
@click.option("-q", "--quiet", is_flag=True, help="No progress lines.")
def export(names: tuple[str, ...], all_models: bool, heads: str, size_text: str | None, fmt: str, seed: int,
           output: str, quiet: bool) -> int:
    """Export models to ONNX, check each against torch in ONNX Runtime, and add them to the manifest."""
    from segbench.models import read_manifest, write_manifest
    from segbench.zoo import require_torch
    from segbench.zoo.registry import check_size

    models = _selected(names, all_models)
    head_list = _heads(heads)
    size = _parse_size(size_text) if size_text else None
    sizes = {m.name: size or m.input_size for m in models}
    for m in models:
        check_size(m, sizes[m.name])
    require_torch()
    out_dir = _output_dir(Path(output))
    read_manifest(out_dir)  # an unreadable manifest stops us before any work
    from segbench.zoo.export import export_model

    jobs = [(m.name, m.default_head if h == "default" else h) for m in models for h in head_list]
    jobs = list(dict.fromkeys(jobs))  # 'default' may repeat an explicit head
    for i, (name, head) in enumerate(jobs, 1):
        result = export_model(name, head, sizes[name], out_dir, seed)
        write_manifest(out_dir, [result.manifest_entry()])  # after each file: Ctrl-C keeps both in step
        if not quiet:
            check = (f"max |ORT - torch| {result.max_abs_diff:.1e}" if result.max_abs_diff is not None
                     else f"labels = torch ({result.label_mismatches} near-tie pixels differ)")
            h, w = result.size
            click.echo(f"[{i}/{len(jobs)}] {result.path.name}: {result.title}, {head}, {h}x{w}; "
                       f"params {result.params:,} (ONNX {result.params_onnx:,}); {check}; "
                       f"{result.seconds:.1f} s", err=True)
    click.echo(f"exported {len(jobs)} model(s) to {out_dir}; entries in {out_dir / 'manifest.toml'}")
    return 0


def _selected(names: tuple[str, ...], all_models: bool) -> list:
    from segbench.errors import UsageError
    from segbench.zoo.registry import get

    if all_models and names:
        raise UsageError("give model names or --all, not both")
    if not all_models and not names:
        raise UsageError("no model named", hint="give NAME... or --all; `segbench zoo list` shows the names")
    return list(MODELS) if all_models else [get(n) for n in names]


def _heads(text: str) -> list[str]:
    from segbench.errors import UsageError

    heads = [h.strip() for h in text.split(",") if h.strip()]
    bad = [h for h in heads if h not in (*HEADS, "default")]
    if bad or not heads:
        raise UsageError(f"unknown --head {','.join(bad) or text!r}", hint=f"use {', '.join(HEADS)} or default")
    return list(dict.fromkeys(heads))


def _parse_size(text: str) -> tuple[int, int]:
    """'512' -> (512, 512); '384x768' -> (384, 768), height first like the NCHW input."""
    from segbench.errors import UsageError

    parts = text.lower().split("x")
    try:
        sides = [int(p) for p in parts]
    except ValueError:
        sides = []
    if len(sides) not in (1, 2) or min(sides, default=0) <= 0:
        raise UsageError(f"--size {text!r}: give a side (512) or height x width (384x768)")
    return (sides[0], sides[-1])


def _output_dir(path: Path) -> Path:
    from segbench.errors import UsageError

    if path.exists() and not path.is_dir():
        raise UsageError(f"-o {path}: exists and is not a directory")
    path.mkdir(parents=True, exist_ok=True)
    return path
