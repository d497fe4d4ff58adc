"""segbench.inputs: the image -> tensor transform, each format read back by its consumer's reader."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from segbench import inputs
from segbench.errors import InputError, SegbenchError, UsageError
from segbench.model import TensorInfo
from tests.conftest import ASTRONAUT, SELFIE

NCHW = TensorInfo("x", (1, 3, 512, 512), "float32", "nchw")


def _png(path: Path, arr: np.ndarray, mode: str | None = None) -> Path:
    Image.fromarray(arr, mode).save(path) if mode else Image.fromarray(arr).save(path)
    return path


def _halves(w: int = 100, h: int = 50) -> np.ndarray:
    """Left half pure red, right half pure blue."""
    arr = np.zeros((h, w, 3), np.uint8)
    arr[:, : w // 2, 0] = 255
    arr[:, w // 2 :, 2] = 255
    return arr


# --------------------------------------------------------------------------- normalisation, hand-checked


@pytest.mark.parametrize(
    ("preset", "pixel", "expected"),
    [
        ("paddleseg", 0, -1.0), ("paddleseg", 255, 1.0), ("paddleseg", 51, -0.6),  # 51/255 = 0.2
        ("tf", 0, -1.0), ("tf", 255, 1.0), ("tf", 51, 51 / 127.5 - 1),
        ("unit", 255, 1.0), ("unit", 51, 0.2), ("raw", 51, 51.0),
    ],
)
def test_presets_on_one_pixel(preset: str, pixel: int, expected: float) -> None:
    out = inputs.normalize(np.full((1, 1, 3), pixel, np.uint8), inputs.PRESETS[preset])
    assert out == pytest.approx(np.full((1, 1, 3), expected), abs=1e-12)


def test_imagenet_is_per_channel() -> None:
    out = inputs.normalize(np.full((1, 1, 3), 255, np.uint8), inputs.PRESETS["imagenet"])[0, 0]
    # (1 - 0.485) / 0.229, (1 - 0.456) / 0.224, (1 - 0.406) / 0.225
    assert out == pytest.approx([2.2489083, 2.4285714, 2.64], abs=1e-6)


def test_bgr_reverses_channels_and_manual_values_start_from_raw() -> None:
    px = np.array([[[10, 20, 30]]], np.uint8)
    norm = inputs.make_normalization(None, mean=(1.0, 2.0, 3.0), std=(2.0,), bgr=True)
    assert norm.scale == 1.0 and norm.preset == "manual"
    assert inputs.normalize(px, norm)[0, 0].tolist() == [(30 - 1) / 2, (20 - 2) / 2, (10 - 3) / 2]


def test_default_preset_depends_on_dtype() -> None:
    assert inputs.make_normalization(None, dtype="float32").preset == "paddleseg"
    assert inputs.make_normalization(None, dtype="uint8").preset == "pixels"
    with pytest.raises(UsageError):
        inputs.make_normalization("nope")
    with pytest.raises(UsageError):
        inputs.normalize(np.zeros((1, 1, 3), np.uint8), inputs.make_normalization(None, mean=(1.0, 2.0)))


def test_quantization_rounds_half_away_from_zero_and_clips() -> None:
    u8 = TensorInfo("q", (1, 1, 1, 4), "uint8", "nhwc", scale=1 / 128, zero_point=128)
    x = np.array([-1.0, 1.0, 1 / 256, -1 / 256])  # -> -128, 128, 0.5, -0.5 steps
    assert inputs.cast(x, u8, []).tolist() == [0, 255, 129, 127]
    i8 = TensorInfo("q", (1, 1, 1, 4), "int8", "nhwc", scale=1 / 128, zero_point=0)
    assert inputs.cast(x, i8, []).tolist() == [-128, 127, 1, -1]


def test_unquantized_integer_target_warns_when_it_clips() -> None:
    spec = TensorInfo("q", (1, 1, 1, 2), "uint8", "nhwc")
    warnings: list[str] = []
    # A step or two past the range is rounding at the edge (inputs.SATURATION_MARGIN_STEPS): clipped, not said.
    assert inputs.cast(np.array([-1.0, 254.5]), spec, warnings).tolist() == [0, 255] and not warnings
    assert inputs.cast(np.array([-10.0, 300.0]), spec, warnings).tolist() == [0, 255]
    assert warnings and "clipped" in warnings[0]


# --------------------------------------------------------------------------- resize


def test_pad_keeps_aspect_and_centres(tmp_path: Path) -> None:
    out, rec = inputs.resize(_halves(), (64, 64), "pad")
    # 100x50 scaled by 0.64 -> 64x32, centred: rows 16..47 hold the image.
    assert rec["content_box"] == [0, 16, 64, 48]
    assert out[:16].max() == 0 and out[48:].max() == 0
    assert out[32, 5].tolist() == [255, 0, 0] and out[32, 60].tolist() == [0, 0, 255]


def test_crop_fills_and_cuts_the_sides() -> None:
    out, rec = inputs.resize(_halves(), (64, 64), "crop")
    # 100x50 scaled by 1.28 -> 128x64; the centre 64 columns are kept.
    assert rec["crop_box"] == [32, 0, 96, 64]
    assert out.shape == (64, 64, 3)
    assert out[10, 2].tolist() == [255, 0, 0] and out[10, 61].tolist() == [0, 0, 255]


def test_stretch_ignores_aspect() -> None:
    out, rec = inputs.resize(_halves(), (10, 40), "stretch")
    assert out.shape == (40, 10, 3) and rec["content_box"] == [0, 0, 10, 40]
    assert out[0, 0].tolist() == [255, 0, 0] and out[39, 9].tolist() == [0, 0, 255]


# --------------------------------------------------------------------------- image loading


def test_exif_orientation_is_honoured(tmp_path: Path) -> None:
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: display = rotate 90 degrees clockwise
    Image.fromarray(_halves(40, 20)).save(path, exif=exif, quality=95)
    img = inputs.load_image(path)
    assert img.size == (20, 40) and img.exif_orientation == 6
    # The stored left (red) half is at the top once rotated clockwise.
    assert img.pixels[5, 10, 0] > 200 and img.pixels[5, 10, 2] < 60
    assert img.pixels[35, 10, 2] > 200 and img.pixels[35, 10, 0] < 60


def test_gray_rgba_palette_and_16bit_are_converted_with_a_warning(tmp_path: Path) -> None:
    gray = inputs.load_image(_png(tmp_path / "g.png", np.full((4, 4), 77, np.uint8)))
    assert gray.pixels.shape == (4, 4, 3) and (gray.pixels == 77).all() and "grayscale" in gray.warnings[0]

    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 200, 0
    img = inputs.load_image(_png(tmp_path / "a.png", rgba))
    assert img.pixels[0, 0].tolist() == [200, 0, 0] and "alpha" in img.warnings[0]

    pal = Image.fromarray(_halves(8, 4)).convert("P")
    pal.save(tmp_path / "p.png")
    img = inputs.load_image(tmp_path / "p.png")
    assert img.pixels[0, 0].tolist() == [255, 0, 0] and "palette" in img.warnings[0]

    deep = np.array([[0, 257 * 100, 65535, 257 * 255]], np.uint16)
    Image.fromarray(deep).save(tmp_path / "d.png")
    img = inputs.load_image(tmp_path / "d.png")
    assert img.pixels[0, :, 0].tolist() == [0, 100, 255, 255]
    assert any("16-bit" in w for w in img.warnings)


def _png_rgb16(path: Path, arr: np.ndarray) -> Path:
    """A 16-bit-per-channel RGB PNG written by hand (Pillow cannot write one)."""
    h, w, _ = arr.shape
    raw = b"".join(b"\x00" + arr[y].astype(">u2").tobytes() for y in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    return path


def test_16bit_rgb_png_is_reduced_with_a_warning(tmp_path: Path) -> None:
    arr = np.zeros((2, 3, 3), np.uint16)
    arr[..., 1] = 65535
    img = inputs.load_image(_png_rgb16(tmp_path / "rgb16.png", arr))
    assert img.pixels[0, 0].tolist() == [0, 255, 0]
    assert img.warnings == ("rgb16.png: 16-bit PNG reduced to 8 bits",)


@pytest.mark.parametrize("content", [b"", b"hello, not an image\n", ASTRONAUT.read_bytes()[:2000]])
def test_unreadable_images_raise_input_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(InputError, match="bad.png"):
        inputs.load_image(path)


# --------------------------------------------------------------------------- tensors


def test_prepare_layouts_agree_and_batch_repeats() -> None:
    nchw = inputs.prepare(ASTRONAUT, TensorInfo("x", (2, 3, 64, 48), "float32", "nchw"), inputs.PRESETS["unit"])
    nhwc = inputs.prepare(ASTRONAUT, TensorInfo("x", (1, 64, 48, 3), "float32", "nhwc"), inputs.PRESETS["unit"])
    assert nchw.tensor.shape == (2, 3, 64, 48) and nhwc.tensor.shape == (1, 64, 48, 3)
    assert np.array_equal(nchw.tensor[1], nhwc.tensor[0].transpose(2, 0, 1))
    assert np.array_equal(nchw.tensor[0], nchw.tensor[1]) and nchw.transform["batch_fill"] == "repeat"


def test_dynamic_dims_take_the_image_size() -> None:
    spec = TensorInfo("x", (None, 3, "h", "w"), "float32", "nchw")
    prepared = inputs.prepare(ASTRONAUT, spec, inputs.PRESETS["paddleseg"])
    assert prepared.spec.shape == (1, 3, 512, 512)
    # Astronaut pixel (0, 0) is RGB (154, 147, 151): (154/255 - 0.5)/0.5.
    assert prepared.tensor[0, 0, 0, 0] == np.float32(154 / 255 * 2 - 1)


def test_one_channel_input_gets_gray() -> None:
    prepared = inputs.prepare(ASTRONAUT, TensorInfo("x", (1, 1, 8, 8), "uint8", "nchw"), inputs.PRESETS["raw"])
    assert prepared.tensor.shape == (1, 1, 8, 8) and prepared.tensor.dtype == np.uint8
    assert "grayscale" in prepared.warnings[0]


def _read_back(path: Path, fmt: str, spec: TensorInfo) -> np.ndarray:
    """Each format read by its consumer's own reader."""
    if fmt == "raw":
        return np.fromfile(path, dtype=np.dtype(spec.dtype).newbyteorder("<")).reshape(spec.shape)
    if fmt == "npy":
        return np.load(path)
    if fmt == "ort-pb":
        import onnx
        from onnx import numpy_helper

        proto = onnx.load_tensor(str(path / "input_0.pb"))
        assert proto.name == spec.name
        return numpy_helper.to_array(proto)
    # paddle-txt: Paddle Lite parses each whitespace-separated token into the tensor's type.
    tokens = path.read_text().split()
    if np.dtype(spec.dtype).kind == "f":
        return np.array([np.float32(float(t)) for t in tokens], dtype=spec.dtype).reshape(spec.shape)
    return np.array([int(t) for t in tokens], dtype=spec.dtype).reshape(spec.shape)


