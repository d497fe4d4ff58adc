"""`zoo export --format paddle|nb`: the zoo's PaddleSeg models built by PaddleSeg's own classes (paddleseg 2.8.0 on
paddlepaddle 2.6.2, Python 3.10), saved as real PaddleSeg exports in the seed's layout (``DIR/<stem>/model.pdmodel``,
``model.pdiparams``, ``deploy.yaml`` as PaddleSeg's tools/export.py writes it), optionally quantised to int8 by
Paddle's own post-training quantisation (``DIR/<stem>_int8/``), or optimised by Paddle Lite's opt into an ARM
``.nb`` (``DIR/<stem>.nb``) for benchmark_bin on a phone.

The configurations are those of PaddleSeg's configs for each model (ADE20K, 150 classes; docs/zoo.md lists them).
Weights are PaddleSeg's own random init (``paddle.seed``) with BatchNorm statistics randomised as in the torch zoo,
so the label heads are not degenerate. Checks: the saved program run by Paddle Inference against the dygraph model
(logits: max abs error; labels: equal except near-ties), for int8 the quantised program's labels against the
dygraph model's on the calibration images (argmax agreement), and ``segbench inspect`` of what is written (params,
MACs). A ``.nb`` cannot be run here for these models (Paddle Lite's x86 build lacks linear_interp_v2 and VIM's ops);
its entry names the checked program it was optimised from. opt reads a copy of the program with relu6's
``threshold`` attribute restored (paddle 2.6.2 no longer writes it; see relu6_with_threshold).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from segbench.errors import SegbenchError
from segbench.zoo.convert import CALIBRATION_PRESET, ConversionFailed, ExportCheckFailed
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
    inspected: dict[str, Any]  # ModelInfo.counts() of the written program
    check: dict[str, Any]
    converters: dict[str, str]
    seconds: float
    seed: int
    quant: str = "none"

    @property
    def check_text(self) -> str:
        c = self.check
        if "argmax_agreement" in c:
            return (f"labels agree with the float dygraph model on {c['argmax_agreement']:.1%} of {c['images']} "
                    f"calibration image(s)")
        if "max_abs_diff" in c:
            return f"max |Paddle Inference - dygraph| {c['max_abs_diff']:.1e}"
        return f"labels = dygraph ({c['label_mismatches']} near-tie pixels differ)"

    def manifest_entry(self) -> dict[str, Any]:
        model = get(self.model)
        h, w = self.size
        nb, int8 = self.format == "nb", self.quant == "int8"
        entry: dict[str, Any] = {
            "name": self.title + (" (nb)" if nb else " int8" if int8 else ""), "file": self.path.name,
            "backbone": model.backbone, "dataset": model.dataset, "input_size": [h, w], "head": self.head,
            "format": self.format, "quant": self.quant, "converters": self.converters, "inspect": self.inspected,
        }
        if int8:
            entry["input_preset"] = CALIBRATION_PRESET  # what the activation scales were calibrated on
        published_setting = self.head == model.default_head and self.size == model.input_size and not nb and not int8
        if published_setting and model.published:  # the published figures are for the float model
            entry["published"] = model.published_entry()
        entry["zoo"] = {
            "model": self.model, "head": self.head, "seed": self.seed, "num_classes": model.num_classes,
            "params": self.params, "params_reference": model.reference_params, "params_graph": self.params_onnx,
            "exporter": "PaddleSeg " + self.converters.get("paddleseg", "?") + " classes, paddle.jit.save"
                        + (", paddle_lite_opt (arm, naive_buffer)" if nb else "") + (f", {PTQ}" if int8 else ""),
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
                  quant: str = "none", calibration: list[Path] | None = None) -> PaddleExportResult:
    """Save, check and move into ``out_dir``: the program (``fmt`` paddle; int8 with ``quant``, calibrated on
    ``calibration``) or its ``.nb``. Work files live in a hidden folder of ``out_dir`` (discovery skips it)."""
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
        with warnings.catch_warnings():  # paddle's own deprecation notes about the ops its to_static writes
            warnings.simplefilter("ignore")
            paddle.jit.save(paddle.jit.to_static(layer, input_spec=spec, full_graph=True), str(folder / "model"))
        (folder / "deploy.yaml").write_text(DEPLOY.format(h=h, w=w, op=op, dtype=dtype))
        x = np.random.default_rng(seed).standard_normal((1, 3, h, w)).astype(np.float32)
        check = _check(name, head, layer, folder, x)
        info = inspect_model(folder / "model.pdmodel")
        if quant == "int8":
            target = out_dir / f"{stem}_int8"
            images = calibration or convert.default_calibration()
            check, info = _int8(name, head, layer, folder, work / target.name, (h, w), images, check)
            (work / target.name / "deploy.yaml").write_text(DEPLOY.format(h=h, w=w, op=op, dtype=dtype))
            _replace_folder(work / target.name, target)
        elif fmt == "nb":
            target = out_dir / f"{stem}.nb"
            added = _opt(folder, work / stem)
            os.replace(work / f"{stem}.nb", target)
            check = {**check, "nb": "not run here: Paddle Lite's x86 build lacks linear_interp_v2 (and VIM's ops); "
                                    "optimised for arm from the program checked above",
                     "relu6_threshold_added": added}
        else:
            target = out_dir / stem
            _replace_folder(folder, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return PaddleExportResult(
        model=name, head=head, size=(h, w), path=target, title=export_title(model, head, (h, w)), format=fmt,
        params=params, params_onnx=info.params, inspected=info.counts(), check=check,
        converters=convert.versions(fmt, quant), seconds=time.perf_counter() - t0, seed=seed, quant=quant)


def _replace_folder(folder: Path, target: Path) -> None:
    if target.exists():
        shutil.rmtree(target)
    os.replace(folder, target)


# Paddle's own post-training quantisation (in paddlepaddle; PaddleSlim's quant_post_static wraps the same class):
# int8 weights per output channel and int8 inputs of the ops Paddle Lite runs in int8 on ARM, activation scales
# the calibration images' largest |value| (abs_max), saved in the quantize_linear/dequantize_linear ("onnx_format")
# layout, whose parameters file holds the weights as int8.
PTQ = "paddle.static.quantization.PostTrainingQuantization (abs_max, int8 per-channel weights, quantize_linear)"
PTQ_OPS = ["conv2d", "depthwise_conv2d", "mul", "matmul", "matmul_v2"]


def _int8(name: str, head: str, layer: Any, folder: Path, out: Path, size: Size, images: list[Path],
          float_check: dict) -> tuple[dict[str, Any], Any]:
    """Quantise the checked program in ``folder`` into ``out``; its labels must agree with the dygraph model's on
    the calibration images. Returns the check and segbench inspect's ModelInfo of the quantised program."""
    from segbench.modelinfo import inspect_model
    from segbench.zoo import convert

    tensors = convert.calibration_tensors(images, size, CALIBRATION_PRESET)
    _quantize(folder, out, tensors)
    pairs = [(convert.labels(_dygraph(layer, t)), _run_program(out, t)) for t in tensors]
    check = convert.int8_check(f"{name} [{head}] int8 paddle", pairs, images)
    return {**check, "runtime": "Paddle Inference", "float_graph": float_check}, inspect_model(out / "model.pdmodel")


