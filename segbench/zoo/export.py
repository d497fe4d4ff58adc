"""Export zoo models to ONNX, check each file against torch, and describe it for the manifest.

Exporter: torch.onnx's TorchScript exporter (``dynamo=False``), opset 17. torch 2.13's dynamo
exporter also works for all eight models and all heads (VIM included), but it needs onnxscript
(an extra dependency) and takes 6-8 s per model on 2 cores against about 1 s; the outputs of the
two agree with torch to the same 1e-7 (docs/zoo.md).

Every export is checked before it is kept: onnx.checker, then ONNX Runtime on a seeded input
against torch. Logits must agree within 1e-4 x max(1, max |logit|) (max abs difference); labels must be
identical except where torch's own top two classes are closer than 1e-4 (a near-tie that float
rounding may flip).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from segbench.zoo.build import build_net, count_bn_channels, count_params, gmacs
from segbench.zoo.convert import CALIBRATION_PRESET, ExportCheckFailed, conversion_failed, quiet
from segbench.zoo.heads import Segmenter, valid_interpolate
from segbench.zoo.layers import resize
from segbench.zoo.registry import Size, as_size, export_stem, export_title, get

OPSET = 17
LOGITS_TOLERANCE = 1e-4
INPUT_NAME = "image"
OUTPUT_NAMES = {"logits": "logits", "argmax": "label", "vim": "label"}


@dataclass(frozen=True)
class ExportResult:
    model: str
    head: str
    size: Size  # (height, width)
    path: Path
    title: str
    params: int  # torch definition, trainable
    params_onnx: int  # float weight elements in the exported graph (BatchNorm folded)
    bn_channels: int
    gmacs: float
    max_abs_diff: float | None  # logits head: ORT vs torch
    label_mismatches: int | None  # label heads: pixels that differ from torch (all near-ties)
    vim_vs_argmax: int  # pixels where torch's VIM labels differ from upsample-then-argmax
    seconds: float
    seed: int
    format: str = "onnx"
    quant: str = "none"
    converters: dict[str, str] | None = None  # distribution -> version
    int8_check: dict[str, Any] | None = None  # argmax agreement on the calibration images
    inspected: dict[str, Any] | None = None  # segbench inspect of the written file: ModelInfo.counts()

    @property
    def check_text(self) -> str:
        if self.int8_check:
            c = self.int8_check
            return (f"labels agree with float torch on {c['argmax_agreement']:.1%} of {c['images']} calibration "
                    f"image(s)")
        if self.max_abs_diff is not None:
            return f"max |{self.format} - torch| {self.max_abs_diff:.1e}"
        return f"labels = torch ({self.label_mismatches} near-tie pixels differ)"

    def manifest_entry(self) -> dict[str, Any]:
        """The [[model]] entry for models_dir/manifest.toml (docs/results-format.md)."""
        model = get(self.model)
        h, w = self.size
        entry: dict[str, Any] = {
            "name": self.title, "file": self.path.name, "backbone": model.backbone, "dataset": model.dataset,
            "input_size": [h, w], "head": self.head,
        }
        is_published_setting = (self.head == model.default_head and self.size == model.input_size
                                and self.quant == "none")  # the published figures are for the float model
        if is_published_setting and model.baseline:
            entry["baseline"] = model.baseline
        if is_published_setting and model.published:
            entry["published"] = model.published_entry()
        # Zoo II has no reference-code count (no TF/TI runtime here); its check is the published GMACs.
        reference = {"params_reference": model.reference_params} if model.reference_params else {}
        check = ({"max_abs_diff": self.max_abs_diff} if self.max_abs_diff is not None
                 else {"label_mismatches": self.label_mismatches})
        check = {"input": f"seeded normal [1, 3, {h}, {w}]", **check, "vim_vs_argmax_pixels": self.vim_vs_argmax}
        if self.int8_check:  # the float graph it was quantised from was checked as above; this is the int8 file
            check = {**self.int8_check, "float_graph": check}
        exporter = (f"torch {torch.__version__} torch.onnx (TorchScript), opset {OPSET}" if self.format == "onnx"
                    else f"torch {torch.__version__} litert-torch")
        if self.quant == "int8":
            exporter += (", ai-edge-quantizer static_wi8_ai8" if self.format == "tflite"
                         else ", onnxruntime.quantization quantize_static (QDQ, int8, per-channel weights, MinMax)")
            entry["name"] = f"{self.title} int8"
            entry["input_preset"] = CALIBRATION_PRESET  # what the int8 input's scale and zero point stand for
        entry["format"], entry["quant"] = self.format, self.quant
        entry["converters"] = dict(self.converters or {})
        if self.inspected:
            entry["inspect"] = dict(self.inspected)
        graph = {"params_onnx": self.params_onnx} if self.format == "onnx" else {"params_graph": self.params_onnx}
        entry["zoo"] = {
            "model": self.model, "head": self.head, "seed": self.seed, "num_classes": model.num_classes,
            "params": self.params, **reference, **graph,
            "gmacs": round(self.gmacs, 4), "exporter": exporter, "check": check,
            "weights": "untrained, seeded (latency and params are real; accuracy is the published figure)",
        }
        return entry


def seeded_input(size: int | Size, seed: int = 0) -> np.ndarray:
    """A normalised-image-like input: standard normal, NCHW float32."""
    return np.random.default_rng(seed).standard_normal((1, 3, *as_size(size))).astype(np.float32)


def export_model(name: str, head: str, size: int | Size, out_dir: Path, seed: int = 0, fmt: str = "onnx",
                 quant: str = "none", calibration: list[Path] | None = None) -> ExportResult:
    """Export one model with one head in ``fmt`` (onnx, tflite) at ``quant`` (none, int8), check it, and move it
    into ``out_dir`` only when it passed (:func:`export_quants` for one quantisation)."""
    (result,) = export_quants(name, head, size, out_dir, seed, fmt, (quant,), calibration)
    return result


def export_quants(name: str, head: str, size: int | Size, out_dir: Path, seed: int = 0, fmt: str = "onnx",
                  quants: tuple[str, ...] = ("none",), calibration: list[Path] | None = None,
                  ) -> Iterator[ExportResult]:
    """Export one model with one head in ``fmt`` (onnx, tflite) at each of ``quants`` (none, int8), yielding each
    result once its file is checked and moved into ``out_dir``. The float file is converted and checked once, and
    int8 is quantised from it (conversion is most of the time: litert-torch takes minutes at 512). A result's
    ``seconds`` is the time since the previous file (the first includes building, converting and checking the
    float file). Work files live in a hidden folder of ``out_dir`` (discovery skips it)."""
    from segbench.modelinfo import inspect_model
    from segbench.zoo import convert

    model = get(name)
    size = as_size(size)
    t0 = time.perf_counter()
    net = build_net(name, seed)
    x = torch.from_numpy(seeded_input(size, seed))
    module = Segmenter(net, head).eval()
    work = Path(tempfile.mkdtemp(prefix=".zoo-export.", dir=out_dir))
    try:
        float_file = work / f"float.{fmt}"
        if fmt == "onnx":
            _torch_export(module, x, float_file, head)
            got = _run_onnx(float_file, x.numpy())
        else:
            convert.torch_to_tflite(module, x, float_file)
            got = convert.run_tflite(float_file, x.numpy())
        references = _torch_outputs(net, x)
        diff, mismatches = _compare(name, head, got, references, fmt)
        params_graph = onnx_params(float_file) if fmt == "onnx" else inspect_model(float_file).params
        vim_diff = int((references["vim"] != references["argmax"]).sum())
        counts = {"params": count_params(net), "bn_channels": count_bn_channels(net), "gmacs": gmacs(net, size)}
        for quant in quants:
            final, int8_check = work / f"{quant}.{fmt}", None
            if quant == "int8":
                int8_check = _int8(name, head, module, float_file, final, fmt,
                                   calibration or convert.default_calibration())
            else:
                shutil.copyfile(float_file, final)
            info = inspect_model(final)  # params and MACs of the very file written
            path = out_dir / f"{export_stem(model, head, size)}{'_int8' if quant == 'int8' else ''}.{fmt}"
            os.replace(final, path)
            yield ExportResult(
                model=name, head=head, size=size, path=path, title=export_title(model, head, size),
                params_onnx=params_graph, max_abs_diff=diff, label_mismatches=mismatches, vim_vs_argmax=vim_diff,
                seconds=time.perf_counter() - t0, seed=seed, format=fmt, quant=quant,
                converters=convert.versions(fmt, quant), int8_check=int8_check,
                inspected=info.counts(), **counts,
            )
            t0 = time.perf_counter()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _int8(name: str, head: str, module: Segmenter, float_file: Path, out: Path, fmt: str,
          images: list[Path]) -> dict[str, Any]:
    """Quantise ``float_file`` calibrated on ``images``; the int8 labels must agree with float torch's on them."""
    from segbench.zoo import convert

    size = _input_size(float_file, fmt)
    tensors = convert.calibration_tensors(images, size, CALIBRATION_PRESET)
    if fmt == "onnx":
        convert.quantize_onnx(float_file, out, tensors, INPUT_NAME)
    else:
        convert.quantize_tflite(float_file, out, tensors)
    pairs = []
    for t in tensors:
        with torch.no_grad():
            want = convert.labels(module(torch.from_numpy(t)).numpy())
        pairs.append((want, _run_onnx(out, t) if fmt == "onnx" else convert.run_tflite(out, t)))
    return convert.int8_check(f"{name} [{head}] int8 {fmt}", pairs, images)