@pytest.mark.parametrize("fmt", inputs.FORMATS)
@pytest.mark.parametrize(
    "spec",
    [
        TensorInfo("image", (1, 3, 40, 56), "float32", "nchw"),
        TensorInfo("image", (1, 40, 56, 3), "float16", "nhwc"),
        TensorInfo("image", (1, 40, 56, 3), "uint8", "nhwc", scale=0.5, zero_point=3),
        TensorInfo("image", (1, 3, 40, 56), "int8", "nchw", scale=1 / 128, zero_point=-1),
    ],
    ids=["f32", "f16", "u8q", "i8q"],
)
def test_every_format_reads_back_exactly(tmp_path: Path, fmt: str, spec: TensorInfo) -> None:
    prepared = inputs.prepare(ASTRONAUT, spec, inputs.PRESETS["imagenet" if spec.dtype.startswith("f") else "unit"])
    out = tmp_path / f"t{inputs.SUFFIX[fmt]}"
    record = inputs.write_one(prepared, fmt, out)
    back = _read_back(out, fmt, prepared.spec)
    assert back.dtype == prepared.tensor.dtype and np.array_equal(back, prepared.tensor)
    assert inputs.sidecar_path(out).is_file() and record["target"]["shape"] == list(spec.shape)
    if fmt == "raw":
        assert out.stat().st_size == prepared.tensor.nbytes == record["output"]["bytes"]
        assert record["tensor_sha256"] == record["output"]["sha256"]


