"""`zoo export --format paddle|nb`: the zoo's PaddleSeg models built by PaddleSeg's own classes (paddleseg 2.8.0 on
paddlepaddle 2.6.2, Python 3.10), saved as real PaddleSeg exports in the seed's layout (``DIR/<stem>/model.pdmodel``,
``model.pdiparams``, ``deploy.yaml`` as PaddleSeg's tools/export.py writes it), and optionally optimised by Paddle
Lite's opt into an ARM ``.nb`` (``DIR/<stem>.nb``) for benchmark_bin on a phone.

The configurations are those of PaddleSeg's configs for each model (ADE20K, 150 classes; docs/zoo.md lists them).
Weights are PaddleSeg's own random init (``paddle.seed``) with BatchNorm statistics randomised as in the torch zoo,
so the label heads are not degenerate. Checks: the saved program run by Paddle Inference against the dygraph model
(logits: max abs error; labels: equal except near-ties), and ``segbench inspect`` of the program (params, MACs).
A ``.nb`` cannot be run here for these models (Paddle Lite's x86 build lacks linear_interp_v2 and VIM's ops); its
entry names the checked program it was optimised from. opt reads a copy of the program with relu6's ``threshold``
attribute restored (paddle 2.6.2 no longer writes it; see relu6_with_threshold).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from segbench.errors import SegbenchError
from segbench.zoo.registry import PADDLESEG_CLASSES, Size, as_size, export_stem, export_title, get

LOGITS_TOLERANCE = 1e-4
DEPLOY = """Deploy:
  input_shape:
  - 1
  - 3
  - {h}
  - {w}
  model: model.pdmodel
  output_dtype: {dtype}
  output_op: {op}
  params: model.pdiparams
  transforms:
  - type: Normalize
