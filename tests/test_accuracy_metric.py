"""The confusion-matrix metric against independent per-class computations."""

import numpy as np
import pytest

from seg_synth import LABEL, MEAN_ACC, MIOU, PER_CLASS_IOU, PIXEL_ACC, PRED
from segbench.accuracy import labelmap
from segbench.accuracy.metric import ConfusionMatrix, scores


def reference(label: np.ndarray, pred: np.ndarray, n: int, ignore: int = 255, evaluated=None):
    """A straightforward per-class loop over boolean masks (no confusion matrix, no bincount)."""
    valid = label != ignore
    ious, accs = [], []
    for c in range(n):
        if evaluated is not None and not evaluated[c]:
            ious.append(None)
            accs.append(None)
            continue
        is_label = valid & (label == c)
        is_pred = valid & (pred == c)
        inter = np.sum(is_label & is_pred)
        union = np.sum(is_label | is_pred)
        ious.append(inter / union if union else None)
        accs.append(inter / is_label.sum() if is_label.sum() else None)
    present = [v for v in ious if v is not None]
    labelled = [v for v in accs if v is not None]
    return {
        "miou": sum(present) / len(present) if present else None,
        "pixel_acc": np.sum(valid & (label == pred)) / valid.sum() if valid.sum() else None,
        "mean_acc": sum(labelled) / len(labelled) if labelled else None,
        "iou": ious, "acc": accs,
    }


def _accumulate(pairs, n):
    cm = ConfusionMatrix(n)
    for label, pred in pairs:
        cm.add(label, pred)
    return cm.counts


def _check(got, want):
    assert got.miou == pytest.approx(want["miou"], abs=1e-12)
    assert got.pixel_acc == pytest.approx(want["pixel_acc"], abs=1e-12)
    assert got.mean_acc == pytest.approx(want["mean_acc"], abs=1e-12)
    for g, w in zip(got.per_class_iou, want["iou"]):
        assert (g is None and w is None) or g == pytest.approx(w, abs=1e-12)
    for g, w in zip(got.per_class_acc, want["acc"]):
        assert (g is None and w is None) or g == pytest.approx(w, abs=1e-12)


def test_hand_checked_case():
    label = np.where(LABEL < 0, 255, LABEL).astype(np.uint8)
    s = scores(_accumulate([(label, PRED)], 150))
    assert s.miou == pytest.approx(MIOU) and s.pixel_acc == pytest.approx(PIXEL_ACC)
    assert s.mean_acc == pytest.approx(MEAN_ACC)
    assert s.per_class_iou[:3] == pytest.approx(PER_CLASS_IOU)
    assert s.per_class_iou[3:] == (None,) * 147 and s.classes_scored == 3 and s.pixels == 12


@pytest.mark.parametrize("seed", range(8))
def test_random_pairs_with_ignore_absent_classes_and_stray_predictions(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 40))
    present = rng.choice(n, size=max(1, n // 2), replace=False)  # the other classes never occur in labels
    pairs, labels, preds = [], [], []
    for _ in range(int(rng.integers(1, 5))):
        shape = tuple(int(x) for x in rng.integers(1, 60, size=2))
        label = rng.choice(present, size=shape).astype(np.uint8)
        label[rng.random(shape) < 0.2] = 255  # ignored pixels
        pred = rng.integers(-2, n + 3, size=shape)  # includes ids that are not classes at all
        keep = rng.random(shape) < 0.5
        pred[keep] = np.where(label[keep] == 255, 0, label[keep])  # half right, so IoUs are not all ~0
        pairs.append((label, pred))
        labels.append(label.ravel())
        preds.append(pred.ravel())
    got = scores(_accumulate(pairs, n))
    _check(got, reference(np.concatenate(labels), np.concatenate(preds), n))


@pytest.mark.parametrize("seed", range(4))
def test_reduce_zero_label_matches_shift_and_ignore(seed):
    # ADE20K: raw 0 ("other") is ignored and raw k becomes class k-1.
    rng = np.random.default_rng(100 + seed)
    raw = rng.integers(0, 151, size=(37, 53)).astype(np.uint16)
    pred = rng.integers(0, 150, size=raw.shape)
    pred[raw > 0] = np.where(rng.random(int((raw > 0).sum())) < 0.3, raw[raw > 0] - 1, pred[raw > 0])
    mapped = labelmap.ade20k().apply(raw, "x.png")
    assert np.array_equal(mapped == 255, raw == 0)
    assert np.array_equal(mapped[raw > 0], raw[raw > 0] - 1)
    shifted = np.where(raw == 0, 255, raw.astype(np.int64) - 1)  # the reference does its own shift
    _check(scores(_accumulate([(mapped, pred)], 150)), reference(shifted, pred, 150))


def mlperf_miou(raw_label: np.ndarray, pred: np.ndarray, num_class: int = 32) -> float:
    """MLPerf Mobile's own ADE20K-32 formula (segmentation_inference_eval_seg_tflite.py), re-typed."""
    lab = raw_label.astype(np.int64).copy()
    lab[lab >= 32] = 0
    p = pred * (lab > 0)
    inter = p * (p == lab)
    area_inter, _ = np.histogram(inter, bins=num_class, range=(1, num_class))
    area_pred, _ = np.histogram(p, bins=num_class, range=(1, num_class))
    area_lab, _ = np.histogram(lab, bins=num_class, range=(1, num_class))
    union = area_pred + area_lab - area_inter
    iou = np.where(union > 0, area_inter / np.maximum(union, 1), np.nan)
    return float(np.nanmean(iou))


@pytest.mark.parametrize("seed", range(4))
def test_shipped_ade20k32_mapping_reproduces_mlperfs_formula(seed):
    rng = np.random.default_rng(200 + seed)
    raw = rng.integers(0, 151, size=(64, 48)).astype(np.uint16)
    raw[:20] = rng.integers(0, 32, size=(20, 48))  # plenty of the 31 kept classes
    pred = rng.integers(0, 32, size=raw.shape)
    pred[raw < 32] = np.where(rng.random(int((raw < 32).sum())) < 0.5, raw[raw < 32], pred[raw < 32])
    lm = labelmap.read_mapping(labelmap.shipped("ade20k32_mlperf"))
    assert lm.num_classes == 32 and lm.classes[0] is None and lm.classes[1] == "wall" and lm.classes[31] == "armchair"
    got = scores(_accumulate([(lm.apply(raw, "x.png"), pred)], 32), [c is not None for c in lm.classes])
    assert got.per_class_iou[0] is None  # the "other" class is predicted but never scored
    assert got.miou == pytest.approx(mlperf_miou(raw, pred), abs=1e-12)


def test_ti_mapping_merges_other_classes_into_class_0():
    lm = labelmap.read_mapping(labelmap.shipped("ade20k32_ti"))
    raw = np.array([[0, 1, 31, 32, 150]], dtype=np.uint16)
    assert lm.apply(raw, "x.png").tolist() == [[0, 1, 31, 0, 0]]
    assert lm.classes[0] == "other" and lm.num_classes == 32


def test_no_labelled_pixels_gives_no_scores():
    s = scores(_accumulate([(np.full((3, 3), 255, np.uint8), np.zeros((3, 3), int))], 4))
    assert s.miou is None and s.pixel_acc is None and s.mean_acc is None and s.pixels == 0
