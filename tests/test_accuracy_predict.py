"""Bringing model outputs to the label's size: bilinear scores + argmax, nearest class maps, letterbox regions."""

import numpy as np
import pytest

from segbench.accuracy import predict
from segbench.accuracy.predict import Region, argmax_resized, bilinear, interpret, nearest
from segbench.errors import InputError


def bilinear_loop(s: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """Half-pixel bilinear (align_corners=False), one output pixel at a time, in float64."""
    c, h, w = s.shape
    out = np.zeros((c, out_h, out_w))
    for oy in range(out_h):
        sy = min(max((oy + 0.5) * h / out_h - 0.5, 0.0), h - 1)
        y0 = int(np.floor(sy))
        y1, ly = min(y0 + 1, h - 1), sy - y0
        for ox in range(out_w):
            sx = min(max((ox + 0.5) * w / out_w - 0.5, 0.0), w - 1)
            x0 = int(np.floor(sx))
            x1, lx = min(x0 + 1, w - 1), sx - x0
            out[:, oy, ox] = ((1 - ly) * ((1 - lx) * s[:, y0, x0] + lx * s[:, y0, x1])
                              + ly * ((1 - lx) * s[:, y1, x0] + lx * s[:, y1, x1]))
    return out


@pytest.mark.parametrize("shape,size", [((3, 4, 5), (9, 13)), ((2, 9, 7), (4, 3)), ((4, 6, 6), (6, 6)), ((1, 1, 3), (5, 2))])
def test_bilinear_matches_the_formula_pixel_by_pixel(shape, size):
    s = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    assert np.allclose(bilinear(s, size), bilinear_loop(s.astype(np.float64), *size), atol=1e-5)


def test_hand_checked_2x_upsampling():
    # 1-D along x: input [0, 4] -> 4 outputs at source x = -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1)
    s = np.array([[[0.0, 4.0]]], dtype=np.float32)
    assert bilinear(s, (1, 4))[0, 0].tolist() == [0.0, 1.0, 3.0, 4.0]


def test_bilinear_agrees_with_torch_interpolate():
    torch = pytest.importorskip("torch")
    s = np.random.default_rng(2).standard_normal((19, 33, 47)).astype(np.float32)
    for size in [(130, 190), (20, 21), (33, 47)]:
        ref = torch.nn.functional.interpolate(torch.from_numpy(s)[None], size=size, mode="bilinear",
                                              align_corners=False)[0].numpy()
        # torch computes source coordinates in float32 (we use float64): differences of ~1e-5 remain
        assert np.allclose(bilinear(s, size), ref, atol=1e-4)
        assert np.mean(argmax_resized(s, size) == ref.argmax(0)) > 0.999  # only float near-ties may differ


def test_banded_argmax_equals_whole_image_argmax(monkeypatch):
    s = np.random.default_rng(3).standard_normal((7, 10, 12)).astype(np.float32)
    whole = bilinear(s, (41, 37)).argmax(0)
    monkeypatch.setattr(predict, "BAND_ELEMENTS", 7 * 37 * 3)  # 3 rows per band, last band shorter
    assert np.array_equal(argmax_resized(s, (41, 37)), whole)


def test_nearest_is_floor_of_scaled_index():
    labels = np.arange(12).reshape(3, 4)
    # rows: floor(y * 3/6) = 0,0,1,1,2,2; cols: floor(x * 4/2) = 0,2
    assert nearest(labels, (6, 2)).tolist() == [[0, 2], [0, 2], [4, 6], [4, 6], [8, 10], [8, 10]]
    torch = pytest.importorskip("torch")
    big = np.random.default_rng(4).integers(0, 9, size=(13, 17))
    ref = torch.nn.functional.interpolate(torch.from_numpy(big.astype(np.float32))[None, None], size=(40, 9),
                                          mode="nearest")[0, 0].numpy()
    assert np.array_equal(nearest(big, (40, 9)), ref)


def test_region_maps_only_the_letterboxed_content_back():
    # An 8x8 output whose rows 2..5 hold the image (a 4x8 letterbox); the pad rows say class 9.
    out = np.full((8, 8), 9)
    out[2:6] = np.arange(8)[None, :] // 2
    region = Region(0.0, 2 / 8, 1.0, 6 / 8)
    assert np.array_equal(nearest(out, (4, 8), region), out[2:6])
    scores = np.stack([(out == c).astype(np.float32) for c in range(10)])
    assert np.array_equal(argmax_resized(scores, (4, 8), region), out[2:6])


@pytest.mark.parametrize("output,kind,shape", [
    (np.zeros((1, 5, 6, 7), np.float32), "scores", (5, 6, 7)),     # NCHW logits
    (np.zeros((1, 6, 7, 5), np.float32), "scores", (5, 6, 7)),     # NHWC logits (TFLite)
    (np.zeros((1, 1, 6, 7), np.int64), "labels", (6, 7)),          # ArgMax keepdims
    (np.zeros((1, 6, 7), np.int32), "labels", (6, 7)),             # argmax without keepdims
    (np.full((1, 6, 7, 1), 3.0, np.float32), "labels", (6, 7)),    # a class map in floats
    (np.zeros((1, 6, 7, 5), np.uint8), "scores", (5, 6, 7)),       # quantized logits (int8/uint8 TFLite)
])
def test_interpret_output_kinds(output, kind, shape):
    got = interpret(output, 5)
    assert got.kind == kind and got.array.shape == shape


def test_interpret_picks_the_class_axis_of_an_nhwc_output():
    out = np.zeros((1, 5, 5, 5), np.float32)
    out[0, 1, 2, 3] = 1.0  # NHWC: pixel (1, 2) has class 3; NCHW would read class 1 at (2, 3)
    assert interpret(out, 5, "nhwc").array[3, 1, 2] == 1.0
    assert interpret(out, 5, "nchw").array[1, 2, 3] == 1.0


@pytest.mark.parametrize("output", [np.zeros((1, 8, 6, 7), np.float32), np.full((1, 1, 6, 7), 0.4, np.float32),
                                    np.zeros((2, 5, 6, 7), np.float32)])
def test_interpret_rejects_outputs_that_are_neither(output):
    with pytest.raises(InputError, match="neither scores with 5 classes nor a class map"):
        interpret(output, 5)
