"""What each seed's own flow leaves a newcomer with, handed to segbench as its README's tour says: TF Hub's MOSAIC
SavedModel, MLPerf's checkpoints folder (frozen .pb, TF checkpoint, float and PTQ .tflite), PaddleSeg's trained
weights and export folders, ONNX's model-zoo folder with its test tensors. Formats no runtime here runs are one line
saying what to convert them to; beside models that do run they are warned about and skipped, never silently."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from paddle_build import real_mobilenet_v2

from conftest import FIXTURES, assert_one_line_error, run_cli
from segbench.errors import ModelError
from segbench.models import find_models, foreign_model

ONNX = FIXTURES / "models" / "tiny_seg.onnx"
UINT8 = FIXTURES / "quantized" / "deeplabv3_mnv2_ade20k_uint8.tflite"


def _saved_model(folder: Path) -> Path:
    """A TF Hub download's layout (tfhub.dev/google/mosaic/mobilenetmultiavgseg/2, untarred)."""
    (folder / "variables").mkdir(parents=True)
    (folder / "assets").mkdir()
    (folder / "saved_model.pb").write_bytes(b"\x08\x01\x12\x00")
    (folder / "fingerprint.pb").write_bytes(b"\x08\x01")
    (folder / "keras_metadata.pb").write_bytes(b"\x0a\x00")
    (folder / "variables" / "variables.index").write_bytes(b"\x00")
    (folder / "variables" / "variables.data-00000-of-00001").write_bytes(b"\x00")
    return folder


def _mlperf_checkpoints(root: Path) -> Path:
    """MLPerf's deeplabv3 README: checkpoints/{float,post_train_quant}/..., export_model.py's frozen graph and
    train.py's TF checkpoint beside the .tflite files it evaluates."""
    ckpt = root / "checkpoints"
    (ckpt / "float").mkdir(parents=True)
    (ckpt / "post_train_quant").mkdir()
    shutil.copy(UINT8, ckpt / "post_train_quant" / "freeze_ptq.tflite")
    (ckpt / "float" / "frozen_inference_graph.pb").write_bytes(b"\x0a\x05\x0a\x01x\x12\x00")
    for part in ("index", "meta", "data-00000-of-00001"):
        (ckpt / "float" / f"model.ckpt-200000.{part}").write_bytes(b"\x00")
    (ckpt / "post_train_quant" / "ptq.txt").write_text("ADE_train_00000001\n")
    return ckpt


def test_a_tf_hub_saved_model_is_one_line_saying_convert_it(tmp_path):
    mosaic = _saved_model(tmp_path / "mosaic")
    reports = str(tmp_path / "r")
    for target in (mosaic, mosaic / "saved_model.pb"):
        r = run_cli("run", "--models", str(target), "--reports", reports)
        assert_one_line_error(r, 1)
        assert f"{mosaic / 'saved_model.pb'}: a TensorFlow SavedModel" in r.err and ".tflite" in r.err, r.err
        assert "fingerprint" not in r.err and "variables" not in r.err.replace(str(mosaic), "")
    for command in (("inspect", str(mosaic)), ("gen-input", str(FIXTURES / "images" / "astronaut.png"),
                                               "--models", str(mosaic), "-o", str(tmp_path / "in"))):
        r = run_cli(*command)
        assert_one_line_error(r, 1)
        assert "a TensorFlow SavedModel" in r.err, r.err


def test_mlperfs_checkpoints_folder_runs_its_tflite_and_warns_about_the_rest(tmp_path):
    ckpt = _mlperf_checkpoints(tmp_path)
    foreign: list[str] = []
    found = find_models(ckpt, foreign.append)
    assert [f.ref.name for f in found] == ["post_train_quant/freeze_ptq"]
    # one line per model: the frozen graph, and the checkpoint once (not its .meta and data shards)
    assert len(foreign) == 2, foreign
    assert "frozen_inference_graph.pb: a TensorFlow frozen graph (GraphDef)" in foreign[0]
    assert "model.ckpt-200000.index: a TensorFlow checkpoint" in foreign[1]
    assert all(line.endswith("; skipped") for line in foreign)
    r = run_cli("run", "--models", str(ckpt), "--warmup", "0", "--repeats", "1", "--reports", str(tmp_path / "r"))
    assert r.code == 0, r.err
    assert f"segbench: warning: {ckpt / 'float' / 'frozen_inference_graph.pb'}: a TensorFlow frozen graph" in r.err
    assert r.err.count("segbench: warning:") == 2, r.err
    assert "post_train_quant/freeze_ptq" in r.out
    r = run_cli("run", "--models", str(ckpt / "float" / "frozen_inference_graph.pb"), "--reports", str(tmp_path / "r"))
    assert_one_line_error(r, 1)
    assert "from_frozen_graph" in r.err


