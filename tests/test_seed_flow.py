"""The seed's own flow, as PP-MobileSeg's README runs it: PaddleSeg exports in, the paper's table out.

PaddleSeg's own classes (paddleseg 2.8.0 on paddlepaddle 2.6.2, Python 3.10) build PP-MobileSeg-Tiny (with VIM)
and -Base (with the final argmax), ``paddle.jit.save`` writes them in the seed's models_dir layout, one folder per
model with the ``deploy.yaml`` PaddleSeg's tools/export.py writes. Then the mission's three commands, unchanged:
``segbench gen-input image.jpg``, ``segbench run [--device SERIAL] --models models_dir``, ``segbench report
--format markdown``. The exports are 128x128 (the README's are 512x512) to keep the timed runs short on CI.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import ASTRONAUT, ROOT, run_cli
from segbench.emulator import EmulatedPhone, stub_assets
from segbench.emulator.phone import free_port

pytest.importorskip("paddlelite", reason="paddlelite (Python 3.10, the paddle extra) is not installed")
pytest.importorskip("paddleseg", reason="paddleseg (Python 3.10, the paddle extra) is not installed")

pytestmark = [pytest.mark.slow, pytest.mark.paddle]

ADB_PORTS = range(31037, 31100)
PHONE_PORTS = range(31100, 32000)
SIZE = 128
DEPLOY = """Deploy:
  input_shape: [1, 3, {size}, {size}]
  model: model.pdmodel
  output_dtype: {dtype}
  output_op: {op}
  params: model.pdiparams
  transforms:
  - type: Normalize
"""


def _export(folder: Path, variant: str) -> None:
    import paddle
    from paddleseg.deploy.export import WrappedModel
    from paddleseg.models import PPMobileSeg
    from paddleseg.models.backbones import MobileSeg_Base, MobileSeg_Tiny

    paddle.seed(0)
    if variant == "tiny":  # the README's export: VIM, --output_op none
        backbone = MobileSeg_Tiny(inj_type="AAM", out_feat_chs=[32, 64, 128])
        model, op, dtype = PPMobileSeg(num_classes=150, backbone=backbone, upsample="vim"), "none", "float32"
    else:  # without VIM the README sets --output_op argmax
        backbone = MobileSeg_Base(inj_type="AAMSx8", out_feat_chs=[64, 128, 192])
        model = WrappedModel(PPMobileSeg(num_classes=150, backbone=backbone, upsample="intepolate"), "argmax")
        op, dtype = "argmax", "int32"
    model.eval()
    spec = [paddle.static.InputSpec([1, 3, SIZE, SIZE], "float32", "x")]
    paddle.jit.save(paddle.jit.to_static(model, input_spec=spec), str(folder / "model"))
    (folder / "deploy.yaml").write_text(DEPLOY.format(size=SIZE, op=op, dtype=dtype))


@pytest.fixture(scope="module")
def speed_test_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seed's Speed_test_dir: models_dir/pp_mobileseg_{base,tiny}/ (+ this repository's manifest.toml, as a
    user who drops the folders into models_dir has it), image1.jpg, and device_assets."""
    root = tmp_path_factory.mktemp("Speed_test_dir")
    models = root / "models_dir"
    for variant in ("tiny", "base"):
        (models / f"pp_mobileseg_{variant}").mkdir(parents=True)
        _export(models / f"pp_mobileseg_{variant}", variant)
    shutil.copy(ROOT / "models_dir" / "manifest.toml", models / "manifest.toml")
    from PIL import Image

    Image.open(ASTRONAUT).convert("RGB").save(root / "image1.jpg", quality=95)
    stub_assets(root / "device_assets", ROOT / "device_assets" / "manifest.toml")
    return root


def test_the_exports_are_what_paddleseg_itself_reads(speed_test_dir: Path) -> None:
    from paddleseg.deploy.infer import DeployConfig

    for variant in ("tiny", "base"):
        folder = speed_test_dir / "models_dir" / f"pp_mobileseg_{variant}"
        assert sorted(p.name for p in folder.iterdir()) == ["deploy.yaml", "model.pdiparams", "model.pdiparams.info",
                                                            "model.pdmodel"]
        assert Path(DeployConfig(str(folder / "deploy.yaml")).model) == folder / "model.pdmodel"


