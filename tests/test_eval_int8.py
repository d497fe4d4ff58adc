"""`segbench eval` of an int8 TFLite export agrees with its float source within the argmax agreement the export
reported, on the host and on the emulated MI 9, with the default input recipe (issue 23).

The zoo's MLPerf DeepLabv3 (32 classes, ADE20K-32) is exported at 64x64 as float and int8 TFLite by the CLI, the int8
file calibrated on the very images of a small ADE20K-32 set (the fixture photo and three crops of it, 64x64, so that
gen-input's transform leaves them as they are): its manifest entry's ``argmax_agreement`` is then the share of those
images' pixels where the int8 labels equal float torch's. The set's labels are the float TFLite file's own
predictions (LiteRT on gen-input's tensor, independent of eval's loop), so eval of the float file must score 100%,
and eval of the int8 file scores its agreement with the float one.

The tolerance, derived rather than guessed. ADE20K-32 does not score class 0 ("other": raw label 0 is ignored), so
a pixel the float file calls 0 is left out of eval's pixel accuracy, while the export's agreement counts every
pixel; and the agreement is with float torch, the labels are the float TFLite file's. With N pixels, S of them
scored, a the reported agreement (rounded to 4 decimals), m the pixels where the float TFLite labels differ from
torch's (near-ties; measured here): the int8 file disagrees with the labels on at most (1 - a) N + m pixels, all of
which may be scored, and agrees on at most a N + m, so

    1 - ((1 - a) N + m + r) / S  <=  pixel accuracy  <=  (a N + m + r) / S,   r = 0.00005 N (the rounding).

With no class-0 pixel and no near-tie (this seed) both ends are a within the rounding: eval reproduces the export's
own check. The test insists that at least half the pixels are scored, so the bounds never become vacuous, and a
wrong recipe (``--preset raw`` on the int8 input: 0..255 read as normalised values, nearly all saturate) lands far
below them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import ASTRONAUT, run_cli
from segbench.accuracy.demo import save_png
from segbench.compat import tomllib
from segbench.emulator import EmulatedPhone
from segbench.emulator.phone import free_port

pytest.importorskip("litert_torch", reason="the zoo-tflite extra is not installed")
pytest.importorskip("ai_edge_quantizer", reason="the zoo-tflite extra is not installed")
pytestmark = pytest.mark.slow

ADB_PORTS = range(36037, 36100)
PHONE_PORTS = range(36100, 36400, 2)
ZOO, SIZE = "mlperf_deeplabv3_mnv2", 64
FLOAT, INT8 = f"{ZOO}_{SIZE}.tflite", f"{ZOO}_{SIZE}_int8.tflite"
# The fixture photo whole and three crops of it (left, top, right, bottom), each made 64x64.
CROPS = (None, (0, 0, 256, 256), (256, 256, 512, 512), (128, 64, 384, 320))


def _images(directory: Path) -> list[Path]:
    directory.mkdir(parents=True)
    photo = Image.open(ASTRONAUT).convert("RGB")
    paths = []
    for i, box in enumerate(CROPS):
        part = photo if box is None else photo.crop(box)
        paths.append(directory / f"ADE_val_{i:08d}.png")
        part.resize((SIZE, SIZE), Image.BILINEAR).save(paths[-1])
    return paths


def _labels(model: Path, images: list[Path], preset: str) -> np.ndarray:
    """The float file's class map of each image: LiteRT on gen-input's tensor (the calibration's transform)."""
    from ai_edge_litert.interpreter import Interpreter

    from segbench.inputs import make_normalization, prepare
    from segbench.modelinfo.io import read_io

    (spec,), _ = read_io(model)
    interp = Interpreter(model_path=str(model), num_threads=1)
    interp.allocate_tensors()
    (inp,), (out,) = interp.get_input_details(), interp.get_output_details()
    maps = []
    for image in images:
        interp.set_tensor(inp["index"], prepare(image, spec, make_normalization(preset, dtype="float32")).tensor)
        interp.invoke()
        maps.append(interp.get_tensor(out["index"]).reshape(SIZE, SIZE))
    return np.stack(maps)


def _torch_labels(images: list[Path], preset: str) -> np.ndarray:
    import torch

    from segbench.zoo.build import build
    from segbench.zoo.convert import calibration_tensors

    net = build(ZOO, "argmax", seed=0)
    with torch.no_grad():
        return np.stack([net(torch.from_numpy(t)).numpy().reshape(SIZE, SIZE)
                         for t in calibration_tensors(images, (SIZE, SIZE), preset)])


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("int8eval")
    data = root / "data"
    images = _images(data / "ADEChallengeData2016" / "images" / "validation")
    md = root / "md"
    r = run_cli("zoo", "export", ZOO, "--size", str(SIZE), "--format", "tflite", "--quant", "none,int8",
                "--calibration", str(images[0].parent), "-o", str(md), "-q", timeout=900)
    assert r.code == 0, r.err
    entries = {e["file"]: e for e in tomllib.loads((md / "manifest.toml").read_text())["model"]}
    check = entries[INT8]["zoo"]["check"]
    assert check["images"] == len(images) and sorted(check["calibration"]) == sorted(map(str, images))
    labels = _labels(md / FLOAT, images, check["preset"])
    assert labels.min() >= 0 and labels.max() < 32
    for image, label in zip(images, labels):  # raw ADE20K-32 labels: 1..31 are those classes, 0 is not scored
        save_png(data / "ADEChallengeData2016" / "annotations" / "validation" / image.name, label)
    n, scored = labels.size, int((labels != 0).sum())
    near_ties = int((_torch_labels(images, check["preset"]) != labels).sum())
    a, r = check["argmax_agreement"], 0.00005 * labels.size
    assert scored >= n / 2, f"only {scored} of {n} pixels are scored: the bound below would say nothing"
    return {"md": md, "data": data, "agreement": a, "images": len(images), "preset": check["preset"],
            "low": 1 - ((1 - a) * n + near_ties + r) / scored, "high": min(1.0, (a * n + near_ties + r) / scored)}


def _eval(ex: dict, model: str, reports: Path, *args: str, env: dict | None = None):
    r = run_cli("eval", "--model", str(ex["md"] / model), "--dataset", str(ex["data"]), "--format", "ade20k32",
                "--reports", str(reports), "--json", *args, env=env, timeout=600)
    assert r.code == 0, r.err
    return json.loads(r.out), r.err


def _confusion(reports: Path) -> list:
    (run,) = (reports / "runs").iterdir()
    (line,) = (run / "results.jsonl").read_text().splitlines()
    return json.loads(line)["confusion"]


def _assert_agrees(ex: dict, fp: dict, q: dict) -> None:
    assert fp["images"] == q["images"] == ex["images"]
    assert fp["pixel_acc"] == 1.0 and fp["miou"] == 1.0  # the float file on its own predictions
    assert ex["low"] <= q["pixel_acc"] <= ex["high"], (q["pixel_acc"], ex)


def test_int8_eval_on_the_host_agrees_within_the_reported_agreement(exported: dict, tmp_path: Path) -> None:
    ex = exported
    assert 0.2 <= ex["agreement"] < 1.0  # a real int8 file: some near-ties flip, none collapse
    fp, fp_err = _eval(ex, FLOAT, tmp_path / "float")
    q, q_err = _eval(ex, INT8, tmp_path / "int8")
    _assert_agrees(ex, fp, q)
    # eval says which recipe it used: the float input's default, the int8 file's producer's (its manifest entry)
    assert fp["input"] == {"preset": "paddleseg", "recipe": "default for float32 inputs"}
    assert q["input"] == {"preset": ex["preset"], "recipe": f"manifest.toml input_preset ({ex['md'] / 'manifest.toml'})"}
    assert f"input recipe: manifest.toml input_preset ({ex['md'] / 'manifest.toml'}) (preset paddleseg)" in q_err
    assert "input recipe: default for float32 inputs (preset paddleseg)" in fp_err
    assert "saturate" not in q_err

    # The assertion can fail: the 0..255 pixels fed as if normalised saturate the int8 input, and eval says so.
    wrong, err = _eval(ex, INT8, tmp_path / "raw", "--preset", "raw")
    assert "of the values saturate" in err and wrong["input"]["recipe"] == "--preset"
    assert wrong["pixel_acc"] < ex["low"] - 0.2, (wrong["pixel_acc"], ex["low"])


@pytest.fixture
def phone(adb_port: int) -> Iterator[EmulatedPhone]:
    with EmulatedPhone(port=free_port(PHONE_PORTS), adb_port=adb_port) as p:
        yield p


def test_int8_eval_on_the_emulated_phone_agrees_as_on_the_host(exported: dict, phone: EmulatedPhone, adb_port: int,
                                                               assets: Path, tmp_path: Path) -> None:
    ex = exported
    env = {"ANDROID_ADB_SERVER_PORT": str(adb_port)}
    on = ("--device", phone.serial, "--assets", str(assets), "-q")
    fp, _ = _eval(ex, FLOAT, tmp_path / "float", *on, env=env)
    q, _ = _eval(ex, INT8, tmp_path / "int8", *on, env=env)
    assert fp["tool"] == q["tool"] == "benchmark_model" and q["device"] == phone.serial
    _assert_agrees(ex, fp, q)
    assert q["input"]["preset"] == "paddleseg" and q["input"]["recipe"].startswith("manifest.toml input_preset")
    # what the phone was fed last: gen-input's int8 tensor of the last image, with the producer's recipe
    from segbench.inputs import make_normalization, prepare, tensor_bytes
    from segbench.modelinfo.io import read_io

    (spec,), _ = read_io(ex["md"] / INT8)
    last = sorted((ex["data"] / "ADEChallengeData2016" / "images" / "validation").iterdir())[-1]
    norm = make_normalization("paddleseg", dtype=spec.dtype, quant=(spec.scale, spec.zero_point))
    assert spec.dtype == "int8"
    assert (phone.root / "data/local/tmp/segbench/eval/input.raw").read_bytes() == \
        tensor_bytes(prepare(last, spec, norm).tensor)
    # the phone's LiteRT computes what the host's does: the same confusion matrix, pixel for pixel
    host = tmp_path / "host"
    _eval(ex, INT8, host, "-q")
    assert _confusion(tmp_path / "int8") == _confusion(host)
    assert os.path.getsize(ex["md"] / INT8) < os.path.getsize(ex["md"] / FLOAT)  # int8 weights