"""


class PaddleExportFailed(SegbenchError):
    """A saved Paddle program that does not compute what the dygraph model computes."""


@dataclass(frozen=True)
class PaddleExportResult:
    model: str
    head: str
    size: Size
    path: Path  # the export folder (paddle) or the .nb file
    title: str
    format: str
    params: int  # trainable parameters of the PaddleSeg model (sum of numel), the reference code's convention
    params_onnx: int  # what segbench inspect counts in the program (same field as the other exporters print)
    inspected: dict[str, int]
    check: dict[str, Any]
    converters: dict[str, str]
    seconds: float
    seed: int

    @property
    def check_text(self) -> str:
        c = self.check
        if "max_abs_diff" in c:
            return f"max |Paddle Inference - dygraph| {c['max_abs_diff']:.1e}"
        return f"labels = dygraph ({c['label_mismatches']} near-tie pixels differ)"

    def manifest_entry(self) -> dict[str, Any]:
        model = get(self.model)
        h, w = self.size
        nb = self.format == "nb"
        entry: dict[str, Any] = {
            "name": self.title + (" (nb)" if nb else ""), "file": self.path.name, "backbone": model.backbone,
            "dataset": model.dataset, "input_size": [h, w], "head": self.head, "format": self.format,
            "quant": "none", "converters": self.converters, "inspect": self.inspected,
        }
        if self.head == model.default_head and self.size == model.input_size and not nb and model.published:
            entry["published"] = model.published_entry()
        entry["zoo"] = {
            "model": self.model, "head": self.head, "seed": self.seed, "num_classes": model.num_classes,
            "params": self.params, "params_reference": model.reference_params, "params_graph": self.params_onnx,
            "exporter": "PaddleSeg " + self.converters.get("paddleseg", "?") + " classes, paddle.jit.save"
                        + (", paddle_lite_opt (arm, naive_buffer)" if nb else ""),
            "check": self.check,
            "weights": "untrained, PaddleSeg's init with randomised BatchNorm (latency and params are real)",
        }
        return entry


def build_layer(name: str, head: str) -> tuple[Any, str, str]:
    """The PaddleSeg model with the head applied as PaddleSeg's export does, and deploy.yaml's output_op/dtype."""
    from paddleseg.deploy.export import WrappedModel
    from paddleseg.models import LRASPP, MobileSeg, PPMobileSeg, TopFormer
    from paddleseg.models import backbones as B

    n = 150
    if name.startswith("pp_mobileseg"):
        base = name.endswith("base")
        backbone = (B.MobileSeg_Base(inj_type="AAMSx8", out_feat_chs=[64, 128, 192]) if base
                    else B.MobileSeg_Tiny(inj_type="AAM", out_feat_chs=[32, 64, 128]))
        net = PPMobileSeg(num_classes=n, backbone=backbone, upsample="vim" if head == "vim" else "intepolate")
    elif name == "mobileseg_base":  # configs/mobileseg/mobileseg_mobilenetv3_cityscapes_1024x512_80k.yml, 150 classes
        net = MobileSeg(num_classes=n, backbone=B.MobileNetV3_large_x1_0(), cm_bin_sizes=[1, 2, 4], cm_out_ch=128,
                        arm_out_chs=[32, 64, 128], seg_head_inter_chs=[32, 32, 32])
    elif name.startswith("topformer"):  # configs/topformer/topformer_{tiny,base}_ade20k_512x512_160k.yml
        tiny = name.endswith("tiny")
        net = TopFormer(num_classes=n, backbone=B.TopTransformer_Tiny() if tiny else B.TopTransformer_Base(),
                        head_use_dw=tiny)
    elif name == "lraspp_mobilenetv3_large":  # configs/lraspp (PaddleSeg's LR-ASPP; no ADE20K config upstream)
        from paddleseg.models.backbones.mobilenetv3 import MobileNetV3_large_x1_0_os8  # not re-exported

        net = LRASPP(num_classes=n, backbone=MobileNetV3_large_x1_0_os8())
    else:
        raise SegbenchError(f"{name}: PaddleSeg 2.8.0 has no class for it")
    if head == "argmax":
        return WrappedModel(net, "argmax"), "argmax", "int32"
    return net, "none", "int32" if head == "vim" else "float32"


def _randomise_batchnorm(layer: Any, rng: np.random.Generator) -> None:
    """Gains, shifts and running statistics drawn as in the torch zoo, so the logits vary across the image."""
    import paddle

    for m in layer.sublayers():
        if isinstance(m, (paddle.nn.BatchNorm2D, paddle.nn.SyncBatchNorm, paddle.nn.BatchNorm)):
            c = m._mean.shape[0]
            m.weight.set_value(rng.uniform(0.5, 1.5, c).astype("float32"))
            m.bias.set_value(rng.normal(0.0, 0.1, c).astype("float32"))
            m._mean.set_value(rng.normal(0.0, 0.1, c).astype("float32"))
            m._variance.set_value(rng.uniform(0.5, 1.5, c).astype("float32"))


def export_paddle(name: str, head: str, size: int | Size, out_dir: Path, seed: int = 0, fmt: str = "paddle",
                  ) -> PaddleExportResult:
    import paddle

    from segbench.modelinfo import inspect_model
    from segbench.zoo import convert

    if name not in PADDLESEG_CLASSES:
        raise SegbenchError(f"{name}: PaddleSeg 2.8.0 has no class for it")
    model = get(name)
    h, w = as_size(size)
    t0 = time.perf_counter()
    paddle.seed(seed)
    layer, op, dtype = build_layer(name, head)
    _randomise_batchnorm(layer, np.random.default_rng(seed))
    layer.eval()
    params = sum(int(np.prod(p.shape)) for p in layer.parameters() if not p.stop_gradient)
    stem = export_stem(model, head, (h, w))
    work = Path(tempfile.mkdtemp(prefix=".zoo-export.", dir=out_dir))
    try:
        folder = work / stem
        folder.mkdir()
        spec = [paddle.static.InputSpec([1, 3, h, w], "float32", "x")]
        paddle.jit.save(paddle.jit.to_static(layer, input_spec=spec, full_graph=True), str(folder / "model"))
        (folder / "deploy.yaml").write_text(DEPLOY.format(h=h, w=w, op=op, dtype=dtype))
        x = np.random.default_rng(seed).standard_normal((1, 3, h, w)).astype(np.float32)
        check = _check(name, head, layer, folder, x)
        info = inspect_model(folder / "model.pdmodel")
        if fmt == "nb":
            target = out_dir / f"{stem}.nb"
            added = _opt(folder, work / stem)
            os.replace(work / f"{stem}.nb", target)
            check = {**check, "nb": "not run here: Paddle Lite's x86 build lacks linear_interp_v2 (and VIM's ops); "
                                    "optimised for arm from the program checked above",
                     "relu6_threshold_added": added}
        else:
            target = out_dir / stem
            if target.exists():
                shutil.rmtree(target)
            os.replace(folder, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return PaddleExportResult(
        model=name, head=head, size=(h, w), path=target, title=export_title(model, head, (h, w)), format=fmt,
        params=params, params_onnx=info.params, inspected={"params": info.params, "macs": info.macs}, check=check,
        converters=convert.versions(fmt, "none"), seconds=time.perf_counter() - t0, seed=seed)


def _check(name: str, head: str, layer: Any, folder: Path, x: np.ndarray) -> dict[str, Any]:
    """The saved program in Paddle Inference against the dygraph model on one seeded input."""
    import paddle
    from paddle import inference

    with paddle.no_grad():
        want = layer(paddle.to_tensor(x))
    want = (want[0] if isinstance(want, (list, tuple)) else want).numpy()
    config = inference.Config(str(folder / "model.pdmodel"), str(folder / "model.pdiparams"))
    config.disable_glog_info()
    config.switch_ir_optim(False)  # the program as saved, not Paddle Inference's fused rewrite of it
    predictor = inference.create_predictor(config)
    handle = predictor.get_input_handle(predictor.get_input_names()[0])
    handle.copy_from_cpu(x)
    predictor.run()
    got = predictor.get_output_handle(predictor.get_output_names()[0]).copy_to_cpu()
    if got.shape != want.shape:
        raise PaddleExportFailed(f"{name} [{head}]: Paddle Inference output {got.shape}, dygraph {want.shape}")
    base = {"input": f"seeded normal [1, 3, {x.shape[2]}, {x.shape[3]}]", "runtime": "Paddle Inference"}
    if head == "logits":
        diff = float(np.abs(got.astype(np.float64) - want).max())
        allowed = LOGITS_TOLERANCE * max(1.0, float(np.abs(want).max()))
        if not diff <= allowed:
            raise PaddleExportFailed(f"{name} [{head}]: Paddle Inference differs from dygraph by {diff:.3g}")
        return {**base, "max_abs_diff": diff}
    wrong = int((got != want).sum())
    if wrong > 0.001 * want.size:  # near-ties only: float rounding of the same program
        raise PaddleExportFailed(f"{name} [{head}]: {wrong} pixels get a different class in Paddle Inference")
    return {**base, "label_mismatches": wrong}


class ConversionFailed(SegbenchError):
    """A converter that cannot take this model (its own error line); the other exports go on."""


_OPT = """
import sys
from paddlelite.lite import Opt
opt = Opt()
opt.set_model_file(sys.argv[1] + "/model.pdmodel")
opt.set_param_file(sys.argv[1] + "/model.pdiparams")
opt.set_valid_places("arm")
opt.set_model_type("naive_buffer")
opt.set_optimize_out(sys.argv[2])
opt.run()
"""


# relu6 is min(max(x, 0), 6). Paddle up to 2.4 saved it with a float attribute 'threshold' (6.0, the only value
# its Python API ever set); paddle 2.6.2 saves it without one, and Paddle Lite 2.13rc0's opt, which reads the
# attribute, aborts ("No attributes called threshold found for relu6"). opt gets a copy of the program with the
# attribute restored at the value the op computes with; the program written to the export folder is untouched.
RELU6_THRESHOLD = 6.0


def relu6_with_threshold(program: bytes) -> tuple[bytes, int]:
    """``program`` (a serialised ProgramDesc) with ``threshold = 6.0`` on every relu6 op that lacks it, and how
    many ops were given it."""
    from paddle.base.proto import framework_pb2

    desc = framework_pb2.ProgramDesc()
    desc.ParseFromString(program)
    added = 0
    for block in desc.blocks:
        for op in block.ops:
            if op.type == "relu6" and not any(a.name == "threshold" for a in op.attrs):
                attr = op.attrs.add()
                attr.name, attr.type, attr.f = "threshold", framework_pb2.FLOAT, RELU6_THRESHOLD
                added += 1
    return desc.SerializeToString(), added


def _opt(folder: Path, out_stem: Path) -> int:
    """Paddle Lite's opt: the program as an ARM naive_buffer ``.nb`` (what benchmark_bin on a phone loads), from a
    copy with relu6's threshold restored (returns how many ops got it). In a child process: opt aborts the process
    on programs it cannot read."""
    import subprocess
    import sys

    source = out_stem.parent / f".opt-{folder.name}"
    source.mkdir()
    program, added = relu6_with_threshold((folder / "model.pdmodel").read_bytes())
    (source / "model.pdmodel").write_bytes(program)
    shutil.copyfile(folder / "model.pdiparams", source / "model.pdiparams")
    proc = subprocess.run([sys.executable, "-c", _OPT, str(source), str(out_stem)], capture_output=True, text=True,
                          timeout=600)
    if proc.returncode != 0 or not out_stem.with_suffix(".nb").is_file():
        lines = [ln.strip() for ln in (proc.stdout + proc.stderr).splitlines()
                 if "Check failed" in ln or "Error" in ln or "not supported" in ln]
        raise ConversionFailed(f"paddle_lite_opt cannot convert {folder.name}: "
                               f"{lines[-1] if lines else f'exit {proc.returncode}'}"[:300])
    return added
