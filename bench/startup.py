"""Start-up cost of the CLI against the plainest programs doing the same job: paired, alternating, medians.

    python bench/startup.py [--rounds 15] [--runs 200] [--records 20]

Pairs (target vs baseline), each a fresh process per launch:

- ``segbench --help``             vs ``python -c 'import click'``
- ``segbench --help``             vs the bare reader: the issue's (json + numpy), as bench/report_scale.py's: json.loads
  of the latest run's run.json and of each results.jsonl line, and numpy's median of each record's samples
- ``segbench report`` (latest)    vs ``python -c 'import click'``
- ``segbench report`` (latest)    vs the bare reader (json + numpy)
- ``segbench report`` (latest)    vs a json-only reader (the same reads, no medians, no numpy): stricter than the
  issue's goal, printed to show what remains
- ``python -c 'import click'``    vs the json-only reader: the floor of the pair above for any command line built on
  click (the one way segbench parses its arguments), whatever segbench itself costs

The report reads a store of RUNS benchmark runs of RECORDS records each plus one `segbench eval` run (the mIoU
join), the scale a phone farm reaches. In each round both sides of a pair run once, in alternating order (the
target first in half the rounds), so a slow moment of this shared machine hits both; the ratio is taken per round.
Printed: each side's median and range (ms) and the median ratio with its range. The goal (issue 25) is a ratio
within 1.5 for the first four pairs. Bytecode caches are written on a warm-up launch first (the project's
environment may set PYTHONDONTWRITEBYTECODE, which would time the compiler, not segbench). Run on demand (not a
test): timings on a shared machine are noisy.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from segbench.model import Accuracy, DeviceInfo, Measurement, ModelRef, RunInfo  # noqa: E402
from segbench.store import Store  # noqa: E402

PHONE = DeviceInfo(id="R58M12ABCDE", kind="android", brand="Xiaomi", model="MI 9", soc="SM8150",
                   android_version="11", api_level=30)
MODELS = ("PP-MobileSeg-Tiny", "SeaFormer-Tiny", "TopFormer-Tiny", "PP-LiteSeg-T")
JSON_READER = ("import json, sys\n"
               "d = sys.argv[1]\n"
               "info = json.load(open(d + '/run.json'))\n"
               "rows = [json.loads(line) for line in open(d + '/results.jsonl') if line.strip()]\n"
               "print(info['run_id'], len(rows))\n")
BARE_READER = ("import json, sys\n"
               "import numpy as np\n"
               "d = sys.argv[1]\n"
               "info = json.load(open(d + '/run.json'))\n"
               "for line in open(d + '/results.jsonl'):\n"
               "    if line.strip():\n"
               "        r = json.loads(line)\n"
               "        if r.get('samples_ms'):\n"
               "            print(r['case_id'], np.median(np.asarray(r['samples_ms'])))\n")


def make_store(root: Path, runs: int, records: int) -> Path:
    """RUNS benchmark runs (the oldest first) with one eval run among the first ones; returns the latest run's dir."""
    store = Store(root)
    for r in range(runs):
        run_id = f"20260101-{r:06d}-000-bench"
        info = RunInfo(run_id=run_id, started="2026-01-01T00:00:00+00:00", harness_version="bench", device=PHONE,
                       settings={"warmup": 10, "repeats": 50}, versions={"segbench": "bench"}, status="completed")
        ms = []
        for i in range(records):
            name = MODELS[i % len(MODELS)]
            threads = 1 + (i // len(MODELS)) % 4
            mode = ("high", "low", "full", "no_bind")[(i // (4 * len(MODELS))) % 4]
            samples = tuple(100.0 + ((i * 7 + k * 13) % 17) * 0.25 for k in range(50))
            ms.append(Measurement(
                run_id=run_id, case_id=f"{name}__tflite__t{threads}__{mode}__{i}",
                model=ModelRef(name, f"/m/{name}.tflite", "tflite", f"{MODELS.index(name):064x}"), runtime="tflite",
                status="ok", threads=threads, power_mode=mode, device_id=PHONE.id, tool="benchmark_model",
                tool_version="2.16", cpu_mask="f0", warmup=10, repeats=50, count=50, samples_ms=samples))
        store.import_run(info, ms)
        if r == 1:  # an old eval run: report of the latest must still find its mIoU
            eval_id = "20260101-000001-500-eval"
            run = store.create_run(RunInfo(run_id=eval_id, started="2026-01-01T00:00:01+00:00",
                                           harness_version="bench", device=PHONE, settings={"command": "eval"},
                                           versions={}, status="completed"))
            run.append(Accuracy(run_id=eval_id, case_id="eval", model=ModelRef(MODELS[0], f"/m/{MODELS[0]}.tflite", "tflite",
                                                                  f"{0:064x}"),
                                runtime="tflite", status="ok", miou=0.3625, images=500,
                                dataset={"name": "ADE20K", "split": "validation"}, finished="2026-01-01T00:00:02"))
    return store.latest().path


def launch(argv: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    # From the root directory: `python -m` and `-c` put the working directory first on sys.path, where a checkout's
    # segbench would shadow the one --python means.
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, cwd="/")
    return (time.perf_counter() - t0) * 1e3


def pair(name: str, target: list[str], baseline: list[str], env: dict[str, str], rounds: int) -> None:
    launch(target, env)  # warm-up: bytecode caches, the page cache
    launch(baseline, env)
    ts, bs, ratios = [], [], []
    for r in range(rounds):
        if r % 2 == 0:
            t, b = launch(target, env), launch(baseline, env)
        else:
            b, t = launch(baseline, env), launch(target, env)
        ts.append(t)
        bs.append(b)
        ratios.append(t / b)
    print(f"{name}\n    target   median {statistics.median(ts):7.1f} ms  (range {min(ts):.1f}-{max(ts):.1f})\n"
          f"    baseline median {statistics.median(bs):7.1f} ms  (range {min(bs):.1f}-{max(bs):.1f})\n"
          f"    ratio    median {statistics.median(ratios):.2f}  (range {min(ratios):.2f}-{max(ratios):.2f}, "
          f"{rounds} rounds)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--runs", type=int, default=200, help="benchmark runs in the store")
    ap.add_argument("--records", type=int, default=20, help="records per run")
    ap.add_argument("--python", metavar="PYTHON",
                    help="time the segbench installed for this interpreter (e.g. a venv's bin/python after a plain "
                         "`pip install .`, which has no editable-install finder for every start to load) instead "
                         "of this tree's, run by this interpreter")
    args = ap.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    if args.python:
        env.pop("PYTHONPATH", None)
        py = args.python
    else:
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
        py = sys.executable
    click_only = [py, "-c", "import click"]
    with tempfile.TemporaryDirectory(prefix="segbench-startup-") as tmp:
        latest = make_store(Path(tmp), args.runs, args.records)
        report = [py, "-m", "segbench", "report", "--reports", tmp, "--manifest", str(Path(tmp) / "none.toml")]
        out = subprocess.run(report, env=env, capture_output=True, text=True, check=True, cwd="/").stdout
        if "36.250" not in out:
            raise SystemExit(f"the report lost the eval run's mIoU:\n{out}")
        where = subprocess.run([py, "-c", "import sys, segbench; print(sys.version.split()[0], segbench.__file__)"],
                               env=env, capture_output=True, text=True, check=True, cwd="/").stdout.split()
        print(f"store: {args.runs} runs x {args.records} records + 1 eval run; python {where[0]}; segbench from "
              f"{Path(where[1]).parent}")
        help_ = [py, "-m", "segbench", "--help"]
        bare, json_only = [py, "-c", BARE_READER, str(latest)], [py, "-c", JSON_READER, str(latest)]
        pair("segbench --help  vs  python -c 'import click'", help_, click_only, env, args.rounds)
        pair("segbench --help  vs  bare reader of the latest run (json + numpy)", help_, bare, env, args.rounds)
        pair("segbench report  vs  python -c 'import click'", report, click_only, env, args.rounds)
        pair("segbench report  vs  bare reader of the latest run (json + numpy)", report, bare, env, args.rounds)
        pair("segbench report  vs  json-only reader of the latest run (stricter than the goal)", report, json_only,
             env, args.rounds)
        pair("python -c 'import click'  vs  json-only reader (the floor of the pair above)", click_only, json_only,
             env, args.rounds)


if __name__ == "__main__":
    main()
