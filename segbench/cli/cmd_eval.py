"""`segbench eval`: mIoU of a model on a segmentation dataset, stored next to its latency."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from segbench.accuracy.datasets import FORMATS

if TYPE_CHECKING:  # annotations only: the command module stays light to import
    from segbench.accuracy.datasets import Dataset
    from segbench.accuracy.evaluate import EvalOutcome
    from segbench.accuracy.metric import Scores
    from segbench.model import Accuracy, ModelRef
    from segbench.runners.host import HostRuntime


@click.command("eval")
@click.option("--model", "model_path", required=True, type=click.Path(path_type=Path), metavar="FILE",
              help="The model file (.onnx or .tflite).")
@click.option("--dataset", "dataset_dir", required=True, type=click.Path(path_type=Path), metavar="DIR",
              help="The dataset directory (see --format).")
@click.option("--format", "fmt", required=True, type=click.Choice(FORMATS), help="The dataset's layout.")
@click.option("--split", metavar="NAME", help="Split to evaluate (default: validation for ADE20K, val otherwise).")
@click.option("--mapping", metavar="FILE|NAME",
              help="ade20k32: raw label -> class mapping file, or a shipped one: ade20k32_mlperf (default), ade20k32_ti.")
@click.option("--image-list", type=click.Path(path_type=Path), metavar="FILE", help="voc: image ids to evaluate, one a line.")
@click.option("--limit", type=click.IntRange(min=1), metavar="N", help="Only the first N images (sorted by name).")
@click.option("--preset", metavar="NAME", help="Input normalisation: paddleseg, imagenet, tf, raw, unit (default: "
              "paddleseg for float inputs, raw for integer; docs/gen-input.md).")
@click.option("--resize", "resize_mode", type=click.Choice(("stretch", "pad")), default="stretch", show_default=True,
              help="How images are fitted to a fixed model input (pad letterboxes; the padding is cut off again).")
@click.option("--threads", type=click.IntRange(min=1), metavar="N", help="Runtime threads (default: all CPUs).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of the table.")
@click.option("--reports", default="reports", show_default=True, metavar="DIR", help="Where runs are stored.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def command(model_path: Path, dataset_dir: Path, fmt: str, split: str | None, mapping: str | None,
            image_list: Path | None, limit: int | None, preset: str | None, resize_mode: str, threads: int | None,
            as_json: bool, reports: str, quiet: bool) -> int:
    """Run a model over a dataset's images on this machine and report mIoU, per-class IoU, pixel and mean accuracy.

    Images go through gen-input's transform; score outputs are resized bilinearly to each label and
    argmaxed, class-map outputs are resized with nearest neighbour. The result is stored as a run in
    --reports, so `segbench report` shows the measured mIoU next to the model's latency.
    """
    import json
    import os

    from segbench.accuracy.datasets import open_dataset
    from segbench.accuracy.evaluate import evaluate, model_input
    from segbench.accuracy.metric import scores
    from segbench.inputs import make_normalization
    from segbench.model import RUNTIME_FOR_FORMAT
    from segbench.runners.host import runtime_for

    ref = _model_ref(model_path)
    dataset = open_dataset(fmt, dataset_dir, split, _mapping_path(mapping), image_list)
    rt = runtime_for(RUNTIME_FOR_FORMAT[ref.format])
    threads = threads or len(os.sched_getaffinity(0))
    session = rt.open_session(ref.path, threads)
    norm = make_normalization(preset, dtype=model_input(session, ref.path).dtype)
    from segbench.store import utc_now

    started = utc_now()
    total = min(limit or len(dataset.samples), len(dataset.samples))
    with click.progressbar(length=total, label=f"eval {ref.name} on {fmt}", file=click.get_text_stream("stderr"),
                           show_pos=True, show_eta=True, hidden=quiet) as bar:
        outcome = evaluate(session, ref.path, dataset, norm, resize_mode, limit, lambda _: bar.update(1))
    for warning in outcome.warnings:
        click.echo(f"segbench: warning: {warning}", err=True)
    result = scores(outcome.counts, [c is not None for c in dataset.label_map.classes])
    settings = {"preset": norm.preset, "resize": resize_mode, "limit": limit, "threads": threads}
    record = _store(reports, ref, rt, dataset, outcome, result, settings, started)
    click.echo(json.dumps(_json(record), indent=2) if as_json else _table(record, reports))
    return 0


def _model_ref(path: Path) -> ModelRef:
    from segbench.errors import ModelError, UsageError
    from segbench.models import find_models

    if path.is_dir():
        raise UsageError(f"--model {path} is a directory", hint="give one model file")
    (found,) = find_models(path)
    if found.error:
        raise ModelError(found.error)
    if found.ref.format not in ("onnx", "tflite"):
        raise UsageError(f"--model {path}: eval runs ONNX and TFLite models", hint="export the model to ONNX")
    return found.ref


def _mapping_path(mapping: str | None) -> Path | None:
    from segbench.accuracy.labelmap import shipped, shipped_names

    if mapping is None:
        return None
    if not Path(mapping).exists() and mapping in shipped_names():
        return shipped(mapping)
    return Path(mapping)


def _store(reports: str, ref: ModelRef, rt: HostRuntime, dataset: Dataset, outcome: EvalOutcome, result: Scores,
           settings: dict[str, Any], started: str) -> Accuracy:
    """Save the evaluation as a completed run holding one accuracy record."""
    import re
    from dataclasses import replace

    from segbench import __version__
    from segbench.devices import host
    from segbench.model import Accuracy, RunInfo
    from segbench.runinfo import collect_versions, git_sha, host_details
    from segbench.store import Store, new_run_id, utc_now

    device = host.host_info()
    run_settings = {"command": "eval", "model": ref.path, "dataset": str(dataset.root), "format": dataset.format,
                    "split": dataset.split, **settings}
    info = RunInfo(run_id=new_run_id(), started=started, harness_version=__version__, device=device,
                   settings=run_settings, host=host_details(), versions=collect_versions(), git_sha=git_sha(),
                   cases_total=1)
    run = Store(reports).create_run(info)
    lm = dataset.label_map
    record = Accuracy(
        run_id=info.run_id, case_id=re.sub(r"[^A-Za-z0-9._+-]+", "_", f"{ref.name}__{rt.name}__eval_{dataset.format}"),
        model=ref, runtime=rt.name, status="ok", tool=rt.tool, tool_version=rt.version(), device_id=device.id,
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
        "runtime": record.runtime, "dataset": record.dataset["format"], "split": record.dataset["split"],
        "images": record.images, "miou": record.miou, "pixel_acc": record.pixel_acc, "mean_acc": record.mean_acc,
        "per_class_iou": list(record.per_class_iou), "per_class_acc": list(record.per_class_acc),
        "classes": record.dataset["classes"], "prediction": record.prediction, "seconds": record.seconds,
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
    head = (f"eval {record.run_id}: {record.model.name} ({record.runtime}) on {record.dataset['name']} "
            f"{record.dataset['split']}, {record.images} images in {record.seconds:.1f} s; "
            f"results in {Path(reports) / 'runs' / record.run_id}\n"
            f"mIoU {_pct(record.miou)}%  pixel acc {_pct(record.pixel_acc)}%  mean acc {_pct(record.mean_acc)}%  "
            f"({len(rows)} of {evaluated} classes present in labels or predictions; the others are not listed)\n"
            f"prediction: {record.prediction}\n\n")
    return head + tabulate(rows, headers=["id", "class", "IoU (%)", "acc (%)"], tablefmt="github",
                           disable_numparse=True)
