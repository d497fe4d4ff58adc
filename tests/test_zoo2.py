"""Model zoo II: TI edgeailite, MLPerf DeepLabv3 and MOSAIC definitions, their exports and published figures."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import assert_one_line_error, run_cli

torch = pytest.importorskip("torch", reason="the zoo extra (torch==2.13.0) is not installed")

from segbench.models import read_manifest  # noqa: E402
from segbench.zoo import edgeai, mosaic  # noqa: E402
from segbench.zoo.build import build_net, count_params, gmacs, stats  # noqa: E402
from segbench.zoo.export import export_model  # noqa: E402
from segbench.zoo.registry import ZOO2, export_stem, export_title, get  # noqa: E402

NAMES = [m.name for m in ZOO2]
TI = [m.name for m in ZOO2 if m.name.startswith("ti_")]
# TI's table (docs/pixel2pixel/Semantic_Segmentation.md, "Results"), GigaMACs: the targets.
TI_GMACS = {"ti_deeplabv3plus_mnv2_ade20k32": 3.28, "ti_unet_mnv2_ade20k32": 2.427, "ti_fpn_mnv2_ade20k32": 3.481,
            "ti_deeplabv3plus_mnv2_cityscapes": 3.54, "ti_unet_mnv2_cityscapes": 2.20, "ti_fpn_mnv2_cityscapes": 3.84}
# Measured: TI's ADE20K32 UNet row is 3.2% above its own definition, the only row outside 3% (docs/zoo.md:
# TI's own code gives 2.349 too, and the same definitions give TI's COCOSeg21 rows to 0.01%, so the ADE20K32
# column, not the structure, is off).
TOLERANCE = {"ti_unet_mnv2_ade20k32": 0.035}


@pytest.mark.parametrize("name", TI)
def test_ti_gmacs_within_3_percent_of_the_table(name: str) -> None:
    measured = stats(name).gmacs  # meta device: shapes only, at the published size
    assert get(name).published["gmacs"] == TI_GMACS[name]
    assert abs(measured / TI_GMACS[name] - 1) < TOLERANCE.get(name, 0.03), measured


@pytest.mark.parametrize("cls, published", [
    (edgeai.DeepLabV3PlusEdgeAILite, 3.161), (edgeai.UNetEdgeAILite, 2.009), (edgeai.FPNEdgeAILite, 3.357)])
def test_ti_cocoseg21_gmacs_exact(cls, published: float) -> None:
    # TI's COCOSeg21 rows (21 classes, 512x512): the definitions reproduce all three to the printed digits.
    with torch.device("meta"):
        net = cls(21).eval()
    assert round(gmacs(net, 512), 3) == published


def test_ti_cityscapes_fpn_1536x768_row() -> None:
    # TI's table also has Cityscapes FPN at 1536x768: 15.07 GMACs, 4x the definition's 768x384 count, which
    # shows the 768x384 row (3.84, -1.9%) is the inconsistent one.
    assert abs(stats("ti_fpn_mnv2_cityscapes", (768, 1536)).gmacs / 15.07 - 1) < 0.001


def test_cityscapes_input_is_384x768_and_ti_output_strides() -> None:
    assert get("ti_unet_mnv2_cityscapes").input_size == (384, 768)
    x = torch.zeros(1, 3, 64, 128)
    with torch.no_grad():
        # DeepLabV3+ and FPN predict at 1/4, UNet at 1/2 (the export head upsamples).
        assert build_net("ti_deeplabv3plus_mnv2_cityscapes")(x).shape == (1, 19, 16, 32)
        assert build_net("ti_fpn_mnv2_ade20k32")(x).shape == (1, 32, 16, 32)
        assert build_net("ti_unet_mnv2_cityscapes")(x).shape == (1, 19, 32, 64)


def test_ti_dwaspp_params_hand_checked() -> None:
    # 320 -> 256: 1x1 branch 81,920 + BN 512; each dilated branch dw 3x3 2,880 + BN 640 + pw 81,920 + BN 512;
    # projection 1,024 -> 256: 262,144 + BN 512.
    assert count_params(edgeai.DWASPPLite(320)) == 81_920 + 512 + 3 * (2_880 + 640 + 81_920 + 512) + 262_144 + 512


def test_mosaic_blocks_hand_checked() -> None:
    # Shared grouped conv over 96 = 2 x 48 channels: dw 3x3 (432) + BN (96) + 1x1 48->64 (3,072) + BN (128),
    # and dw 5x5 (1,200) + BN (96) + 3,072 + 128.
    assert count_params(mosaic.MultiKernelGroupConv(96)) == 432 + 96 + 3_072 + 128 + 1_200 + 96 + 3_072 + 128
    # Bins: kernel = stride + remainder. 17x33 in 4 bins: kernel (5, 9), stride (4, 8) -> 4x4 cells.
    x = torch.arange(17 * 33, dtype=torch.float32).reshape(1, 1, 17, 33)
    pooled = mosaic.bin_pool(x, 4)
    assert pooled.shape == (1, 1, 4, 4)
    assert float(pooled[0, 0, 0, 0]) == float(x[0, 0, :5, :9].mean())
    # The neck at 1/16 of 1024x2048 (64x128, 96 ch) and the decoder's 1/4 output.
    net = build_net("mosaic_mnmultiavgseg_cityscapes")
    with torch.no_grad():
        outs, dws = net.backbone.features(torch.zeros(1, 3, 256, 512))
        assert outs[-1].shape == (1, 96, 16, 32)
        assert dws[mosaic.LEVEL3].shape == (1, 192, 32, 64) and dws[mosaic.LEVEL2].shape == (1, 64, 64, 128)
        assert net(torch.zeros(1, 3, 256, 512)).shape == (1, 19, 64, 128)


def test_mlperf_deeplab_structure() -> None:
    net = build_net("mlperf_deeplabv3_mnv2")
    with torch.no_grad():
        outs, dws = net.encoder.features(torch.zeros(1, 3, 128, 128))
    assert dws[2].shape == (1, 144, 32, 32)  # TF 'layer_4/depthwise_output' at 1/4
    assert outs[-1].shape == (1, 320, 8, 8)  # output stride 16
    # The 160 and 320 stages are dilated instead of strided (TF DeepLab's output_stride rule).
    assert [b.depthwise.conv.dilation[0] for b in net.encoder.blocks[13:]] == [2, 2, 2, 2]
    assert net(torch.zeros(1, 3, 128, 128)).shape == (1, 32, 32, 32)


def test_names_and_sizes() -> None:
    ti = get("ti_fpn_mnv2_cityscapes")
    assert export_stem(ti, "argmax", (384, 768)) == "ti_fpn_mnv2_cityscapes"
    assert export_stem(ti, "logits", (192, 384)) == "ti_fpn_mnv2_cityscapes_logits_192x384"
    assert export_title(ti, "argmax", 256) == "MobileNetV2+FPNEdgeAILite (Cityscapes) @256"
    mo = get("mosaic_mnmultiavgseg_cityscapes")
    assert mo.default_head == "logits" and export_stem(mo, "logits", (1024, 2048)) == mo.name


@pytest.mark.parametrize("name", NAMES)
def test_export_runs_in_onnxruntime(name: str, tmp_path) -> None:
    model = get(name)
    size = (256, 512) if name.startswith("mosaic") else (64, 128)
    # The logits head is the strict check (values within 1e-4); label heads are checked by the CLI tests.
    r = export_model(name, "logits", size, tmp_path)  # raises when ORT and torch disagree
    assert r.path.is_file() and r.size == size and r.max_abs_diff is not None
    entry = r.manifest_entry()
    assert entry["input_size"] == list(size) and entry["dataset"] == model.dataset
    assert entry["zoo"]["num_classes"] == model.num_classes and "published" not in entry  # not the published size
    assert abs(r.params_onnx - (r.params - r.bn_channels)) / r.params < 0.001  # BatchNorm folded


@pytest.mark.slow  # a full-size (384x768) export and check
def test_cli_export_published_setting_manifest_and_inspect(tmp_path) -> None:
    models = tmp_path / "models"
    r = run_cli("zoo", "export", "ti_unet_mnv2_cityscapes", "-o", str(models))
    assert r.code == 0, r.err
    assert "384x768" in r.err
    e = read_manifest(models)["ti_unet_mnv2_cityscapes.onnx"]
    assert e.name == "MobileNetV2+UNetEdgeAILite (Cityscapes)" and e.dataset == "Cityscapes" and e.input_size == (384, 768)
    assert e.published == {"miou": 68.94, "gmacs": 2.20, "source": get("ti_unet_mnv2_cityscapes").source}
    assert e.extra["head"] == "argmax" and e.extra["zoo"]["num_classes"] == 19
    info = run_cli("inspect", str(models / "ti_unet_mnv2_cityscapes.onnx"), "--json")
    assert info.code == 0, info.err
    macs = json.loads(info.out)["models"][0]["macs"]
    assert abs(macs / 1e9 / 2.20 - 1) < 0.03 and round(macs / 1e9, 4) == e.extra["zoo"]["gmacs"]


@pytest.mark.parametrize("args", [
    ["ti_unet_mnv2_cityscapes", "--size", "100"],  # not a multiple of 32
    ["mosaic_mnmultiavgseg_cityscapes", "--size", "128x256"],  # its 16-bin pooling needs 256 and up
    ["ti_unet_mnv2_cityscapes", "--size", "384xfoo"],
    ["ti_unet_mnv2_cityscapes", "--size", "0"],
])
def test_cli_bad_sizes(args: list[str], tmp_path) -> None:
    assert_one_line_error(run_cli("zoo", "export", *args, "-o", str(tmp_path)), 2)
    assert not list(tmp_path.glob("*.onnx"))


def test_cli_export_then_run_on_host_and_report(tmp_path) -> None:
    models, reports = tmp_path / "models", tmp_path / "reports"
    # Default heads (argmax, argmax, logits) at a reduced size; MOSAIC needs 256 and up.
    r = run_cli("zoo", "export", "mlperf_deeplabv3_mnv2", "ti_fpn_mnv2_ade20k32", "mosaic_mnmultiavgseg_cityscapes",
                "--size", "256", "-o", str(models))
    assert r.code == 0, r.err
    run = run_cli("run", "--models", str(models), "--threads", "1", "--warmup", "1", "--repeats", "2",
                  "--reports", str(reports), "-q")
    assert run.code == 0, run.err
    report = run_cli("report", "--reports", str(reports))
    assert report.code == 0, report.err
    for name in ("DeepLabv3-MobileNetV2 (MLPerf) @256", "MobileNetV2+FPNEdgeAILite @256",
                 "MOSAIC-MobileNetMultiAVGSeg @256"):
        assert name in report.out


@pytest.mark.slow
def test_inspect_gmacs_of_full_size_ti_exports(tmp_path) -> None:
    # `segbench inspect` on the exported graphs at the published sizes, against TI's table.
    from segbench.modelinfo import inspect_model
    from segbench.zoo.export import _torch_export
    from segbench.zoo.heads import Segmenter

    for name in TI:
        model = get(name)
        path = tmp_path / f"{name}.onnx"
        _torch_export(Segmenter(build_net(name), "argmax").eval(), torch.zeros(1, 3, *model.input_size), path, "argmax")
        macs = inspect_model(path).macs / 1e9
        assert abs(macs - stats(name).gmacs) < 1e-6  # the same convention as torch's counter
        assert abs(macs / TI_GMACS[name] - 1) < TOLERANCE.get(name, 0.03), (name, macs)


@pytest.mark.slow
def test_mosaic_full_size_export(tmp_path) -> None:
    r = export_model("mosaic_mnmultiavgseg_cityscapes", "logits", (1024, 2048), tmp_path)
    assert r.path.name == "mosaic_mnmultiavgseg_cityscapes.onnx"
    entry = r.manifest_entry()
    assert entry["published"]["miou"] == 77.24 and entry["input_size"] == [1024, 2048]
    import onnxruntime as ort

    sess = ort.InferenceSession(str(r.path), providers=["CPUExecutionProvider"])
    out = sess.run(None, {"image": np.zeros((1, 3, 1024, 2048), np.float32)})[0]
    assert out.shape == (1, 19, 1024, 2048)


@pytest.mark.slow
def test_zoo2_model_runs_on_the_emulated_mi9(tmp_path) -> None:
    # One exported zoo II model through `segbench run --device` on the emulated MI 9 (tests/test_run_device.py
    # shows the set-up): its onnxruntime_perf_test stand-in runs the real file with ONNX Runtime.
    import shutil
    import subprocess

    from adbutils import adb_path

    from conftest import ROOT
    from segbench.emulator import EmulatedPhone
    from segbench.emulator.phone import free_port

    models, reports, assets = tmp_path / "models", tmp_path / "reports", tmp_path / "assets"
    r = run_cli("zoo", "export", "ti_unet_mnv2_cityscapes", "--size", "64x128", "-o", str(models), "-q")
    assert r.code == 0, r.err
    (assets / "arm64-v8a").mkdir(parents=True)
    shutil.copy(ROOT / "device_assets" / "manifest.toml", assets / "manifest.toml")
    for tool in ("benchmark_bin", "benchmark_model", "onnxruntime_perf_test", "libonnxruntime.so"):
        (assets / "arm64-v8a" / tool).write_bytes(b"\x7fELF\x02\x01\x01" + tool.encode())  # stand-ins run by name
    adb_port = free_port(range(25100, 25160))
    subprocess.run([adb_path(), "-P", str(adb_port), "start-server"], capture_output=True, timeout=30, check=False)
    try:
        with EmulatedPhone(port=free_port(range(27000, 28000)), adb_port=adb_port) as phone:
            run = run_cli("run", "--device", phone.serial, "--assets", str(assets), "--reports", str(reports),
                          "--models", str(models), "--threads", "1", "--warmup", "1", "--repeats", "3",
                          env={"ANDROID_ADB_SERVER_PORT": str(adb_port)}, timeout=600)
    finally:
        subprocess.run([adb_path(), "-P", str(adb_port), "kill-server"], capture_output=True, timeout=30, check=False)
    assert run.code == 0, run.err
    recs = [json.loads(line) for d in (reports / "runs").iterdir() for line in (d / "results.jsonl").read_text().splitlines()]
    assert len(recs) == 1 and recs[0]["status"] == "ok", recs
    assert recs[0]["model"]["name"] == "MobileNetV2+UNetEdgeAILite (Cityscapes) @64x128"
    assert recs[0]["tool"] == "onnxruntime_perf_test" and recs[0]["count"] == 3
