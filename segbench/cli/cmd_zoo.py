"""`segbench zoo`: the architectures of PP-MobileSeg's comparison, listed and exported for benchmarking."""

from __future__ import annotations

from pathlib import Path

import click

from segbench.zoo.registry import HEADS, MODELS


@click.group("zoo")
def command() -> None:
    """Reference models of PP-MobileSeg's comparison (needs the 'zoo' extra: torch 2.13.0).

    Same topology and parameter count as the reference code, with seeded untrained weights:
    latency and params are real, accuracy is the published figure. See docs/zoo.md.
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
            "name": model.name, "model": model.title, "backbone": model.backbone,
            "params": s.params, "params_reference": model.reference_params,
            "params_published_m": model.published.get("params_m"),
            "gmacs_512": round(s.gmacs, 3), "gflops_reference": model.reference_gflops,
            "heads": list(HEADS), "default_head": model.default_head,
        })
    if as_json:
        click.echo(json.dumps({"schema": "segbench.zoo/1", "models": rows}, indent=2))
        return 0
    table = [[
        r["name"], r["model"], f"{r['params'] / 1e6:.3f}", f"{r['params_reference'] / 1e6:.3f}",
        f"{(r['params'] / r['params_reference'] - 1) * 100:+.2f}%", r["params_published_m"],
        f"{r['gmacs_512']:.2f}", r["gflops_reference"] if r["gflops_reference"] is not None else "-",
        ", ".join(h + ("*" if h == r["default_head"] else "") for h in r["heads"]),
    ] for r in rows]
    headers = ["name", "model", "params (M)", "reference (M)", "vs reference", "published (M)",
               "GMACs @512", "reference GFLOPs", "heads (* published)"]
    click.echo(tabulate(table, headers, tablefmt="github", disable_numparse=True))
    click.echo("\nparams: torch sum(p.numel()) of the definition; reference: the reference code's count "
               "(docs/zoo.md); GMACs: convolutions and matmuls at 512x512.")
    return 0


@command.command("export")
@click.argument("names", nargs=-1, metavar="NAME...")
@click.option("--all", "all_models", is_flag=True, help="Every model of the zoo.")
@click.option("--head", "heads", default="default", show_default=True, metavar="HEAD[,HEAD...]",
              help="logits, argmax, vim, or 'default' (the head the published latency used: "
                   "argmax, vim for PP-MobileSeg).")
@click.option("--size", default=512, show_default=True, type=int, help="Input side (a multiple of 64).")
@click.option("--format", "fmt", type=click.Choice(["onnx"]), default="onnx", show_default=True)
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0), help="Weight seed.")
@click.option("-o", "--output", "output", required=True, metavar="DIR",
              help="Models directory; its manifest.toml gets one entry per exported file.")
@click.option("-q", "--quiet", is_flag=True, help="No progress lines.")
def export(names: tuple[str, ...], all_models: bool, heads: str, size: int, fmt: str, seed: int, output: str,
           quiet: bool) -> int:
    """Export models to ONNX, check each against torch in ONNX Runtime, and add them to the manifest."""
    from segbench.models import read_manifest, write_manifest
    from segbench.zoo import require_torch

    models = _selected(names, all_models)
    head_list = _heads(heads)
    _check_size(size)
    require_torch()
    out_dir = _output_dir(Path(output))
    read_manifest(out_dir)  # an unreadable manifest stops us before any work
    from segbench.zoo.export import export_model

    jobs = [(m.name, m.default_head if h == "default" else h) for m in models for h in head_list]
    jobs = list(dict.fromkeys(jobs))  # 'default' may repeat an explicit head
    for i, (name, head) in enumerate(jobs, 1):
        result = export_model(name, head, size, out_dir, seed)
        write_manifest(out_dir, [result.manifest_entry()])  # after each file: Ctrl-C keeps both in step
        if not quiet:
            check = (f"max |ORT - torch| {result.max_abs_diff:.1e}" if result.max_abs_diff is not None
                     else f"labels = torch ({result.label_mismatches} near-tie pixels differ)")
            click.echo(f"[{i}/{len(jobs)}] {result.path.name}: {result.title}, {head}, {size}x{size}; "
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


def _check_size(size: int) -> None:
    from segbench.errors import UsageError

    # TopFormer and SeaFormer downsample to 1/64; their token pooling needs whole cells.
    if size < 64 or size % 64:
        raise UsageError(f"--size {size}: must be a multiple of 64 (64, 128, ..., 512)")


def _output_dir(path: Path) -> Path:
    from segbench.errors import UsageError

    if path.exists() and not path.is_dir():
        raise UsageError(f"-o {path}: exists and is not a directory")
    path.mkdir(parents=True, exist_ok=True)
    return path
