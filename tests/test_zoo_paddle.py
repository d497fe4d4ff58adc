"""`zoo export --format paddle|nb` (Python 3.10): PaddleSeg's own classes build the zoo's PaddleSeg models as real
exports in the seed's layout; their parameter counts are compared with the torch re-implementations' (docs/zoo.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import ROOT, run_cli
from segbench.compat import tomllib
from segbench.zoo.registry import PADDLESEG_CLASSES, get

pytest.importorskip("paddleseg", reason="paddleseg (Python 3.10, the paddle extra) is not installed")
pytestmark = [pytest.mark.paddle]

# sum(p.numel()) of the torch zoo definitions (docs/zoo.md, `segbench zoo list`).
TORCH_PARAMS = {"lraspp_mobilenetv3_large": 3_243_468, "mobileseg_base": 2_992_558, "topformer_tiny": 1_389_654,
                "topformer_base": 5_062_646, "pp_mobileseg_tiny": 1_492_298, "pp_mobileseg_base": 5_943_878}


def _trainable(name: str, head: str = "logits") -> int:
    import numpy as np
    import paddle

    from segbench.zoo.paddle_export import build_layer

    paddle.seed(0)
    layer, _, _ = build_layer(name, head)
    return sum(int(np.prod(p.shape)) for p in layer.parameters() if not p.stop_gradient)


@pytest.mark.parametrize("name", PADDLESEG_CLASSES)
def test_paddleseg_params_against_the_torch_zoo(name: str) -> None:
    params = _trainable(name)
    if name == "lraspp_mobilenetv3_large":
        # PaddleSeg's LR-ASPP is a different, smaller model (MobileNetV3 without the 960 conv, heads of 32/64
        # channels): 2.94 M, where the zoo (and the published 3.2 M) follow torchvision's layout. A finding.
        assert abs(params / 2_941_000 - 1) < 0.001 and params < TORCH_PARAMS[name] * 0.95, params
    else:
        assert params == TORCH_PARAMS[name] or abs(params / TORCH_PARAMS[name] - 1) < 0.0005, params
        assert abs(params / get(name).reference_params - 1) < 0.001


@pytest.mark.slow
def test_paddle_and_nb_exports_in_the_seeds_layout(tmp_path: Path) -> None:
    from paddleseg.deploy.infer import DeployConfig

    out = tmp_path / "models_dir"
    r = run_cli("zoo", "export", "pp_mobileseg_tiny", "topformer_tiny", "seaformer_tiny", "--size", "64",
                "--head", "default,logits", "--format", "paddle,nb", "-o", str(out), cwd=ROOT, timeout=900)
    assert r.code == 0, r.err
    assert "seaformer_tiny [argmax] as paddle: PaddleSeg 2.8.0 has no class for it" in r.err
    folder = out / "pp_mobileseg_tiny_64"
    assert sorted(p.name for p in folder.iterdir()) == ["deploy.yaml", "model.pdiparams", "model.pdiparams.info",
                                                        "model.pdmodel"]
    assert Path(DeployConfig(str(folder / "deploy.yaml")).model) == folder / "model.pdmodel"
    entries = {e["file"]: e for e in tomllib.loads((out / "manifest.toml").read_text())["model"]}
    assert "Paddle Lite 2.13rc0's opt rejects VIM's index_put on arm" in r.err  # said, and the .nb skipped
    # paddle 2.6.2 saves relu6 without the 'threshold' attribute Paddle Lite 2.13rc0's opt reads; opt gets a copy
    # of the program with it restored, so every non-VIM program becomes an ARM .nb (docs/zoo.md)
    assert "not convertible" not in r.out and "paddle_lite_opt cannot convert" not in r.err
    nbs = {f: e for f, e in entries.items() if f.endswith(".nb")}
    assert sorted(nbs) == ["pp_mobileseg_tiny_logits_64.nb", "topformer_tiny_64.nb", "topformer_tiny_logits_64.nb"]
    assert sorted(p.name for p in out.glob("*.nb")) == sorted(nbs)
    for file, e in nbs.items():
        assert e["format"] == "nb" and e["name"].endswith(" (nb)") and (out / file).stat().st_size > 100_000
        assert e["zoo"]["check"]["relu6_threshold_added"] > 0  # both architectures use relu6
    # the program in the export folder is as paddle saved it: only opt's copy carries the attribute
    assert _relu6_thresholds(folder / "model.pdmodel") == (27, 0)
    assert {"pp_mobileseg_tiny_64", "topformer_tiny_64", "topformer_tiny_logits_64"} <= set(entries)
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def _relu6_thresholds(pdmodel: Path) -> tuple[int, int]:
    """(relu6 ops, those with a 'threshold' attribute) in a saved program."""
    from paddle.base.proto import framework_pb2

    desc = framework_pb2.ProgramDesc()
    desc.ParseFromString(pdmodel.read_bytes())
    ops = [op for b in desc.blocks for op in b.ops if op.type == "relu6"]
    return len(ops), sum(any(a.name == "threshold" for a in op.attrs) for op in ops)


def test_relu6_threshold_restored_for_opt(tmp_path: Path) -> None:
    """The attribute opt needs is added at relu6's own value, once, to the ops that lack it."""
    import paddle

    from segbench.zoo.paddle_export import relu6_with_threshold

    layer = paddle.nn.Sequential(paddle.nn.Conv2D(3, 4, 1), paddle.nn.ReLU6(), paddle.nn.Conv2D(4, 4, 1),
                                 paddle.nn.ReLU6())
    spec = [paddle.static.InputSpec([1, 3, 8, 8], "float32", "x")]
    paddle.jit.save(paddle.jit.to_static(layer, input_spec=spec, full_graph=True), str(tmp_path / "model"))
    saved = tmp_path / "model.pdmodel"
    assert _relu6_thresholds(saved) == (2, 0)  # what paddle 2.6.2 writes, and opt rejects
    program, added = relu6_with_threshold(saved.read_bytes())
    assert added == 2
    patched = tmp_path / "patched.pdmodel"
    patched.write_bytes(program)
    assert _relu6_thresholds(patched) == (2, 2)
    again, added_again = relu6_with_threshold(program)
    assert added_again == 0 and again == program
    from paddle.base.proto import framework_pb2

    desc = framework_pb2.ProgramDesc()
    desc.ParseFromString(program)
    values = [a.f for b in desc.blocks for op in b.ops if op.type == "relu6" for a in op.attrs if a.name == "threshold"]
    assert values == [6.0, 6.0]


