"""The nightly job: .github/workflows/nightly.yml runs bench/nightly.sh, and so does this test, on two emulated
phones over an ONNX, a TFLite and a Paddle model (the three runtimes): save a baseline, compare with it (ok), then
with the phones four times as slow (regression, exit 4).

The phones' tool stand-ins report a fixed time per run (the emulator's latency fault) and the slowdown is the slow
fault, so the verdicts follow from what the test injects, never from this machine's timing noise: two phones
sharing two loaded CPUs once made the "same" step fail now and then."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from fnmatch import fnmatchcase
from pathlib import Path

import pytest
import yaml

from conftest import FIXTURES, ROOT, SELFIE, make_device_assets, start_adb_server, stop_adb_server
from seg_synth import build_paddle
from segbench.emulator import EmulatedPhone
from segbench.emulator.phone import free_port
from segbench.sweep import read_suite

WORKFLOW = ROOT / ".github" / "workflows" / "nightly.yml"
SCRIPT = ROOT / "bench" / "nightly.sh"
NIGHTLY = ROOT / "bench" / "nightly.toml"
# The emulated phones' benchmark_bin stands in with this machine's Paddle Lite (Python 3.10, the paddle extra).
PADDLE_HERE = importlib.util.find_spec("paddlelite") is not None


def _workflow() -> tuple[dict, dict]:
    data = yaml.safe_load(WORKFLOW.read_text())
    (job,) = data["jobs"].values()
    return data, job


def test_the_workflow_runs_the_nightly_script_on_a_schedule_and_uploads_its_artifacts():
    data, job = _workflow()
    triggers = data.get("on", data.get(True))  # YAML 1.1 reads a bare `on` key as True
    (schedule,) = triggers["schedule"]
    assert len(schedule["cron"].split()) == 5 and "workflow_dispatch" in triggers
    assert "self-hosted" in job["runs-on"]
    runs = [step["run"] for step in job["steps"] if "bench/nightly.sh" in step.get("run", "")]
    assert len(runs) == 1 and "--save-baseline" in runs[0]  # only when asked for (workflow_dispatch input)
    # The environment it sets is what the script reads, and its suite is a valid one in this repository.
    script = SCRIPT.read_text()
    assert set(job["env"]) <= set(re.findall(r"\$\{(\w+):-", script))
    suite = ROOT / job["env"]["SUITE"]
    assert read_suite(suite.read_text(), str(suite))["models"]
    (upload,) = [s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-artifact")]
    assert upload["if"] == "always()" and upload["with"]["path"].rstrip("/") == job["env"]["OUT"]


def test_the_nightly_suite_covers_onnx_tflite_and_paddle():
    """bench/nightly.toml names models of all three runtimes, by the names their manifest entries get: the tracked
    manifest's ONNX zoo models, and what docs/farm.md's `zoo export` commands write into models_dir (TFLite float and
    int8 of MLPerf's DeepLabv3; PP-MobileSeg-Tiny's .nb for benchmark_bin)."""
    from segbench.models import read_manifest
    from segbench.zoo.registry import export_title, get

    suite = read_suite(NIGHTLY.read_text(), str(NIGHTLY))
    include = suite["include"]
    onnx = [e.name for e in read_manifest(ROOT / "models_dir").values() if e.file.endswith(".onnx")]
    deeplab, pp = get("mlperf_deeplabv3_mnv2"), get("pp_mobileseg_tiny")
    tflite = export_title(deeplab, "argmax", deeplab.input_size)
    nb = f"{export_title(pp, 'argmax', pp.input_size)} (nb)"  # opt cannot take VIM for ARM (docs/zoo.md)
    def named(name: str) -> bool:
        return any(fnmatchcase(name, p) for p in include)  # include patterns are shell-style

    assert any(named(n) for n in onnx) and all(named(n) for n in (tflite, f"{tflite} int8", nb)), include
    assert suite["missing_tools"] == "skip"  # a farm without benchmark_bin still times ONNX and TFLite
    farm = (ROOT / "docs" / "farm.md").read_text()
    assert "zoo export mlperf_deeplabv3_mnv2 --format tflite --quant none,int8 -o models_dir" in farm
    assert "zoo export pp_mobileseg_tiny --head argmax --format nb -o models_dir" in farm


STEADY = "latency=2"  # every run of every tool is reported as 2 ms
SLOWER = f"{STEADY},slow=4"  # ... and then as 8 ms: the phones got four times slower


@pytest.fixture
def farm(tmp_path: Path) -> Iterator[tuple[int, list[EmulatedPhone]]]:
    port = start_adb_server(range(27070, 27100, 2))
    try:
        with EmulatedPhone(port=free_port(range(28500, 28600, 2)), adb_port=port, faults=STEADY) as a, \
                EmulatedPhone(port=free_port(range(28600, 28700, 2)), adb_port=port, faults=STEADY) as b:
            yield port, [a, b]
    finally:
        stop_adb_server(port)


def _nightly(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPT), *args], cwd=ROOT, env={**os.environ, **env}, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.slow
def test_nightly_script_on_two_emulated_phones(farm, tmp_path):
    port, phones = farm
    serials = [p.serial for p in phones]
    assets = make_device_assets(tmp_path / "assets")
    if not PADDLE_HERE:
        # No Paddle Lite for the stand-in to run: the farm's assets hold no benchmark_bin, as a farm host without
        # one, and the Paddle case is skipped with the harness's reason instead of aborting on every phone.
        (assets / "arm64-v8a" / "benchmark_bin").unlink()
    models = tmp_path / "models"  # one model per runtime: ONNX, TFLite and a Paddle program for benchmark_bin
    models.mkdir()
    shutil.copy(FIXTURES / "models" / "tiny_seg.onnx", models)
    shutil.copy(SELFIE, models)
    build_paddle(models / "onehot.pdmodel", 8, size=(8, 8))
    suite = tmp_path / "suite.toml"
    suite.write_text(f'[suite]\nmodels = "{models}"\nthreads = [1]\nwarmup = 2\nrepeats = 20\n'
                     'missing_tools = "skip"\n')  # as bench/nightly.toml
    out, reports = tmp_path / "out", tmp_path / "reports"
    env = {"SEGBENCH": f"{sys.executable} -m segbench", "PYTHONPATH": str(ROOT), "SUITE": str(suite),
           "ANDROID_ADB_SERVER_PORT": str(port), "ASSETS": str(assets), "REPORTS": str(reports), "OUT": str(out),
           "BASELINE_LAUNCHES": "2"}  # the baseline's launches are added before it is saved (the suite has 1)

    first = _nightly(env, "--save-baseline")
    assert first.returncode == 0, first.stderr
    assert "nightly: the baseline gets 2 launches per case (it had 1)" in first.stderr
    for name in ("report.md", "report.html", "report.json", "summary.md", "run.log", "baseline.txt"):
        assert (out / name).stat().st_size > 0, name
    rows = json.loads((out / "report.json").read_text())["rows"]
    assert len(rows) == 6  # 3 models (one per runtime) x 2 phones
    assert {r["runtime"] for r in rows} == {"onnxruntime", "tflite", "paddlelite"}
    records = [json.loads(ln) for ln in next((reports / "runs").iterdir()).joinpath("results.jsonl").read_text()
               .splitlines()]
    assert sorted({x["launch"] for x in records}) == [1, 2]
    paddle = [x for x in records if x["runtime"] == "paddlelite"]
    assert len(paddle) == 4 and all(x["status"] == ("ok" if PADDLE_HERE else "skipped") for x in paddle), paddle
    if not PADDLE_HERE:  # said, once per phone, and in the log: the night is not failed for it
        assert all(x["error"].startswith("benchmark_bin for arm64-v8a is missing") for x in paddle)
        assert "segbench: warning: paddlelite cases are skipped: benchmark_bin for arm64-v8a is missing" in first.stderr
    timed = 6 if PADDLE_HERE else 4
    saved = sorted(p.name for p in (reports / "baselines").iterdir())
    assert len(saved) == 2 and all(n.startswith("xiaomi_mi_9_emulated__") for n in saved)  # an emulated phone is a kind of its own

    second = _nightly(env)  # the default threshold, 5%: the same figures are the same, however busy this machine is
    assert second.returncode == 0, second.stdout + second.stderr
    xml = (out / "junit.xml").read_text()
    assert f'tests="{timed}"' in xml and 'failures="0"' in xml, xml
    assert all(f"@{s}" in second.stdout for s in serials)
    compare = (out / "compare.md").read_text()
    # same: an interval of exactly 1 (summary-only tools), or no interval needed (samples within the threshold)
    assert len(re.findall(r"\| same +\| \+0\.0% \((95% CI 1\.000-1\.000|within the 5\.0% threshold)", compare)) == timed, \
        compare

    for phone in phones:  # the phones slow down fourfold: every case regresses
        phone.set_faults(SLOWER)
    third = _nightly(env)
    assert third.returncode == 4, third.stdout + third.stderr
    assert f'failures="{timed}"' in (out / "junit.xml").read_text()
    compare = (out / "compare.md").read_text()
    assert len(re.findall(r"\| regression +\| \+300\.0% \((95% CI 4\.000-4\.000|every candidate run 4\.000x)", compare)) == timed, compare


# A stand-in for segbench that answers the nightly script's calls: its compare finds the case unclear until the run
# has UNTIL launches, then VERDICT. It tests the script's loop, not segbench (the test above runs the real one).
FAKE = r'''#!/usr/bin/env bash
echo "$*" >> "$CALLS"
run_json="$REPORTS/runs/20261205-000000-000-abcd/run.json"
case "$1" in
  run)
    if [ "$2" = --resume ]; then
      sed -i "s/\"launches\": [0-9]*/\"launches\": $5/" "$run_json"
    else
      mkdir -p "$(dirname "$run_json")" && echo '{"settings": {"launches": 5, "threads": [1]}}' > "$run_json"
    fi
    echo "run 20261205-000000-000-abcd: 1 cases on host" >&2; echo "| table |" ;;
  baseline) echo saved ;;
  report) for a in "$@"; do [ "$prev" = -o ] && echo report > "$a"; prev=$a; done ;;
  compare)
    have=$(sed -n 's/.*"launches": \([0-9]*\).*/\1/p' "$run_json")
    verdict=unclear; [ "$have" -ge "$UNTIL" ] && verdict=$VERDICT
    echo "| case | baseline median (ms) | candidate median (ms) | ratio | verdict | why | evidence |"
    echo "|---|---|---|---|---|---|---|"
    echo "| a onnxruntime t1 high | 10.000 | 12.000 | 1.200 | $verdict | +20.0% | $have+5 launches |"
    [ "$verdict" = regression ] && exit 4 ;;
esac
exit 0
'''


@pytest.mark.parametrize("until, verdict, max_launches, calls, code", [
    (20, "regression", "20", ["--launches 10", "--launches 20"], 4),  # doubled until it is sure
    (10, "same", "20", ["--launches 10"], 0),  # settled as soon as it is
    (40, "regression", "12", ["--launches 10", "--launches 12"], 0),  # up to MAX_LAUNCHES: still unclear, green
])
def test_the_nightly_adds_launches_while_a_verdict_is_unclear(tmp_path, until, verdict, max_launches, calls, code):
    fake = tmp_path / "segbench"
    fake.write_text(FAKE)
    fake.chmod(0o755)
    reports, log = tmp_path / "reports", tmp_path / "calls"
    env = {"SEGBENCH": str(fake), "REPORTS": str(reports), "OUT": str(tmp_path / "out"), "CALLS": str(log),
           "UNTIL": str(until), "VERDICT": verdict, "MAX_LAUNCHES": max_launches}
    done = _nightly(env)
    assert done.returncode == code, done.stdout + done.stderr
    resumes = [ln for ln in log.read_text().splitlines() if ln.startswith("run --resume")]
    assert [ln.split(" --assets")[0] for ln in resumes] == [
        f"run --resume 20261205-000000-000-abcd {c}" for c in calls]
    said = [ln for ln in done.stderr.splitlines() if ln.startswith("nightly: unclear")]
    assert len(said) == len(calls)
    assert f"| {verdict if until <= int(max_launches) else 'unclear'} |" in (tmp_path / "out" / "compare.md").read_text()
    # the reports are written after the last launches, from the whole run
    order = [ln.split()[0] for ln in log.read_text().splitlines()]
    assert order.index("report") > max(i for i, c in enumerate(order) if c == "run")


def test_the_nightly_gives_a_baseline_its_launches_before_saving_it(tmp_path):
    fake = tmp_path / "segbench"
    fake.write_text(FAKE)
    fake.chmod(0o755)
    reports, log = tmp_path / "reports", tmp_path / "calls"
    env = {"SEGBENCH": str(fake), "REPORTS": str(reports), "OUT": str(tmp_path / "out"), "CALLS": str(log),
           "UNTIL": "1", "VERDICT": "same", "BASELINE_LAUNCHES": "10"}
    done = _nightly(env, "--save-baseline")
    assert done.returncode == 0, done.stdout + done.stderr
    calls = [ln.split(" --assets")[0].split(" --reports")[0] for ln in log.read_text().splitlines()]
    assert [c for c in calls if c.startswith(("run", "baseline", "compare"))] == [
        "run --suite bench/nightly.toml --device all", "run --resume 20261205-000000-000-abcd --launches 10",
        "baseline save 20261205-000000-000-abcd"]
    assert "nightly: the baseline gets 10 launches per case (it had 5)" in done.stderr
