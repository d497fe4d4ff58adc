"""Formats beyond ONNX and int8: TFLite through litert-torch, post-training int8 through ai-edge-quantizer (TFLite),
ONNX Runtime's static quantisation (ONNX) and Paddle's PostTrainingQuantization (paddle, in paddle_export),
calibrated on real images through gen-input's transform.

Each converter is optional: a format whose converter is not importable here is one line naming the package and
the extra (and the Python) that brings it (:func:`missing`, :func:`require`); `zoo export` skips such a format
with that line and makes the others. Everything here runs a converted file to check it; nothing writes
into the models directory (export.py moves a file there only after its check).
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import numpy as np

from segbench.errors import RuntimeUnavailable, SegbenchError, UsageError

FORMATS = ("onnx", "tflite", "paddle", "nb")
QUANTS = ("none", "int8")
# What each (format, quantisation) needs: import names, the distribution whose version the manifest names, the hint.
_TORCH_HINT = "pip install -e '.[zoo]' (Python 3.11+; torch==2.13.0, CPU)"
_TFLITE_HINT = "pip install -c .ci/constraints.txt -e '.[zoo-tflite]' (torch==2.13.0 pinned; Python 3.11+)"
_PADDLE_HINT = "use Python 3.10 with pip install -e '.[paddle]' (paddlepaddle 2.6.2, paddleseg 2.8.0, paddlelite)"
NEEDS: dict[tuple[str, str], tuple[tuple[str, str, str], ...]] = {
    ("onnx", "none"): (("torch", "torch", _TORCH_HINT), ("onnxruntime", "onnxruntime", "pip install onnxruntime")),
    ("onnx", "int8"): (("torch", "torch", _TORCH_HINT), ("onnxruntime", "onnxruntime", "pip install onnxruntime")),
    ("tflite", "none"): (("torch", "torch", _TORCH_HINT), ("litert_torch", "litert-torch", _TFLITE_HINT)),
    ("tflite", "int8"): (("torch", "torch", _TORCH_HINT), ("litert_torch", "litert-torch", _TFLITE_HINT),
                         ("ai_edge_quantizer", "ai-edge-quantizer", _TFLITE_HINT)),
    ("paddle", "none"): (("paddle", "paddlepaddle", _PADDLE_HINT), ("paddleseg", "paddleseg", _PADDLE_HINT)),
    # paddle.static.quantization.PostTrainingQuantization ships with paddlepaddle itself (no paddleslim needed)
    ("paddle", "int8"): (("paddle", "paddlepaddle", _PADDLE_HINT), ("paddleseg", "paddleseg", _PADDLE_HINT)),
    ("nb", "none"): (("paddle", "paddlepaddle", _PADDLE_HINT), ("paddleseg", "paddleseg", _PADDLE_HINT),
                     ("paddlelite", "paddlelite", _PADDLE_HINT)),
}
# Int8 labels must agree with the float model's beyond chance: Cohen's kappa, (agreement - chance) / (1 - chance),
# where chance is the agreement two unrelated label maps with the same class shares would have, is at least this.
# The zoo's weights are untrained and the float nets are chaotic (TI's UNet: 0.1% input noise alone changes 27% of
# its labels), so int8 rounding moves many labels and raw agreement says little (15-100%, docs/zoo.md). What the
# floor catches is a conversion whose labels are unrelated to the float model's: a collapsed (constant) output, a
# permutation of the classes, garbage (kappa about 0, or below; measured -0.06..0.00), which a floor on raw agreement
# lets through wherever one class dominates (MLPerf DeepLabv3: a constant output agrees on 97.6%).
INT8_MIN_KAPPA = 0.05
# The normalisation the calibration images go through (gen-input's transform), and so what an int8 file's input
# scale and zero point (or its activation scales) stand for: its manifest entry says so (input_preset).
CALIBRATION_PRESET = "paddleseg"
PYTHON = f"Python {sys.version_info.major}.{sys.version_info.minor}"


def parse_list(text: str, allowed: tuple[str, ...], option: str) -> list[str]:
    items = list(dict.fromkeys(t.strip() for t in text.split(",") if t.strip()))
    bad = [t for t in items if t not in allowed]
    if bad or not items:
        raise UsageError(f"unknown {option} {','.join(bad) or text!r}", hint=f"use {', '.join(allowed)}")
    return items


UNSUPPORTED_HINT = "int8 is made for onnx, tflite and paddle; nb is float"


def missing(fmt: str, quant: str) -> RuntimeUnavailable | None:
    """The one-line error for a converter of ``fmt`` at ``quant`` that this Python lacks (None: all importable)."""
    for module, dist, hint in NEEDS[(fmt, quant)]:
        try:
            with quiet():  # litert_torch's import logs through absl and loads torchao's kernels
                __import__(module)
        except ImportError:
            package = module if module == dist else f"{module} ({dist})"
            return RuntimeUnavailable(f"--format {fmt}{' int8' if quant == 'int8' else ''} needs {package}, which is "
                                      f"not installed on this {PYTHON}", hint=hint)
    return None


def require(fmt: str, quant: str) -> None:
    """One error line when this Python lacks the converter for ``fmt`` at ``quant``."""
    if (fmt, quant) not in NEEDS:
        raise UsageError(f"--format {fmt} --quant {quant}: not supported", hint=UNSUPPORTED_HINT)
    error = missing(fmt, quant)
    if error:
        raise error


class ExportCheckFailed(SegbenchError):
    """An exported file that does not compute what its source model computes (nothing is written)."""


class ConversionFailed(SegbenchError):
    """A converter that cannot take this model (its own error line); the other exports go on."""


def conversion_failed(what: str, exc: BaseException) -> ConversionFailed:
    """A converter's exception as one line: torch's exporters put the whole traced graph after their message's
    first line, which says what they could not do."""
    first = next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
    first = first.split(" [Caused by", 1)[0].split(" Please feel free to request support", 1)[0].rstrip(". ")
    return ConversionFailed(f"{what} cannot convert it: {first[:300]}")


def int8_check(what: str, pairs: list[tuple[np.ndarray, np.ndarray]], images: list[Path]) -> dict:
    """Argmax agreement of (float labels, int8 output) pairs, one per calibration image, and its chance-corrected
    form (:func:`kappa`); raises when the int8 labels agree no better than chance. ``what`` names the export in the
    error line."""
    wants, gots = [], []
    for want, got in pairs:
        wants.append(want.ravel())
        gots.append(labels(got).reshape(want.shape).ravel())
    want, got = np.concatenate(wants), np.concatenate(gots)
    share, chance, k = kappa(want, got)
    if not k >= INT8_MIN_KAPPA:
        raise ExportCheckFailed(f"{what}: labels agree with the float model on only {share:.1%} of the calibration "
                                f"pixels, where unrelated labels with the same class shares would agree on "
                                f"{chance:.1%} (Cohen's kappa {k:.3f} < {INT8_MIN_KAPPA})")
    return {"calibration": [str(p) for p in images], "images": len(images), "preset": CALIBRATION_PRESET,
            "argmax_agreement": round(share, 4), "chance_agreement": round(chance, 4), "kappa": round(k, 4)}


def kappa(want: np.ndarray, got: np.ndarray) -> tuple[float, float, float]:
    """(agreement, chance agreement, Cohen's kappa) of two flat integer label arrays: chance is the sum over classes
    of the product of each array's share of that class; kappa is 0 for unrelated labels and 1 for equal ones (also
    when both are one and the same class, where chance is 1 too)."""
    share = float((want == got).mean())
    classes, inverse = np.unique(np.concatenate([want, got]), return_inverse=True)
    counts = np.stack([np.bincount(part, minlength=classes.size) for part in np.split(inverse, [want.size])])
    chance = float((counts[0] / want.size) @ (counts[1] / got.size))
    return share, chance, (share - chance) / (1 - chance) if chance < 1 else 1.0


def versions(fmt: str, quant: str) -> dict[str, str]:
    """The converters' distributions and versions, for the manifest entry."""
    out = {}
    for _, dist, _ in NEEDS[(fmt, quant)]:
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "unknown"
    return out


