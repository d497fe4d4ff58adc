"""`segbench eval` end to end: synthetic datasets in each layout, deterministic ONNX models, real CLI processes."""

import json
import os

import numpy as np
import pytest

from conftest import assert_one_line_error, run_cli
from seg_synth import (
    LABEL,
    MEAN_ACC,
    MIOU,
    NUM_CLASSES,
    PER_CLASS_IOU,
    PIXEL_ACC,
    PRED,
    build_model,
    build_tflite,
    save_png,
    upscale,
    write_dataset,
)

PAIRS = [(LABEL, PRED), (LABEL.T, PRED.T)]  # the same per-class counts twice


def _eval(tmp_path, model, dataset, fmt, *extra):
    r = run_cli("eval", "--model", str(model), "--dataset", str(dataset), "--format", fmt, "--preset", "raw",
                "--reports", str(tmp_path / "reports"), *extra)
    return r


def _check_known(result, first_class=0):
    assert result.code == 0, result.err
    d = json.loads(result.out)
    assert d["miou"] == pytest.approx(MIOU, abs=1e-12)
    assert d["pixel_acc"] == pytest.approx(PIXEL_ACC, abs=1e-12) and d["mean_acc"] == pytest.approx(MEAN_ACC, abs=1e-12)
    scored = {i: v for i, v in enumerate(d["per_class_iou"]) if v is not None}
    assert list(scored) == [first_class, first_class + 1, first_class + 2]
    assert list(scored.values()) == pytest.approx(PER_CLASS_IOU, abs=1e-12)
    return d


@pytest.mark.parametrize("fmt", ["ade20k", "ade20k32", "cityscapes", "voc"])
def test_each_layout_gives_the_hand_checked_miou(tmp_path, fmt):
    data = write_dataset(tmp_path / "data", fmt, PAIRS)
    model = build_model(tmp_path / "m.onnx", NUM_CLASSES[fmt])
    d = _check_known(_eval(tmp_path, model, data, fmt, "--json", "-q"), 1 if fmt == "ade20k32" else 0)
    assert d["images"] == 2 and len(d["per_class_iou"]) == NUM_CLASSES[fmt]
    if fmt == "ade20k32":  # MLPerf's mapping: class 0 ("other") is never scored, raw 77 is ignored like raw 0
        assert d["classes"][0] is None and d["classes"][1:4] == ["wall", "building", "sky"]
    # the run is stored as an accuracy record with the confusion matrix the scores come from
    (run,) = (tmp_path / "reports" / "runs").iterdir()
    (rec,) = [json.loads(x) for x in (run / "results.jsonl").read_text().splitlines()]
    assert rec["schema"] == "segbench.accuracy/1" and rec["miou"] == d["miou"] and rec["images"] == 2
    cm = np.array(rec["confusion"])
    assert cm.shape == (NUM_CLASSES[fmt], NUM_CLASSES[fmt] + 1) and cm.sum() == 24  # 12 labelled pixels x 2
    assert json.loads((run / "run.json").read_text())["settings"]["command"] == "eval"


@pytest.mark.parametrize("head,expect", [("scores", "bilinear"), ("argmax", "nearest")])
def test_outputs_at_half_resolution_are_brought_to_label_size(tmp_path, head, expect):
    # A fixed 8x8 model whose output is 4x4: one-hot scores resized bilinearly (the nearest source pixel always
    # carries >= 9/16 of the weight, so the argmax is exact) or an argmax map resized with nearest neighbour.
    pairs = [(upscale(a, 2), upscale(b, 2)) for a, b in PAIRS]
    data = write_dataset(tmp_path / "data", "ade20k", pairs)
    model = build_model(tmp_path / "m.onnx", 150, head=head, stride=2, size=(8, 8))
    d = _check_known(_eval(tmp_path, model, data, "ade20k", "--json", "-q"))
    assert expect in d["prediction"]


def test_tflite_nhwc_model_on_mlperf_ade20k32(tmp_path):
    # MLPerf's setting: a TFLite model with NHWC input and [1,H,W,32] scores, run by LiteRT
    pairs = [(upscale(a, 2), upscale(b, 2)) for a, b in PAIRS]
    data = write_dataset(tmp_path / "data", "ade20k32", pairs)
    d = _check_known(_eval(tmp_path, build_tflite(tmp_path / "m.tflite", 32), data, "ade20k32", "--json", "-q"), 1)
    assert d["runtime"] == "tflite"


