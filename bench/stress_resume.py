"""Kill `segbench run` at random points and resume it, over and over, on the host and on two emulated phones; then
check that every (case, launch) of every finished run has exactly one ok record and that run.json says completed.

    python bench/stress_resume.py [--minutes 3] [--seed 1] [--max-kill-after 6]

Not a test (it runs for minutes): run it on demand after touching execute, store, farm or the signal handling. Each
round starts a run (`--launches 2`, two models x two thread counts), then until it ends by itself: waits a random
time, kills it (SIGKILL, or SIGTERM as CI does) and resumes it with `--resume RUN_ID`. A kill before the run
directory exists starts the round again. Any other exit than 0 (done), 130 (SIGTERM) or -9 (SIGKILL), or a failed
check, is printed as an anomaly with the end of segbench's stderr; the summary counts rounds, kills and resumes.
Exit 1 when anything was anomalous.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from segbench.emulator import EmulatedPhone, stub_assets  # noqa: E402
from segbench.emulator.phone import adb_binary, free_port  # noqa: E402

MODELS = ROOT / "tests" / "fixtures" / "models"
CASES_PER_LAUNCH = 4  # two models x threads 1,2
LAUNCHES = 2


class Stress:
    def __init__(self, args: argparse.Namespace, work: Path, adb_port: int) -> None:
        self.args = args
        self.work = work
        self.rng = random.Random(args.seed)
        self.env = dict(os.environ, PYTHONPATH=str(ROOT), ANDROID_ADB_SERVER_PORT=str(adb_port))
        self.counts: collections.Counter[str] = collections.Counter()
        self.anomalies: list[str] = []

    def segbench(self, *argv: str) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-m", "segbench", *argv], env=self.env, text=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)

    def round(self, target: str, where: list[str]) -> None:
        """One run on ``target`` (host or phones), killed and resumed until it ends by itself; then checked."""
        reports = self.work / target / f"r{self.counts[target + ' rounds']}"
        common = ["--reports", str(reports), "-q"]
        first = ["run", "--models", str(MODELS), "--threads", "1,2", "--launches", str(LAUNCHES), "--warmup", "1",
                 "--repeats", str(self.args.repeats), *where, *common]
        self.counts[target + " rounds"] += 1
        run_id = None
        for attempt in range(200):
            argv = first if run_id is None else ["run", "--resume", run_id, *where[2:], *common]
            proc = self.segbench(*argv)
            if run_id is not None:
                self.counts[target + " resumes"] += 1
            try:
                rc = proc.wait(timeout=self.rng.uniform(0.2, self.args.max_kill_after))
                ended = True
            except subprocess.TimeoutExpired:
                sig = self.rng.choice([signal.SIGKILL, signal.SIGTERM])
                proc.send_signal(sig)  # the segbench process only: a Ctrl-C'd terminal signals the group, CI not
                rc = proc.wait(timeout=120)
                self.counts[f"{target} kills ({sig.name})"] += 1
                ended = False
            err = proc.stderr.read() if proc.stderr else ""
            runs = sorted(p for p in (reports / "runs").glob("*/run.json")) if (reports / "runs").is_dir() else []
            if run_id is None and runs:
                run_id = runs[-1].parent.name
            if ended and rc == 0:
                self.check(target, reports / "runs" / str(run_id), attempt)
                return
            if rc not in (0, 130, -signal.SIGKILL, -signal.SIGTERM):  # -15: SIGTERM before segbench's handler
                self.anomaly(f"{target} run {run_id}: exit {rc}", err)
                if ended:
                    return
        self.anomaly(f"{target} run {run_id}: not finished after 200 attempts", "")

    def check(self, target: str, run: Path, attempt: int) -> None:
        info = json.loads((run / "run.json").read_text())
        ok: collections.Counter[tuple[str, str, int]] = collections.Counter()
        torn = 0
        for line in (run / "results.jsonl").read_text().splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                torn += 1  # a line SIGKILL cut short: skipped by every reader
                continue
            if rec.get("status") == "ok":
                ok[(rec["device_id"], rec["case_id"], rec.get("launch") or 1)] += 1
        devices = 2 if target == "phones" else 1
        expected = CASES_PER_LAUNCH * LAUNCHES * devices
        twice = {k: n for k, n in ok.items() if n != 1}
        problems = []
        if info["status"] != "completed":
            problems.append(f"run.json status {info['status']}")
        if len(ok) != expected:
            problems.append(f"{len(ok)} (device, case, launch) with an ok record, expected {expected}")
        if twice:
            problems.append(f"recorded ok more than once: {twice}")
        self.counts[f"{target} torn lines skipped"] += torn
        if problems:
            self.anomaly(f"{target} run {run.name}: " + "; ".join(problems), "")
        else:
            self.counts[f"{target} runs completed and checked"] += 1
            self.counts[f"{target} resumes needed (max)"] = max(self.counts[f"{target} resumes needed (max)"], attempt)

    def anomaly(self, what: str, err: str) -> None:
        tail = "\n      ".join(err.strip().splitlines()[-4:])
        self.anomalies.append(what + (f"\n      {tail}" if tail else ""))
        print(f"ANOMALY: {self.anomalies[-1]}", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=3.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-kill-after", type=float, default=6.0, help="kill after a random 0.2..S seconds")
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args()
    adb_port = free_port(range(34037, 34100))
    subprocess.run([adb_binary(), "-P", str(adb_port), "start-server"], capture_output=True, timeout=30, check=False)
    t0 = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="segbench-stress-") as tmp, \
                EmulatedPhone(port=free_port(range(34100, 34300, 2)), adb_port=adb_port) as a, \
                EmulatedPhone(port=free_port(range(34300, 34500, 2)), adb_port=adb_port) as b:
            work = Path(tmp)
            assets = stub_assets(work / "assets", ROOT / "device_assets" / "manifest.toml")
            stress = Stress(args, work, adb_port)
            targets = [("host", []), ("phones", ["--device", f"{a.serial},{b.serial}", "--assets", str(assets)])]
            while time.monotonic() - t0 < args.minutes * 60:
                for target, where in targets:
                    stress.round(target, where)
            shutil.rmtree(work, ignore_errors=True)
    finally:
        subprocess.run([adb_binary(), "-P", str(adb_port), "kill-server"], capture_output=True, timeout=30,
                       check=False)
    print(f"stress_resume: {time.monotonic() - t0:.0f} s, seed {args.seed}, kills after 0.2-{args.max_kill_after} s, "
          f"--launches {LAUNCHES}, {CASES_PER_LAUNCH} cases a launch")
    for key in sorted(stress.counts):
        print(f"  {key}: {stress.counts[key]}")
    print(f"  anomalies: {len(stress.anomalies)}")
    for a in stress.anomalies:
        print(f"    - {a}")
    return 1 if stress.anomalies else 0


if __name__ == "__main__":
    sys.exit(main())
