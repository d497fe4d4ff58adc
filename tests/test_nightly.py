"""The nightly job: .github/workflows/nightly.yml runs bench/nightly.sh, and so does this test, on two emulated
phones: save a baseline, compare with it (ok), then with the phones four times as slow (regression, exit 4).

The phones' tool stand-ins report a fixed time per run (the emulator's latency fault) and the slowdown is the slow
fault, so the verdicts follow from what the test injects, never from this machine's timing noise: two phones
sharing two loaded CPUs once made the "same" step fail now and then."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from conftest import FIXTURES, ROOT, make_device_assets, start_adb_server, stop_adb_server
from segbench.emulator import EmulatedPhone
from segbench.emulator.phone import free_port
from segbench.sweep import read_suite

WORKFLOW = ROOT / ".github" / "workflows" / "nightly.yml"
SCRIPT = ROOT / "bench" / "nightly.sh"


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
    suite = tmp_path / "suite.toml"
    suite.write_text(f'[suite]\nmodels = "{FIXTURES / "models"}"\nthreads = [1]\nwarmup = 2\nrepeats = 20\n')
    out, reports = tmp_path / "out", tmp_path / "reports"
    env = {"SEGBENCH": f"{sys.executable} -m segbench", "PYTHONPATH": str(ROOT), "SUITE": str(suite),
           "ANDROID_ADB_SERVER_PORT": str(port), "ASSETS": str(assets), "REPORTS": str(reports), "OUT": str(out)}

    first = _nightly(env, "--save-baseline")
    assert first.returncode == 0, first.stderr
    for name in ("report.md", "report.html", "report.json", "summary.md", "run.log", "baseline.txt"):
        assert (out / name).stat().st_size > 0, name
    assert len(json.loads((out / "report.json").read_text())["rows"]) == 4  # 2 models x 2 phones
    saved = sorted(p.name for p in (reports / "baselines").iterdir())
    assert len(saved) == 2 and all(n.startswith("xiaomi_mi_9_emulated__") for n in saved)  # an emulated phone is a kind of its own

    second = _nightly(env)  # the default threshold, 5%: the same figures are the same, however busy this machine is
    assert second.returncode == 0, second.stdout + second.stderr
    xml = (out / "junit.xml").read_text()
    assert 'tests="4"' in xml and 'failures="0"' in xml
    assert all(f"@{s}" in second.stdout for s in serials)
    assert len(re.findall(r"\| same +\| \+0\.0% \(95% CI 1\.000-1\.000", (out / "compare.md").read_text())) == 4

    for phone in phones:  # the phones slow down fourfold: every case regresses
        phone.set_faults(SLOWER)
    third = _nightly(env)
    assert third.returncode == 4, third.stdout + third.stderr
    assert 'failures="4"' in (out / "junit.xml").read_text()
    compare = (out / "compare.md").read_text()
    assert len(re.findall(r"\| regression +\| \+300\.0% \(95% CI 4\.000-4\.000", compare)) == 4, compare
