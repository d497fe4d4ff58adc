"""A model's output -> one class id per label pixel, the way the papers' evaluation code does it.

Two kinds of output:

- **scores** (logits or probabilities with a 4-D class axis of the dataset's size, NCHW or NHWC; float, or
  integer for quantized models):
  resized to the label's size with bilinear interpolation (half-pixel centres, align_corners=False,
  no antialiasing: ``F.interpolate(..., mode="bilinear")`` as mmsegmentation's and PaddleSeg's
  evaluation call it), then argmax. Interpolating scores before the argmax keeps class boundaries
  smooth at the label's resolution; resizing the argmax instead would give blocky boundaries and a
  lower mIoU than the papers report. It runs in bands of rows so a 150-class map at full label size
  is never held at once.
- **class maps** (argmax heads such as PP-MobileSeg's VIM, or ``--output_op argmax`` exports: integer
  output, or float output holding whole numbers as some TFLite backends give): resized with nearest
  neighbour (``src = floor(dst * in / out)``, PaddleSeg's ``reverse_transform`` for integer maps).

Labels are never resized: every score is computed on the dataset's own label pixels.
``Region`` says which part of the model input the image occupies (``gen-input``'s ``pad`` resize
letterboxes it); only that part of the output is mapped back onto the label.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from segbench.errors import InputError

# Elements of float32 work per band of rows (~8 MB), whatever the class count and label width.
BAND_ELEMENTS = 1 << 21


@dataclass(frozen=True)
class Region:
    """Where the image sits in the model input, as fractions (0..1) of its width and height."""

    x0: float = 0.0
    y0: float = 0.0
    x1: float = 1.0
    y1: float = 1.0


@dataclass(frozen=True)
class Interpreted:
    kind: str  # "scores" or "labels"
    array: np.ndarray  # scores: [C, h, w]; labels: [h, w]


def interpret(output: np.ndarray, num_classes: int, layout: str | None = None) -> Interpreted:
    """Scores [C,h,w] or a class map [h,w] from a raw output tensor; InputError when it is neither."""
    arr = np.asarray(output)
    shape = list(arr.shape)
    # Integer scores are quantized logits: dequantizing is monotonic, so the argmax is the same.
    if arr.dtype.kind in "fiu" and arr.ndim == 4 and shape[0] == 1:
        axes = [a for a in (1, 3) if shape[a] == num_classes and num_classes > 1]
        if axes:
            axis = 3 if len(axes) == 2 and layout == "nhwc" else axes[0]
            return Interpreted("scores", np.moveaxis(arr[0], axis - 1, 0).astype(np.float32, copy=False))
    if arr.dtype.kind == "f" and arr.ndim == 3 and shape[0] == num_classes and num_classes > 1:
        return Interpreted("scores", arr)
    squeezed = arr.reshape([d for d in shape if d != 1]) if arr.ndim > 2 else arr
    if squeezed.ndim == 2 and arr.dtype.kind in "iub":
        return Interpreted("labels", squeezed.astype(np.int64))
    if squeezed.ndim == 2 and arr.dtype.kind == "f" and np.array_equal(squeezed, np.rint(squeezed)):
        return Interpreted("labels", squeezed.astype(np.int64))
    channels = [shape[a] for a in (1, 3)] if arr.ndim == 4 else shape[:1]
    raise InputError(
        f"model output {arr.dtype.name} {shape} is neither scores with {num_classes} classes nor a class map",
        hint=f"the dataset has {num_classes} classes; the output's channel dims are {channels}",
    )


def _axis(out_len: int, lo: float, hi: float, in_len: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bilinear taps along one axis: source indices i0, i1 and the weight of i1 for each output pixel."""
    src = lo + (np.arange(out_len, dtype=np.float64) + 0.5) * ((hi - lo) / out_len) - 0.5
    src = np.clip(src, 0.0, in_len - 1)
    i0 = np.floor(src).astype(np.intp)
    i1 = np.minimum(i0 + 1, in_len - 1)
    return i0, i1, (src - i0).astype(np.float32)


def bilinear(scores: np.ndarray, size: tuple[int, int], region: Region = Region(),
             rows: slice | None = None) -> np.ndarray:
    """Scores [C,h,w] resized to ``size`` (height, width) over ``region``; only output ``rows`` if given."""
    c, h, w = scores.shape
    out_h, out_w = size
    y0, y1, wy = _axis(out_h, region.y0 * h, region.y1 * h, h)
    x0, x1, wx = _axis(out_w, region.x0 * w, region.x1 * w, w)
    rows = rows or slice(0, out_h)
    y0, y1, wy = y0[rows], y1[rows], wy[rows]
    s = scores.astype(np.float32, copy=False)
    # Interpolate along W only the input rows this band needs, then along H; (1 - l) * a + l * b in
    # that order is what PyTorch's upsample_bilinear2d computes.
    lo, hi = int(y0.min()), int(y1.max()) + 1
    part = s[:, lo:hi]
    wide = part[:, :, x0] * (1 - wx) + part[:, :, x1] * wx
    return wide[:, y0 - lo] * (1 - wy)[:, None] + wide[:, y1 - lo] * wy[:, None]


def argmax_resized(scores: np.ndarray, size: tuple[int, int], region: Region = Region()) -> np.ndarray:
    """argmax over classes of the bilinearly resized scores, band by band."""
    out_h, out_w = size
    band = max(1, BAND_ELEMENTS // max(1, scores.shape[0] * out_w))
    labels = np.empty((out_h, out_w), dtype=np.int64)
    for start in range(0, out_h, band):
        rows = slice(start, min(out_h, start + band))
        labels[rows] = bilinear(scores, size, region, rows).argmax(axis=0)
    return labels


def nearest(labels: np.ndarray, size: tuple[int, int], region: Region = Region()) -> np.ndarray:
    """A class map resized to ``size`` (height, width) over ``region`` with nearest neighbour."""
    h, w = labels.shape
    out_h, out_w = size
    ys = np.minimum(np.floor(region.y0 * h + np.arange(out_h) * ((region.y1 - region.y0) * h / out_h)), h - 1)
    xs = np.minimum(np.floor(region.x0 * w + np.arange(out_w) * ((region.x1 - region.x0) * w / out_w)), w - 1)
    return labels[ys.astype(np.intp)[:, None], xs.astype(np.intp)[None, :]]


def to_label_size(out: Interpreted, size: tuple[int, int], region: Region = Region()) -> np.ndarray:
    """Class ids [height, width] for a label of ``size``."""
    if out.kind == "scores":
        return argmax_resized(out.array, size, region)
    return nearest(out.array, size, region)
