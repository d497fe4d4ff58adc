"""inspect_model on Paddle models written here: a .pdmodel (ProgramDesc) and a PIR model.json,
each with a .pdiparams in Paddle's combined tensor layout. Hand-computed params and MACs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paddle_build import Program, params_file, real_mobilenet_v2

from segbench.errors import ModelError
from segbench.model import TensorInfo
from segbench.modelinfo import inspect_model, read_io
from segbench.modelinfo.paddle_model import parse_program, read_params

RNG = np.random.default_rng(7)

# Persistable tensors of the legacy model; Paddle saves them sorted by name.
WEIGHTS = {
    "bn_bias": [8], "bn_mean": [8], "bn_scale": [8], "bn_var": [8],
    "conv_w": [8, 3, 3, 3], "ct_w": [8, 4, 2, 2], "dw_w": [8, 1, 3, 3], "mm_w": [1024, 10],
}


def _legacy_program() -> Program:
    """x[-1,3,16,16] -> conv2d 3->8 k3 -> batch_norm -> relu -> depthwise_conv2d k3 -> pool2d avg k2 s2
    -> conv2d_transpose 8->4 k2 s2 -> bilinear_interp_v2 x2 -> reshape2 [-1,4,1024] -> matmul_v2 [1024,10]."""
    p = Program()
    p.var("feed", kind=9, persistable=True)
    p.var("fetch", kind=10, persistable=True)
    for name, shape in WEIGHTS.items():
        p.var(name, shape, persistable=True)
    p.var("shape_const", [3], "int64", persistable=True)  # an integer tensor: saved, but not a param
    acts = {"x": [-1, 3, 16, 16], "c1": [-1, 8, 16, 16], "bn": [-1, 8, 16, 16], "r1": [-1, 8, 16, 16],
            "d1": [-1, 8, 16, 16], "p1": [-1, 8, 8, 8], "t1": [-1, 4, 16, 16], "u1": [-1, 4, 32, 32],
            "flat": [-1, 4, 1024], "xshape": [0, -1, 4, 32, 32], "y": [-1, 4, 10]}
    for name, shape in acts.items():
        p.var(name, shape)
    p.op("feed", {"X": ["feed"]}, {"Out": ["x"]}, col=0)
    p.op("conv2d", {"Input": ["x"], "Filter": ["conv_w"]}, {"Output": ["c1"]}, strides=[1, 1], paddings=[1, 1],
         groups=1, dilations=[1, 1])
    p.op("batch_norm", {"X": ["c1"], "Scale": ["bn_scale"], "Bias": ["bn_bias"], "Mean": ["bn_mean"],
                        "Variance": ["bn_var"]}, {"Y": ["bn"]}, is_test=True)
    p.op("relu", {"X": ["bn"]}, {"Out": ["r1"]})
    p.op("depthwise_conv2d", {"Input": ["r1"], "Filter": ["dw_w"]}, {"Output": ["d1"]}, strides=[1, 1],
         paddings=[1, 1], groups=8)
    p.op("pool2d", {"X": ["d1"]}, {"Out": ["p1"]}, pooling_type="avg", ksize=[2, 2], strides=[2, 2],
         global_pooling=False, adaptive=False)
    p.op("conv2d_transpose", {"Input": ["p1"], "Filter": ["ct_w"]}, {"Output": ["t1"]}, strides=[2, 2], groups=1)
    p.op("bilinear_interp_v2", {"X": ["t1"]}, {"Out": ["u1"]}, out_h=32, out_w=32, interp_method="bilinear")
    p.op("reshape2", {"X": ["u1"], "Shape": ["shape_const"]}, {"Out": ["flat"], "XShape": ["xshape"]})
    p.op("matmul_v2", {"X": ["flat"], "Y": ["mm_w"]}, {"Out": ["y"]}, trans_x=False, trans_y=False)
    p.op("fetch", {"X": ["y"]}, {"Out": ["fetch"]}, col=0)
    return p


def _write_legacy(tmp_path: Path) -> Path:
    tensors = {name: RNG.standard_normal(shape).astype(np.float32) for name, shape in WEIGHTS.items()}
    tensors["shape_const"] = np.array([-1, 4, 1024], np.int64)
    model = tmp_path / "model.pdmodel"
    model.write_bytes(_legacy_program().serialize())
    (tmp_path / "model.pdiparams").write_bytes(params_file([tensors[k] for k in sorted(tensors)]))
    return model


def test_pdmodel_params_macs_ops_and_io(tmp_path: Path) -> None:
    info = inspect_model(_write_legacy(tmp_path))
    assert info.format == "paddle" and info.version == "ProgramDesc version 2006002"
    assert info.params == 4 * 8 + 8 * 27 + 8 * 4 * 4 + 8 * 9 + 1024 * 10 == 10_688
    assert info.params_by_dtype == {"float32": 10_688}  # the int64 shape tensor is not counted
    assert info.macs_by_op == {
        "matmul_v2": (4 * 10) * 1024,            # output elements x K = 40960
        "conv2d": (8 * 16 * 16) * 3 * 9,          # 55296 (batch -1 taken as 1)
        "depthwise_conv2d": (8 * 16 * 16) * 1 * 9,  # 18432
        "conv2d_transpose": (8 * 8 * 8) * 4 * 4,  # input elements x Cout x kernel area = 8192
    }
    assert info.macs == 122_880
    assert info.other_ops == {"bilinear_interp_v2": 4 * 32 * 32 * 4, "batch_norm": 2048, "pool2d": 512 * 4,
                              "relu": 2048}
    assert info.ops == {"batch_norm": 1, "bilinear_interp_v2": 1, "conv2d": 1, "conv2d_transpose": 1,
                        "depthwise_conv2d": 1, "matmul_v2": 1, "pool2d": 1, "relu": 1, "reshape2": 1}
    assert [(t.name, t.shape, t.dtype, t.layout) for t in info.inputs] == [("x", (None, 3, 16, 16), "float32", "nchw")]
    assert [(t.name, t.shape) for t in info.outputs] == [("y", (None, 4, 10))]
    assert any("BatchNorm is not folded" in n for n in info.notes) and "dynamic batch taken as 1" in info.notes
    assert not any("holds" in n for n in info.notes)  # 9 tensors saved, 9 persistable variables declared


def _pir_value(vid: int, shape: list[int], dtype: str = "t_f32") -> dict:
    return {"%": vid, "TT": {"#": "0.t_dtensor", "D": [{"#": f"0.{dtype}"}, shape, "NCHW", [], 0]}}


def _attr(name: str, kind: str, value: object) -> dict:
    return {"N": name, "AT": {"#": kind, "D": value}}


def _pir_model() -> dict:
    """The compressed PIR json Paddle 3 writes: x[-1,3,16,16] -> conv2d 3->8 k3 -> depthwise_conv2d k3
    -> pool2d avg (kernel from full_int_array [2,2]) -> fetch."""
    ints = lambda vs: {"#": "0.a_array", "D": [{"#": "0.a_i32", "D": v} for v in vs]}  # noqa: E731
    ops = [
        {"#": "p", "A": [0, 1, 1, "conv_w"], "O": _pir_value(1, [8, 3, 3, 3]), "OA": [1, 0, 1]},
        {"#": "p", "A": [0, 1, 1, "dw_w"], "O": _pir_value(2, [8, 1, 3, 3]), "OA": [1, 0, 1]},
        {"#": "1.data", "A": [_attr("name", "0.a_str", "x"), _attr("shape", "1.a_intarray", [-1, 3, 16, 16]),
                              _attr("dtype", "1.a_dtype", "float32")], "I": [], "O": [_pir_value(3, [-1, 3, 16, 16])]},
        {"#": "1.conv2d", "A": [{"N": "strides", "AT": ints([1, 1])}, {"N": "paddings", "AT": ints([1, 1])},
                                _attr("groups", "0.a_i32", 1)],
         "I": [{"%": 3}, {"%": 1}], "O": [_pir_value(4, [-1, 8, 16, 16])]},
        {"#": "1.depthwise_conv2d", "A": [_attr("groups", "0.a_i32", 8)],
         "I": [{"%": 4}, {"%": 2}], "O": [_pir_value(5, [-1, 8, 16, 16])]},
        {"#": "1.full_int_array", "A": [{"N": "value", "AT": {"#": "0.a_array", "D": [
            {"#": "0.a_i64", "D": 2}, {"#": "0.a_i64", "D": 2}]}}], "I": [], "O": [_pir_value(6, [2], "t_i64")]},
        {"#": "1.pool2d", "A": [_attr("pooling_type", "0.a_str", "avg"), _attr("global_pooling", "0.a_bool", False),
                                _attr("adaptive", "0.a_bool", False)],
         "I": [{"%": 5}, {"%": 6}], "O": [_pir_value(7, [-1, 8, 8, 8])]},
        {"#": "1.fetch", "A": [_attr("name", "0.a_str", "fetch_name_0"), _attr("col", "0.a_i32", 0)],
         "I": [{"%": 7}], "O": [_pir_value(8, [-1, 8, 8, 8])]},
    ]
    return {"base_code": {"magic": "pir", "trainable": False, "version": 1},
            "program": {"regions": [{"#": "region_0", "blocks": [{"#": "block_0", "args": [], "ops": ops}]}]}}


def _write_pir(tmp_path: Path) -> Path:
    model = tmp_path / "inference.json"
    model.write_text(json.dumps(_pir_model()))
    tensors = [RNG.standard_normal([8, 3, 3, 3]).astype(np.float32), RNG.standard_normal([8, 1, 3, 3]).astype(np.float16)]
    (tmp_path / "inference.pdiparams").write_bytes(params_file(tensors))
    return model


def test_pir_json_params_macs_and_io(tmp_path: Path) -> None:
    info = inspect_model(_write_pir(tmp_path))
    assert info.format == "paddle" and info.version == "PIR version 1"
    assert info.params_by_dtype == {"float16": 72, "float32": 216} and info.params == 288
    assert info.macs_by_op == {"conv2d": 8 * 256 * 27, "depthwise_conv2d": 8 * 256 * 9}
    assert info.other_ops == {"pool2d": 8 * 8 * 8 * 4}  # kernel [2,2] read from the full_int_array operand
    assert info.ops == {"conv2d": 1, "depthwise_conv2d": 1, "pool2d": 1}
    assert [(t.name, t.shape) for t in info.inputs] == [("x", (None, 3, 16, 16))]
    assert [(t.name, t.shape) for t in info.outputs] == [("fetch_name_0", (None, 8, 8, 8))]


def test_params_file_that_does_not_match_the_program_is_noted(tmp_path: Path) -> None:
    model = _write_pir(tmp_path)
    (tmp_path / "inference.pdiparams").write_bytes(params_file([np.zeros([8, 3, 3, 3], np.float32)]))
    info = inspect_model(model)
    assert "inference.pdiparams holds 1 tensors; the program declares 2" in info.notes


def test_bad_paddle_files(tmp_path: Path) -> None:
    legacy = _write_legacy(tmp_path)
    params = legacy.with_suffix(".pdiparams").read_bytes()
    legacy.with_suffix(".pdiparams").write_bytes(params[:-100])
    with pytest.raises(ModelError, match=r"model.pdiparams: truncated or corrupt Paddle params file \(tensor 8 ends"):
        inspect_model(legacy)
    legacy.with_suffix(".pdiparams").write_bytes(params + b"\x00" * 10)
    with pytest.raises(ModelError, match="header of tensor 10 is cut off"):
        inspect_model(legacy)
    legacy.with_suffix(".pdiparams").write_bytes(b"\x01" + params[1:])
    with pytest.raises(ModelError, match="tensor 1 has version 1, expected 0"):
        inspect_model(legacy)
    legacy.write_bytes(b"\xff" * 64)
    with pytest.raises(ModelError, match=r"model.pdmodel: not a readable Paddle .pdmodel \(ProgramDesc\)"):
        inspect_model(legacy)
    legacy.with_suffix(".pdiparams").unlink()
    with pytest.raises(ModelError, match="without its parameters file model.pdiparams"):
        inspect_model(legacy)
    pir = _write_pir(tmp_path)
    pir.write_text('{"program": {}}')
    with pytest.raises(ModelError, match="not a readable PIR model.json"):
        inspect_model(pir)
    pir.write_text(json.dumps(_pir_model())[:300])
    with pytest.raises(ModelError, match="not a readable PIR model.json"):
        inspect_model(pir)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["float32", "float16", "int8", "int64", "uint8"]),
                          st.lists(st.integers(0, 5), min_size=0, max_size=4)), min_size=1, max_size=6))
def test_params_stream_round_trip(specs: list[tuple[str, list[int]]]) -> None:
    """Whatever tensors Paddle's layout holds (0-d, empty, any dtype), the reader gets them all back
    from bytes the independent writer (real protobuf TensorDesc) produced, and nothing more."""
    tensors = [np.zeros(shape, dtype) for dtype, shape in specs]
    got = read_params(params_file(tensors))
    assert [(t.dtype, t.shape) for t in got] == [(d, tuple(s)) for d, s in specs]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(-(2**63), 2**63 - 1), max_size=6))
def test_program_dims_decode_like_protobuf(dims: list[int]) -> None:
    """int64 dims (negative ones are 10-byte varints) decode as protobuf encoded them."""
    p = Program()
    p.var("v", dims)
    variables, ops, version, blocks = parse_program(p.serialize())
    assert variables["v"].shape == tuple(dims) and (ops, version, blocks) == ([], 2006002, 1)


# --- a real program: PaddleClas MobileNetV2 exported by Paddle 2.0 (tests/fixtures/PROVENANCE.md) ---

def test_real_paddleclas_mobilenet_v2_program(tmp_path: Path) -> None:
    """The file carries the program only; its weights file is rebuilt as zeros from the variable
    shapes that the real protobuf library (not segbench's decoder) reads from the program."""
    model = real_mobilenet_v2(tmp_path)
    info = inspect_model(model)
    # MobileNetV2 1.0 has 3,504,872 trainable params and 17,056 BatchNorm channels (torchvision's
    # model); Paddle keeps BN's mean and variance (2 x 17,056), and PaddleClas' first block has a 1x1
    # expansion conv (32x32) + BN (4 x 32) that the paper's t=1 block lacks: 1,024 + 128.
    assert info.params == 3_504_872 + 2 * 17_056 + 1_024 + 128 == 3_540_136
    # torch's FlopCounterMode on the same MobileNetV2 at 224x224: 300,774,272 MACs (convs + FC);
    # PaddleClas' extra 1x1 conv adds 112 x 112 x 32 x 32.
    assert info.macs == 300_774_272 + 112 * 112 * 32 * 32 == 313_619_328
    assert info.macs_by_op["matmul"] == 1280 * 1000
    assert info.ops["conv2d"] == 36 and info.ops["depthwise_conv2d"] == 17 and info.ops["batch_norm"] == 53
    assert info.version == "ProgramDesc version 2000002"
    assert [(t.name, t.shape) for t in info.inputs] == [("inputs", (None, 3, 224, 224))]
    assert [(t.name, t.shape) for t in info.outputs] == [("save_infer_model/scale_0.tmp_1", (None, 1000))]


def test_read_io_of_a_program_reads_the_program_only(tmp_path: Path) -> None:
    model = real_mobilenet_v2(tmp_path)
    (tmp_path / "inference.pdiparams").unlink()  # inputs and outputs come from the program alone
    inputs, outputs = read_io(model)
    assert [(t.name, t.shape, t.dtype, t.layout) for t in inputs] == [("inputs", (None, 3, 224, 224), "float32", "nchw")]
    assert [t.shape for t in outputs] == [(None, 1000)]


def test_read_io_of_a_nb_from_its_program_or_the_manifest(tmp_path: Path) -> None:
    nb = tmp_path / "inference.nb"
    nb.write_bytes(b"\0" * 16)
    with pytest.raises(ModelError) as no_shape:
        read_io(nb)
    assert "does not record its input shape" in no_shape.value.message and "input_size" in no_shape.value.hint
    # The program it was converted from, next to it (same stem, with its params), gives the spec ...
    real_mobilenet_v2(tmp_path)
    assert read_io(nb)[0][0].shape == (None, 3, 224, 224)
    # ... else the manifest's input_size: float32 [1, 3, H, W] (PaddleSeg's export), outputs unknown.
    other = tmp_path / "pp_mobileseg.nb"
    other.write_bytes(b"\0" * 16)
    (tmp_path / "manifest.toml").write_text('[[model]]\nfile = "pp_mobileseg.nb"\ninput_size = [512, 1024]\n')
    assert read_io(other) == ([TensorInfo("x", (1, 3, 512, 1024), "float32", "nchw")], [])
    (tmp_path / "manifest.toml").write_text('[[model]]\nfile = "pp_mobileseg.nb"\ninput_size = [512]\n')
    with pytest.raises(ModelError, match=r"input_size \[512\] is not \[H, W\]"):
        read_io(other)