def _quantize(folder: Path, out: Path, tensors: list[np.ndarray]) -> None:
    import paddle
    from paddle.static.quantization import PostTrainingQuantization

    from segbench.zoo import convert

    class _Images(paddle.io.Dataset):
        def __getitem__(self, i: int) -> np.ndarray:
            return tensors[i][0]

        def __len__(self) -> int:
            return len(tensors)

    paddle.enable_static()
    try:
        with convert.quiet():  # PTQ logs each stage and draws tqdm bars on stderr
            (h, w) = tensors[0].shape[2:]
            feed = paddle.static.data("x", [1, 3, h, w], "float32")
            loader = paddle.io.DataLoader(_Images(), feed_list=[feed], batch_size=1, return_list=False)
            ptq = PostTrainingQuantization(
                executor=paddle.static.Executor(paddle.CPUPlace()), model_dir=str(folder),
                model_filename="model.pdmodel", params_filename="model.pdiparams", data_loader=loader,
                batch_size=1, batch_nums=len(tensors), algo="abs_max", quantizable_op_type=PTQ_OPS,
                weight_quantize_type="channel_wise_abs_max", onnx_format=True)
            ptq.quantize()
            ptq.save_quantized_model(str(out), model_filename="model.pdmodel", params_filename="model.pdiparams")
    finally:
        paddle.disable_static()


def _dygraph(layer: Any, x: np.ndarray) -> np.ndarray:
    """The source model's output: its Python forward run eagerly. paddle.jit.to_static replaces ``layer.forward``
    in place, so after the save a plain call would run the converted program, the very thing under check."""
    import paddle

    paddle.jit.enable_to_static(False)
    try:
        with paddle.no_grad():
            out = layer(paddle.to_tensor(x))
    finally:
        paddle.jit.enable_to_static(True)
    return (out[0] if isinstance(out, (list, tuple)) else out).numpy()


def _run_program(folder: Path, x: np.ndarray) -> np.ndarray:
    """One inference of the saved program in Paddle Inference."""
    from paddle import inference

    config = inference.Config(str(folder / "model.pdmodel"), str(folder / "model.pdiparams"))
    config.disable_glog_info()
    config.switch_ir_optim(False)  # the program as saved, not Paddle Inference's fused rewrite of it
    predictor = inference.create_predictor(config)
    handle = predictor.get_input_handle(predictor.get_input_names()[0])
    handle.copy_from_cpu(x)
    predictor.run()
    return predictor.get_output_handle(predictor.get_output_names()[0]).copy_to_cpu()


def _check(name: str, head: str, layer: Any, folder: Path, x: np.ndarray) -> dict[str, Any]:
    """The saved program in Paddle Inference against the dygraph model on one seeded input."""
    want = _dygraph(layer, x)
    got = _run_program(folder, x)
    if got.shape != want.shape:
        raise ExportCheckFailed(f"{name} [{head}]: Paddle Inference output {got.shape}, dygraph {want.shape}")
    base = {"input": f"seeded normal [1, 3, {x.shape[2]}, {x.shape[3]}]", "runtime": "Paddle Inference"}
    if head == "logits":
        diff = float(np.abs(got.astype(np.float64) - want).max())
        allowed = LOGITS_TOLERANCE * max(1.0, float(np.abs(want).max()))
        if not diff <= allowed:
            raise ExportCheckFailed(f"{name} [{head}]: Paddle Inference differs from dygraph by {diff:.3g}")
        return {**base, "max_abs_diff": diff}
    wrong = int((got != want).sum())
    if wrong > 0.001 * want.size:  # near-ties only: float rounding of the same program
        raise ExportCheckFailed(f"{name} [{head}]: {wrong} pixels get a different class in Paddle Inference")
    return {**base, "label_mismatches": wrong}


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