def default_calibration() -> list[Path]:
    """tests/fixtures/images/astronaut.png of a source checkout."""
    image = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "images" / "astronaut.png"
    if not image.is_file():
        raise UsageError("int8 needs calibration images", hint="give --calibration IMAGE|DIR")
    return [image]


def calibration_tensors(images: list[Path], size: tuple[int, int], preset: str) -> list[np.ndarray]:
    """Each image through gen-input's transform (stretch to the export size, ``preset``), float32 NCHW."""
    from segbench import inputs
    from segbench.model import TensorInfo

    spec = TensorInfo("image", (1, 3, *size), "float32", "nchw")
    norm = inputs.make_normalization(preset, dtype="float32")
    return [inputs.prepare(p, spec, norm).tensor for p in images]


def collect_calibration(args: tuple[str, ...]) -> list[Path]:
    from segbench import inputs

    if not args:
        return default_calibration()
    pairs, _ = inputs.collect_images([Path(a) for a in args])
    return [p for p, _ in pairs]


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """litert-torch, its absl/TF logging (written by C++ straight to file descriptor 2) and ai-edge-quantizer print
    progress and notices; segbench prints its own. Exceptions still propagate with their messages."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        os.dup2(null, 2)
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, null):
            os.close(fd)


# ----------------------------------------------------------------------------- TFLite


def torch_to_tflite(module: object, x: object, path: Path) -> None:
    import warnings

    with quiet(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import litert_torch

        try:
            litert_torch.convert(module, (x,)).export(str(path))
        except Exception as exc:  # its own errors and torch.export's: the model, not segbench, is the cause
            raise conversion_failed("litert-torch", exc) from None


def quantize_tflite(float_path: Path, out_path: Path, calibration: list[np.ndarray]) -> None:
    """Static int8 (weights and activations, ai-edge-quantizer's static_wi8_ai8) calibrated on ``calibration``."""
    from ai_edge_litert.interpreter import Interpreter

    with quiet():
        from ai_edge_quantizer import quantizer, recipe
    signatures = Interpreter(model_path=str(float_path)).get_signature_list()
    (sig, spec), = signatures.items()
    (name,) = spec["inputs"]
    with quiet():
        q = quantizer.Quantizer(str(float_path), recipe.static_wi8_ai8())
        result = q.quantize(q.calibrate({sig: [{name: x} for x in calibration]}, num_threads=1))
        result.export_model(str(out_path), overwrite=True)


def run_tflite(path: Path, x: np.ndarray) -> np.ndarray:
    """One inference; a quantised input is fed through gen-input's cast, a quantised output dequantised."""
    from ai_edge_litert.interpreter import Interpreter

    from segbench.inputs import cast
    from segbench.model import TensorInfo

    interp = Interpreter(model_path=str(path), num_threads=1)
    interp.allocate_tensors()
    (inp,), (out,) = interp.get_input_details(), interp.get_output_details()
    scale, zero = inp["quantization"]
    if np.dtype(inp["dtype"]).kind in "iu":
        x = cast(x.astype(np.float64), TensorInfo("x", x.shape, np.dtype(inp["dtype"]).name, "nchw", scale, zero), [])
    interp.set_tensor(inp["index"], x)
    interp.invoke()
    y = interp.get_tensor(out["index"])
    scale, zero = out["quantization"]
    if scale and np.dtype(out["dtype"]).kind in "iu" and y.ndim == 4:  # quantised logits
        y = (y.astype(np.float32) - zero) * scale
    return y


# ----------------------------------------------------------------------------- ONNX int8


def quantize_onnx(float_path: Path, out_path: Path, calibration: list[np.ndarray], input_name: str) -> None:
    """ONNX Runtime's static quantisation: QDQ, int8 weights (per channel) and activations, MinMax calibration."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class _Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter([{input_name: x} for x in calibration])

        def get_next(self) -> dict | None:
            return next(self.items, None)

    with quiet():
        quantize_static(str(float_path), str(out_path), _Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QInt8, weight_type=QuantType.QInt8)


def labels(y: np.ndarray) -> np.ndarray:
    """Class map from a logits [1, C, H, W] or label [1, H, W] output."""
    return y.argmax(1) if y.ndim == 4 else y
