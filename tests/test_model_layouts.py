"""Model layouts people have beyond one file per model: ONNX with its weights in external data files (onnx.save's
save_as_external_data, torch.onnx.export over 2 GB), Paddle 1.x's __model__ folders, opt.nb inside an export folder.
Each is found, named, hashed with every file it is read with, run on this machine and on the emulated phone, or
refused with one line saying what to do."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from onnx_build import external_data
from test_attacks import unprivileged  # noqa: F401 - the fixture

from conftest import FIXTURES, assert_one_line_error, run_cli
from segbench.emulator import EmulatedPhone
from segbench.emulator.phone import free_port
from segbench.model import Case
from segbench.models import architecture_of, find_models

ADB_PORTS = range(37037, 37100)
PHONE_PORTS = range(37100, 37400, 2)


# ---------------------------------------------------------------- ONNX with external data


def test_external_data_is_part_of_the_models_identity(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    (data,) = external_data(a / "segext.onnx")
    assert data.name == "segext.onnx.data"
    shutil.copytree(a, b)
    raw = bytearray((b / "segext.onnx.data").read_bytes())
    raw[0] ^= 1  # the same graph, other weights
    (b / "segext.onnx.data").write_bytes(bytes(raw))
    (fa,), (fb,) = find_models(a), find_models(b)
    assert fa.error is None and fa.ref.companions == (str(data),)
    assert fa.ref.sha256 == fb.ref.sha256 and fa.ref.companions_sha256 != fb.ref.companions_sha256
    cases = [Case(f.ref, "onnxruntime", 1, "high", 0, 1) for f in (fa, fb)]
    assert cases[0].case_id != cases[1].case_id


def test_one_file_per_tensor_and_files_in_a_subfolder_are_all_companions(tmp_path):
    per = tmp_path / "per"
    per.mkdir()
    files = external_data(per / "segext.onnx", one_file=False)
    assert len(files) == 2
    (found,) = find_models(per)
    assert sorted(found.ref.companions) == sorted(map(str, files)) and len(found.ref.companions_sha256) == 2
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "weights").mkdir()
    external_data(sub / "segext.onnx", location="weights/segext.bin")
    (found,) = find_models(sub)
    assert found.ref.companions == (str(sub / "weights" / "segext.bin"),)
    assert [f.ref.name for f in find_models(tmp_path)] == ["per/segext", "sub/segext"]  # .data/.bin are no models


def test_a_missing_external_data_file_is_one_line_naming_it(tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    (data,) = external_data(models / "segext.onnx")
    data.unlink()
    r = run_cli("inspect", str(models))
    assert_one_line_error(r, 1)
    assert f"{models / 'segext.onnx'}: its external data file {data} is missing" in r.err, r.err
    r = run_cli("run", "--models", str(models), "--warmup", "0", "--repeats", "1", "--reports", str(tmp_path / "r"))
    assert r.code == 3 and "Traceback" not in r.err, r.err
    assert f"segbench: warning: {models / 'segext.onnx'}: its external data file {data} is missing" in r.err
    (run,) = (tmp_path / "r" / "runs").iterdir()
    (record,) = map(json.loads, (run / "results.jsonl").read_text().splitlines())
    assert record["status"] == "failed" and f"{data} is missing" in record["error"]


def test_a_location_outside_the_models_folder_is_refused(tmp_path):
    import onnx

    (tmp_path / "m").mkdir()
    (data,) = external_data(tmp_path / "m" / "segext.onnx")
    data.rename(tmp_path / "elsewhere.data")
    model = onnx.load(str(tmp_path / "m" / "segext.onnx"), load_external_data=False)
    for tensor in model.graph.initializer:  # onnx.save itself refuses such a location: written by hand
        for entry in tensor.external_data:
            if entry.key == "location":
                entry.value = "../elsewhere.data"
    onnx.save(model, str(tmp_path / "m" / "segext.onnx"))
    (found,) = find_models(tmp_path / "m")
    assert found.error and "'../elsewhere.data' is not a file inside the model's folder" in found.error


def test_an_unreadable_external_data_file_is_one_line_naming_it(unprivileged):  # noqa: F811
    run, folder = unprivileged
    (data,) = external_data(folder / "segext.onnx")
    data.chmod(0)
    r = run("inspect", "segext.onnx")
    assert_one_line_error(r, 1)
    assert "segext.onnx: cannot read its file segext.onnx.data: Permission denied" in r.err, r.err
    r = run("run", "--models", str(folder), "--warmup", "0", "--repeats", "1", "--reports", str(folder / "r"))
    assert r.code == 3 and "Traceback" not in r.err, r.err
    assert f"cannot read its file {data}: Permission denied" in r.err


def test_inspect_and_a_host_run_read_the_external_weights(tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    (data,) = external_data(models / "segext.onnx")
    r = run_cli("inspect", str(models))
    assert r.code == 0, r.err
    assert f"note      external data segext.onnx.data ({data.stat().st_size:,} bytes)" in r.out and "params    112" in r.out, r.out
    r = run_cli("run", "--models", str(models), "--warmup", "0", "--repeats", "2", "--reports", str(tmp_path / "r"))
    assert r.code == 0, r.err
    (run,) = (tmp_path / "r" / "runs").iterdir()
    (record,) = map(json.loads, (run / "results.jsonl").read_text().splitlines())
    assert record["status"] == "ok" and record["model"]["companions"] == [str(models / "segext.onnx.data")]


@pytest.fixture
def phone(adb_port: int) -> Iterator[EmulatedPhone]:
    with EmulatedPhone(port=free_port(PHONE_PORTS), adb_port=adb_port) as p:
        yield p


@pytest.mark.slow
def test_external_data_is_pushed_beside_the_onnx_on_the_phone(phone, adb_port, assets, tmp_path):
    models = tmp_path / "models"
    (models / "flat").mkdir(parents=True)
    (models / "nested" / "weights").mkdir(parents=True)
    external_data(models / "flat" / "segext.onnx")
    external_data(models / "nested" / "segext.onnx", location="weights/segext.bin")
    r = run_cli("run", "--device", phone.serial, "--assets", str(assets), "--reports", str(tmp_path / "r"),
                "--models", str(models), "--warmup", "0", "--repeats", "2",
                env={"ANDROID_ADB_SERVER_PORT": str(adb_port)}, timeout=600)
    assert r.code == 0, r.err
    (run,) = (tmp_path / "r" / "runs").iterdir()
    records = [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines()]
    assert sorted((m["model"]["name"], m["status"]) for m in records) == [("flat/segext", "ok"),
                                                                         ("nested/segext", "ok")]


# ---------------------------------------------------------------- opt.nb inside a PaddleSeg export folder

NB_ARM = FIXTURES / "paddle" / "mnv2_arm_head.nb"


def _export(folder: Path) -> Path:
    """A tools/export.py folder (the program stands for any: discovery reads names, not weights)."""
    folder.mkdir(parents=True)
    shutil.copy(FIXTURES / "paddle" / "mobilenet_v2_paddleclas.pdmodel", folder / "model.pdmodel")
    (folder / "model.pdiparams").write_bytes(b"\x00")
    return folder


def test_opt_nb_inside_an_export_folder_is_named_like_the_nb_beside_it(tmp_path):
    models = tmp_path / "models_dir"
    export = _export(models / "pp_mobileseg_tiny")
    shutil.copy(NB_ARM, export / "opt.nb")  # benchmark_bin's own conversion, pulled back into the folder
    found = find_models(models)
    assert sorted((f.ref.name, f.ref.format) for f in found) == [
        ("pp_mobileseg_tiny", "paddle"), ("pp_mobileseg_tiny.nb", "paddle-nb")]
    shutil.copy(NB_ARM, models / "pp_mobileseg_tiny.nb")  # and opt's beside it as well: each its own name
    assert sorted(f.ref.name for f in find_models(models)) == [
        "pp_mobileseg_tiny", "pp_mobileseg_tiny.nb", "pp_mobileseg_tiny/opt.nb"]
    (export / "model.pdmodel").unlink()  # no export any more: a file like any other
    (models / "pp_mobileseg_tiny.nb").unlink()
    assert [f.ref.name for f in find_models(models)] == ["pp_mobileseg_tiny/opt"]


def test_the_nb_of_an_export_is_the_same_architecture_as_its_program(tmp_path):
    models = tmp_path / "models_dir"
    export = _export(models / "pp_mobileseg_tiny")
    shutil.copy(NB_ARM, export / "opt.nb")
    shutil.copy(NB_ARM, models / "pp_mobileseg_tiny.nb")
    archs = {f.ref.name: architecture_of(f.ref) for f in find_models(models)}
    assert {(a.name, a.format, a.quant) for a in archs.values()} == {
        ("pp_mobileseg_tiny", "paddle", "none"), ("pp_mobileseg_tiny", "nb", "none")}
    # the folder's manifest entry (beside it) names the architecture: its opt.nb is that architecture too
    (models / "manifest.toml").write_text('[[model]]\nfile = "pp_mobileseg_tiny"\narchitecture = "PP-MobileSeg-T"\n'
                                          'format = "paddle"\n')
    (models / "pp_mobileseg_tiny.nb").unlink()
    archs = {f.ref.format: architecture_of(f.ref) for f in find_models(models)}
    assert (archs["paddle-nb"].name, archs["paddle-nb"].format, archs["paddle-nb"].source) == (
        "PP-MobileSeg-T", "nb", "manifest")
    assert archs["paddle"].name == "PP-MobileSeg-T"


# ---------------------------------------------------------------- Paddle 1.x's __model__ folders


@pytest.mark.parametrize("weights", [("__params__",), ("conv1_weights", "conv1_bn_scale")])
def test_a_paddle_1x_model_folder_is_one_line_saying_how_to_resave_it(tmp_path, weights):
    # PaddleSeg 1.x / fluid's save_inference_model: __model__ (a ProgramDesc) with __params__ (combined) or one
    # file per weight. segbench's runners take a .pdmodel + .pdiparams pair; Paddle 2.x re-saves it into one.
    old = tmp_path / "models" / "deeplabv3p"
    old.mkdir(parents=True)
    shutil.copy(FIXTURES / "paddle" / "mobilenet_v2_paddleclas.pdmodel", old / "__model__")
    for name in weights:
        (old / name).write_bytes(b"\x00")
    for target in (old.parent, old / "__model__"):
        r = run_cli("run", "--models", str(target), "--reports", str(tmp_path / "r"))
        assert_one_line_error(r, 1)
        assert f"{old / '__model__'}: a Paddle 1.x inference model" in r.err, r.err
        assert "load_inference_model" in r.err and "save_inference_model" in r.err
    external_data(old.parent / "segext.onnx")  # beside a model that runs: warned about once, not a folder of models
    r = run_cli("run", "--models", str(old.parent), "--warmup", "0", "--repeats", "1", "--reports", str(tmp_path / "r"))
    assert r.code == 0, r.err
    assert r.err.count("segbench: warning:") == 1 and "a Paddle 1.x inference model" in r.err, r.err
