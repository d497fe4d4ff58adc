"""`segbench gen-input` as a user runs it: real model, real photo, real consumers, clean errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from segbench import inputs
from tests.conftest import ASTRONAUT, SELFIE, CliResult, assert_one_line_error, run_cli


def _one_error_line(result: CliResult, code: int, *fragments: str) -> None:
    assert_one_line_error(result, code)
    lines = [ln for ln in result.err.splitlines() if ln.strip()]
    assert len(lines) == 1, result.err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def _selfie_mask(raw: Path) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(SELFIE))
    interp.allocate_tensors()
    # Read the file the way benchmark_model does: the tensor's bytes, nothing else.
    x = np.fromfile(raw, dtype="<f4").reshape(1, 256, 256, 3)
    interp.set_tensor(interp.get_input_details()[0]["index"], x)
    interp.invoke()
    return interp.get_tensor(interp.get_output_details()[0]["index"])[0, :, :, 0]


def test_selfie_model_on_the_astronaut_gives_a_person_mask(tmp_path: Path) -> None:
    out = tmp_path / "astronaut.raw"
    result = run_cli("gen-input", str(ASTRONAUT), "--model", str(SELFIE), "--format", "raw", "--preset", "unit",
                     "-o", str(out))
    assert result.code == 0, result.err
    assert result.out.startswith(f"wrote {out} (786432 bytes, raw, float32 [1,256,256,3] nhwc, preset unit)")
    prob = _selfie_mask(out)
    # The astronaut's helmeted head (upper middle) and suit (bottom left) are person ...
    assert prob[30:70, 90:130].mean() > 0.9
    assert prob[180:250, 40:160].mean() > 0.9
    # ... the top corners and the flag/shuttle side on the right are not.
    assert prob[:32, :32].max() < 0.1 and prob[:32, -32:].max() < 0.1
    assert prob[100:140, 220:].mean() < 0.05
    assert 0.35 < (prob > 0.5).mean() < 0.75
    side = json.loads((tmp_path / "astronaut.raw.json").read_text())
    assert side["source"]["sha256"] == "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5"
    assert side["target"]["name"] == "input_1" and side["transform"]["preset"] == "unit"


def _tiny_onnx(path: Path, name: str = "pixel_values") -> Path:
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("ReduceMean", [name], ["mean"], keepdims=0)],
        "tiny",
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, 3, "h", "w"])],
        [helper.make_tensor_value_info("mean", TensorProto.FLOAT, [])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8  # what every onnxruntime since 1.10 loads
    onnx.save(model, str(path))
    return path


def test_directory_to_ort_test_data_sets_that_onnxruntime_runs(tmp_path: Path) -> None:
    import onnx
    import onnxruntime as ort
    from onnx import numpy_helper

    images = tmp_path / "images"
    (images / "sub").mkdir(parents=True)
    shutil.copy(ASTRONAUT, images / "a.png")
    shutil.copy(ASTRONAUT, images / "sub" / "b.png")
    (images / "notes.txt").write_text("not an image, skipped")
    model = _tiny_onnx(tmp_path / "tiny.onnx")
    result = run_cli("gen-input", str(images), "--model", str(model), "--shape", "1,3,64,64", "-o", str(tmp_path))
    assert result.code == 0, result.err
    assert result.err == ""  # no progress bar when stderr is not a terminal
    assert "wrote 2 tensors" in result.out
    sess = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    for i, source in enumerate(["a.png", "b.png"]):
        proto = onnx.load_tensor(str(tmp_path / f"test_data_set_{i}" / "input_0.pb"))
        assert proto.name == "pixel_values"
        x = numpy_helper.to_array(proto)
        assert x.shape == (1, 3, 64, 64) and x.dtype == np.float32
        # paddleseg (the float default) maps 0..255 into [-1, 1].
        assert -1.0 <= x.min() < x.max() <= 1.0
        (mean,) = sess.run(None, {"pixel_values": x})
        assert mean == pytest.approx(float(x.mean()), abs=1e-6)
        side = json.loads((tmp_path / f"test_data_set_{i}.json").read_text())
        assert side["source"]["path"].endswith(source)


def test_hand_given_target_paddle_txt_and_json(tmp_path: Path) -> None:
    out = tmp_path / "in.txt"
    result = run_cli("gen-input", str(ASTRONAUT), "--shape", "1,3,32,32", "--format", "paddle-txt", "--preset",
                     "imagenet", "--resize", "crop", "--json", "-o", str(out))
    assert result.code == 0, result.err
    record = json.loads(result.out)
    assert record["target"] == {"name": "input", "shape": [1, 3, 32, 32], "dtype": "float32", "layout": "nchw",
                                "scale": None, "zero_point": None}
    values = np.loadtxt(out, dtype=np.float32)
    assert values.shape == (96, 32)  # one line per row of the last axis
    assert record["transform"]["resize"]["mode"] == "crop"


def test_output_into_an_existing_directory(tmp_path: Path) -> None:
    result = run_cli("gen-input", str(ASTRONAUT), "--model", str(SELFIE), "-q", "-o", str(tmp_path))
    assert result.code == 0 and result.out == "", result.err
    # .tflite defaults to the raw format; the float default preset is paddleseg, [-1, 1].
    x = np.fromfile(tmp_path / "astronaut.raw", dtype="<f4")
    assert x.size == 256 * 256 * 3 and x.min() >= -1.0 and x.min() < -0.9
    assert (tmp_path / "astronaut.raw.json").is_file()


def test_gray_image_warns_but_succeeds(tmp_path: Path) -> None:
    from PIL import Image

    Image.open(ASTRONAUT).convert("L").save(tmp_path / "gray.png")
    result = run_cli("gen-input", str(tmp_path / "gray.png"), "--shape", "1,8,8,3", "--dtype", "uint8",
                     "-o", str(tmp_path / "g.npy"))
    assert result.code == 0, result.err
    assert result.err.strip() == "segbench: warning: gray.png: grayscale image converted to RGB"
    x = np.load(tmp_path / "g.npy")
    assert x.dtype == np.uint8 and (x[..., 0] == x[..., 2]).all()


@pytest.mark.parametrize(
    ("case", "code", "fragments"),
    [
        ("missing", 1, ["nope.png: no such file"]),
        ("corrupt", 1, ["corrupt.png: corrupt or truncated image"]),
        ("text", 1, ["notes.png: not an image"]),
        ("empty_dir", 1, ["no image files"]),
        ("shape", 1, ["--shape [1,3,256,256] does not match input 'input_1'"]),
        ("unwritable", 1, ["cannot write under", "file is a file"]),
        ("unwritable_proc", 1, ["cannot write /proc/segbench-test.raw"]),
        ("model_missing", 2, ["no such model file"]),
        ("bad_mean", 2, ["bad --mean"]),
    ],
)
def test_errors_are_one_clear_line(tmp_path: Path, case: str, code: int, fragments: list[str]) -> None:
    (tmp_path / "corrupt.png").write_bytes(ASTRONAUT.read_bytes()[:5000])
    (tmp_path / "notes.png").write_text("just text\n")
    (tmp_path / "empty").mkdir()
    (tmp_path / "file").write_text("x")
    img, sel = str(ASTRONAUT), ["--model", str(SELFIE)]
    args = {
        "missing": [str(tmp_path / "nope.png"), *sel],
        "corrupt": [str(tmp_path / "corrupt.png"), *sel],
        "text": [str(tmp_path / "notes.png"), *sel],
        "empty_dir": [str(tmp_path / "empty"), *sel],
        "shape": [img, *sel, "--shape", "1,3,256,256"],
        "unwritable": [img, *sel, "-o", str(tmp_path / "file" / "out.raw")],
        "unwritable_proc": [img, *sel, "-o", "/proc/segbench-test.raw"],  # no new files there, even as root
        "model_missing": [img, "--model", str(tmp_path / "nope.tflite")],
        "bad_mean": [img, *sel, "--mean", "a,b"],
    }[case]
    _one_error_line(run_cli("gen-input", *args, "-o", str(tmp_path / "o.raw")) if not case.startswith("unwritable")
                    else run_cli("gen-input", *args), code, *fragments)


def test_the_missions_command_makes_the_seeds_benchmark_bin_input_next_to_the_image(tmp_path: Path) -> None:
    """`segbench gen-input image.jpg` alone: the PP-MobileSeg speed test's input (gen_val_txt.py's job)."""
    from PIL import Image

    image = tmp_path / "image1.jpg"
    Image.open(ASTRONAUT).convert("RGB").save(image, quality=95)
    result = run_cli("gen-input", str(image))
    assert result.code == 0, result.err
    text = tmp_path / "image1.txt"
    assert result.out.startswith(f"wrote {text} (") and "paddle-txt, float32 [1,3,512,512] nchw" in result.out
    values = np.array(text.read_text().split(), dtype=np.float64)
    assert values.size == 3 * 512 * 512 and -1.0 <= values.min() < -0.5 and 0.5 < values.max() <= 1.0
    side = json.loads((tmp_path / "image1.txt.json").read_text())
    assert side["transform"]["preset"] == "paddleseg" and side["transform"]["recipe_source"] == "default for float32 inputs"
    # What it wrote is what `segbench run --input` and benchmark_bin take: the same numbers, exactly.
    from segbench.model import TensorInfo

    back = inputs.tensor_for_input(text, TensorInfo("x", (1, 3, 512, 512), "float32", "nchw"))
    assert np.array_equal(back.ravel(), values.astype(np.float32))


def test_models_dir_gives_each_model_its_own_input_and_deploy_yaml_recipe(tmp_path: Path) -> None:
    from paddle_build import real_mobilenet_v2

    models = tmp_path / "models_dir"
    export = models / "mnv2"
    export.mkdir(parents=True)
    real_mobilenet_v2(export, "model", scale=0.1)
    (export / "deploy.yaml").write_text(
        "Deploy:\n  model: model.pdmodel\n  params: model.pdiparams\n  transforms:\n  - type: Normalize\n"
        "    mean: [0.485, 0.456, 0.406]\n    std: [0.229, 0.224, 0.225]\n")
    shutil.copy(SELFIE, models / "selfie.tflite")
    image = tmp_path / "img.png"
    shutil.copy(ASTRONAUT, image)
    result = run_cli("gen-input", str(image), "--models", str(models))
    assert result.code == 0, result.err
    paddle_txt, raw = tmp_path / "img.mnv2.txt", tmp_path / "img.selfie.raw"
    assert f"wrote {paddle_txt} for mnv2 (paddle-txt, float32 [1,3,224,224], recipe: deploy.yaml" in result.out
    assert f"wrote {raw} for selfie (raw, float32 [1,256,256,3], recipe: default for float32 inputs)" in result.out
    side = json.loads((tmp_path / "img.mnv2.txt.json").read_text())
    assert side["transform"]["mean"] == [0.485, 0.456, 0.406] and side["transform"]["preset"] == "deploy.yaml"
    # the ImageNet normalisation from deploy.yaml, not the paddleseg default
    x = np.array(paddle_txt.read_text().split(), dtype=np.float64)
    assert x.min() < -1.5 and x.max() > 1.5


def test_run_input_takes_every_file_gen_input_writes_and_checks_its_size(tmp_path: Path) -> None:
    from segbench.model import TensorInfo

    spec = TensorInfo("input_1", (1, 256, 256, 3), "float32", "nhwc")
    made = {}
    for fmt in ("paddle-txt", "raw", "npy", "ort-pb"):
        r = run_cli("gen-input", str(ASTRONAUT), "--model", str(SELFIE), "--format", fmt, "-q",
                    "-o", str(tmp_path / f"t_{fmt.replace('-', '_')}{inputs.SUFFIX[fmt]}"))
        assert r.code == 0, r.err
        made[fmt] = inputs.tensor_for_input(tmp_path / f"t_{fmt.replace('-', '_')}{inputs.SUFFIX[fmt]}", spec)
    assert all(np.array_equal(made["npy"], v) for v in made.values())
    half = TensorInfo("input_1", (1, 128, 256, 3), "float32", "nhwc")
    with pytest.raises(inputs.InputError, match=r"holds 196608 numbers, input 'input_1' float32 \[1,128,256,3\] needs 98304"):
        inputs.tensor_for_input(tmp_path / "t_paddle_txt.txt", half)
    small = TensorInfo("input_1", (1, 8, 8, 3), "float32", "nhwc")
    with pytest.raises(inputs.InputError, match="far more than input"):
        inputs.tensor_for_input(tmp_path / "t_paddle_txt.txt", small)
    (tmp_path / "words.txt").write_text("1 2 three\n")
    with pytest.raises(inputs.InputError, match="not a text tensor"):
        inputs.tensor_for_input(tmp_path / "words.txt", small)
    r = run_cli("run", "--models", str(SELFIE), "--input", str(tmp_path / "t_paddle_txt.txt"), "--warmup", "0",
                "--repeats", "1", "--reports", str(tmp_path / "r"), "-q")
    assert r.code == 0, r.err
    r = run_cli("run", "--models", str(SELFIE), "--input", str(tmp_path / "words.txt"), "--warmup", "0",
                "--repeats", "1", "--reports", str(tmp_path / "r2"), "-q")
    assert r.code == 3 and "not a text tensor" in r.out + r.err
