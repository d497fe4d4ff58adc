"""Quantised inputs get what their producer feeds: MLPerf Mobile's DeepLabv3 takes the raw 0-255 pixels as its uint8
input (scale and zero point describe what they stand for), and a recipe that saturates the input is named."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import ASTRONAUT, FIXTURES, run_cli
from segbench import inputs
from segbench.model import TensorInfo
from segbench.modelinfo.io import read_io

QUANT = FIXTURES / "quantized"
MLPERF = {"uint8": QUANT / "deeplabv3_mnv2_ade20k_uint8.tflite", "int8": QUANT / "deeplabv3_mnv2_ade20k_int8.tflite"}
PIXELS = np.asarray(Image.open(ASTRONAUT).convert("RGB"))


def _spec(which: str) -> TensorInfo:
    (spec,), _ = read_io(MLPERF[which])
    return spec


@pytest.mark.parametrize("which", ["uint8", "int8"])
def test_mlperf_models_get_the_raw_pixels_by_default(which: str) -> None:
    spec = _spec(which)
    assert spec.dtype == "uint8" and spec.scale and spec.zero_point in (127, 128)  # the fixtures are what we think
    recipe = inputs.recipe_for(MLPERF[which], spec)
    assert recipe.norm.preset == "pixels" and "quantised" in recipe.source
    prepared = inputs.prepare(ASTRONAUT, spec, recipe.norm)
    assert np.array_equal(prepared.tensor[0], PIXELS)  # exactly the pixels, not quantised a second time
    assert prepared.warnings == ()


def test_raw_preset_on_a_quantised_input_saturates_and_says_so() -> None:
    # The old default: 0..255 taken as real values and quantised again (x / (1/128) + 128): nearly all clip.
    prepared = inputs.prepare(ASTRONAUT, _spec("uint8"), inputs.make_normalization("raw", dtype="uint8"))
    assert (prepared.tensor == 255).mean() > 0.85
    (warning,) = prepared.warnings
    assert "of the values saturate" in warning and "zero point 128" in warning


@pytest.mark.parametrize("dtype, scale, zp", [("int8", 1 / 128, 0), ("int8", None, None), ("uint8", None, None),
                                              ("uint8", 0.02, 5)])
def test_pixels_preset_is_the_pixels_for_any_integer_input(dtype: str, scale: float | None, zp: int | None) -> None:
    spec = TensorInfo("x", (1, 512, 512, 3), dtype, "nhwc", scale=scale, zero_point=zp)
    prepared = inputs.prepare(ASTRONAUT, spec, inputs.recipe_for(None, spec).norm)
    shift = 128 if dtype == "int8" else 0  # TFLite's uint8 -> int8 shift
    assert np.array_equal(prepared.tensor[0].astype(int), PIXELS.astype(int) - shift)
    assert prepared.warnings == ()


def test_saturation_warns_only_above_one_percent() -> None:
    spec = TensorInfo("q", (1, 1, 1, 1000), "uint8", "nhwc", scale=1.0, zero_point=0)
    values = np.full(1000, 100.0)
    few, many = values.copy(), values.copy()
    few[:10] = 300.0  # 1.0%: not more than the share
    many[:11] = 300.0  # 1.1%
    w_few: list[str] = []
    w_many: list[str] = []
    inputs.cast(few, spec, w_few)
    inputs.cast(many, spec, w_many)
    assert w_few == [] and len(w_many) == 1 and w_many[0].startswith("1.1% of the values saturate")


def test_values_a_few_steps_past_a_calibrated_range_do_not_count_as_saturating() -> None:
    # A post-training quantiser's calibrated range (a moving average of min and max) clips an image's brightest
    # pixels by a step or two: that is the producer's range, not a wrong recipe. Beyond the margin they count.
    spec = TensorInfo("q", (1, 1, 1, 1000), "int8", "nhwc", scale=1.0, zero_point=0)
    near, past = np.full(1000, 0.0), np.full(1000, 0.0)
    near[:500] = 127 + inputs.SATURATION_MARGIN_STEPS  # clipped, by the margin at most
    past[:500] = 127 + inputs.SATURATION_MARGIN_STEPS + 1
    w_near: list[str] = []
    w_past: list[str] = []
    assert inputs.cast(near, spec, w_near).max() == 127 == inputs.cast(past, spec, w_past).max()  # both clipped
    assert w_near == [] and len(w_past) == 1 and w_past[0].startswith("50.0% of the values saturate (more than 4")


def _run_tflite(model: Path, tensor: np.ndarray) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(model), num_threads=1)
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], tensor)
    interp.invoke()
    return interp.get_tensor(interp.get_output_details()[0]["index"])


@pytest.mark.slow
def test_the_trained_model_segments_the_astronaut_only_with_the_right_recipe() -> None:
    spec = _spec("uint8")
    right = inputs.prepare(ASTRONAUT, spec, inputs.recipe_for(MLPERF["uint8"], spec).norm).tensor
    wrong = inputs.prepare(ASTRONAUT, spec, inputs.make_normalization("raw", dtype="uint8")).tensor
    good, bad = _run_tflite(MLPERF["uint8"], right)[0], _run_tflite(MLPERF["uint8"], wrong)[0]
    # A trained model on a real photo: several regions, none covering almost everything; a saturated input
    # (an almost white image) collapses to fewer classes.
    counts = np.bincount(good.ravel(), minlength=32) / good.size
    assert (counts > 0.02).sum() >= 3 and counts.max() < 0.8
    assert len(np.unique(bad)) < len(np.unique(good)) and (good != bad).mean() > 0.3


def test_gen_input_and_run_say_the_recipe_and_warn_on_saturation(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(MLPERF["uint8"], models / "mlperf_uint8.tflite")
    made = run_cli("gen-input", str(ASTRONAUT), "--model", str(models / "mlperf_uint8.tflite"), "--format", "npy",
                   "-o", str(tmp_path / "in.npy"))
    assert made.code == 0, made.err
    assert "preset pixels (default for quantised (scale 0.0078125, zero point 128) uint8 inputs)" in made.out
    assert "saturate" not in made.err
    assert np.array_equal(np.load(tmp_path / "in.npy")[0], PIXELS)
    raw = run_cli("gen-input", str(ASTRONAUT), "--model", str(models / "mlperf_uint8.tflite"), "--preset", "raw",
                  "--format", "npy", "-o", str(tmp_path / "raw.npy"))
    assert raw.code == 0 and "segbench: warning:" in raw.err and "of the values saturate" in raw.err
    ran = run_cli("run", "--models", str(models), "--input", str(ASTRONAUT), "--threads", "1", "--warmup", "0",
                  "--repeats", "1", "--reports", str(tmp_path / "reports"), timeout=300)
    assert ran.code == 0, ran.err
    assert "recipe default for quantised (scale 0.0078125, zero point 128) uint8 inputs (preset pixels)" in ran.err
    assert "saturate" not in ran.err
    (results,) = (tmp_path / "reports").glob("runs/*/results.jsonl")
    fed = json.loads(results.read_text().splitlines()[0])["extra"]["input"]
    assert fed["recipe"]["preset"] == "pixels" and fed["warnings"] == []