def test_onnx_test_tensors_and_a_savedmodels_parts_are_not_models(tmp_path):
    # The ONNX model zoo's folder: model.onnx + test_data_set_0/input_0.pb (TensorProtos, not graphs)
    zoo = tmp_path / "fcn"
    (zoo / "test_data_set_0").mkdir(parents=True)
    shutil.copy(ONNX, zoo / "model.onnx")
    (zoo / "test_data_set_0" / "input_0.pb").write_bytes(b"\x08\x01")
    foreign: list[str] = []
    assert [f.ref.name for f in find_models(zoo, foreign.append)] == ["model"] and foreign == []
    mosaic = _saved_model(tmp_path / "mosaic")
    for part in ("fingerprint.pb", "keras_metadata.pb", "variables/variables.index"):
        assert foreign_model(mosaic / part) is None
    assert foreign_model(tmp_path / "notes.txt") is None


def test_trained_weights_say_how_to_export_them(tmp_path):
    # PP-MobileSeg-T's "model" link is PaddleSeg's trained model.pdparams; TI's training writes .pth checkpoints.
    for name, words in (("model.pdparams", "tools/export.py"), ("checkpoint.pth", "torch.onnx.export"),
                        ("mosaic.h5", ".tflite")):
        folder = tmp_path / name.split(".")[0]
        folder.mkdir()
        (folder / name).write_bytes(b"\x00")
        with pytest.raises(ModelError, match="cannot run"):
            find_models(folder)
        r = run_cli("run", "--models", str(folder / name), "--reports", str(tmp_path / "r"))
        assert_one_line_error(r, 1)
        assert words in r.err, r.err


def test_inspect_of_the_seeds_models_dir_reads_every_export_folder(tmp_path):
    # The PP-MobileSeg README's Speed_test_dir/models_dir: one tools/export.py folder per model, nothing flat.
    (tmp_path / "prog").mkdir()
    program = real_mobilenet_v2(tmp_path / "prog", "model", scale=0.1)
    models = tmp_path / "models_dir"
    for name in ("pp_mobileseg_base", "pp_mobileseg_tiny"):
        (models / name).mkdir(parents=True)
        for suffix in (".pdmodel", ".pdiparams"):
            shutil.copy(program.with_suffix(suffix), models / name / f"model{suffix}")
        (models / name / "model.pdiparams.info").write_bytes(b"\x00")
    r = run_cli("inspect", str(models), "--json")
    assert r.code == 0, r.err
    paths = [Path(m["path"]) for m in json.loads(r.out)["models"]]
    assert paths == [models / "pp_mobileseg_base" / "model.pdmodel", models / "pp_mobileseg_tiny" / "model.pdmodel"]


# ---------------------------------------------------------------- a .nb made for the phone, run on this machine

NB_ARM = FIXTURES / "paddle" / "mnv2_arm_head.nb"
NB_X86 = FIXTURES / "paddle" / "mnv2_x86_head.nb"


def test_a_nbs_kernels_say_which_processors_it_was_made_for():
    from segbench.modelinfo.nb import foreign_targets, kernel_targets

    assert kernel_targets(NB_ARM) == {"arm", "host"}
    assert kernel_targets(NB_X86) == {"x86", "host"}
    assert foreign_targets(NB_ARM, "x86_64") == ["arm"] and foreign_targets(NB_ARM, "aarch64") == []
    assert foreign_targets(NB_X86, "x86_64") == [] and foreign_targets(NB_X86, "aarch64") == ["x86"]
    assert foreign_targets(NB_ARM, "riscv64") == []  # a machine we do not know: Paddle Lite decides


