"""Small ONNX models built with the onnx helper API, for what segbench does with models that misbehave."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def save(graph: onnx.GraphProto, path: Path) -> None:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)


def bad_reshape(path: Path) -> None:
    """Loads in ONNX Runtime, fails inside Reshape at inference: 48 elements cannot become [5, 7]."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [5, 7])
    shape = numpy_helper.from_array(np.array([5, 7], dtype=np.int64), "shape")
    save(helper.make_graph([helper.make_node("Reshape", ["x", "shape"], ["y"])], "bad", [x], [y], [shape]), path)


def string_input(path: Path) -> None:
    s = helper.make_tensor_value_info("s", TensorProto.STRING, [1, 4])
    o = helper.make_tensor_value_info("o", TensorProto.STRING, [1, 4])
    save(helper.make_graph([helper.make_node("Identity", ["s"], ["o"])], "str", [s], [o]), path)


def huge_input(path: Path) -> None:
    """A model declaring a 1x3x100000x100000 float32 input (120 GB); the file itself is tiny."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 100000, 100000])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 100000, 100000])
    save(helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "huge", [x], [y]), path)


def external_data(path: Path, location: str | None = None, one_file: bool = True) -> list[Path]:
    """A 1x3x16x16 -> 1x4x16x16 Conv + Relu whose weights onnx.save keeps outside the .onnx (size_threshold=0, as
    torch.onnx.export does for models over 2 GB): ``location`` (default ``<name>.data``) or, with ``one_file``
    false, one file per tensor. The external files, as onnx wrote them."""
    rng = np.random.default_rng(0)
    x = helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 16, 16])
    y = helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 4, 16, 16])
    w = numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "w")
    b = numpy_helper.from_array(rng.standard_normal(4).astype(np.float32), "b")
    nodes = [helper.make_node("Conv", ["image", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["logits"])]
    model = helper.make_model(helper.make_graph(nodes, "ext", [x], [y], [w, b]),
                              opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    before = set(path.parent.iterdir())
    onnx.save(model, path, save_as_external_data=True, all_tensors_to_one_file=one_file,
              location=location or f"{path.name}.data", size_threshold=0)
    return sorted(set(path.parent.iterdir()) - before - {path})