def _input_size(path: Path, fmt: str) -> tuple[int, int]:
    from segbench.modelinfo.io import read_io

    (spec,), _ = read_io(path)
    return int(spec.shape[2]), int(spec.shape[3])


def _torch_export(module: Segmenter, x: torch.Tensor, path: Path, head: str) -> None:
    with warnings.catch_warnings(), quiet():
        # The TorchScript exporter announces its deprecation on every call; the choice is documented.
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(module, (x,), str(path), dynamo=False, opset_version=OPSET,
                              input_names=[INPUT_NAME], output_names=[OUTPUT_NAMES[head]], do_constant_folding=True)
        except Exception as exc:  # an operator the exporter cannot take at this size (torch.onnx.errors.*)
            raise conversion_failed("torch.onnx", exc) from None


def _torch_outputs(net: torch.nn.Module, x: torch.Tensor) -> dict[str, np.ndarray]:
    """All three heads' outputs from one forward pass of the net."""
    with torch.no_grad():
        low = net(x)
        logits = resize(low, x.shape[-2:])
        return {"logits": logits.numpy(), "argmax": logits.argmax(1).numpy(),
                "vim": valid_interpolate(low, x.shape[-2:]).numpy(), "present": torch.unique(low.argmax(1)).numpy()}


def _run_onnx(path: Path, x: np.ndarray) -> np.ndarray:
    import onnx
    import onnxruntime as ort

    onnx.checker.check_model(str(path), full_check=True)
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    return sess.run(None, {INPUT_NAME: x})[0]


