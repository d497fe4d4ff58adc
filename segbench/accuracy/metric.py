"""The confusion-matrix metric: mIoU, per-class IoU, pixel accuracy and mean accuracy.

``cm[label, pred]`` counts pixels; labels are class ids (IGNORE pixels are dropped before counting)
and predictions are class ids too, with one extra last column for predictions that are not a class
of the dataset (an argmax head with more outputs than the dataset has classes). Counting is one
``np.bincount`` per image. Scores are computed from the matrix when asked, as mmsegmentation does:
IoU_c = TP / (TP + FP + FN) over classes whose union is not empty (present in labels or in
predictions), accuracy_c = TP / label pixels over classes present in labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from segbench.accuracy.labelmap import IGNORE


class ConfusionMatrix:
    """An accumulator (mutable on purpose: it grows image by image)."""

    def __init__(self, num_classes: int) -> None:
        self.num_classes = num_classes
        self.counts = np.zeros((num_classes, num_classes + 1), dtype=np.int64)

    def add(self, label: np.ndarray, pred: np.ndarray) -> None:
        """Count one image: ``label`` uint8 class ids (255 ignored), ``pred`` integer class ids, same shape."""
        if label.shape != pred.shape:
            raise ValueError(f"label {label.shape} and prediction {pred.shape} differ")
        n = self.num_classes
        keep = label != IGNORE
        lab = label[keep].astype(np.int64)
        p = pred[keep].astype(np.int64)
        p[(p < 0) | (p >= n)] = n  # not a class of this dataset: the extra column
        self.counts += np.bincount(lab * (n + 1) + p, minlength=n * (n + 1)).reshape(n, n + 1)


@dataclass(frozen=True)
class Scores:
    """Fractions in 0..1; per-class lists are indexed by class id, None where the class has no score."""

    miou: float | None
    pixel_acc: float | None
    mean_acc: float | None
    per_class_iou: tuple[float | None, ...]
    per_class_acc: tuple[float | None, ...]
    classes_scored: int
    pixels: int


def scores(counts: np.ndarray, evaluated: Sequence[bool] | None = None) -> Scores:
    """Scores of a confusion matrix ``counts`` [n, n+1]; ``evaluated[c]`` False leaves class c out."""
    counts = np.asarray(counts, dtype=np.int64)
    n = counts.shape[0]
    mask = np.ones(n, dtype=bool) if evaluated is None else np.asarray(evaluated, dtype=bool)
    tp = np.diagonal(counts[:, :n]).astype(np.float64)
    label_px = counts.sum(axis=1).astype(np.float64)
    pred_px = counts[:, :n].sum(axis=0).astype(np.float64)
    union = label_px + pred_px - tp
    iou = np.where(union > 0, tp / np.where(union > 0, union, 1), np.nan)
    acc = np.where(label_px > 0, tp / np.where(label_px > 0, label_px, 1), np.nan)
    iou[~mask] = np.nan
    acc[~mask] = np.nan
    total = int(counts.sum())
    return Scores(
        miou=_nanmean(iou), pixel_acc=float(tp.sum() / total) if total else None, mean_acc=_nanmean(acc),
        per_class_iou=_listed(iou), per_class_acc=_listed(acc),
        classes_scored=int(np.count_nonzero(~np.isnan(iou))), pixels=total,
    )


def _nanmean(values: np.ndarray) -> float | None:
    present = values[~np.isnan(values)]
    return float(present.mean()) if present.size else None


def _listed(values: np.ndarray) -> tuple[float | None, ...]:
    return tuple(None if np.isnan(v) else float(v) for v in values)