def test_paddle_txt_full_size_is_exact(tmp_path: Path) -> None:
    prepared = inputs.prepare(ASTRONAUT, NCHW, inputs.PRESETS["imagenet"])
    inputs.write_tensor(prepared.tensor, "paddle-txt", tmp_path / "in.txt", "x")
    back = np.loadtxt(tmp_path / "in.txt", dtype=np.float32).reshape(NCHW.shape)
    assert np.array_equal(back, prepared.tensor)


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.float32, (2, 3), elements=st.floats(width=32, allow_nan=False, allow_infinity=False)))
def test_paddle_txt_round_trips_any_float32(tmp_path_factory: pytest.TempPathFactory, arr: np.ndarray) -> None:
    path = tmp_path_factory.mktemp("txt") / "a.txt"
    inputs.write_tensor(arr, "paddle-txt", path, "x")
    back = np.array([np.float32(t) for t in path.read_text().split()], np.float32).reshape(arr.shape)
    assert np.array_equal(back.view(np.uint32), arr.view(np.uint32))  # bit-exact, -0.0 included


# --------------------------------------------------------------------------- model targets


def test_target_from_the_selfie_model() -> None:
    target = inputs.resolve_target(SELFIE)
    assert (target.name, target.shape, target.dtype, target.layout) == ("input_1", (1, 256, 256, 3), "float32", "nhwc")


