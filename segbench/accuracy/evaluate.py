"""The evaluation loop: each image through gen-input's transform and a host runtime, its output
brought to the label's size, and one confusion matrix for the dataset.

One image is in memory at a time (its tensor, the model's output, its label and prediction), so
memory stays flat however many images are evaluated (bench/eval_memory.py shows it).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from segbench.accuracy.datasets import Dataset, Sample, read_label
from segbench.accuracy.metric import ConfusionMatrix
from segbench.accuracy.predict import Region, interpret, to_label_size
from segbench.errors import InputError, UsageError
from segbench.inputs import Normalization, Prepared, prepare
from segbench.model import TensorInfo
from segbench.runners.host import HostSession

PREDICTION = {"scores": "scores resized bilinearly to the label size, then argmax",
              "labels": "class map resized to the label size with nearest neighbour"}
RESIZE_MODES = ("stretch", "pad")


@dataclass(frozen=True)
class EvalOutcome:
    counts: np.ndarray  # the confusion matrix [n, n + 1]
    images: int
    prediction: str
    seconds: float
    warnings: tuple[str, ...]


def model_input(session: HostSession, model_path: str) -> TensorInfo:
    """The one image input of the model, with a layout."""
    if len(session.inputs) != 1:
        raise InputError(f"{model_path}: has {len(session.inputs)} inputs; eval feeds single-input image models")
    spec = session.inputs[0]
    if spec.layout is None:
        raise InputError(f"{model_path}: cannot tell whether input {spec.name!r} {list(spec.shape)} is NCHW or NHWC")
    return spec


def region(prepared: Prepared) -> Region:
    """The part of the model input that holds the image (all of it unless letterboxed by ``pad``)."""
    resize = prepared.transform["resize"]
    x0, y0, x1, y1 = resize["content_box"]
    tw, th = resize["to"]
    return Region(x0 / tw, y0 / th, x1 / tw, y1 / th)


def predict_one(session: HostSession, spec: TensorInfo, sample: Sample, norm: Normalization, resize_mode: str,
                num_classes: int, label_shape: tuple[int, int]) -> tuple[np.ndarray, str, Prepared]:
    """Class ids at ``label_shape`` for one image, the kind of output it came from, and the input made."""
    prepared = prepare(sample.image, spec, norm, resize_mode)
    w, h = prepared.source["size"]
    if (h, w) != label_shape:
        raise InputError(f"{sample.image}: image is {w}x{h} but its label {sample.label.name} is "
                         f"{label_shape[1]}x{label_shape[0]}", hint="image and label must be the same size")
    session.set_inputs([prepared.tensor])
    session.run_once()
    out = interpret(session.outputs()[0], num_classes, spec.layout)
    return to_label_size(out, label_shape, region(prepared)), out.kind, prepared


def evaluate(session: HostSession, model_path: str, dataset: Dataset, norm: Normalization, resize_mode: str = "stretch",
             limit: int | None = None, on_image: Callable[[int], None] | None = None) -> EvalOutcome:
    """Evaluate the model behind ``session`` on the first ``limit`` samples of ``dataset``."""
    if resize_mode not in RESIZE_MODES:
        raise UsageError(f"--resize {resize_mode} cannot be evaluated",
                         hint="crop cuts off parts of the image that the label covers; use stretch or pad")
    spec = model_input(session, model_path)
    cm = ConfusionMatrix(dataset.label_map.num_classes)
    samples = dataset.samples[:limit] if limit else dataset.samples
    kinds: set[str] = set()
    warnings: dict[str, None] = {}
    t0 = time.perf_counter()
    for i, sample in enumerate(samples, 1):
        label = read_label(sample.label, dataset.label_map)
        pred, kind, prepared = predict_one(session, spec, sample, norm, resize_mode, cm.num_classes, label.shape)
        cm.add(label, pred)
        kinds.add(kind)
        # one line per kind of warning, not per image (the saturating share differs from image to image)
        warnings.update(dict.fromkeys(re.sub(r"^[\d.]+% of the values", "more than 1% of the values",
                                             w.split(": ", 1)[-1]) for w in prepared.warnings))
        if on_image:
            on_image(i)
    prediction = "; ".join(PREDICTION[k] for k in sorted(kinds))
    return EvalOutcome(cm.counts, len(samples), prediction, time.perf_counter() - t0, tuple(warnings))