def _comparison(report: str) -> tuple[str, dict[str, str]]:
    """The comparison's title and its rows' latency cells by model."""
    title = next(line for line in report.splitlines() if line.startswith("## Comparison"))
    cells = {}
    for line in report.splitlines():
        parts = [p.strip() for p in line.strip("|").split("|")]
        if len(parts) >= 4 and parts[0].startswith("PP-MobileSeg"):
            cells[parts[0]] = parts[3]
    return title, cells


def _check_flow(root: Path, run_args: tuple[str, ...], tool: str) -> None:
    made = run_cli("gen-input", "image1.jpg", cwd=root)
    assert made.code == 0, made.err
    values = (root / "image1.txt").read_text().split()
    assert len(values) == 3 * 512 * 512  # the seed's benchmark_bin input, for its 512x512 exports
    ran = run_cli("run", *run_args, "--models", "models_dir", cwd=root, timeout=900)
    assert ran.code == 0, ran.err
    records = [json.loads(line) for f in (root / "reports").glob("runs/*/results.jsonl")
               for line in f.read_text().splitlines()]
    assert sorted(r["model"]["name"] for r in records) == ["PP-MobileSeg-Base", "PP-MobileSeg-Tiny"]
    for r in records:
        assert r["status"] == "ok" and r["tool"] == tool and r["threads"] == 1 and r["power_mode"] == "high"
        assert r["warmup"] == 20 and r["repeats"] == 50 and r["latency_ms"]["min"] > 0
    report = run_cli("report", "--format", "markdown", cwd=root)
    assert report.code == 0, report.err
    assert "no measured runs" not in report.out
    title, cells = _comparison(report.out)
    assert "latency: min of the timed runs, threads=1,power_mode=high" in title
    by_name = {r["model"]["name"]: r for r in records}
    for name, published in (("PP-MobileSeg-Tiny", 215.3), ("PP-MobileSeg-Base", 265.5)):
        measured = by_name[name]["latency_ms"]["min"]
        # the measured min, then the paper's figure for the same model with the difference from it
        m = re.fullmatch(r"([\d.]+) \[(\d+)\] \(published ([\d.]+) \[\d+\], ([+-][\d.]+)%\)", cells[name])
        assert m, cells[name]
        assert float(m.group(1)) == pytest.approx(measured, rel=0.01, abs=0.01)
        assert float(m.group(3)) == published
        assert float(m.group(4)) == pytest.approx(100 * (float(m.group(1)) / published - 1), abs=0.1)
    assert "the min of the timed runs" in report.out  # the footer says which statistic the paper's column is


@pytest.fixture
def phone(adb_port: int) -> Iterator[EmulatedPhone]:
    with EmulatedPhone(port=free_port(PHONE_PORTS), adb_port=adb_port) as p:
        yield p


def test_the_missions_commands_on_the_emulated_mi9(speed_test_dir: Path, tmp_path: Path, phone: EmulatedPhone,
                                                    adb_port: int, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "Speed_test_dir"
    shutil.copytree(speed_test_dir, root)
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(adb_port))
    _check_flow(root, ("--device", phone.serial), "benchmark_bin")
    (run,) = (root / "reports" / "runs").iterdir()
    for log in (run / "logs").iterdir():
        text = log.read_text()
        # PP-MobileSeg's linear_interp_v2 is in Paddle Lite's ARM build, not its x86 one: Paddle Inference stood in
        assert "benchmark_bin version: segbench-emulator (host runtime: paddle-inference-python 2.6.2)" in text
        assert "======= Opt Info =======" in text and "Load paddle model from" in text


def test_the_missions_commands_on_this_machine(speed_test_dir: Path, tmp_path: Path) -> None:
    root = tmp_path / "Speed_test_dir"
    shutil.copytree(speed_test_dir, root)
    _check_flow(root, (), "paddle-inference-python")