def test_pad_resize_cuts_the_letterbox_off_again(tmp_path):
    # 4x8 (h x w) images in an 8x8 input: pad puts them in rows 2..5 and fills the rest with black (class 0).
    pairs = [(np.repeat(a, 2, axis=1), np.repeat(b, 2, axis=1)) for a, b in PAIRS[:1]]
    data = write_dataset(tmp_path / "data", "ade20k", pairs)
    model = build_model(tmp_path / "m.onnx", 150, size=(8, 8))
    _check_known(_eval(tmp_path, model, data, "ade20k", "--json", "-q", "--resize", "pad"))


def test_table_output_limit_and_progress(tmp_path):
    data = write_dataset(tmp_path / "data", "voc", PAIRS + [(LABEL, LABEL.clip(0))])
    model = build_model(tmp_path / "m.onnx", 21)
    r = _eval(tmp_path, model, data, "voc", "--limit", "2")
    assert r.code == 0, r.err
    assert "mIoU 85.00%  pixel acc 91.67%  mean acc 91.67%" in r.out and ", 2 images in" in r.out
    assert "| 1    | aeroplane  | 75.00     | 75.00     |" in r.out and "bicycle" in r.out and "bird" not in r.out
    assert "eval m on voc" in r.err  # the progress bar's label (stderr)


def test_report_shows_measured_miou_next_to_latency(tmp_path):
    data = write_dataset(tmp_path / "data", "ade20k", [(upscale(a, 2), upscale(b, 2)) for a, b in PAIRS])
    model = build_model(tmp_path / "m.onnx", 150, size=(8, 8))
    reports = str(tmp_path / "reports")
    assert run_cli("run", "--models", str(model), "--warmup", "1", "--repeats", "3", "--reports", reports, "-q").code == 0
    assert _eval(tmp_path, model, data, "ade20k", "-q").code == 0
    r = run_cli("report", "--all", "--format", "json", "--reports", reports)
    assert r.code == 0, r.err
    (row,) = json.loads(r.out)["rows"]
    assert row["n"] == 3 and row["miou_pct"] == pytest.approx(85.0)
    assert row["miou_source"] == "measured: ADE20K validation, 2 images"
    # the latest run alone (the eval run, no latency) lists the evaluated model with its mIoU
    md = run_cli("report", "--reports", reports)
    assert "| mIoU (%)" in md.out and "| 85.000     | measured: ADE20K validation, 2 images |" in md.out
    assert "accuracy only (segbench eval)" in md.out and md.out.count("| m ") == 1


# ----------------------------------------------------------------------------- errors


@pytest.fixture
def ade(tmp_path):
    data = write_dataset(tmp_path / "data", "ade20k", PAIRS)
    return data / "ADEChallengeData2016", build_model(tmp_path / "m.onnx", 150)


def test_missing_label_is_one_clear_error(tmp_path, ade):
    root, model = ade
    (root / "annotations" / "validation" / "ADE_val_00000001.png").unlink()
    r = _eval(tmp_path, model, root, "ade20k")
    assert_one_line_error(r, 1)
    assert "1 of 2 images have no label file" in r.err and "ADE_val_00000001.png" in r.err


@pytest.mark.parametrize("damage,message", [
    ("truncate", "corrupt or truncated label"),
    ("rgb", "label is a RGB image"),
    ("value", "label values 200 are not ADE20K labels (1 pixels)"),
    ("size", "image is 4x4 but its label ADE_val_00000001.png is 4x5"),
])
def test_bad_labels_are_one_clear_error(tmp_path, ade, damage, message):
    root, model = ade
    label = root / "annotations" / "validation" / "ADE_val_00000001.png"
    raw = np.where(LABEL.T < 0, 0, LABEL.T + 1)
    if damage == "truncate":
        label.write_bytes(label.read_bytes()[:-20])  # cut inside the pixel data
    elif damage == "rgb":
        save_png(label, np.stack([raw] * 3, axis=-1))
    elif damage == "value":
        raw[0, 0] = 200
        save_png(label, raw)
    else:
        save_png(label, np.vstack([raw, raw[:1]]))
    r = _eval(tmp_path, model, root, "ade20k")
    assert_one_line_error(r, 1)
    assert message in r.err