def test_target_mismatches_are_input_errors() -> None:
    with pytest.raises(InputError, match="does not match"):
        inputs.resolve_target(SELFIE, shape=(1, 3, 256, 256))
    with pytest.raises(InputError, match="--dtype uint8 does not match"):
        inputs.resolve_target(SELFIE, dtype="uint8")
    with pytest.raises(UsageError, match="layout"):
        inputs.resolve_target(shape=(1, 7, 9, 11))


# --------------------------------------------------------------------------- tensor_for_input (segbench run --input)

SMALL = TensorInfo("x", (1, 3, 8, 8), "float32", "nchw")


def test_tensor_for_input_from_an_image_uses_the_default_preset() -> None:
    got = inputs.tensor_for_input(ASTRONAUT, SMALL)
    assert np.array_equal(got, inputs.prepare(ASTRONAUT, SMALL, inputs.PRESETS["paddleseg"]).tensor)
    u8 = inputs.tensor_for_input(ASTRONAUT, TensorInfo("x", (1, 8, 8, 3), "uint8", None))
    assert u8.dtype == np.uint8 and u8.shape == (1, 8, 8, 3) and u8.max() > 200


def test_tensor_for_input_from_tensor_files(tmp_path: Path) -> None:
    arr = np.arange(192, dtype=np.float32).reshape(SMALL.shape)
    np.save(tmp_path / "a.npy", arr)
    arr.astype("<f4").tofile(tmp_path / "a.bin")
    inputs.write_tensor(arr, "ort-pb", tmp_path / "pb", "x")
    (tmp_path / "pb" / "input_0.pb").rename(tmp_path / "a.pb")
    for name in ("a.npy", "a.bin", "a.pb"):
        assert np.array_equal(inputs.tensor_for_input(tmp_path / name, SMALL), arr), name
    dynamic = TensorInfo("x", (None, 3, 8, 8), "float32", "nchw")
    assert inputs.tensor_for_input(tmp_path / "a.npy", dynamic).shape == SMALL.shape


def test_tensor_for_input_mismatches(tmp_path: Path) -> None:
    np.save(tmp_path / "f64.npy", np.zeros(SMALL.shape))
    np.save(tmp_path / "shape.npy", np.zeros((1, 3, 8, 9), np.float32))
    (tmp_path / "short.raw").write_bytes(b"\0" * 100)
    (tmp_path / "junk.npy").write_bytes(b"junk")
    expected = {
        "f64.npy": "holds float64 [1,3,8,8], input 'x' wants float32 [1,3,8,8]",
        "shape.npy": "holds float32 [1,3,8,9]",
        "short.raw": "100 bytes, but input 'x' float32 [1,3,8,8] is 768 bytes",
        "junk.npy": "not a readable .npy tensor",
        "missing.png": "no such file",
    }
    for name, message in expected.items():
        with pytest.raises(InputError, match=message.replace("[", r"\[")):
            inputs.tensor_for_input(tmp_path / name, SMALL)


# --------------------------------------------------------------------------- collecting images and naming outputs


def test_collect_and_name_outputs(tmp_path: Path) -> None:
    (tmp_path / "d" / "city").mkdir(parents=True)
    for rel in ("d/x.png", "d/city/y.JPG", "d/readme.md"):
        (tmp_path / rel).write_bytes(b"")
    pairs, batch = inputs.collect_images([tmp_path / "d"])
    assert batch and [str(rel) for _, rel in pairs] == ["city/y", "x"]
    assert inputs.output_paths(pairs, batch, "npy", tmp_path / "o") == [tmp_path / "o/city/y.npy", tmp_path / "o/x.npy"]
    assert inputs.output_paths(pairs, batch, "ort-pb", None) == [Path("inputs/test_data_set_0"), Path("inputs/test_data_set_1")]
    single, batch = inputs.collect_images([tmp_path / "d" / "x.png"])
    # one image: next to it, as the seed keeps image1.txt beside image1.jpg
    assert not batch and inputs.output_paths(single, batch, "raw", None) == [tmp_path / "d" / "x.raw"]
    assert inputs.output_paths(single, batch, "ort-pb", None) == [tmp_path / "d" / "test_data_set_0"]


def test_collect_refuses_clashing_names_and_a_file_as_batch_root(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(b"")
    (tmp_path / "a.jpg").write_bytes(b"")
    with pytest.raises(UsageError, match="same output: a"):
        inputs.collect_images([tmp_path])
    pairs, _ = inputs.collect_images([tmp_path / "a.png"])
    (tmp_path / "f").write_text("x")
    with pytest.raises(SegbenchError, match="it is a file"):
        inputs.output_paths(pairs, True, "raw", tmp_path / "f")
