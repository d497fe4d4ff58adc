"""`segbench eval`: mIoU of a model on a segmentation dataset, stored next to its latency."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from segbench.cli import InputPath
from segbench.vocab import DATASET_FORMATS as FORMATS

if TYPE_CHECKING:  # annotations only: the command module stays light to import
    from segbench.accuracy.datasets import Dataset
    from segbench.accuracy.evaluate import EvalOutcome
    from segbench.accuracy.metric import Scores
    from segbench.model import Accuracy, DeviceInfo, ModelRef
    from segbench.runners.host import HostSession


@click.command("eval")
@click.option("--model", "model_path", type=InputPath(path_type=Path), metavar="FILE",
              help="The model file (.onnx, .tflite; Paddle with the paddle extra) or PaddleSeg export folder.  [required]")
@click.option("--dataset", "dataset_dir", type=InputPath(path_type=Path), metavar="DIR",
              help="The dataset directory (see --format).  [required]")
@click.option("--format", "fmt", type=click.Choice(FORMATS), help="The dataset's layout.  [required]")
@click.option("--demo", "demo_dir", type=click.Path(path_type=Path, file_okay=False), metavar="DIR",
              help="Instead of evaluating: write a tiny Pascal VOC dataset (DIR/voc, 2 images) and a one-hot ONNX "
                   "model (DIR/onehot_voc.onnx) to try eval on, and print the command that evaluates them.")
@click.option("--split", metavar="NAME", help="Split to evaluate (default: validation for ADE20K, val otherwise).")
@click.option("--mapping", metavar="FILE|NAME",
              help="ade20k32: raw label -> class mapping file, or a shipped one: ade20k32_mlperf (default), ade20k32_ti.")
@click.option("--image-list", type=InputPath(path_type=Path), metavar="FILE", help="voc: image ids to evaluate, one a line.")
@click.option("--limit", type=click.IntRange(min=1), metavar="N", help="Only the first N images (sorted by name).")
@click.option("--preset", metavar="NAME", help="Input normalisation: paddleseg, imagenet, tf, raw, unit, pixels (default: "
              "the model's deploy.yaml, else paddleseg for float inputs, pixels for integer; docs/gen-input.md).")
@click.option("--resize", "resize_mode", type=click.Choice(("stretch", "pad")), default="stretch", show_default=True,
              help="How images are fitted to a fixed model input (pad letterboxes; the padding is cut off again).")
@click.option("--threads", type=click.IntRange(min=1), metavar="N",
              help="Runtime threads (default: all CPUs here; the big cores on a device).")
@click.option("--device", metavar="SERIAL", help="Evaluate on this Android phone ('auto': the only attached one) "
              "with the vendor tool, one image at a time (TFLite models: benchmark_model --output_filepath).")
@click.option("--adb-server", metavar="HOST:PORT", help="adb server (default: ANDROID_ADB_SERVER_PORT or 5037).")
@click.option("--assets", default="device_assets", show_default=True, metavar="DIR",
              help="Vendor tools for the phone: DIR/manifest.toml and DIR/<abi>/<tool> (device_assets/README.md).")
@click.option("--backend", "tool_backend", metavar="NAME", help="With --device: benchmark_model's delegate (cpu, "
              "xnnpack, gpu, nnapi, hexagon), to measure the accuracy it gives (default: the tool's default).")
@click.option("--timeout", type=click.FloatRange(min=1), default=600.0, metavar="SECONDS",
              help="On a device: seconds before one image's tool run is killed [default: 600].")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of the table.")
@click.option("--reports", default="reports", show_default=True, metavar="DIR", help="Where runs are stored.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def command(model_path: Path | None, dataset_dir: Path | None, fmt: str | None, demo_dir: Path | None,
            split: str | None, mapping: str | None,
            image_list: Path | None, limit: int | None, preset: str | None, resize_mode: str, threads: int | None,
            device: str | None, adb_server: str | None, assets: str, tool_backend: str | None, timeout: float,
            as_json: bool, reports: str, quiet: bool) -> int:
    """Run a model over a dataset's images and report mIoU, per-class IoU, pixel and mean accuracy.

    On this machine the model runs in process; with --device it runs on the phone with the vendor
    tool, each image pushed as the tool's input and its outputs pulled back. Images go through
    gen-input's transform; score outputs are resized bilinearly to each label and argmaxed, class-map
    outputs are resized with nearest neighbour. The result is stored as a run in --reports, so
    `segbench report` shows the measured mIoU next to the model's latency.

    No dataset at hand: --demo DIR writes one, with a model, to try it on.
    """
    import json

    from segbench.errors import UsageError

    if demo_dir is not None:
        given = [f"--{n}" for n, v in (("model", model_path), ("dataset", dataset_dir), ("format", fmt)) if v]
        if given:
            raise UsageError(f"--demo writes a dataset and a model; it takes no {', '.join(given)}",
                             hint="run the eval command it prints next")
        return _demo(demo_dir)
    for name, value, what in (("model", model_path, "FILE"), ("dataset", dataset_dir, "DIR"), ("format", fmt, "NAME")):
        if value is None:
            raise UsageError(f"missing --{name} {what}", hint="see `segbench eval --help`; no dataset at hand: "
                                                             "segbench eval --demo DIR writes one to try")

    from segbench.accuracy.datasets import open_dataset
    from segbench.accuracy.evaluate import evaluate, model_input
    from segbench.accuracy.metric import scores
    from segbench.inputs import recipe_for
    from segbench.model import RUNTIME_FOR_FORMAT
    from segbench.store import utc_now

    ref = _model_ref(model_path)
    runtime = RUNTIME_FOR_FORMAT[ref.format]
    if tool_backend and not device:
        raise UsageError("--backend is for --device", hint="on this machine the runtime's own CPU kernels run")
    if device:
        from segbench.ondevice import check_evaluable

        check_evaluable(ref, runtime, tool_backend)  # before anything touches the phone
    dataset = open_dataset(fmt, dataset_dir, split, _mapping_path(mapping), image_list)
    with contextlib.ExitStack() as stack:
        target = (stack.enter_context(_on_device(ref, runtime, device, adb_server, Path(assets), timeout, threads,
                                                 tool_backend))
                  if device else _on_host(ref, runtime, threads))
        if not device:
            from segbench.runners.host import close_session

            stack.callback(close_session, target.session)
        recipe = recipe_for(Path(ref.path), model_input(target.session, ref.path), preset)
        norm = recipe.norm
        if not quiet:
            click.echo(f"input recipe: {recipe.source} (preset {norm.preset})", err=True)
        started = utc_now()
        total = min(limit or len(dataset.samples), len(dataset.samples))
        where = f" on {target.device.id}" if device else ""
        with click.progressbar(length=total, label=f"eval {ref.name} on {fmt}{where}", show_pos=True, show_eta=True,
                               file=click.get_text_stream("stderr"), hidden=quiet) as bar:
            outcome = evaluate(target.session, ref.path, dataset, norm, resize_mode, limit, lambda _: bar.update(1))
        pushes = target.pushes()
    for warning in outcome.warnings:
        click.echo(f"segbench: warning: {warning}", err=True)
    if pushes:
        click.echo(pushes, err=True)
    result = scores(outcome.counts, [c is not None for c in dataset.label_map.classes])
    settings = {"preset": norm.preset, "recipe": recipe.source, "resize": resize_mode, "limit": limit, "threads": target.threads,
                **target.settings}
    record = _store(reports, ref, target, dataset, outcome, result, settings, started)
    click.echo(json.dumps(_json(record), indent=2) if as_json else _table(record, reports))
    return 0


def _demo(root: Path) -> int:
    """Write the demo dataset and model (segbench/accuracy/demo.py) and say how to evaluate them."""
    import shlex

    from segbench.accuracy.demo import DEMO_DATASET, DEMO_MODEL, DEMO_PAIRS, write_demo
    from segbench.errors import SegbenchError
    from segbench.store import write_entries_atomic

    try:  # whole or not at all: a full disk leaves no half-written demo behind
        write_entries_atomic(root, write_demo)
    except OSError as exc:
        raise SegbenchError(f"cannot write the demo into {root}: {exc.strerror or exc}",
                            hint="nothing was written") from None
    model, dataset = root / DEMO_MODEL, root / DEMO_DATASET
    click.echo(f"wrote {dataset} (Pascal VOC layout, {len(DEMO_PAIRS)} images) and {model} (one-hot: each pixel's "
               "class is its red value; expect mIoU 85.00%)", err=True)
    click.echo(f"segbench eval --model {shlex.quote(str(model))} --dataset {shlex.quote(str(dataset))} --format voc "
               "--preset raw")
    return 0


@dataclass(frozen=True)
class _Target:
    """Where the model runs: the session the evaluation loop drives, and what the record says of it."""

    session: HostSession
    runtime: str
    tool: str
    tool_version: str | None
    device: DeviceInfo
    threads: int
    settings: dict[str, Any]
    pushes: Callable[[], str | None] = lambda: None


def _on_host(ref: ModelRef, runtime: str, threads: int | None) -> _Target:
    import os

    from segbench import power
    from segbench.devices import host
    from segbench.runners.host import runtime_for

    info = host.host_info()
    if threads:
        power.check_threads([threads], info.cores, "this machine")
    rt = runtime_for(runtime)
    threads = threads or len(os.sched_getaffinity(0))
    return _Target(rt.open_session(ref.path, threads), rt.name, rt.tool, rt.version(), info, threads, {})


@contextlib.contextmanager
def _on_device(ref: ModelRef, runtime: str, device: str, adb_server: str | None, assets: Path, timeout: float,
               threads: int | None, tool_backend: str | None) -> Iterator[_Target]:
    """The phone, locked while the evaluation runs, with the model and the tool pushed to it."""
    import tempfile

    from segbench import power
    from segbench.devices import adb
    from segbench.ondevice import open_backend, open_device_session

    client = adb.client(adb_server)
    serial = adb.choose(client, None if device == "auto" else device)
    with tempfile.TemporaryDirectory(prefix="segbench-eval-") as work, \
            open_backend(client, serial, [runtime], assets, workdir=Path(work), timeout_s=timeout) as backend:
        info, tool = backend.device, backend.tools[runtime]
        if threads:
            power.check_threads([threads], info.cores, serial)
        # Threads do not change the outputs; the big cores are simply the quickest way through a dataset.
        threads = threads or len(power.cpus_for_mode("high", info.cpu_max_khz) or []) or 1
        session = open_device_session(backend, ref, runtime, threads, tool_backend)
        yield _Target(session, runtime, tool.binary.name, tool.version, info, threads,
                      {"device": serial, "tool_sha256": tool.sha256, "backend": tool_backend}, backend.summary)


def _model_ref(path: Path) -> ModelRef:
    from segbench.errors import ModelError, UsageError
    from segbench.models import export_program, find_models

    if path.is_dir():  # PaddleSeg's tools/export.py folder is one model; any other folder is not
        program = export_program(path)
        if program is None:
            raise UsageError(f"--model {path} is a directory", hint="give one model file or PaddleSeg export folder")
        path = program
    (found,) = find_models(path)
    if found.error:
        raise ModelError(found.error)
    return found.ref


def _mapping_path(mapping: str | None) -> Path | None:
    from segbench.accuracy.labelmap import shipped, shipped_names

    if mapping is None:
        return None
    if not Path(mapping).exists() and mapping in shipped_names():
        return shipped(mapping)
    return Path(mapping)


def _store(reports: str, ref: ModelRef, target: _Target, dataset: Dataset, outcome: EvalOutcome, result: Scores,
           settings: dict[str, Any], started: str) -> Accuracy:
    """Save the evaluation as a completed run holding one accuracy record."""
    import re
    from dataclasses import replace

    from segbench import __version__
    from segbench.model import Accuracy, RunInfo
    from segbench.runinfo import collect_versions, git_sha, host_details
    from segbench.store import Store, new_run_id, utc_now

    device = target.device
    run_settings = {"command": "eval", "model": ref.path, "dataset": str(dataset.root), "format": dataset.format,
                    "split": dataset.split, **settings}
    info = RunInfo(run_id=new_run_id(), started=started, harness_version=__version__, device=device,
                   settings=run_settings, host=host_details(), versions=collect_versions(), git_sha=git_sha(),
                   cases_total=1)
    run = Store(reports).create_run(info)
    lm = dataset.label_map
    record = Accuracy(
        run_id=info.run_id,
        case_id=re.sub(r"[^A-Za-z0-9._+-]+", "_", f"{ref.name}__{target.runtime}__eval_{dataset.format}"
                       + (f"__{settings['backend']}" if settings.get("backend") else "")),
        model=ref, runtime=target.runtime, status="ok", tool=target.tool, tool_version=target.tool_version,
        device_id=device.id, emulated=device.emulated,
        dataset={"format": dataset.format, "name": lm.name, "path": str(dataset.root), "split": dataset.split,
                 "mapping": lm.source, "classes": list(lm.classes)},
        images=outcome.images, miou=result.miou, pixel_acc=result.pixel_acc, mean_acc=result.mean_acc,
        per_class_iou=result.per_class_iou, per_class_acc=result.per_class_acc,
        confusion=tuple(tuple(int(x) for x in row) for row in outcome.counts), prediction=outcome.prediction,
        settings=settings, seconds=round(outcome.seconds, 3), started=started, finished=utc_now(),
    )
    run.append(record)
    run.write_info(replace(info, status="completed", finished=record.finished))
    return record


def _json(record: Accuracy) -> dict[str, Any]:
    return {
        "schema": "segbench.eval/1", "run_id": record.run_id, "model": record.model.name, "sha256": record.model.sha256,
        "runtime": record.runtime, "tool": record.tool, "device": record.device_id, "dataset": record.dataset["format"], "split": record.dataset["split"],
        "images": record.images, "miou": record.miou, "pixel_acc": record.pixel_acc, "mean_acc": record.mean_acc,
        "per_class_iou": list(record.per_class_iou), "per_class_acc": list(record.per_class_acc),
        "classes": record.dataset["classes"], "prediction": record.prediction,
        "input": {"preset": record.settings.get("preset"), "recipe": record.settings.get("recipe")},
        "seconds": record.seconds,
    }


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}"


def _table(record: Accuracy, reports: str) -> str:
    from tabulate import tabulate

    classes = record.dataset["classes"]
    rows = [[i, name, _pct(iou), _pct(acc)]
            for i, (name, iou, acc) in enumerate(zip(classes, record.per_class_iou, record.per_class_acc))
            if name is not None and iou is not None]
    evaluated = sum(name is not None for name in classes)
    backend = f" ({record.settings['backend']})" if record.settings.get("backend") else ""
    where = f", {record.tool}{backend} on {record.device_id}" if record.settings.get("device") else ""
    head = (f"eval {record.run_id}: {record.model.name} ({record.runtime}{where}) on {record.dataset['name']} "
            f"{record.dataset['split']}, {record.images} images in {record.seconds:.1f} s; "
            f"results in {Path(reports) / 'runs' / record.run_id}\n"
            f"mIoU {_pct(record.miou)}%  pixel acc {_pct(record.pixel_acc)}%  mean acc {_pct(record.mean_acc)}%  "
            f"({len(rows)} of {evaluated} classes present in labels or predictions; the others are not listed)\n"
            f"prediction: {record.prediction}\n"
            f"input recipe: {record.settings.get('recipe')} (preset {record.settings.get('preset')})\n\n")
    return head + tabulate(rows, headers=["id", "class", "IoU (%)", "acc (%)"], tablefmt="github",
                           disable_numparse=True)