@pytest.mark.slow
def test_paddle_int8_is_quantised_by_paddle_calibrated_and_checked(tmp_path: Path) -> None:
    """`--quant int8` for paddle: Paddle's own post-training quantisation, calibrated on the images, its labels
    checked against the dygraph model's, written with int8 weights next to the float export (docs/zoo.md)."""
    import numpy as np

    from conftest import ASTRONAUT

    out = tmp_path / "md"
    r = run_cli("zoo", "export", "topformer_tiny", "--size", "64", "--format", "onnx,paddle", "--quant", "none,int8",
                "--calibration", str(ASTRONAUT), "-o", str(out), cwd=ROOT, timeout=900)
    assert r.code == 0, r.err
    try:
        import torch  # noqa: F401
    except ImportError:  # this Python makes the paddle formats only, and says so in one line
        assert "segbench: note: --format onnx needs torch" in r.err and "onnx none/int8 skipped" in r.err, r.err
    entries = {e["file"]: e for e in tomllib.loads((out / "manifest.toml").read_text())["model"]}
    fp, q = entries["topformer_tiny_64"], entries["topformer_tiny_64_int8"]
    assert (q["format"], q["quant"], q["input_preset"]) == ("paddle", "int8", "paddleseg")
    assert q["name"] == "TopFormer-Tiny @64 int8" and "published" not in q
    check = q["zoo"]["check"]
    assert check["calibration"] == [str(ASTRONAUT)] and 0.0 <= check["argmax_agreement"] <= 1.0
    # PaddleSeg's TopFormer-Tiny at 64 labels the astronaut with one class, and its int8 program agrees: chance is 1
    # too, and kappa is that of identical maps (1.0)
    assert 0.05 <= check["kappa"] <= 1.0 and 0.0 <= check["chance_agreement"] <= check["argmax_agreement"]
    assert check["float_graph"]["label_mismatches"] == fp["zoo"]["check"]["label_mismatches"]
    assert "PostTrainingQuantization" in q["zoo"]["exporter"]
    folder = out / "topformer_tiny_64_int8"
    assert sorted(p.name for p in folder.iterdir()) == ["deploy.yaml", "model.pdiparams", "model.pdmodel"]
    assert q["inspect"]["macs"] == fp["inspect"]["macs"] > 0
    # real int8: quantize/dequantize ops in the program, and the weights stored as int8 (under half the bytes)
    assert _op_count(folder / "model.pdmodel", "quantize_linear") > 0
    assert (folder / "model.pdiparams").stat().st_size < 0.5 * (out / "topformer_tiny_64" / "model.pdiparams").stat().st_size
    # the int8 program runs in Paddle Inference from its own folder, as `segbench run` will
    from segbench.zoo.paddle_export import _run_program

    labels = _run_program(folder, np.zeros((1, 3, 64, 64), np.float32))
    assert labels.shape == (1, 64, 64)


