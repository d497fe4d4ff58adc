"""`segbench zoo`: reference architectures of published mobile segmentation tables, listed and exported."""

from __future__ import annotations

from pathlib import Path

import click


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
    from segbench.zoo.registry import HEADS, MODELS

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
@click.option("--all", "all_models", is_flag=True, help="Every model of the zoo (each format takes those it can).")
@click.option("--head", "heads", default="default", show_default=True, metavar="HEAD[,HEAD...]",
              help="logits, argmax, vim, or 'default' (the head the published latency used: "
                   "argmax, vim for PP-MobileSeg).")
@click.option("--size", "size_text", default=None, metavar="N|HxW",
              help="Input size: a side, or height x width (default: each model's published size, e.g. 512, "
                   "384x768, 1024x2048).")
@click.option("--format", "fmt", default="onnx", show_default=True, metavar="FMT[,FMT...]",
              help="onnx, tflite (litert-torch), paddle (PaddleSeg's own classes; Python 3.10), nb (Paddle Lite; "
                   "Python 3.10).")
@click.option("--quant", default="none", show_default=True, metavar="Q[,Q...]",
              help="none (float32) and/or int8 (post-training, calibrated; onnx, tflite and paddle).")
@click.option("--calibration", multiple=True, metavar="IMAGE|DIR",
              help="int8 calibration images (repeatable; default tests/fixtures/images/astronaut.png), "
                   "through gen-input's transform.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0), help="Weight seed.")
@click.option("-o", "--output", "output", required=True, metavar="DIR",
              help="Models directory; its manifest.toml (DIR/manifest.toml, nowhere else) gets one entry per file.")
@click.option("-q", "--quiet", is_flag=True, help="No progress lines.")
def export(names: tuple[str, ...], all_models: bool, heads: str, size_text: str | None, fmt: str, quant: str,
           calibration: tuple[str, ...], seed: int, output: str, quiet: bool) -> int:
    """Export models in each format and quantisation, check each against its source model, and add them to the
    manifest next to the files."""
    from segbench.errors import EXIT_CASES_FAILED
    from segbench.models import read_manifest, write_manifest
    from segbench.zoo import convert
    from segbench.zoo.registry import check_size

    models = _selected(names, all_models)
    head_list = _heads(heads)
    formats = convert.parse_list(fmt, convert.FORMATS, "--format")
    quants = convert.parse_list(quant, convert.QUANTS, "--quant")
    size = _parse_size(size_text) if size_text else None
    sizes = {m.name: size or m.input_size for m in models}
    for m in models:
        check_size(m, sizes[m.name])
    combos = [(f, q) for f in formats for q in quants if (f, q) in convert.NEEDS]
    if not combos:
        raise convert.UsageError(f"--format {fmt} --quant {quant}: nothing to make", hint=convert.UNSUPPORTED_HINT)
    for f, q in [(f, q) for f in formats for q in quants if (f, q) not in convert.NEEDS]:
        click.echo(f"segbench: note: --format {f} --quant {q}: not made ({convert.UNSUPPORTED_HINT})", err=True)
    # A format whose converter this Python lacks is skipped with one line naming the package and the Python that has
    # it, and the others are made (torch formats on 3.11, paddle on 3.10); with nothing left it is the error, exit 1.
    unavailable = {c: err for c in combos if (err := convert.missing(*c))}
    if len(unavailable) == len(combos):
        raise next(iter(unavailable.values()))
    for f in dict.fromkeys(f for f, _ in unavailable):
        qs = [q for g, q in unavailable if g == f]
        click.echo(f"segbench: note: {unavailable[(f, qs[0])]}; {f} {'/'.join(qs)} skipped on this "
                   f"{convert.PYTHON}, the other formats go on", err=True)
    combos = [c for c in combos if c not in unavailable]
    images = convert.collect_calibration(calibration) if any(q == "int8" for _, q in combos) else []
    out_dir = _output_dir(Path(output))
    read_manifest(out_dir)  # an unreadable manifest stops us before any work
    jobs = [(m.name, m.default_head if h == "default" else h, f, q) for m in models for h in head_list
            for f, q in combos]
    jobs = list(dict.fromkeys(jobs))  # 'default' may repeat an explicit head
    skipped = [(n, h, f, q) for n, h, f, q in jobs if not _convertible(n, h, f)]
    jobs = [j for j in jobs if j not in skipped]
    for n, h, f in dict.fromkeys((n, h, f) for n, h, f, _ in skipped):  # once for all its quantisations
        click.echo(f"segbench: note: {n} [{h}] as {f}: {_why_not(n, h, f)}", err=True)
    done = failed = check_failed = 0
    # One model, head and format at a time, every quantisation of it: int8 is made from the float file just checked.
    groups = {(n, h, f): [q for m, g, e, q in jobs if (m, g, e) == (n, h, f)] for n, h, f, _ in jobs}
    i = 0
    for (name, head, f), qs in groups.items():
        made = 0
        try:
            for result in _export_quants(name, head, sizes[name], out_dir, seed, f, qs, images):
                i, made = i + 1, made + 1
                write_manifest(out_dir, [result.manifest_entry()])  # after each file: Ctrl-C keeps both in step
                done += 1
                if not quiet:
                    h, w = result.size
                    inspected = result.inspected or {}
                    click.echo(f"[{i}/{len(jobs)}] {result.path.name}: {result.title}, {head}, {f} {result.quant}, "
                               f"{h}x{w}; params {result.params:,} ({f} {inspected.get('params', result.params_onnx):,}"
                               f"), MACs {inspected.get('macs', 0) / 1e9:.3f} G"
                               f"{' (lower bound)' if inspected.get('macs_unknown') else ''}; {result.check_text}; "
                               f"{result.seconds:.1f} s", err=True)
        except convert.ExportCheckFailed as exc:  # a file that does not compute what its source does: not written
            check_failed, i = check_failed + len(qs) - made, i + len(qs) - made
            click.echo(f"segbench: error: [{i}/{len(jobs)}] {exc}; not written, the others go on", err=True)
        except convert.ConversionFailed as exc:  # a converter that cannot take the model: said, the others go on
            failed, i = failed + len(qs) - made, i + len(qs) - made
            click.echo(f"segbench: note: [{i}/{len(jobs)}] {name} [{head}] as {f}: {exc}; not written", err=True)
    not_made = [f"{check_failed} failed the check, not written"] if check_failed else []
    not_made += [f"{failed} not convertible, noted above"] if failed else []
    if unavailable:
        not_made.append("skipped on this " + convert.PYTHON + ": " + ", ".join(f"{f} {q}" for f, q in unavailable))
    more = f" ({'; '.join(not_made)})" if not_made else ""
    click.echo(f"exported {done} model(s) to {out_dir}{more}; entries in {out_dir / 'manifest.toml'}")
    return EXIT_CASES_FAILED if check_failed or failed else 0


def _export_quants(name: str, head: str, size: tuple[int, int], out_dir: Path, seed: int, fmt: str,
                   quants: list[str], images: list[Path]):  # noqa: ANN202 - ExportResults of either module
    """Each quantisation's file, checked and in ``out_dir``, as it is made."""
    if fmt in ("paddle", "nb"):
        from segbench.zoo.paddle_export import export_paddle

        for quant in quants:
            yield export_paddle(name, head, size, out_dir, seed, fmt, quant, images)
        return
    from segbench.zoo.export import export_quants

    yield from export_quants(name, head, size, out_dir, seed, fmt, tuple(quants), images)


def _convertible(name: str, head: str, fmt: str) -> bool:
    return _why_not(name, head, fmt) is None


def _why_not(name: str, head: str, fmt: str) -> str | None:
    """Why a converter cannot take this model (None: it can)."""
    from segbench.zoo.registry import PADDLESEG_CLASSES

    if fmt in ("paddle", "nb") and name not in PADDLESEG_CLASSES:
        return "PaddleSeg 2.8.0 has no class for it (paddle formats come from PaddleSeg's own classes); skipped"
    if fmt in ("paddle", "nb") and head == "vim" and not name.startswith("pp_mobileseg"):
        return "PaddleSeg's VIM upsampling belongs to PPMobileSeg only; skipped"
    if fmt == "nb" and head == "vim":
        return ("Paddle Lite 2.13rc0's opt rejects VIM's index_put on arm (\"1 ops are not supported on 'arm'\"); "
                "skipped, the paddle program runs it")
    if fmt == "tflite" and head == "vim":
        return ("litert-torch 0.10 cannot lower VIM's unique (\"Lowering not found: aten._unique2.default\"); skipped, "
                "use onnx or paddle for VIM")
    return None


def _selected(names: tuple[str, ...], all_models: bool) -> list:
    from segbench.errors import UsageError
    from segbench.zoo.registry import MODELS, get

    if all_models and names:
        raise UsageError("give model names or --all, not both")
    if not all_models and not names:
        raise UsageError("no model named", hint="give NAME... or --all; `segbench zoo list` shows the names")
    return list(MODELS) if all_models else [get(n) for n in names]


def _heads(text: str) -> list[str]:
    from segbench.errors import UsageError
    from segbench.zoo.registry import HEADS

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