def logits_tolerance(logits: np.ndarray) -> float:
    """1e-4, relative to the logits' scale once that exceeds 1 (float32 error grows with magnitude)."""
    return LOGITS_TOLERANCE * max(1.0, float(np.abs(logits).max()))


def _compare(name: str, head: str, got: np.ndarray, ref: dict[str, np.ndarray], fmt: str = "onnx",
             ) -> tuple[float | None, int | None]:
    """(max abs diff, None) for logits, (None, mismatching pixels) for labels; raises on a real mismatch."""
    want = ref[head]
    runtime = "ONNX Runtime" if fmt == "onnx" else "LiteRT"
    if got.shape != want.shape:
        raise ExportCheckFailed(f"{name} [{head}]: {fmt} output shape {got.shape}, torch {want.shape}")
    if head == "logits":
        diff = float(np.abs(got.astype(np.float64) - want).max())
        allowed = logits_tolerance(want)
        if not diff <= allowed:
            raise ExportCheckFailed(f"{name} [{head}]: {runtime} differs from torch by {diff:.3g} (> {allowed:.3g})")
        return diff, None
    wrong = got != want
    # VIM chooses among the classes present at low resolution, so its near-ties are among those.
    candidates = ref["logits"][:, ref["present"]] if head == "vim" else ref["logits"]
    if candidates.shape[1] < 2:
        near_tie = np.zeros(wrong.shape, dtype=bool)  # one candidate class: nothing to tie with
    else:
        top2 = np.sort(candidates, axis=1)[:, -2:]
        near_tie = (top2[:, 1] - top2[:, 0]) < logits_tolerance(ref["logits"])
    real = int((wrong & ~near_tie).sum())
    if real:
        raise ExportCheckFailed(f"{name} [{head}]: {real} pixels get a different class in {runtime} than in torch")
    return None, int(wrong.sum())


def onnx_params(path: Path) -> int:
    """Elements of the float weight tensors in an ONNX graph (initializers and Constant nodes)."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    floats = {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE}
    tensors = list(model.graph.initializer)
    tensors += [a.t for n in model.graph.node if n.op_type == "Constant" for a in n.attribute if a.name == "value"]
    return sum(int(np.prod(numpy_helper.to_array(t).shape)) for t in tensors if t.data_type in floats)
