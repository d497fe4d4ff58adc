"""`zoo export --format onnx,tflite,paddle,nb --quant none,int8`: each format checked against its source model before
it is written, int8 calibrated on real images, the manifest next to the files (never the repository's)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import ASTRONAUT, ROOT, assert_one_line_error, run_cli
from segbench.compat import tomllib

REPO_MANIFEST = ROOT / "models_dir" / "manifest.toml"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _entries(directory: Path) -> dict[str, dict]:
    return {e["file"]: e for e in tomllib.loads((directory / "manifest.toml").read_text())["model"]}


def _blocked(tmp_path: Path, *modules: str) -> dict[str, str]:
    """PYTHONPATH for a Python where ``modules`` cannot be imported."""
    for m in modules:
        (tmp_path / "blocked" / m).mkdir(parents=True)
        (tmp_path / "blocked" / m / "__init__.py").write_text("raise ImportError('blocked for the test')\n")
    return {"PYTHONPATH": f"{tmp_path / 'blocked'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}


def test_a_missing_converter_is_one_line_naming_the_extra(tmp_path: Path) -> None:
    r = run_cli("zoo", "export", "topformer_tiny", "--size", "64", "--format", "tflite", "-o",
                str(tmp_path / "out"), env=_blocked(tmp_path, "litert_torch"))
    assert_one_line_error(r, 1)
    assert "--format tflite needs litert_torch" in r.err and "[zoo-tflite]" in r.err, r.err
    assert not (tmp_path / "out" / "manifest.toml").exists()  # nothing was made: the check comes first


def test_a_missing_converter_skips_its_format_and_the_others_are_made(tmp_path: Path) -> None:
    """Issue 23's command names formats no one Python has (paddle: 3.10, litert-torch: 3.11): each interpreter makes
    what it can, says in one line per format what it skipped and which Python has it, and exits 0."""
    pytest.importorskip("torch")
    out = tmp_path / "out"
    r = run_cli("zoo", "export", "topformer_tiny", "--size", "64", "--format", "onnx,tflite", "--quant", "none,int8",
                "-o", str(out), env=_blocked(tmp_path, "litert_torch"))
    assert r.code == 0, r.err
    notes = [ln for ln in r.err.splitlines() if "litert_torch" in ln]
    assert len(notes) == 1 and notes[0].startswith("segbench: note: --format tflite needs litert_torch"), r.err
    assert "Python 3." in notes[0] and "tflite none/int8 skipped" in notes[0], notes
    assert "skipped on this Python" in r.out and "tflite none, tflite int8" in r.out, r.out
    assert set(_entries(out)) == {"topformer_tiny_64.onnx", "topformer_tiny_64_int8.onnx"}


@pytest.mark.skipif(sys.version_info[:2] == (3, 10), reason="paddle formats are this Python's")
def test_paddle_formats_name_python_310_elsewhere(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    r = run_cli("zoo", "export", "topformer_tiny", "--format", "paddle", "-o", str(tmp_path),
                env=_blocked(tmp_path, "paddleseg") if "paddleseg" in sys.modules else None)
    assert_one_line_error(r, 1)
    assert "Python 3.10" in r.err and "[paddle]" in r.err, r.err


def test_unknown_format_and_quant_are_usage_errors(tmp_path: Path) -> None:
    for args in (["--format", "coreml"], ["--quant", "int4"], ["--format", "nb", "--quant", "int8"]):
        assert_one_line_error(run_cli("zoo", "export", "topformer_tiny", *args, "-o", str(tmp_path)), 2)


@pytest.mark.slow
def test_onnx_int8_is_calibrated_checked_and_written_next_to_its_files(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    before = _sha(REPO_MANIFEST)
    out = tmp_path / "md"
    r = run_cli("zoo", "export", "topformer_tiny", "--size", "64", "--head", "logits", "--quant", "none,int8",
                "--calibration", str(ASTRONAUT), "-o", str(out), cwd=ROOT)
    assert r.code == 0, r.err
    assert _sha(REPO_MANIFEST) == before  # the tracked manifest is never written unless -o names its folder
    assert sorted(p.name for p in out.iterdir()) == ["manifest.toml", "topformer_tiny_logits_64.onnx",
                                                     "topformer_tiny_logits_64_int8.onnx"]
    entries = _entries(out)
    fp, q = entries["topformer_tiny_logits_64.onnx"], entries["topformer_tiny_logits_64_int8.onnx"]
    assert (fp["format"], fp["quant"], q["format"], q["quant"]) == ("onnx", "none", "onnx", "int8")
    assert set(q["converters"]) == {"torch", "onnxruntime"} and q["converters"]["torch"].startswith("2.13.0")
    assert fp["zoo"]["check"]["max_abs_diff"] < 1e-3
    check = q["zoo"]["check"]
    assert check["calibration"] == [str(ASTRONAUT)] and 0.0 <= check["argmax_agreement"] <= 1.0
    assert 0.05 <= check["kappa"] <= 1.0 and 0.0 <= check["chance_agreement"] < check["argmax_agreement"]
    assert "max_abs_diff" in check["float_graph"]
    assert q["name"].endswith(" int8") and q["input_preset"] == "paddleseg" and "published" not in q
    # inspected: the int8 file holds int8 weights, and the same MACs as the float graph
    assert q["inspect"]["macs"] == fp["inspect"]["macs"] > 0 and q["inspect"]["params"] > 0
    # the recipe of the int8 file is its producer's (the calibration preset), read from the manifest beside it
    from segbench.inputs import model_input, recipe_for

    path = out / "topformer_tiny_logits_64_int8.onnx"
    recipe = recipe_for(path, model_input(path))
    assert recipe.norm.preset == "paddleseg" and recipe.source.startswith("manifest.toml input_preset")


def test_int8_below_the_kappa_floor_fails_and_leaves_nothing(tmp_path: Path, monkeypatch) -> None:
    pytest.importorskip("torch")
    from segbench.zoo import convert
    from segbench.zoo.export import ExportCheckFailed, export_model

    monkeypatch.setattr(convert, "INT8_MIN_KAPPA", 1.01)  # no quantised model agrees better than identically
    with pytest.raises(ExportCheckFailed, match="agree with the float model on only"):
        export_model("topformer_tiny", "argmax", 64, tmp_path, fmt="onnx", quant="int8", calibration=[ASTRONAUT])
    assert list(tmp_path.iterdir()) == []


def _blobs(classes: int, dominant: float = 0.0, seed: int = 0) -> np.ndarray:
    """A [1, 64, 64] label map of 8x8 blocks (a segmentation's spatial structure), a ``dominant`` share of them
    class 0 and the rest drawn from all classes."""
    rng = np.random.default_rng(seed)
    blocks = np.where(rng.random((8, 8)) < dominant, 0, rng.integers(0, classes, (8, 8)))
    return np.kron(blocks, np.ones((8, 8), dtype=np.int64))[None]


def test_int8_check_passes_labels_that_drift_but_follow_the_float_model() -> None:
    """TI's UNet at 512 (docs/zoo.md): its int8 labels agree with float on 15.4%, chance being 6.1%. A map that keeps
    the float labels on a fifth of the blocks and is unrelated elsewhere is that case: below the raw 20% that the
    check used to demand, well above chance, and written."""
    from segbench.zoo import convert

    want = _blobs(32)
    rng = np.random.default_rng(1)
    keep = np.kron(rng.random((8, 8)) < 0.12, np.ones((8, 8), dtype=bool))[None]
    got = np.where(keep, want, _blobs(32, seed=2))
    check = convert.int8_check("m [argmax] int8 onnx", [(want, got)], [ASTRONAUT])
    assert check["argmax_agreement"] < 0.2 and check["chance_agreement"] < 0.07
    a, c = check["argmax_agreement"], check["chance_agreement"]
    assert check["kappa"] == pytest.approx((a - c) / (1 - c), abs=2e-4) and check["kappa"] >= convert.INT8_MIN_KAPPA


@pytest.mark.parametrize("broken", ["constant", "permuted", "unrelated"])
def test_int8_check_fails_labels_unrelated_to_the_float_model_even_where_one_class_dominates(broken: str) -> None:
    """MLPerf DeepLabv3's float labels are 97.6% one class on the astronaut, so a collapsed int8 output (one class
    everywhere) would agree on about that much: raw agreement passed it; agreement beyond chance does not."""
    from segbench.zoo import convert

    want = _blobs(32, dominant=0.95)
    got = {"constant": np.zeros_like(want), "permuted": (want + 1) % 32, "unrelated": _blobs(32, 0.95, seed=3)}[broken]
    with pytest.raises(convert.ExportCheckFailed, match=r"agree with the float model on only .*\(Cohen's kappa"):
        convert.int8_check("m [argmax] int8 onnx", [(want, got)], [ASTRONAUT])


def test_kappa_is_agreement_beyond_the_class_shares_chance() -> None:
    from segbench.zoo.convert import kappa

    a = np.array([0, 0, 1, 1, 2, 2, 2, 2])
    assert kappa(a, a) == (1.0, 0.375, 1.0)  # chance: 0.25^2 + 0.25^2 + 0.5^2
    assert kappa(a, np.zeros_like(a)) == (0.25, 0.25, 0.0)  # a constant output agrees only by chance
    assert kappa(np.full(4, 5), np.full(4, 5)) == (1.0, 1.0, 1.0)  # one and the same class: identical
    share, chance, k = kappa(a, np.array([0, 1, 1, 0, 2, 2, 2, 1]))
    assert (share, chance) == (0.625, 0.34375) and k == pytest.approx((0.625 - 0.34375) / (1 - 0.34375))


@pytest.mark.slow
def test_ti_unet_ade20k32_int8_is_written_at_512(tmp_path: Path) -> None:
    """Issue 23's run left this file out (15.4% < the old 20% raw floor): its int8 labels follow the float model
    well beyond chance (kappa about 0.1), on an untrained net that 0.1% input noise alone moves this much."""
    pytest.importorskip("torch")
    from segbench.zoo.export import export_model

    r = export_model("ti_unet_mnv2_ade20k32", "argmax", 512, tmp_path, fmt="onnx", quant="int8",
                     calibration=[ASTRONAUT])
    assert r.path.is_file() and r.path.name == "ti_unet_mnv2_ade20k32_int8.onnx"
    assert r.int8_check["argmax_agreement"] < 0.2 <= 2 * r.int8_check["argmax_agreement"]
    assert r.int8_check["kappa"] >= 0.05


def test_a_failed_check_is_not_written_and_the_others_go_on_exit_3(tmp_path: Path, monkeypatch, capsys) -> None:
    """`zoo export --all` found TI's UNet failing its int8 check at 512 (issue 23's run, docs/zoo.md): that file is
    one error line and not written; the files before and after it are made, and the exit code says one failed."""
    pytest.importorskip("torch")
    from segbench.cli import main
    from segbench.zoo import convert

    monkeypatch.setattr(convert, "INT8_MIN_KAPPA", 1.01)  # no quantised model agrees better than identically
    out = tmp_path / "md"
    with pytest.raises(SystemExit) as stop:
        main(["zoo", "export", "topformer_tiny", "pp_mobileseg_tiny", "--size", "64", "--quant", "none,int8",
              "--calibration", str(ASTRONAUT), "-o", str(out)])
    assert stop.value.code == 3
    err = capsys.readouterr()
    failures = [ln for ln in err.err.splitlines() if ln.startswith("segbench: error:")]
    assert len(failures) == 2 and all("int8 onnx: labels agree" in ln and "not written" in ln for ln in failures)
    assert "2 failed the check, not written" in err.out
    assert set(_entries(out)) == {"topformer_tiny_64.onnx", "pp_mobileseg_tiny_64.onnx"}
    assert sorted(p.name for p in out.iterdir()) == ["manifest.toml", "pp_mobileseg_tiny_64.onnx", "topformer_tiny_64.onnx"]


@pytest.mark.slow
def test_tflite_float_and_int8_through_litert_torch_and_ai_edge_quantizer(tmp_path: Path) -> None:
    pytest.importorskip("litert_torch", reason="the zoo-tflite extra is not installed")
    pytest.importorskip("ai_edge_quantizer", reason="the zoo-tflite extra is not installed")
    from ai_edge_litert.interpreter import Interpreter

    r = run_cli("zoo", "export", "topformer_tiny", "--size", "64", "--head", "argmax,vim", "--format", "tflite",
                "--quant", "none,int8", "-o", str(tmp_path), timeout=900)
    assert r.code == 0, r.err
    assert "litert-torch 0.10 cannot lower VIM" in r.err  # said, and skipped: the converter cannot take it
    entries = _entries(tmp_path)
    assert set(entries) == {"topformer_tiny_64.tflite", "topformer_tiny_64_int8.tflite"}
    fp, q = entries["topformer_tiny_64.tflite"], entries["topformer_tiny_64_int8.tflite"]
    assert fp["zoo"]["check"]["label_mismatches"] <= 5 and "litert-torch" in fp["converters"]
    assert "ai-edge-quantizer" in q["converters"] and q["zoo"]["check"]["kappa"] >= 0.05
    interp = Interpreter(model_path=str(tmp_path / "topformer_tiny_64_int8.tflite"))
    (inp,) = interp.get_input_details()
    assert inp["dtype"] == np.int8 and inp["quantization"][0] > 0  # a real int8 model: quantised input
    assert q["inspect"]["macs"] == fp["inspect"]["macs"]


def test_a_model_the_onnx_exporter_cannot_take_at_a_size_is_one_note_and_exit_3(tmp_path):
    """MobileSeg's pooling at 64x64 is not a whole factor of its input: torch.onnx refuses it and prints the traced
    graph; segbench says it in one line, writes nothing and exits 3 (the other exports would go on)."""
    r = subprocess.run([sys.executable, "-m", "segbench", "zoo", "export", "mobileseg_base", "--size", "64",
                        "-o", str(tmp_path / "out")], capture_output=True, text=True, timeout=600)
    assert r.returncode == 3, r.stderr[-2000:]
    assert "Traceback" not in r.stderr and "Torch IR graph" not in r.stderr
    notes = [ln for ln in r.stderr.splitlines() if ln.startswith("segbench: note: [1/1] mobileseg_base")]
    assert len(notes) == 1 and "torch.onnx cannot convert it: Unsupported: ONNX export of operator" in notes[0]
    assert "1 not convertible" in r.stdout
    assert not list((tmp_path / "out").glob("*.onnx"))