def test_empty_dataset_and_wrong_layout(tmp_path, ade):
    root, model = ade
    for p in (root / "images" / "validation").iterdir():
        p.unlink()
    r = _eval(tmp_path, model, root, "ade20k")
    assert_one_line_error(r, 1)
    assert "no images to evaluate in split 'validation'" in r.err
    r = _eval(tmp_path, model, root, "cityscapes")
    assert_one_line_error(r, 1)
    assert "not a cityscapes layout (no leftImg8bit/ and gtFine/ in it)" in r.err


def test_model_with_another_class_count(tmp_path, ade):
    root, _ = ade
    r = _eval(tmp_path, build_model(tmp_path / "m19.onnx", 19), root, "ade20k")
    assert_one_line_error(r, 1)
    assert "neither scores with 150 classes nor a class map" in r.err


def test_usage_errors(tmp_path, ade):
    root, model = ade
    r = _eval(tmp_path, model, root, "ade20k", "--mapping", "ade20k32_ti")
    assert_one_line_error(r, 2)
    assert "--mapping is for --format ade20k32 only" in r.err
    bad = tmp_path / "map.txt"
    bad.write_text("1 1 wall\n1 2 building\n")
    r = _eval(tmp_path, model, root, "ade20k32", "--mapping", str(bad))
    assert_one_line_error(r, 2)
    assert "map.txt:2: raw label 1 is mapped twice" in r.err
    r = _eval(tmp_path, tmp_path / "nope.onnx", root, "ade20k")
    assert_one_line_error(r, 1)  # a missing file is an error (README, "Exit codes"), not a usage error
    cpus = len(os.sched_getaffinity(0))
    r = _eval(tmp_path, model, root, "ade20k", "--threads", str(4 * cpus + 1))
    assert_one_line_error(r, 2)
    assert f"--threads {4 * cpus + 1}: more than 4 x the {cpus} CPUs of this machine" in r.err
    assert not (tmp_path / "reports").exists()  # nothing is stored for a failed evaluation


def test_ti_mapping_by_name(tmp_path):
    # TI's ADE20K-32 scores class 0 ("other" = raw 0 and raw >= 32): paint raw 0 pixels as class 0 predictions
    data = write_dataset(tmp_path / "data", "ade20k32", PAIRS[:1])
    model = build_model(tmp_path / "m.onnx", 32)
    r = _eval(tmp_path, model, data, "ade20k32", "--mapping", "ade20k32_ti", "--json", "-q")
    assert r.code == 0, r.err
    d = json.loads(r.out)
    # label: 4 px each of classes 1, 2, 3 and 4 px of class 0 (raw 0 and raw 77); the model predicts class 3 there
    # class 3: 4 TP + 4 FP -> IoU 1/2; class 0: 4 label px, none right -> IoU 0; classes 1, 2: 4/5, 3/4
    assert d["per_class_iou"][:4] == pytest.approx([0.0, 0.8, 0.75, 0.5])
    assert d["miou"] == pytest.approx((0.0 + 0.8 + 0.75 + 0.5) / 4)
    assert d["classes"][0] == "other"


def test_published_miou_is_the_fallback_and_measured_beats_it(tmp_path):
    from segbench.model import Accuracy, Latency, Measurement, ModelRef
    from segbench.report.accuracy import with_accuracy
    from segbench.report.tables import render, summary

    (tmp_path / "manifest.toml").write_text('[[model]]\nfile = "a.onnx"\n[model.published]\nmiou = 36.7\n')
    ref = ModelRef("a", str(tmp_path / "a.onnx"), "onnx", "sha-a")
    m = Measurement(run_id="r1", case_id="c", model=ref, runtime="onnxruntime", status="ok", threads=1,
                    power_mode="high", latency_ms=Latency(median=1.0), samples_ms=(1.0, 1.0, 1.0))
    paths = {"sha-a": ref.path}
    row = with_accuracy(summary([m]), [], [], paths).iloc[0]
    assert row["miou_pct"] == pytest.approx(36.7) and row["miou_source"] == "published (manifest.toml)"
    acc = Accuracy(run_id="r2", case_id="e", model=ref, runtime="onnxruntime", status="ok", images=9, miou=0.35,
                   dataset={"name": "ADE20K", "split": "validation"}, finished="2026-12-01T00:00:00+00:00")
    other_file = Accuracy(**{**acc.__dict__, "model": ModelRef("a", "/elsewhere/a.onnx", "onnx", "sha-b"),
                             "miou": 0.5, "finished": "2026-12-02T00:00:00+00:00"})
    table = with_accuracy(summary([m]), [acc, other_file], [], paths)
    row = table.iloc[0]  # the same file's result wins over a newer one of another file with the same name
    assert row["miou_pct"] == pytest.approx(35.0) and row["miou_source"] == "measured: ADE20K validation, 9 images"
    assert "| 35.000     | measured: ADE20K validation, 9 images |" in render(table, "markdown")


