"""Model discovery in the layouts people have: PaddleSeg export folders (the seed's models_dir), flat files,
both mixed, nested suites; names, collisions and what is not a model."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from paddle_build import real_mobilenet_v2

from conftest import FIXTURES, assert_one_line_error, run_cli
from segbench.errors import UsageError
from segbench.models import find_models

ONNX = FIXTURES / "models" / "tiny_seg.onnx"
TFLITE = FIXTURES / "models" / "selfie_segmentation.tflite"
DEPLOY = """Deploy:
  input_shape: [1, 3, 224, 224]
  model: model.pdmodel
  output_dtype: float32
  output_op: none
  params: model.pdiparams
  transforms:
  - type: Normalize
"""


@pytest.fixture(scope="module")
def program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real Paddle program (PaddleClas MobileNetV2, seeded weights): model.pdmodel + model.pdiparams."""
    return real_mobilenet_v2(tmp_path_factory.mktemp("prog"), "model", scale=0.1)


def _export(folder: Path, program: Path, stem: str = "model", deploy: bool = True) -> Path:
    """A PaddleSeg export folder as tools/export.py leaves it."""
    folder.mkdir(parents=True)
    shutil.copy(program, folder / f"{stem}.pdmodel")
    shutil.copy(program.with_suffix(".pdiparams"), folder / f"{stem}.pdiparams")
    (folder / f"{stem}.pdiparams.info").write_bytes(b"\x00info")
    if deploy:
        (folder / "deploy.yaml").write_text(DEPLOY.replace("model.pd", f"{stem}.pd"))
    return folder


def _names(found) -> list[tuple[str, str]]:
    return sorted((f.ref.name, f.ref.format) for f in found)


def test_the_seeds_models_dir_is_one_model_per_folder_named_by_the_folder(tmp_path, program):
    models = tmp_path / "models_dir"
    _export(models / "pp_mobileseg_base", program)
    _export(models / "pp_mobileseg_tiny", program)
    found = find_models(models)
    assert _names(found) == [("pp_mobileseg_base", "paddle"), ("pp_mobileseg_tiny", "paddle")]
    for f in found:
        assert f.error is None and Path(f.ref.path).name == "model.pdmodel"
        assert [Path(c).name for c in f.ref.companions] == ["model.pdiparams"]
    # one export folder given by itself
    (one,) = find_models(models / "pp_mobileseg_tiny")
    assert one.ref.name == "pp_mobileseg_tiny"


def test_inference_names_paddle3_programs_flat_files_and_nested_suites_mixed(tmp_path, program):
    models = tmp_path / "models"
    _export(models / "a_inference", program, stem="inference", deploy=False)
    pir = models / "b_paddle3"
    pir.mkdir(parents=True)
    (pir / "model.json").write_text('{"program": {}}')
    shutil.copy(program.with_suffix(".pdiparams"), pir / "model.pdiparams")
    shutil.copy(ONNX, models / "flat.onnx")
    _export(models / "suite" / "ade20k" / "deep", program)
    shutil.copy(TFLITE, models / "suite" / "selfie.tflite")
    # Not models: weights alone, sidecars, images, a json without weights, notes, hidden folders.
    (models / "suite" / "README.md").write_text("notes")
    (models / "stray.pdiparams").write_bytes(b"w")
    (models / "config.json").write_text("{}")
    shutil.copy(FIXTURES / "images" / "astronaut.png", models / "a_inference" / "sample.png")
    hidden = models / ".cache"
    hidden.mkdir()
    shutil.copy(ONNX, hidden / "old.onnx")
    assert _names(find_models(models)) == [
        ("a_inference", "paddle"), ("b_paddle3", "paddle"), ("flat", "onnx"), ("suite/ade20k/deep", "paddle"),
        ("suite/selfie", "tflite")]


def test_derived_names_that_would_collide_become_paths(tmp_path, program):
    models = tmp_path / "m"
    _export(models / "seg", program)
    shutil.copy(program, models / "seg.pdmodel")
    shutil.copy(program.with_suffix(".pdiparams"), models / "seg.pdiparams")
    shutil.copy(ONNX, models / "seg.onnx")  # another runtime: may share the name
    # the export folder keeps its name (README: folders are named by the folder); the flat program gives way
    assert _names(find_models(models)) == [("seg", "onnx"), ("seg", "paddle"), ("seg.pdmodel", "paddle")]


def test_manifest_names_a_folder_and_colliding_manifest_names_are_an_error(tmp_path, program):
    models = tmp_path / "m"
    _export(models / "pp_mobileseg_tiny", program)
    shutil.copy(ONNX, models / "pp_mobileseg_tiny.onnx")
    (models / "manifest.toml").write_text(
        '[[model]]\nname = "PP-MobileSeg-Tiny"\nfile = "pp_mobileseg_tiny.onnx"\n\n'
        '[[model]]\nname = "PP-MobileSeg-Tiny"\nfile = "pp_mobileseg_tiny"\ninput_size = [224, 224]\n')
    found = find_models(models)
    assert _names(found) == [("PP-MobileSeg-Tiny", "onnx"), ("PP-MobileSeg-Tiny", "paddle")]
    (models / "copy.onnx").write_bytes(ONNX.read_bytes())
    with (models / "manifest.toml").open("a") as f:
        f.write('\n[[model]]\nname = "PP-MobileSeg-Tiny"\nfile = "copy.onnx"\n')
    with pytest.raises(UsageError, match="several models are named PP-MobileSeg-Tiny"):
        find_models(models)


def test_a_fifo_named_like_a_model_fails_alone_and_a_loop_of_links_ends(tmp_path, program):
    models = tmp_path / "m"
    _export(models / "ok", program)
    os.mkfifo(models / "pipe.onnx")
    (models / "loop").symlink_to(models, target_is_directory=True)
    (models / "zero.tflite").symlink_to("/dev/zero")
    by_name = {f.ref.name: f for f in find_models(models)}
    assert sorted(by_name) == ["ok", "pipe", "zero"]
    assert by_name["ok"].error is None
    assert "a FIFO, not a model file" in by_name["pipe"].error
    assert "a character device, not a model file" in by_name["zero"].error


def test_a_directory_without_models_is_one_usage_error(tmp_path):
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "sub" / "deploy.yaml").write_text(DEPLOY)
    assert_one_line_error(run_cli("run", "--models", str(tmp_path / "empty"), "--reports", str(tmp_path / "r")), 2)