def test_paddle_int8_below_the_kappa_floor_fails_and_leaves_nothing(tmp_path: Path, monkeypatch) -> None:
    from conftest import ASTRONAUT
    from segbench.zoo import convert
    from segbench.zoo.convert import ExportCheckFailed
    from segbench.zoo.paddle_export import export_paddle

    monkeypatch.setattr(convert, "INT8_MIN_KAPPA", 1.01)  # no quantised model agrees better than identically
    with pytest.raises(ExportCheckFailed, match="int8 paddle: labels agree with the float model on only"):
        export_paddle("topformer_tiny", "argmax", 64, tmp_path, quant="int8", calibration=[ASTRONAUT])
    assert list(tmp_path.iterdir()) == []


def _op_count(pdmodel: Path, op_type: str) -> int:
    from paddle.base.proto import framework_pb2

    desc = framework_pb2.ProgramDesc()
    desc.ParseFromString(pdmodel.read_bytes())
    return sum(op.type == op_type for b in desc.blocks for op in b.ops)


def test_the_reference_is_the_dygraph_model_not_its_saved_conversion(tmp_path: Path) -> None:
    """paddle.jit.to_static replaces a layer's forward in place: the check's reference must still run the Python
    forward (each call executes it), not the converted program (whose Python ran once, when it was converted)."""
    import numpy as np
    import paddle

    from segbench.zoo.paddle_export import _dygraph

    class Counting(paddle.nn.Layer):
        def __init__(self) -> None:
            super().__init__()
            self.conv, self.calls = paddle.nn.Conv2D(3, 4, 1), []

        def forward(self, x):  # noqa: ANN001, ANN202
            self.calls.append(1)
            return self.conv(x)

    layer = Counting()
    layer.eval()
    spec = [paddle.static.InputSpec([1, 3, 8, 8], "float32", "x")]
    paddle.jit.save(paddle.jit.to_static(layer, input_spec=spec, full_graph=True), str(tmp_path / "model"))
    before = len(layer.calls)
    x = np.ones((1, 3, 8, 8), np.float32)
    for _ in range(2):
        _dygraph(layer, x)
    assert len(layer.calls) - before == 2
    assert paddle.jit.api.ProgramTranslator().enable_to_static  # switched back on for everything else