def test_ctrl_c_stops_with_130_and_stores_nothing(tmp_path):
    import os
    import signal
    import subprocess
    import sys

    from conftest import ROOT

    big = [(upscale(LABEL, 64), upscale(PRED, 64))] * 60  # 256x256, 150-class scores: ~0.1 s per image
    data = write_dataset(tmp_path / "data", "ade20k", big)
    model = build_model(tmp_path / "m.onnx", 150)
    proc = subprocess.Popen(
        [sys.executable, "-m", "segbench", "eval", "--model", str(model), "--dataset", str(data), "--format", "ade20k",
         "--preset", "raw", "--threads", "1", "--reports", str(tmp_path / "reports")],
        env=dict(os.environ, PYTHONPATH=str(ROOT)), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr.readline() == "input recipe: --preset (preset raw)\n"  # eval says which recipe it uses
    assert proc.stderr.readline().startswith("eval m on ade20k")  # the progress bar has started
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "segbench: interrupted" in err
    assert not (tmp_path / "reports").exists()


def test_a_paddle_model_without_paddlelite_is_one_error_with_the_install_hint(tmp_path, without_paddlelite):
    from seg_synth import build_paddle

    data = write_dataset(tmp_path / "data", "voc", PAIRS)
    r = _eval(tmp_path, build_paddle(tmp_path / "onehot.pdmodel", NUM_CLASSES["voc"]), data, "voc")
    assert_one_line_error(r, 1)
    assert "paddlelite is not installed" in r.err and "segbench[paddle]" in r.err


# ---------------------------------------------------------------- --demo: whole or not at all

def _demo_in_process(root, monkeypatch, capsys):
    """`segbench eval --demo ROOT` in this process with the model's write failing as on a full disk (after the
    dataset's images were written): the exit code and stderr."""
    import errno

    from segbench.accuracy import demo
    from segbench.cli import main

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(demo, "build_model", full)
    with pytest.raises(SystemExit) as stop:
        main(["eval", "--demo", str(root)])
    return stop.value.code, capsys.readouterr().err


def test_demo_on_a_full_disk_leaves_nothing(tmp_path, monkeypatch, capsys):
    # It left DIR/voc's images behind without the model: a demo folder that eval then failed on.
    root = tmp_path / "demo"
    code, err = _demo_in_process(root, monkeypatch, capsys)
    assert code == 1
    assert err == f"segbench: error: cannot write the demo into {root}: No space left on device (nothing was written)\n"
    assert list(tmp_path.iterdir()) == []  # no demo folder, no temporary one


def test_demo_on_a_full_disk_keeps_what_the_folder_held(tmp_path, monkeypatch, capsys):
    root = tmp_path / "demo"
    made = run_cli("eval", "--demo", str(root))
    assert made.code == 0, made.err
    (root / "mine.txt").write_text("kept")
    (root / "voc" / "VOCdevkit" / "VOC2012" / "JPEGImages" / "2007_000000.png").write_bytes(b"an older demo's image")
    before = sorted((p.relative_to(root), p.read_bytes() if p.is_file() else None) for p in root.rglob("*"))
    code, _ = _demo_in_process(root, monkeypatch, capsys)
    assert code == 1
    assert sorted((p.relative_to(root), p.read_bytes() if p.is_file() else None) for p in root.rglob("*")) == before
    again = run_cli("eval", "--demo", str(root))  # replaces the demo's own entries, keeps the rest
    assert again.code == 0, again.err
    assert (root / "mine.txt").read_text() == "kept" and sorted(p.name for p in root.iterdir()) == [
        "mine.txt", "onehot_voc.onnx", "voc"]


def test_demo_on_a_real_full_disk_leaves_nothing(tiny_disk):
    with open(tiny_disk / "filler", "wb") as f:  # leave the 64 KiB disk a few KiB: less than the demo needs
        f.write(b"x" * (52 * 1024))
    r = run_cli("eval", "--demo", str(tiny_disk / "demo"))
    assert_one_line_error(r, 1)
    assert "No space left on device" in r.err
    assert [p.name for p in tiny_disk.iterdir()] == ["filler"]
