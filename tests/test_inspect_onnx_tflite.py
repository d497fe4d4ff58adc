"""inspect_model on ONNX and TFLite models built here, with hand-computed params and MACs.

MACs conventions (docs/inspect.md): conv = output elements x (Cin / groups) x kH x kW;
transposed conv = input elements x (Cout / groups) x kH x kW; matmul = output elements x K.
Every built model is also run by its real runtime, which checks the declared output shapes
that the hand-computed numbers rest on.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from tflite_build import Graph, conv_options, depthwise_options, s

from conftest import SELFIE
from segbench.errors import ModelError
from segbench.modelinfo import inspect_model

# --- ONNX ---------------------------------------------------------------------------------------

RNG = np.random.default_rng(5)


def _init(name: str, *shape: int, dtype: type = np.float32) -> onnx.TensorProto:
    return numpy_helper.from_array(RNG.standard_normal(shape).astype(dtype), name)


def _onnx(tmp_path: Path, nodes: list, inits: list, x: list[int], y: list[int], name: str = "m") -> Path:
    graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, x)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, y)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="segbench-tests")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    path = tmp_path / f"{name}.onnx"
    onnx.save(model, path)
    import onnxruntime as ort

    out = ort.InferenceSession(str(path)).run(None, {"x": np.ones(x, np.float32)})[0]
    assert list(out.shape) == y  # the runtime agrees with the shapes the expected MACs use
    return path


def _conv(cin: int, cout: int, k: int, group: int = 1, stride: int = 1, dilation: int = 1, pad: int = 1) -> tuple:
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], kernel_shape=[k, k], strides=[stride, stride],
                            dilations=[dilation, dilation], pads=[pad] * 4, group=group)
    return [node], [_init("w", cout, cin // group, k, k), _init("b", cout)]


ONNX_CONVS = {
    # name: (conv args, input, output, MACs by hand, params by hand)
    "standard": ((3, 8, 3), [1, 3, 16, 16], [1, 8, 16, 16], 8 * 16 * 16 * 3 * 9, 8 * 3 * 9 + 8),
    "depthwise": ((8, 8, 3, 8), [1, 8, 16, 16], [1, 8, 16, 16], 8 * 16 * 16 * 1 * 9, 8 * 9 + 8),
    "grouped": ((8, 16, 3, 4), [1, 8, 16, 16], [1, 16, 16, 16], 16 * 16 * 16 * 2 * 9, 16 * 2 * 9 + 16),
    "dilated": ((4, 4, 3, 1, 1, 2, 2), [1, 4, 16, 16], [1, 4, 16, 16], 4 * 16 * 16 * 4 * 9, 4 * 4 * 9 + 4),
    "strided": ((4, 8, 3, 1, 2), [1, 4, 16, 16], [1, 8, 8, 8], 8 * 8 * 8 * 4 * 9, 8 * 4 * 9 + 8),
}


@pytest.mark.parametrize("case", sorted(ONNX_CONVS))
def test_onnx_conv_macs_and_params(tmp_path: Path, case: str) -> None:
    args, x, y, macs, params = ONNX_CONVS[case]
    nodes, inits = _conv(*args)
    info = inspect_model(_onnx(tmp_path, nodes, inits, x, y, case))
    assert (info.macs, info.params) == (macs, params)
    assert info.macs_by_op == {"Conv": macs} and info.flops == 2 * macs
    assert info.ops == {"Conv": 1} and info.macs_unknown == ()


def test_onnx_matmul_gemm_convtranspose_pool_and_shape_constants(tmp_path: Path) -> None:
    # x [1,4,8,8] -> ConvTranspose(4->2, k2, s2) [1,2,16,16] -> AveragePool k2 s2 [1,2,8,8]
    # -> Reshape(int64 shape) [1,2,64] -> MatMul [64,10] [1,2,10] -> Reshape [2,10] -> Gemm(transB, [3,10]) [2,3]
    # -> Relu -> Reshape [1,2,3] ... kept 2-D: y [2,3]
    nodes = [
        helper.make_node("ConvTranspose", ["x", "wt"], ["t"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("AveragePool", ["t"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Reshape", ["p", "shape1"], ["r"]),
        helper.make_node("MatMul", ["r", "wm"], ["m"]),
        helper.make_node("Reshape", ["m", "shape2"], ["r2"]),
        helper.make_node("Gemm", ["r2", "wg", "bg"], ["g"], transB=1),
        helper.make_node("Relu", ["g"], ["y"]),
    ]
    inits = [_init("wt", 4, 2, 2, 2), _init("wm", 64, 10), _init("wg", 3, 10), _init("bg", 3),
             numpy_helper.from_array(np.array([1, 2, 64], np.int64), "shape1"),
             numpy_helper.from_array(np.array([2, 10], np.int64), "shape2")]
    info = inspect_model(_onnx(tmp_path, nodes, inits, [1, 4, 8, 8], [2, 3]))
    assert info.macs_by_op == {
        "ConvTranspose": (4 * 8 * 8) * 2 * 4,  # input elements x Cout/groups x kernel area = 2048
        "MatMul": (2 * 10) * 64,               # output elements x K = 1280
        "Gemm": (2 * 3) * 10,                  # 60
    }
    assert info.macs == 2048 + 1280 + 60
    assert info.other_ops == {"AveragePool": 2 * 8 * 8 * 4, "Relu": 6}
    assert info.params == 32 + 640 + 30 + 3  # the int64 reshape shapes are not params
    assert info.params_by_dtype == {"float32": 705}


def test_onnx_scalar_arithmetic_and_clip_bounds_are_not_params_but_a_prelu_slope_is(tmp_path: Path) -> None:
    # hardswish as exporters decompose it: x * clip(x + 3, 0, 6) / 6, then PRelu with one learned slope
    scalar = lambda name, v: numpy_helper.from_array(np.array(v, np.float32), name)  # noqa: E731
    nodes = [
        helper.make_node("Add", ["x", "three"], ["a"]), helper.make_node("Clip", ["a", "zero", "six"], ["c"]),
        helper.make_node("Mul", ["x", "c"], ["m"]), helper.make_node("Div", ["m", "six"], ["h"]),
        helper.make_node("PRelu", ["h", "slope"], ["y"]),
    ]
    inits = [scalar("three", 3.0), scalar("zero", 0.0), scalar("six", 6.0), scalar("slope", [0.25])]
    info = inspect_model(_onnx(tmp_path, nodes, inits, [1, 4, 8, 8], [1, 4, 8, 8]))
    assert info.params == 1
    assert info.other_ops == {"Add": 256, "Clip": 256, "Mul": 256, "Div": 256, "PRelu": 256} and info.macs == 0


def test_onnx_qdq_int8_weights_count_and_their_scales_do_not(tmp_path: Path) -> None:
    nodes = [
        helper.make_node("DequantizeLinear", ["wq", "w_scale", "w_zp"], ["w"]),
        helper.make_node("Conv", ["x", "w", "b"], ["y"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
    ]
    inits = [numpy_helper.from_array(RNG.integers(-127, 127, (8, 4, 3, 3)).astype(np.int8), "wq"),
             numpy_helper.from_array(np.array(0.02, np.float32), "w_scale"),
             numpy_helper.from_array(np.array(0, np.int8), "w_zp"), _init("b", 8)]
    info = inspect_model(_onnx(tmp_path, nodes, inits, [1, 4, 8, 8], [1, 8, 8, 8]))
    assert info.params_by_dtype == {"int8": 8 * 4 * 9, "float32": 8}  # scale and zero point are not params
    assert info.macs == 8 * 8 * 8 * 4 * 9  # the conv's weight shape comes through the DequantizeLinear
    assert info.ops == {"DequantizeLinear": 1, "Conv": 1}


def test_onnx_dynamic_batch_is_taken_as_one(tmp_path: Path) -> None:
    nodes, inits = _conv(3, 8, 3)
    graph = helper.make_graph(nodes, "dyn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 16, 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 8, 16, 16])], inits)
    path = tmp_path / "dyn.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    info = inspect_model(path)
    assert info.macs == 8 * 16 * 16 * 27
    assert "dynamic batch taken as 1" in info.notes
    assert info.inputs[0].shape == ("N", 3, 16, 16)  # the file's own declaration is reported as is


def test_onnx_unknown_spatial_size_makes_macs_a_lower_bound(tmp_path: Path) -> None:
    nodes, inits = _conv(3, 8, 3)
    graph = helper.make_graph(nodes, "dyn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, "H", "W"])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, "H", "W"])], inits)
    path = tmp_path / "hw.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    info = inspect_model(path)
    assert info.macs == 0 and info.macs_unknown == ("Conv",)
    assert any("lower bound" in n and "1 Conv" in n for n in info.notes)
    assert info.params == 224


def test_onnx_fixture_tiny_seg() -> None:
    info = inspect_model(Path(__file__).parent / "fixtures" / "models" / "tiny_seg.onnx")
    # conv3x3 s2 3->16 on 128 -> 64x64; depthwise 3x3 16; conv1x1 16->8 (make_models.py)
    assert info.macs == 16 * 64 * 64 * 27 + 16 * 64 * 64 * 9 + 8 * 64 * 64 * 16
    assert info.params == (16 * 27 + 16) + (16 * 9 + 16) + (8 * 16 + 8)  # Resize scales are not params
    assert info.other_ops["Resize"] == 8 * 128 * 128 * 4  # bilinear: 4 points per output element
    assert (info.producer, info.version) == ("segbench-tests", "opset 17, IR 8")
    assert info.sha256 == "e8a2020366f680e8574dfcb69ffd653bbb6eb366e217042a033986b4086a0f44"


# --- TFLite ------------------------------------------------------------------------------------

def _tflite(tmp_path: Path, name: str, g: Graph, inputs: list[int], outputs: list[int]) -> Path:
    from ai_edge_litert.interpreter import Interpreter

    data = g.build(inputs, outputs)
    path = tmp_path / f"{name}.tflite"
    path.write_bytes(data)
    interp = Interpreter(model_content=data)
    interp.allocate_tensors()
    for d in interp.get_input_details():
        interp.set_tensor(d["index"], np.ones(d["shape"], d["dtype"]))
    interp.invoke()
    for d, index in zip(interp.get_output_details(), outputs):
        assert list(d["shape"]) == g.tensors[index].shape  # the interpreter computed the same output shape
    return path


def _tfl_conv(kind: str) -> tuple[Graph, list[int], list[int]]:
    g = Graph()
    C = s.BuiltinOperator
    if kind == "depthwise":
        x, w, b = g.tensor("x", [1, 16, 16, 8]), g.weight("w", [1, 3, 3, 8]), g.weight("b", [8])
        y = g.tensor("y", [1, 16, 16, 8])
        g.op(C.DEPTHWISE_CONV_2D, [x, w, b], [y], s.BuiltinOptions.DepthwiseConv2DOptions, depthwise_options())
        return g, [x], [y]
    cin, cout, w_in, shape_in, shape_out, opts = {
        "standard": (3, 8, 3, [1, 16, 16, 3], [1, 16, 16, 8], conv_options()),
        "grouped": (8, 16, 2, [1, 16, 16, 8], [1, 16, 16, 16], conv_options()),
        "dilated": (4, 4, 4, [1, 16, 16, 4], [1, 16, 16, 4], conv_options(dilation=2)),
        "strided": (4, 8, 4, [1, 16, 16, 4], [1, 8, 8, 8], conv_options(stride=2)),
    }[kind]
    x, w, b = g.tensor("x", shape_in), g.weight("w", [cout, 3, 3, w_in]), g.weight("b", [cout])
    y = g.tensor("y", shape_out)
    g.op(C.CONV_2D, [x, w, b], [y], s.BuiltinOptions.Conv2DOptions, opts)
    return g, [x], [y]


TFLITE_CONVS = {  # same networks as ONNX_CONVS, in NHWC: same MACs and params
    "standard": ("CONV_2D", 8 * 16 * 16 * 3 * 9, 8 * 3 * 9 + 8),
    "depthwise": ("DEPTHWISE_CONV_2D", 8 * 16 * 16 * 9, 8 * 9 + 8),
    "grouped": ("CONV_2D", 16 * 16 * 16 * 2 * 9, 16 * 2 * 9 + 16),
    "dilated": ("CONV_2D", 4 * 16 * 16 * 4 * 9, 4 * 4 * 9 + 4),
    "strided": ("CONV_2D", 8 * 8 * 8 * 4 * 9, 8 * 4 * 9 + 8),
}


@pytest.mark.parametrize("case", sorted(TFLITE_CONVS))
def test_tflite_conv_macs_and_params(tmp_path: Path, case: str) -> None:
    op, macs, params = TFLITE_CONVS[case]
    info = inspect_model(_tflite(tmp_path, case, *_tfl_conv(case)))
    assert (info.macs, info.params, info.macs_by_op, info.ops) == (macs, params, {op: macs}, {op: 1})
    assert info.version == "TFLite schema 3" and info.producer == "segbench-tests"


def test_tflite_matmuls_transpose_conv_pool_resize(tmp_path: Path) -> None:
    C, Opt = s.BuiltinOperator, s.BuiltinOptions
    g = Graph()
    x = g.tensor("x", [1, 8, 8, 4])
    # TRANSPOSE_CONV 4->2, k2 s2: [1,16,16,2]; the int32 output-shape constant is not a param
    out_shape = g.tensor("out_shape", [4], "int32", np.array([1, 16, 16, 2], np.int32))
    wt = g.weight("wt", [2, 2, 2, 4])
    t = g.tensor("t", [1, 16, 16, 2])
    tc = s.TransposeConvOptionsT()
    tc.padding, tc.strideW, tc.strideH = s.Padding.VALID, 2, 2
    g.op(C.TRANSPOSE_CONV, [out_shape, wt, x], [t], Opt.TransposeConvOptions, tc)
    # AVERAGE_POOL_2D 2x2 s2: [1,8,8,2]
    p = g.tensor("p", [1, 8, 8, 2])
    po = s.Pool2DOptionsT()
    po.padding, po.strideW, po.strideH, po.filterWidth, po.filterHeight = s.Padding.VALID, 2, 2, 2, 2
    g.op(C.AVERAGE_POOL_2D, [t], [p], Opt.Pool2DOptions, po)
    # RESIZE_BILINEAR to 16x16: [1,16,16,2]
    size = g.tensor("size", [2], "int32", np.array([16, 16], np.int32))
    r = g.tensor("r", [1, 16, 16, 2])
    g.op(C.RESIZE_BILINEAR, [p, size], [r], Opt.ResizeBilinearOptions, s.ResizeBilinearOptionsT())
    # RESHAPE to [1,256,2] hmm: FULLY_CONNECTED flattens to [256, 2] x weights [10, 2] -> [256, 10]
    wf, bf = g.weight("wf", [10, 2]), g.weight("bf", [10])
    f = g.tensor("f", [256, 10])
    g.op(C.FULLY_CONNECTED, [r, wf, bf], [f], Opt.FullyConnectedOptions, s.FullyConnectedOptionsT())
    # BATCH_MATMUL [256,10] x [10,3] -> [256,3]
    wb = g.weight("wb", [10, 3])
    y = g.tensor("y", [256, 3])
    g.op(C.BATCH_MATMUL, [f, wb], [y], Opt.BatchMatMulOptions, s.BatchMatMulOptionsT())
    info = inspect_model(_tflite(tmp_path, "mix", g, [x], [y]))
    assert info.macs_by_op == {
        "TRANSPOSE_CONV": (8 * 8 * 4) * 2 * 4,  # input elements x Cout x kernel area = 2048
        "FULLY_CONNECTED": (256 * 10) * 2,      # output elements x K = 5120
        "BATCH_MATMUL": (256 * 3) * 10,         # 7680
    }
    assert info.macs == 2048 + 5120 + 7680
    assert info.other_ops == {"AVERAGE_POOL_2D": 8 * 8 * 2 * 4, "RESIZE_BILINEAR": 16 * 16 * 2 * 4}
    assert info.params == 32 + 20 + 10 + 30 and set(info.params_by_dtype) == {"float32"}
    assert [i.name for i in info.inputs] == ["x"] and info.outputs[0].shape == (256, 3)


def test_tflite_quantized_weights_count_and_int32_shapes_do_not(tmp_path: Path) -> None:
    C = s.BuiltinOperator
    g = Graph()
    x = g.tensor("x", [1, 8, 8, 4], "int8", scale=0.5)
    w = g.tensor("w", [8, 1, 1, 4], "int8", np.ones((8, 1, 1, 4), np.int8), scale=0.01)
    b = g.tensor("b", [8], "int32", np.zeros(8, np.int32), scale=0.005)  # quantized bias: a param
    y = g.tensor("y", [1, 8, 8, 8], "int8", scale=0.25)
    g.op(C.CONV_2D, [x, w, b], [y], s.BuiltinOptions.Conv2DOptions, conv_options())
    shape = g.tensor("shape", [2], "int32", np.array([64, 8], np.int32))  # a shape: not a param
    z = g.tensor("z", [64, 8], "int8", scale=0.25)
    ro = s.ReshapeOptionsT()
    ro.newShape = [64, 8]
    g.op(C.RESHAPE, [y, shape], [z], s.BuiltinOptions.ReshapeOptions, ro)
    info = inspect_model(_tflite(tmp_path, "q", g, [x], [z]))
    assert info.params_by_dtype == {"int8": 32, "int32": 8}
    assert info.macs == 8 * 8 * 8 * 4
    assert (info.inputs[0].dtype, info.inputs[0].scale, info.inputs[0].zero_point) == ("int8", 0.5, 0)


def test_tflite_scalar_arithmetic_constant_is_not_a_param(tmp_path: Path) -> None:
    g = Graph()
    x, half, y = g.tensor("x", [1, 4, 4, 2]), g.tensor("half", [], data=np.array(0.5, np.float32)), g.tensor("y", [1, 4, 4, 2])
    g.op(s.BuiltinOperator.MUL, [x, half], [y], s.BuiltinOptions.MulOptions, s.MulOptionsT())
    info = inspect_model(_tflite(tmp_path, "mul", g, [x], [y]))
    assert (info.params, info.other_ops, info.ops) == (0, {"MUL": 32}, {"MUL": 1})


def _interpreter_param_count(path: Path) -> int:
    """Params by the interpreter's own view: tensors read by ops, written by none, not graph inputs,
    holding float or quantized data (the convention of docs/inspect.md)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interp = Interpreter(model_path=str(path),
                         experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    ops = interp._get_ops_details()
    produced = {int(i) for op in ops for i in op["outputs"]}
    read = {int(i) for op in ops for i in op["inputs"] if i >= 0}
    graph_inputs = {d["index"] for d in interp.get_input_details()}
    total = 0
    for d in interp.get_tensor_details():
        if d["index"] in read - produced - graph_inputs:
            quantized = len(d["quantization_parameters"]["scales"]) > 0
            if np.issubdtype(d["dtype"], np.floating) or quantized:
                total += int(np.prod(d["shape"]))
    return total


def test_selfie_params_equal_an_independent_interpreter_count() -> None:
    info = inspect_model(SELFIE)
    assert info.params == _interpreter_param_count(SELFIE) == 106_401
    assert info.params_by_dtype == {"float16": 106_401}  # float16 weights behind DEQUANTIZE ops
    assert info.ops["DEQUANTIZE"] == 110 and info.ops["Convolution2DTransposeBias"] == 1
    assert info.inputs[0].shape == (1, 256, 256, 3) and info.outputs[0].shape == (1, 256, 256, 1)
    # the custom transposed conv (MediaPipe's) is counted as one: [1,128,128,16] -> 1 channel, 2x2 kernel
    assert info.macs_by_op["Convolution2DTransposeBias"] == 128 * 128 * 16 * 1 * 2 * 2
    assert info.macs == 59_215_744


# --- bad files ---------------------------------------------------------------------------------

def test_truncated_and_foreign_files_raise_model_errors(tmp_path: Path) -> None:
    data = SELFIE.read_bytes()
    cases = {
        "cut.tflite": (data[: len(data) // 2], "truncated or corrupt TFLite file"),
        "head.tflite": (data[:600], "truncated or corrupt TFLite file"),
        "png.tflite": ((Path(__file__).parent / "fixtures/images/astronaut.png").read_bytes()[:4096], "no TFL3"),
        "cut.onnx": ((Path(__file__).parent / "fixtures/models/tiny_seg.onnx").read_bytes()[:2000], "not a readable ONNX"),
        "text.onnx": (b"hello, I am not a model\n", "not a readable ONNX"),
        "tflite.onnx": (data, "ONNX"),
        "empty.onnx": (b"", "empty file"),
    }
    for name, (content, expected) in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ModelError, match=expected):
            inspect_model(tmp_path / name)


def test_a_tflite_file_cut_anywhere_is_an_error_never_a_result(tmp_path: Path) -> None:
    data = SELFIE.read_bytes()
    # MediaPipe appends a zip of associated files (labels.txt) after the flatbuffer; cutting
    # only that zip leaves the model whole, so the cuts stay within the flatbuffer.
    end = data.find(b"PK\x03\x04")
    assert 0 < end < len(data)
    path = tmp_path / "cut.tflite"
    for cut in [*range(8, end, end // 60), end - 1]:
        path.write_bytes(data[:cut])
        with pytest.raises(ModelError, match="TFLite"):
            inspect_model(path)