@pytest.mark.paddle
@pytest.mark.slow
def test_an_arm_nb_on_this_machine_is_skipped_saying_so_not_timed(tmp_path):
    # PaddleSeg's lite guide makes the .nb with opt --valid_targets=arm; x86 Paddle Lite would "run" it in
    # microseconds, computing nothing (docs/zoo.md). The x86 .nb of the same program still runs.
    pytest.importorskip("paddlelite")
    from paddlelite import lite

    (tmp_path / "prog").mkdir()
    program = real_mobilenet_v2(tmp_path / "prog", "mnv2", scale=0.1)
    models = tmp_path / "models"
    models.mkdir()
    for target in ("arm", "x86"):
        opt = lite.Opt()
        opt.set_model_file(str(program))
        opt.set_param_file(str(program.with_suffix(".pdiparams")))
        opt.set_valid_places(target)
        opt.set_model_type("naive_buffer")
        opt.set_optimize_out(str(models / f"mnv2_{target}"))
        opt.run()
    (models / "manifest.toml").write_text(
        "".join(f'[[model]]\nfile = "mnv2_{t}.nb"\ninput_size = [224, 224]\n\n' for t in ("arm", "x86")))
    reports = tmp_path / "r"
    r = run_cli("run", "--models", str(models), "--warmup", "0", "--repeats", "1", "--reports", str(reports))
    assert r.code == 0, r.err
    (run,) = (reports / "runs").iterdir()
    records = {rec["model"]["name"]: rec for rec in map(json.loads, (run / "results.jsonl").read_text().splitlines())}
    assert records["mnv2_x86"]["status"] == "ok"
    arm = records["mnv2_arm"]
    assert arm["status"] == "skipped" and arm["samples_ms"] in (None, [])
    assert "optimised for arm" in arm["error"] and "--device" in arm["error"]


# ---------------------------------------------------------------- PaddleSeg's export folder through every command

BARE_DEPLOY = """Deploy:
  input_shape:
  - 1
  - 3
  - 224
  - 224
  model: model.pdmodel
  output_dtype: float32
  output_op: none
  params: model.pdiparams
  transforms:
  - type: Normalize
"""


def _paddleseg_export(folder: Path, program: Path) -> Path:
    """tools/export.py's folder with the deploy.yaml PaddleSeg writes for PP-MobileSeg: a bare Normalize (its
    defaults, mean and std 0.5), no Resize."""
    folder.mkdir(parents=True)
    for suffix in (".pdmodel", ".pdiparams"):
        shutil.copy(program.with_suffix(suffix), folder / f"model{suffix}")
    (folder / "model.pdiparams.info").write_bytes(b"\x00")
    (folder / "deploy.yaml").write_text(BARE_DEPLOY)
    return folder


@pytest.fixture(scope="module")
def program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return real_mobilenet_v2(tmp_path_factory.mktemp("prog"), "model", scale=0.1)


def test_a_bare_normalize_in_deploy_yaml_is_paddlesegs_defaults(tmp_path, program):
    from segbench import deploy

    models = tmp_path / "models_dir"
    export = _paddleseg_export(models / "pp_mobileseg_tiny", program)
    config = deploy.read(export / "deploy.yaml")
    assert config.normalize and config.mean == (0.5, 0.5, 0.5) and config.std == (0.5, 0.5, 0.5)
    # the README tour's `gen-input IMAGE --models models_dir`
    r = run_cli("gen-input", str(FIXTURES / "images" / "astronaut.png"), "--models", str(models),
                "-o", str(tmp_path / "in"), "--json")
    assert r.code == 0, r.err
    (record,) = json.loads(r.out)
    assert record["model"] == "pp_mobileseg_tiny" and record["transform"]["preset"] == "deploy.yaml"
    assert record["transform"]["mean"] == [0.5, 0.5, 0.5] and record["target"]["shape"] == [1, 3, 224, 224]


def test_eval_takes_an_export_folder_as_the_model(tmp_path, program):
    models = tmp_path / "models_dir"
    export = _paddleseg_export(models / "pp_mobileseg_tiny", program)
    from segbench.cli.cmd_eval import _model_ref
    from segbench.errors import UsageError

    ref = _model_ref(export)
    assert ref.name == "pp_mobileseg_tiny" and Path(ref.path) == export / "model.pdmodel"
    shutil.copy(NB_ARM, export / "opt.nb")  # benchmark_bin's conversion, pulled back with the folder: still one model
    assert _model_ref(export).path == ref.path
    with pytest.raises(UsageError, match="is a directory"):
        _model_ref(models)


def test_opts_nb_beside_its_export_folder_takes_its_shape_and_the_folder_keeps_its_name(tmp_path, program):
    # PaddleSeg's lite guide: opt --model_file pp_mobileseg_tiny/model.pdmodel ... --optimize_out pp_mobileseg_tiny
    from segbench.modelinfo.io import read_io

    models = tmp_path / "models_dir"
    _paddleseg_export(models / "pp_mobileseg_tiny", program)
    shutil.copy(NB_ARM, models / "pp_mobileseg_tiny.nb")
    found = find_models(models)
    assert sorted((f.ref.name, f.ref.format) for f in found) == [
        ("pp_mobileseg_tiny", "paddle"), ("pp_mobileseg_tiny.nb", "paddle-nb")]
    inputs, _ = read_io(models / "pp_mobileseg_tiny.nb")
    assert [(t.shape[1:], t.dtype) for t in inputs] == [((3, 224, 224), "float32")]
