"""`run --input DIR` says what the folder is and what is expected (it said "no such file" of a folder that exists),
and takes the ONNX test-data folder README documents."""

from __future__ import annotations

import json

import numpy as np
import onnx
from onnx import numpy_helper

from conftest import FIXTURES, assert_one_line_error, run_cli

MODEL = FIXTURES / "models" / "tiny_seg.onnx"
EXPECTED = ("(give an image, a tensor file gen-input writes (.txt, .raw, .npy, .pb) or an ONNX test_data_set_N folder "
            "holding input_0.pb)")


def test_a_folder_without_test_data_is_named_as_a_folder(tmp_path):
    (tmp_path / "images").mkdir()
    r = run_cli("run", "--models", str(MODEL), "--input", str(tmp_path / "images"), "--reports", str(tmp_path / "r"))
    assert_one_line_error(r, 2)
    assert r.err.strip() == (f"segbench: error: --input {tmp_path / 'images'}: a folder without input_0.pb (nor "
                             f"test_data_set_0/input_0.pb) in it, not an input {EXPECTED}")


def test_a_missing_input_is_an_error_as_a_missing_file_is_for_every_command(tmp_path):
    # README's Exit codes: a missing file is 1 (gen-input, inspect, eval, run --models); run --input gave 2.
    r = run_cli("run", "--models", str(MODEL), "--input", str(tmp_path / "nope"), "--reports", str(tmp_path / "r"))
    assert_one_line_error(r, 1)
    assert r.err.strip() == f"segbench: error: --input {tmp_path / 'nope'}: no such file {EXPECTED}"
    suite = tmp_path / "suite.toml"  # a suite's input is named as the suite gives it (it said "--input None")
    suite.write_text(f'[suite]\nmodels = "{MODEL}"\ninput = "{tmp_path / "gone.npy"}"\n')
    r = run_cli("run", "--suite", str(suite), "--reports", str(tmp_path / "r"))
    assert_one_line_error(r, 1)
    assert r.err.strip() == f"segbench: error: --input {tmp_path / 'gone.npy'}: no such file {EXPECTED}"
    assert not (tmp_path / "r" / "runs").exists()  # nothing ran


def test_an_onnx_test_data_folder_is_an_input(tmp_path):
    graph = onnx.load(str(MODEL)).graph
    inp = graph.input[0]
    shape = [d.dim_value or 1 for d in inp.type.tensor_type.shape.dim]
    data = tmp_path / "test_data_set_0"
    data.mkdir()
    tensor = numpy_helper.from_array(np.full(shape, 0.5, dtype=np.float32), inp.name)
    (data / "input_0.pb").write_bytes(tensor.SerializeToString())
    r = run_cli("run", "--models", str(MODEL), "--input", str(data), "--warmup", "0", "--repeats", "1",
                "--reports", str(tmp_path / "r"))
    assert r.code == 0, r.err
    (run,) = (tmp_path / "r" / "runs").iterdir()
    (record,) = [json.loads(x) for x in (run / "results.jsonl").read_text().splitlines()]
    assert record["status"] == "ok", record
