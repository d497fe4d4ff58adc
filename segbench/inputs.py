"""gen-input: image -> tensor in each tool's input format.

One transform (load, EXIF, colour conversion, resize, normalise, cast or quantize) feeds every
consumer: Paddle Lite's ``--input_data_path`` text, TFLite's ``--input_layer_value_files`` raw
bytes, an ``onnxruntime_perf_test`` test-data directory, and ``.npy``. ``segbench run --input``
goes through :func:`tensor_for_input`, so a benchmark sees exactly what ``gen-input`` writes.
See docs/gen-input.md for the formats and the sidecar JSON.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from segbench import __version__
from segbench.errors import InputError, SegbenchError, UsageError
from segbench.model import TensorInfo
from segbench.store import write_atomic

INPUT_SCHEMA = "segbench.input/1"
FORMATS = ("paddle-txt", "raw", "ort-pb", "npy")
RESIZE_MODES = ("stretch", "pad", "crop")
LAYOUTS = ("nchw", "nhwc")
DTYPES = ("float32", "float16", "uint8", "int8")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm", ".pnm", ".gif")
# Output file suffix per format; ort-pb writes a directory.
SUFFIX = {"paddle-txt": ".txt", "raw": ".raw", "npy": ".npy", "ort-pb": ""}
# Format a tool reads, by model format (the default when --format is not given).
FORMAT_FOR_MODEL = {"onnx": "ort-pb", "tflite": "raw", "paddle": "paddle-txt", "paddle-nb": "paddle-txt"}


@dataclass(frozen=True)
class Normalization:
    """y = (pixel * scale - mean) / std per channel, pixels 0..255 in RGB (or BGR when ``bgr``)."""

    scale: float = 1.0
    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)
    bgr: bool = False
    preset: str | None = None


PRESETS: dict[str, Normalization] = {
    # PP-MobileSeg / PaddleSeg configs: RGB, /255, then mean 0.5 std 0.5 -> [-1, 1].
    "paddleseg": Normalization(1 / 255, (0.5,), (0.5,), preset="paddleseg"),
    "imagenet": Normalization(1 / 255, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), preset="imagenet"),
    # DeepLab / MLPerf mobile: x / 127.5 - 1 -> [-1, 1].
    "tf": Normalization(1 / 127.5, (1.0,), (1.0,), preset="tf"),
    "raw": Normalization(1.0, (0.0,), (1.0,), preset="raw"),
    # [0, 1] without mean/std (MediaPipe selfie segmentation).
    "unit": Normalization(1 / 255, (0.0,), (1.0,), preset="unit"),
}


# Share of an integer input's values that may saturate (fall outside the type's range and be clipped) before
# gen-input, run and eval warn: a few bright or dark pixels are normal, a recipe for the wrong producer is not.
SATURATION_WARN_SHARE = 0.01
# Quantisation steps beyond the type's range that clipping may take off a value before it counts as saturating.
# Post-training quantisers calibrate the input range on a moving average of each image's min and max
# (ai-edge-quantizer), so the brightest pixels of an image with the calibrated recipe land a step or two past it
# (measured: 1.2% of a bright crop of the astronaut, one step, on a `zoo export --quant int8` file calibrated on
# it); that is the producer's own range, not a wrong recipe. A recipe meant for another producer lands hundreds of
# steps out.
SATURATION_MARGIN_STEPS = 4
# The preset that depends on the input: its integer values are the pixels themselves (below).
PIXELS = "pixels"
PRESET_NAMES = (*PRESETS, PIXELS)


def default_preset(dtype: str) -> str:
    """Float inputs get the PaddleSeg normalisation, integer inputs the pixels themselves (``pixels``)."""
    return "paddleseg" if dtype.startswith("float") else PIXELS


def pixels_normalization(dtype: str, quant_scale: float | None = None, zero_point: int | None = None) -> Normalization:
    """The ``pixels`` preset: an integer input holds the 0..255 pixels themselves (uint8 as they are, int8 minus 128,
    TFLite's uint8-to-int8 shift), as MLPerf Mobile and TFLite's quantised image models take them.

    For a quantised input (real = scale * (q - zero_point)) it is the real value those integers stand for,
    scale * (pixel - offset), so that the one quantisation in :func:`cast` gives back q = pixel (- 128): there is
    one path (normalise, then cast) for every input, and a quantised input is never quantised from 0..255 twice.
    A float input takes the pixels as 0..255 floats.
    """
    shift = 128 if dtype == "int8" else 0
    if quant_scale and dtype in ("uint8", "int8"):
        offset = (zero_point or 0) + shift
        return Normalization(quant_scale, (offset * quant_scale,), (1.0,), preset=PIXELS)
    return Normalization(1.0, (float(shift),), (1.0,), preset=PIXELS)


def make_normalization(
    preset: str | None, *, mean: tuple[float, ...] | None = None, std: tuple[float, ...] | None = None,
    scale: float | None = None, bgr: bool = False, dtype: str = "float32",
    quant: tuple[float | None, int | None] | None = None,
) -> Normalization:
    """A preset, with any of mean/std/scale given by hand replacing its values.

    With hand values and no preset the base is ``raw`` (scale 1, mean 0, std 1), so that
    ``--mean 127.5 --std 127.5`` means exactly what it says. ``quant`` is the input's (scale, zero point), which
    the ``pixels`` preset (the default for integer inputs) depends on.
    """
    manual = mean is not None or std is not None or scale is not None
    name = preset or ("raw" if manual else default_preset(dtype))
    if name not in PRESET_NAMES:
        raise UsageError(f"unknown preset {name!r}", hint=f"use one of {', '.join(PRESET_NAMES)}")
    base = pixels_normalization(dtype, *(quant or (None, None))) if name == PIXELS else PRESETS[name]
    if std is not None and any(s == 0 for s in std):
        raise UsageError("--std values must not be 0")
    return Normalization(
        scale if scale is not None else base.scale,
        tuple(mean) if mean is not None else base.mean,
        tuple(std) if std is not None else base.std,
        bgr,
        name if not manual else (f"{preset}+manual" if preset else "manual"),
    )


# ----------------------------------------------------------------------------- target tensor


def parse_shape(text: str) -> tuple[int, ...]:
    try:
        dims = tuple(int(x) for x in text.replace("x", ",").split(","))
    except ValueError:
        raise UsageError(f"bad --shape {text!r}", hint="write it like 1,3,512,512") from None
    if len(dims) != 4 or any(d <= 0 for d in dims):
        raise UsageError(f"bad --shape {text!r}", hint="give 4 positive dims like 1,3,512,512 (nchw) or 1,512,512,3 (nhwc)")
    return dims


def _fmt_shape(shape: tuple[Any, ...]) -> str:
    return "[" + ",".join("?" if not isinstance(d, int) or d < 0 else str(d) for d in shape) + "]"


def model_input(model: Path, name: str | None = None) -> TensorInfo:
    """The input of ``model`` named ``name`` (or its only input)."""
    from segbench.modelinfo.io import read_io

    if not model.is_file():
        raise UsageError(f"{model}: no such model file")
    inputs, _ = read_io(model)
    if name is not None:
        for info in inputs:
            if info.name == name:
                return info
        raise UsageError(f"{model}: no input named {name!r}", hint=f"inputs: {', '.join(i.name for i in inputs)}")
    if len(inputs) != 1:
        raise UsageError(
            f"{model}: has {len(inputs)} inputs", hint=f"pick one with --input-name ({', '.join(i.name for i in inputs)})"
        )
    return inputs[0]


def resolve_target(
    model: Path | None = None, *, input_name: str | None = None, shape: tuple[int, ...] | None = None,
    layout: str | None = None, dtype: str | None = None,
) -> TensorInfo:
    """The tensor to make: from the model, from hand-given values, or the model checked against them."""
    from segbench.modelinfo.io import guess_layout

    if model is None:
        if shape is None:
            raise UsageError("no target tensor", hint="give --model FILE, or --shape 1,3,512,512 (with --layout/--dtype)")
        layout = layout or guess_layout(shape)
        if layout is None:
            raise UsageError(f"cannot tell the layout of --shape {_fmt_shape(shape)}", hint="add --layout nchw or nhwc")
        return TensorInfo("input", shape, dtype or "float32", layout)
    info = model_input(model, input_name)
    if len(info.shape) != 4:
        raise InputError(
            f"{model}: input {info.name!r} has shape {_fmt_shape(info.shape)}; gen-input makes 4-D image tensors"
        )
    if shape is not None:
        clash = [i for i, (m, s) in enumerate(zip(info.shape, shape, strict=True)) if isinstance(m, int) and m > 0 and m != s]
        if clash:
            raise InputError(
                f"--shape {_fmt_shape(shape)} does not match input {info.name!r} of {model.name} {_fmt_shape(info.shape)}",
                hint="leave --shape out or change only dynamic dims",
            )
        info = dataclasses.replace(info, shape=shape)
    if dtype is not None and dtype != info.dtype:
        raise InputError(f"--dtype {dtype} does not match input {info.name!r} of {model.name} ({info.dtype})")
    if info.dtype not in DTYPES:
        raise InputError(f"{model}: input {info.name!r} is {info.dtype}; gen-input makes {', '.join(DTYPES)} tensors")
    layout = layout or info.layout or guess_layout(info.shape)
    if layout is None:
        raise UsageError(f"cannot tell the layout of input {info.name!r} {_fmt_shape(info.shape)}", hint="add --layout nchw or nhwc")
    return dataclasses.replace(info, layout=layout)


# ----------------------------------------------------------------------------- image loading


@dataclass(frozen=True)
class LoadedImage:
    pixels: np.ndarray  # uint8, H x W x C (C = 3 RGB or 1 gray)
    mode: str  # Pillow mode as read
    size: tuple[int, int]  # (width, height) after EXIF orientation
    exif_orientation: int | None
    warnings: tuple[str, ...]


def _png_bit_depth(path: Path) -> int | None:
    # Pillow silently reduces 16-bit RGB(A) PNGs to 8 bits; the IHDR chunk says what the file holds.
    with open(path, "rb") as f:
        head = f.read(25)
    if head[:8] == b"\x89PNG\r\n\x1a\n" and len(head) == 25:
        return head[24]
    return None


def _to_8bit(img: Any, warnings: list[str], what: str) -> Any:
    """RGB or L from any Pillow mode, saying what was converted."""
    from PIL import Image

    mode = img.mode
    if mode in ("RGB", "L"):
        return img
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        if mode == "F":
            warnings.append(f"{what}: 32-bit float image clipped to 0..255")
        else:
            warnings.append(f"{what}: 16-bit image scaled to 8 bits")
            arr = arr / 257.0
        return Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8), "L")
    if mode == "P":
        warnings.append(f"{what}: palette image converted to RGB")
        return img.convert("RGBA" if "transparency" in img.info else "RGB").convert("RGB")
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        warnings.append(f"{what}: {mode} image: alpha channel dropped")
        return img.convert("RGB" if mode.startswith(("RGB", "P")) else "L")
    warnings.append(f"{what}: {mode}-mode image converted to RGB")
    return img.convert("RGB")


def load_image(path: Path, channels: int = 3) -> LoadedImage:
    """Pixels of an image file, EXIF-oriented, as uint8 RGB (channels=3) or gray (channels=1)."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    if not path.exists():
        raise InputError(f"{path}: no such file")
    if not path.is_file():
        raise InputError(f"{path}: not a file")
    warnings: list[str] = []
    try:
        with Image.open(path) as img:
            img.load()
            orientation = img.getexif().get(0x0112)
            mode = img.mode
            img = ImageOps.exif_transpose(img)
            if mode in ("RGB", "RGBA") and _png_bit_depth(path) == 16:
                warnings.append(f"{path.name}: 16-bit PNG reduced to 8 bits")
            img = _to_8bit(img, warnings, path.name)
            if channels == 3 and img.mode == "L":
                warnings.append(f"{path.name}: grayscale image converted to RGB")
                img = img.convert("RGB")
            elif channels == 1 and img.mode == "RGB":
                warnings.append(f"{path.name}: colour image converted to grayscale for a 1-channel input")
                img = img.convert("L")
            pixels = np.asarray(img, dtype=np.uint8)
    except UnidentifiedImageError:
        raise InputError(f"{path}: not an image Pillow can read", hint="give PNG, JPEG, BMP, WebP or TIFF files") from None
    except Image.DecompressionBombError:
        raise InputError(f"{path}: image too large to load safely") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InputError(f"{path}: corrupt or truncated image ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    h, w = pixels.shape[:2]
    if h == 0 or w == 0:
        raise InputError(f"{path}: empty image")
    return LoadedImage(pixels, mode, (w, h), int(orientation) if orientation else None, tuple(warnings))


# ----------------------------------------------------------------------------- transform


def resize(pixels: np.ndarray, size: tuple[int, int], mode: str) -> tuple[np.ndarray, dict[str, Any]]:
    """Pixels resized to ``size`` (width, height); the record says where the image landed.

    stretch ignores the aspect ratio; pad fits the image inside and pads the rest with 0 (black),
    centred; crop fills the target and cuts the overflow, centred. Bilinear resampling.
    """
    from PIL import Image

    if mode not in RESIZE_MODES:
        raise UsageError(f"unknown resize mode {mode!r}", hint=f"use one of {', '.join(RESIZE_MODES)}")
    tw, th = size
    h, w, c = pixels.shape
    img = Image.fromarray(pixels[:, :, 0] if c == 1 else pixels)
    record: dict[str, Any] = {"mode": mode, "resample": "bilinear", "from": [w, h], "to": [tw, th]}
    if mode == "stretch" or (w, h) == (tw, th):
        out = img.resize((tw, th), Image.BILINEAR) if (w, h) != (tw, th) else img
        record["content_box"] = [0, 0, tw, th]
        return _hwc(np.asarray(out)), record
    ratio = min(tw / w, th / h) if mode == "pad" else max(tw / w, th / h)
    nw, nh = max(1, round(w * ratio)), max(1, round(h * ratio))
    scaled = _hwc(np.asarray(img.resize((nw, nh), Image.BILINEAR)))
    if mode == "pad":
        x0, y0 = (tw - nw) // 2, (th - nh) // 2
        out_arr = np.zeros((th, tw, c), dtype=np.uint8)
        out_arr[y0:y0 + nh, x0:x0 + nw] = scaled
        record["content_box"] = [x0, y0, x0 + nw, y0 + nh]
        return out_arr, record
    x0, y0 = (nw - tw) // 2, (nh - th) // 2
    record["crop_box"] = [x0, y0, x0 + tw, y0 + th]  # in the scaled image
    record["content_box"] = [0, 0, tw, th]
    return np.ascontiguousarray(scaled[y0:y0 + th, x0:x0 + tw]), record


def _hwc(arr: np.ndarray) -> np.ndarray:
    return arr[:, :, None] if arr.ndim == 2 else arr


def normalize(pixels: np.ndarray, norm: Normalization) -> np.ndarray:
    """Float64 H x W x C values (float64 so the one cast to the target dtype is the only rounding)."""
    c = pixels.shape[2]
    arr = pixels.astype(np.float64)
    if norm.bgr and c == 3:
        arr = arr[:, :, ::-1]
    mean, std = _per_channel(norm.mean, c, "mean"), _per_channel(norm.std, c, "std")
    return (arr * norm.scale - mean) / std


def _per_channel(values: tuple[float, ...], c: int, what: str) -> np.ndarray:
    if len(values) == 1:
        return np.full(c, values[0], dtype=np.float64)
    if len(values) != c:
        raise UsageError(f"{len(values)} {what} values for a {c}-channel input", hint=f"give 1 or {c} values")
    return np.asarray(values, dtype=np.float64)


def cast(values: np.ndarray, spec: TensorInfo, warnings: list[str]) -> np.ndarray:
    """Values in the target dtype; integer targets with scale/zero point are quantized.

    Quantization is q = round(x / scale) + zero_point, rounding half away from zero as
    TFLite's own quantize kernel does, then clipped to the type's range.
    """
    dtype = np.dtype(spec.dtype)
    if dtype.kind == "f":
        return values.astype(dtype)
    info = np.iinfo(dtype)
    if spec.scale:
        q = _round_half_away(values / spec.scale) + (spec.zero_point or 0)
    else:
        q = _round_half_away(values)
    share = saturated_share(q, dtype)
    if share > SATURATION_WARN_SHARE:
        quantised = f" after quantisation (scale {spec.scale:.6g}, zero point {spec.zero_point})" if spec.scale else ""
        warnings.append(f"{share:.1%} of the values saturate (more than {SATURATION_MARGIN_STEPS} steps outside "
                        f"{dtype.name} range {info.min}..{info.max}{quantised}, clipped); check the recipe (--preset)")
    return np.clip(q, info.min, info.max).astype(dtype)


def saturated_share(q: np.ndarray, dtype: np.dtype, margin: int = SATURATION_MARGIN_STEPS) -> float:
    """Share of the (rounded, unclipped) integer values more than ``margin`` steps outside ``dtype``'s range."""
    info = np.iinfo(dtype)
    return float(((q < info.min - margin) | (q > info.max + margin)).mean()) if q.size else 0.0


def _round_half_away(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


@dataclass(frozen=True)
class Prepared:
    """A tensor made from an image, with the exact transform that made it."""

    tensor: np.ndarray
    spec: TensorInfo  # with every dim concrete
    transform: dict[str, Any]
    source: dict[str, Any]
    warnings: tuple[str, ...]


def _dims(spec: TensorInfo) -> tuple[Any, Any, Any, Any]:
    """(N, C, H, W) of a 4-D spec in its layout."""
    n, a, b, d = spec.shape
    return (n, a, b, d) if spec.layout == "nchw" else (n, d, a, b)


def _static(d: Any) -> bool:
    return isinstance(d, int) and d > 0


def prepare(path: Path, spec: TensorInfo, norm: Normalization, resize_mode: str = "stretch") -> Prepared:
    """The tensor for ``spec`` from one image file.

    Dynamic dims: batch becomes 1, channels 3, height/width the image's own size. A static batch
    larger than 1 repeats the image.
    """
    if spec.layout not in LAYOUTS or len(spec.shape) != 4:
        raise InputError(f"input {spec.name!r} {_fmt_shape(spec.shape)}: need a 4-D nchw or nhwc tensor")
    n, c, h, w = _dims(spec)
    c = c if _static(c) else 3
    if c not in (1, 3):
        raise InputError(f"input {spec.name!r} has {c} channels; images give 1 (gray) or 3 (RGB)")
    img = load_image(path, c)
    h = h if _static(h) else img.size[1]
    w = w if _static(w) else img.size[0]
    n = n if _static(n) else 1
    pixels, resize_record = resize(img.pixels, (w, h), resize_mode)
    warnings = list(img.warnings)
    chw = cast(normalize(pixels, norm), spec, warnings)  # still H x W x C
    if spec.layout == "nchw":
        chw = chw.transpose(2, 0, 1)
    tensor = np.ascontiguousarray(np.broadcast_to(chw[None], (n, *chw.shape)))
    concrete = dataclasses.replace(spec, shape=tuple(int(x) for x in tensor.shape))
    transform = {
        "exif_orientation": img.exif_orientation,
        "image_mode": img.mode,
        "channel_order": "gray" if c == 1 else ("bgr" if norm.bgr else "rgb"),
        "resize": resize_record,
        "preset": norm.preset,
        "formula": "(pixel * scale - mean) / std",
        "scale": norm.scale,
        "mean": list(norm.mean),
        "std": list(norm.std),
        "quantization": {"scale": spec.scale, "zero_point": spec.zero_point, "rounding": "half away from zero"}
        if spec.scale and np.dtype(spec.dtype).kind != "f" else None,
        "batch_fill": "repeat" if n > 1 else None,
    }
    source = {"path": str(path), "sha256": _sha256_file(path), "size": list(img.size)}
    return Prepared(tensor, concrete, transform, source, tuple(warnings))


# ----------------------------------------------------------------------------- writing


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def tensor_bytes(tensor: np.ndarray) -> bytes:
    """The tensor as little-endian bytes in C order: what the raw format holds."""
    return np.ascontiguousarray(tensor, dtype=tensor.dtype.newbyteorder("<")).tobytes()


def _write_paddle_txt(f: Any, tensor: np.ndarray) -> None:
    # Paddle Lite reads whitespace-separated numbers with `ifstream >> value`, in memory order.
    # '%.9g' is enough digits for any float32 to parse back to the same float32 (9 = max_digits10).
    fmt = "%d" if tensor.dtype.kind in "iu" else "%.9g"
    rows = tensor.reshape(-1, tensor.shape[-1]) if tensor.ndim else tensor.reshape(1, 1)
    if tensor.dtype == np.float16:
        rows = rows.astype(np.float32)  # exact; the digits then also round-trip as float16
    np.savetxt(f, rows, fmt=fmt, delimiter=" ")


def _write_pb(f: Any, tensor: np.ndarray, name: str) -> None:
    from onnx import numpy_helper

    f.write(numpy_helper.from_array(tensor, name=name).SerializeToString())


def write_tensor(tensor: np.ndarray, fmt: str, out: Path, name: str) -> Path:
    """Write ``tensor`` in ``fmt`` at ``out``; returns the file written (ort-pb: ``out/input_0.pb``)."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}", hint=f"use one of {', '.join(FORMATS)}")
    target = out / "input_0.pb" if fmt == "ort-pb" else out
    _ensure_dir(target.parent)
    try:
        if fmt == "raw":
            write_atomic(target, lambda f: f.write(tensor_bytes(tensor)))
        elif fmt == "npy":
            write_atomic(target, lambda f: np.save(f, tensor, allow_pickle=False))
        elif fmt == "paddle-txt":
            write_atomic(target, lambda f: _write_paddle_txt(f, tensor))
        else:
            write_atomic(target, lambda f: _write_pb(f, tensor, name))
    except OSError as exc:
        raise SegbenchError(f"cannot write {target}: {exc.strerror or exc}", hint="choose another -o") from None
    return target


def _ensure_dir(directory: Path) -> None:
    """Create ``directory`` (and parents); a file in the way is named in the error."""
    for ancestor in (directory, *directory.parents):
        if ancestor.exists():
            if not ancestor.is_dir():
                raise SegbenchError(f"cannot write under {directory}: {ancestor} is a file", hint="choose another -o")
            break
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SegbenchError(f"cannot create {directory}: {exc.strerror or exc}", hint="choose another -o") from None


def sidecar_path(out: Path) -> Path:
    return out.with_name(out.name + ".json")


def write_one(prepared: Prepared, fmt: str, out: Path) -> dict[str, Any]:
    """Write the tensor and its sidecar ``<out>.json``; returns the sidecar's content."""
    import json

    written = write_tensor(prepared.tensor, fmt, out, prepared.spec.name)
    spec = prepared.spec
    record = {
        "schema": INPUT_SCHEMA,
        "harness_version": __version__,
        "source": prepared.source,
        "target": {
            "name": spec.name, "shape": list(spec.shape), "dtype": spec.dtype, "layout": spec.layout,
            "scale": spec.scale, "zero_point": spec.zero_point,
        },
        "transform": prepared.transform,
        "format": fmt,
        "output": {"path": str(written), "bytes": written.stat().st_size, "sha256": _sha256_file(written)},
        "tensor_sha256": hashlib.sha256(tensor_bytes(prepared.tensor)).hexdigest(),
        "warnings": list(prepared.warnings),
    }
    side = sidecar_path(out)
    try:
        write_atomic(side, lambda f: f.write((json.dumps(record, indent=2) + "\n").encode()))
    except OSError as exc:
        raise SegbenchError(f"cannot write {side}: {exc.strerror or exc}", hint="choose another -o") from None
    return record


# ----------------------------------------------------------------------------- collecting images


def is_image_name(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def collect_images(args: list[Path]) -> tuple[list[tuple[Path, Path]], bool]:
    """(image, relative output stem) pairs and whether this is a batch (a directory or several files).

    Directories are searched recursively for image suffixes; files given by name are taken as they are
    (a non-image fails when it is read).
    """
    pairs: list[tuple[Path, Path]] = []
    batch = len(args) > 1
    for arg in args:
        if not arg.exists():
            raise InputError(f"{arg}: no such file or directory")
        if arg.is_dir():
            batch = True
            found = sorted(p for p in arg.rglob("*") if p.is_file() and is_image_name(p))
            if not found:
                raise InputError(f"{arg}: no image files in it", hint=f"expected {', '.join(IMAGE_SUFFIXES)}")
            pairs += [(p, p.relative_to(arg).with_suffix("")) for p in found]
        else:
            pairs.append((arg, Path(arg.stem)))
    stems = [str(rel) for _, rel in pairs]
    dupes = sorted({s for s in stems if stems.count(s) > 1})
    if dupes:
        raise UsageError(f"several images would write the same output: {', '.join(dupes[:3])}", hint="convert them in separate runs")
    return pairs, batch


def output_paths(pairs: list[tuple[Path, Path]], batch: bool, fmt: str, out: Path | None) -> list[Path]:
    """Where each image's tensor goes.

    One image: ``out`` itself, or ``out/<stem><suffix>`` when ``out`` is a directory (default
    ``<stem><suffix>`` next to the image, as the seed keeps image1.txt beside image1.jpg; ``test_data_set_0``
    there for ort-pb).
    A batch: files under the directory ``out`` (default ``inputs``) mirroring the sources; for
    ort-pb, ``out/test_data_set_<i>`` (the names onnxruntime_perf_test cycles through).
    """
    if not batch:
        name = "test_data_set_0" if fmt == "ort-pb" else pairs[0][1].name + SUFFIX[fmt]
        if out is not None and out.is_dir() and fmt != "ort-pb":
            return [out / name]  # like cp: into an existing directory
        return [out or pairs[0][0].parent / name]
    root = out or Path("inputs")
    if root.exists() and not root.is_dir():
        raise SegbenchError(f"cannot write to {root}: it is a file, and several tensors need a directory", hint="give -o DIR")
    if fmt == "ort-pb":
        return [root / f"test_data_set_{i}" for i in range(len(pairs))]
    return [root / rel.with_name(rel.name + SUFFIX[fmt]) for _, rel in pairs]


# ----------------------------------------------------------------------------- a model's own recipe


@dataclass(frozen=True)
class Recipe:
    """How an image becomes this model's input, and where that was decided (kept in records and sidecars)."""

    norm: Normalization
    source: str  # "--preset", "deploy.yaml (PATH)", "default for float32 inputs"
    size: tuple[int, int] | None = None  # (width, height) when the model's own config fixes it
    notes: tuple[str, ...] = ()

    def describe(self) -> dict[str, Any]:
        return {"source": self.source, "preset": self.norm.preset, "scale": self.norm.scale,
                "mean": list(self.norm.mean), "std": list(self.norm.std),
                "size": list(self.size) if self.size else None, "notes": list(self.notes)}


def recipe_for(model: Path | None, spec: TensorInfo, preset: str | None = None) -> Recipe:
    """The normalisation for ``model``'s input ``spec``: ``--preset`` when given, else the model's PaddleSeg
    deploy.yaml (Normalize mean/std, Resize target size), else ``input_preset`` of its manifest.toml entry (what
    its producer calibrated with), else the default for the input's dtype (and, for a quantised integer input, its
    scale and zero point: the ``pixels`` preset)."""
    from segbench import deploy

    dtype, quant = spec.dtype, (spec.scale, spec.zero_point)
    if preset:
        return Recipe(make_normalization(preset, dtype=dtype, quant=quant), "--preset")
    found = deploy.find(model) if model is not None else None
    if found is not None:
        config = deploy.read(found)
        notes = tuple(f"deploy.yaml transform {t} is not applied" for t in config.unsupported)
        if not config.normalize:
            notes += ("deploy.yaml lists no Normalize: pixels are fed as 0..255",)
            norm = dataclasses.replace(PRESETS["raw"], preset="deploy.yaml")
        else:
            norm = Normalization(1 / 255, config.mean, config.std, preset="deploy.yaml")
        return Recipe(norm, f"deploy.yaml ({found})", config.target_size, notes)
    produced = _manifest_preset(model) if model is not None else None
    if produced:  # the producer's word: e.g. `zoo export --quant int8` calibrated through this preset
        return Recipe(make_normalization(produced, dtype=dtype, quant=quant),
                      f"manifest.toml input_preset ({model.parent / 'manifest.toml'})")
    quantised = f" quantised (scale {spec.scale:.6g}, zero point {spec.zero_point})" if spec.scale and \
        np.dtype(dtype).kind in "iu" else ""
    return Recipe(make_normalization(None, dtype=dtype, quant=quant), f"default for{quantised} {dtype} inputs")


def _manifest_preset(model: Path) -> str | None:
    """``input_preset`` of the model's entry in the manifest.toml beside it, if any (unreadable manifests: none)."""
    from segbench.models import read_manifest

    try:
        entry = read_manifest(model.parent).get(model.name)
    except SegbenchError:
        return None
    preset = entry.extra.get("input_preset") if entry else None
    return preset if isinstance(preset, str) and preset in PRESET_NAMES else None


def fill_dims(spec: TensorInfo, model: Path | None) -> TensorInfo:
    """``spec`` with its dynamic dims filled from the model's deploy.yaml (input_shape, else Resize's size)."""
    from segbench import deploy
    from segbench.modelinfo.io import guess_layout

    if all(_static(d) for d in spec.shape) or model is None or (found := deploy.find(model)) is None:
        return spec
    config = deploy.read(found)
    shape = list(spec.shape)
    if config.input_shape and len(config.input_shape) == len(shape):
        shape = [d if _static(d) else (g if g > 0 else d) for d, g in zip(shape, config.input_shape, strict=True)]
    layout = spec.layout or guess_layout(tuple(shape))
    if config.target_size and len(shape) == 4 and layout in LAYOUTS:
        w, h = config.target_size
        hi, wi = (2, 3) if layout == "nchw" else (1, 2)
        shape[hi] = shape[hi] if _static(shape[hi]) else h
        shape[wi] = shape[wi] if _static(shape[wi]) else w
    return dataclasses.replace(spec, shape=tuple(shape))


# ----------------------------------------------------------------------------- segbench run --input


def case_inputs(model: str, specs: list[TensorInfo], input_path: str | None, preset: str | None,
                ) -> tuple[list[np.ndarray], dict[str, Any]]:
    """What a case feeds its model (host and phone alike), and the record of it: the user's file through the
    model's recipe, or seeded random tensors of the model's (deploy.yaml-filled) shapes."""
    from segbench.runners.host import check_input_size, random_input

    specs = [fill_dims(s, Path(model)) for s in specs]
    for spec in specs:  # before anything of the declared size is allocated
        check_input_size(spec)
    if not input_path:
        arrays = [random_input(s, seed=i) for i, s in enumerate(specs)]
        return arrays, {"kind": "random", "seed": 0, "shapes": [_fmt_shape(a.shape) for a in arrays]}
    if len(specs) != 1:
        raise InputError(f"{model} has {len(specs)} inputs; --input feeds single-input models")
    path = Path(input_path)
    kind = "image" if is_image_name(path) else "tensor"
    recipe = recipe_for(Path(model), specs[0], preset) if kind == "image" else None
    warnings: list[str] = []
    tensor = tensor_for_input(path, specs[0], preset, recipe, warnings)
    info: dict[str, Any] = {"kind": kind, "path": str(path), "shape": list(tensor.shape), "dtype": tensor.dtype.name}
    if recipe is not None:
        info["recipe"] = recipe.describe()
        info["warnings"] = warnings
    else:
        side = sidecar_path(path.parent if path.name == "input_0.pb" else path)
        info["recipe"] = {"source": f"gen-input sidecar ({side})"} if side.is_file() else {"source": "tensor file as given"}
    return [tensor], info


def tensor_for_input(path: Path, spec: TensorInfo, preset: str | None = None, recipe: Recipe | None = None,
                     warnings: list[str] | None = None) -> np.ndarray:
    """The input tensor for ``spec`` from a user's file: an image, or any tensor file gen-input writes
    (paddle-txt ``.txt``, ``.npy``, an ort-pb ``.pb`` or its test-data directory, raw ``.raw``/``.bin``).

    Images go through the gen-input transform (``recipe``, else ``preset``/the dtype default; stretch resize).
    Tensor files must match the spec's shape (dynamic dims match anything) and dtype; a paddle-txt file must
    hold exactly the input's number of values. A mismatch raises InputError. The transform's warnings (e.g. values
    that saturate) are appended to ``warnings``.
    """
    path = Path(path)
    if path.is_dir():
        path = _pb_in(path)
    if not path.is_file():
        raise InputError(f"{path}: {'not a file' if path.exists() else 'no such file'}")
    suffix = path.suffix.lower()
    if suffix in (".npy", ".pb", ".bin", ".raw", ".txt"):
        arr = _read_tensor_file(path, suffix, spec)
        _check_tensor(arr, spec, path)
        return arr
    if spec.layout is None:
        from segbench.modelinfo.io import guess_layout

        spec = dataclasses.replace(spec, layout=guess_layout(spec.shape))
    if spec.layout is None:
        raise InputError(f"cannot tell the layout of input {spec.name!r} {_fmt_shape(spec.shape)}; give a .npy instead")
    if spec.dtype not in DTYPES:
        raise InputError(f"input {spec.name!r} is {spec.dtype}; images make {', '.join(DTYPES)} tensors; give a .npy")
    norm = recipe.norm if recipe is not None else recipe_for(None, spec, preset).norm
    prepared = prepare(path, spec, norm)
    if warnings is not None:
        warnings.extend(prepared.warnings)
    return prepared.tensor


def check_input(path: Path, label: str) -> None:
    """Refuse ``path`` as a ``--input`` (``label`` names it in the line) before a run starts, saying what it is and
    what is expected: a missing path is an error (exit 1, as a missing file is for every command), a path of the
    wrong kind (a folder without ONNX test data, a FIFO or device) a usage error (2). A file, or a folder of ONNX test
    data (read by load_input through _pb_in), passes."""
    expected = ("give an image, a tensor file gen-input writes (.txt, .raw, .npy, .pb) or an ONNX test_data_set_N "
                "folder holding input_0.pb")
    if path.is_dir():
        try:
            _pb_in(path)
        except InputError:
            raise UsageError(f"{label}: a folder without input_0.pb (nor test_data_set_0/input_0.pb) in it, not an "
                             "input", hint=expected) from None
        return
    if path.is_file():
        return
    if path.exists():
        raise UsageError(f"{label}: not a regular file", hint=expected)
    raise InputError(f"{label}: no such file", hint=expected)


def _pb_in(directory: Path) -> Path:
    """An onnxruntime_perf_test test-data directory (or the folder holding test_data_set_0): its input_0.pb."""
    for candidate in (directory / "input_0.pb", directory / "test_data_set_0" / "input_0.pb"):
        if candidate.is_file():
            return candidate
    raise InputError(f"{directory}: a directory, but no input_0.pb in it (nor in test_data_set_0/)",
                     hint="give a tensor file or an image")


def _read_tensor_file(path: Path, suffix: str, spec: TensorInfo) -> np.ndarray:
    try:
        if suffix == ".npy":
            return np.load(path, allow_pickle=False)
        if suffix == ".pb":
            import onnx
            from onnx import numpy_helper

            proto = onnx.TensorProto()
            proto.ParseFromString(path.read_bytes())
            return numpy_helper.to_array(proto)
    except Exception as exc:  # numpy raises ValueError/OSError/EOFError, protobuf DecodeError
        raise InputError(f"{path}: not a readable {suffix} tensor ({type(exc).__name__})") from None
    if not all(_static(d) for d in spec.shape):
        raise InputError(f"{path}: {'text' if suffix == '.txt' else 'raw bytes'} need a static shape, input "
                         f"{spec.name!r} is {_fmt_shape(spec.shape)}", hint="give a .npy")
    count = int(np.prod(spec.shape))
    dtype = np.dtype(spec.dtype).newbyteorder("<")
    if suffix == ".txt":
        return _read_paddle_txt(path, spec, count)
    want = count * dtype.itemsize
    size = path.stat().st_size
    if size != want:
        raise InputError(
            f"{path}: {size} bytes, but input {spec.name!r} {spec.dtype} {_fmt_shape(spec.shape)} is {want} bytes"
        )
    return np.fromfile(path, dtype=dtype).reshape(spec.shape).astype(dtype.newbyteorder("="))


def _read_paddle_txt(path: Path, spec: TensorInfo, count: int) -> np.ndarray:
    """Whitespace-separated numbers in memory order, as benchmark_bin's --input_data_path reads them; unlike
    benchmark_bin (which pads or truncates silently), the count must be exact."""
    try:
        size = path.stat().st_size
        if size > 64 * count + 4096:  # no float needs 64 characters: this is not the input's text
            raise InputError(f"{path}: {size} bytes of text is far more than input {spec.name!r} "
                             f"{_fmt_shape(spec.shape)} ({count} values) can hold")
        text = path.read_text(encoding="ascii")
        values = np.array(text.split(), dtype=np.float64)
    except (UnicodeDecodeError, ValueError):
        raise InputError(f"{path}: not a text tensor (whitespace-separated numbers, as gen-input --format "
                         "paddle-txt writes)") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if values.size != count:
        raise InputError(f"{path}: holds {values.size} numbers, input {spec.name!r} {spec.dtype} "
                         f"{_fmt_shape(spec.shape)} needs {count}")
    dtype = np.dtype(spec.dtype)
    if dtype.kind in "iu" and not np.array_equal(values, np.round(values)):
        raise InputError(f"{path}: holds fractions, input {spec.name!r} is {spec.dtype}")
    return values.reshape(spec.shape).astype(dtype)


def _check_tensor(arr: np.ndarray, spec: TensorInfo, path: Path) -> None:
    same_rank = arr.ndim == len(spec.shape)
    shape_ok = same_rank and all(not _static(d) or d == a for d, a in zip(spec.shape, arr.shape, strict=True))
    if not shape_ok or arr.dtype.name != spec.dtype:
        raise InputError(
            f"{path}: holds {arr.dtype.name} {_fmt_shape(arr.shape)}, "
            f"input {spec.name!r} wants {spec.dtype} {_fmt_shape(spec.shape)}"
        )


__all__ = [
    "FORMATS", "PIXELS", "PRESETS", "Normalization", "Prepared", "Recipe", "case_inputs", "collect_images", "fill_dims",
    "make_normalization", "model_input", "pixels_normalization", "output_paths", "prepare", "recipe_for", "resolve_target",
    "tensor_for_input", "write_one", "write_tensor",
]
