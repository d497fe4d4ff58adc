"""`segbench report` and `segbench compare` at a farm's scale, against a bare reader: paired, alternating, medians.

    python bench/report_scale.py [--records 100000] [--rounds 3] [--cases 1000] [--samples 50] [--skip-compare]
                                 [--store DIR]

Stores synthesised in a temporary directory, in the store's own format (run.json through Store, each record a line
of Measurement.to_dict as RunDir.append writes it, without its per-line fsync):

- history: RECORDS records in RECORDS / CASES nightly runs of CASES cases (50 models x threads x power modes on a
  farm of phones), SAMPLES per-iteration samples each; the models are exported again every night (a new sha256),
  so every record is a row of its own, as in issue 25's measurement;
- latest-1 / latest-1000: one run of 100 cases alone, and after 999 runs of history (report of the latest run);
- compare: two runs of RECORDS cases, one launch each, 2% of them 20% slower in the candidate.

Pairs (target vs baseline), each side a fresh process: `segbench report --all` (markdown, json, csv, --view
comparison)
vs a bare reader (json.loads of every line and numpy's median of its samples); `segbench report` of the latest run
with 1 vs 1000 runs of history; `segbench compare` vs the bare reader of its two runs. The first launch of each
target builds the columnar cache (reports/index/columns), printed apart as "cold" (with --store DIR the stores are
synthesised into DIR once and kept: a later launch reuses them and their caches, its first launch is then "first",
not cold); the rounds then time the warm
cache. In each round both sides run once, the target first in every other round. Printed: medians and ranges (s),
each side's CPU time (user + system, from os.wait4: what other work on a shared machine takes from the wall time is
not in it), the median of the per-round ratios (wall) with its range, the load average after the rounds, and each
side's peak memory (max RSS of the process, from os.wait4). Run on demand (not a test): a shared machine's timings
are noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from segbench.model import DeviceInfo, Measurement, ModelRef, RunInfo  # noqa: E402
from segbench.store import Store  # noqa: E402

PHONES = [DeviceInfo(id=f"R58M{i:02d}", kind="android", brand="Xiaomi", model="MI 9", soc="SM8150",
                     android_version="11", api_level=30) for i in range(10)]
BARE = ("import json, sys\nimport numpy as np\nfrom pathlib import Path\nn = 0\n"
        "for d in sys.argv[1:]:\n"
        "    for p in sorted(Path(d).glob('runs/*/results.jsonl')):\n"
        "        json.loads((p.parent / 'run.json').read_text())\n"
        "        for line in p.read_text().splitlines():\n"
        "            r = json.loads(line)\n"
        "            if r.get('samples_ms'): np.median(np.asarray(r['samples_ms']))\n"
        "            n += 1\n"
        "print(n)\n")
SEGBENCH = [sys.executable, "-m", "segbench"]
COLD = True  # the first launch builds the caches (a fresh store)


def _cases(cases: int, night: int, rng: np.random.Generator, samples: int, run_id: str,
           slow: np.ndarray | None = None, seed_sha: bool = True) -> list[str]:
    lines = []
    for k in range(cases):
        sha = f"{(night * 1000003 + k % 50) if seed_sha else k % 50:064x}"
        median = 20.0 + (k % 50) * 3.0
        if slow is not None and slow[k]:
            median *= 1.2
        s = median * np.exp(rng.normal(0.0, 0.02, samples))
        model, threads, mode, phone = _config(k)
        text = _template(k, samples, run_id).replace('"@@C@@"', f'"{model}__tflite__t{threads}__{mode}__{k // 300}__{k}"')
        lines.append(text.replace('"@@H@@"', f'"{sha}"').replace('"@@S@@"', "[" + ", ".join(map(float.__repr__, s.tolist())) + "]"))
    return lines


def _config(k: int) -> tuple[str, int, str, DeviceInfo]:
    return f"model-{k % 50:02d}", (1, 2, 4)[(k // 50) % 3], ("high", "low")[(k // 150) % 2], PHONES[(k // 300) % 10]


_TEMPLATES: dict[tuple[int, int, str], str] = {}


def _template(k: int, samples: int, run_id: str) -> str:
    """A record's line as Measurement.to_dict writes it, with "@@C@@", "@@H@@" and "@@S@@" for its case id, model
    sha256 and samples: made once per configuration (300 x 10 phones) instead of a Measurement per record, so that
    synthesising a million records takes a minute, not an hour."""
    key = (k % 3000, samples, run_id)
    if key not in _TEMPLATES:
        model, threads, mode, phone = _config(k)
        m = Measurement(run_id=run_id, case_id="c", model=ModelRef(model, f"/m/{model}.tflite", "tflite", "0" * 64),
                        runtime="tflite", status="ok", threads=threads, power_mode=mode, device_id=phone.id,
                        tool="benchmark_model", tool_version="2.16", cpu_mask="f0", warmup=10, repeats=samples,
                        count=samples, samples_ms=(1.0,) * samples, temps_before_c={"cpu": 41.0},
                        temps_after_c={"cpu": 44.5}, cpu_khz_before={"7": 2841600}, cpu_khz_after={"7": 2841600},
                        throttled=False, throttled_at_start=False, emulated=False, launch=1,
                        log_path=f"logs/{model}.log", started="2026-01-01T00:00:00+00:00",
                        finished="2026-01-01T00:00:01+00:00")
        d = m.to_dict()
        d.update(case_id="@@C@@", samples_ms="@@S@@", model={**d["model"], "sha256": "@@H@@"})
        _TEMPLATES[key] = json.dumps(d, sort_keys=True, allow_nan=False)
    return _TEMPLATES[key]


def _run(store: Store, run_id: str, lines: list[str], cases: int) -> None:
    info = RunInfo(run_id=run_id, started="2026-01-01T00:00:00+00:00", harness_version="bench", device=PHONES[0],
                   devices=tuple(PHONES), settings={"warmup": 10, "repeats": 50}, versions={"segbench": "0.1"},
                   status="completed", cases_total=cases)
    run = store.create_run(info)
    run.results_path.write_text("\n".join(lines) + "\n")


def synth(root: Path, records: int, cases: int, samples: int, do_compare: bool) -> dict[str, Path]:
    rng = np.random.default_rng(0)
    out = {}
    hist = Store(root / "history")
    for night in range(records // cases):
        _run(hist, f"2026{night:05d}-000000-000-0000", _cases(cases, night, rng, samples, "r"), cases)
    out["history"] = hist.root
    latest = _cases(100, 10**6, rng, samples, "latest")
    one, many = Store(root / "latest-1"), Store(root / "latest-1000")
    _run(one, "20270000-000000-000-ffff", latest, 100)
    for night in range(999):
        _run(many, f"2026{night:05d}-000000-000-0000", _cases(100, night, rng, samples, "r"), 100)
    _run(many, "20270000-000000-000-ffff", latest, 100)
    out["latest-1"], out["latest-1000"] = one.root, many.root
    if do_compare:
        cmp = Store(root / "compare")
        slow = rng.random(records) < 0.02
        _run(cmp, "base", _cases(records, 0, rng, samples, "base", seed_sha=False), records)
        _run(cmp, "cand", _cases(records, 0, rng, samples, "cand", slow, seed_sha=False), records)
        out["compare"] = cmp.root
    return out


def launch(argv: list[str]) -> tuple[float, float, int, float]:
    """(wall s, peak RSS MB, exit code, CPU s: user + system) of one process."""
    t = time.perf_counter()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    return time.perf_counter() - t, usage.ru_maxrss / 1024, p.returncode, usage.ru_utime + usage.ru_stime


def pair(name: str, target: list[str], base: list[str], rounds: int, ok: tuple[int, ...] = (0,)) -> None:
    cold = launch(target)
    if cold[2] not in ok:
        raise SystemExit(f"{name}: exit {cold[2]}: {' '.join(target)}")
    t_s, b_s, ratios, t_mb, b_mb, t_cpu, b_cpu = [], [], [], [], [], [], []
    for r in range(rounds):
        order = (target, base) if r % 2 == 0 else (base, target)
        got = {id(argv): launch(argv) for argv in order}
        (tw, tm, _, tc), (bw, bm, _, bc) = got[id(target)], got[id(base)]
        t_s.append(tw), b_s.append(bw), ratios.append(tw / bw), t_mb.append(tm), b_mb.append(bm)
        t_cpu.append(tc), b_cpu.append(bc)
    print(f"{name}: {'cold (cache built)' if COLD else 'first launch (stores reused)'} {cold[0]:.2f} s, "
          f"CPU {cold[3]:.2f} s, {cold[1]:.0f} MB")
    print(f"  target   median {statistics.median(t_s):.2f} s (range {min(t_s):.2f}-{max(t_s):.2f}), "
          f"CPU {statistics.median(t_cpu):.2f} s ({min(t_cpu):.2f}-{max(t_cpu):.2f}), peak {max(t_mb):.0f} MB")
    print(f"  baseline median {statistics.median(b_s):.2f} s (range {min(b_s):.2f}-{max(b_s):.2f}), "
          f"CPU {statistics.median(b_cpu):.2f} s ({min(b_cpu):.2f}-{max(b_cpu):.2f}), peak {max(b_mb):.0f} MB")
    print(f"  ratio    median {statistics.median(ratios):.2f} (range {min(ratios):.2f}-{max(ratios):.2f}), "
          f"{rounds} rounds; load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--cases", type=int, default=1000, help="cases per nightly run of the history")
    ap.add_argument("--samples", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--skip-compare", action="store_true")
    ap.add_argument("--store", metavar="DIR", help="synthesise into DIR and keep it; reuse it when it is there")
    ap.add_argument("--synth-into", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.synth_into:
        synth(Path(args.synth_into), args.records, args.cases, args.samples, not args.skip_compare)
        return
    global COLD
    with tempfile.TemporaryDirectory(prefix="segbench-scale-") as tmp:
        t = time.perf_counter()
        where = Path(args.store) if args.store else Path(tmp)
        if args.store and (where / "done").is_file():
            COLD = False
            print(f"reusing the stores in {where}", flush=True)
        else:
            # Synthesised in a child: a forked process starts with its parent's resident size, which would then count
            # in every timed process's peak memory.
            subprocess.run([sys.executable, __file__, "--records", str(args.records), "--cases", str(args.cases),
                            "--samples", str(args.samples), *(["--skip-compare"] if args.skip_compare else []),
                            "--synth-into", str(where)], check=True)
            (where / "done").write_text(f"{args.records} {args.cases} {args.samples} {args.skip_compare}\n")
            print(f"synthesised {args.records} records x {args.samples} samples in {time.perf_counter() - t:.0f} s",
                  flush=True)
        d = {name: where / name for name in ("history", "latest-1", "latest-1000", "compare")
             if (where / name).is_dir()}
        bare = [sys.executable, "-c", BARE]
        h = str(d["history"])
        for view in (["--format", "markdown"], ["--format", "json"], ["--format", "csv"], ["--view", "comparison"]):
            pair(f"report --all {' '.join(view)} ({args.records} records)",
                 [*SEGBENCH, "report", "--all", "--reports", h, *view, "-o", os.devnull], [*bare, h], args.rounds)
        latest = [*SEGBENCH, "report", "-o", os.devnull, "--reports"]
        pair("report of the latest run: 1000 runs of history vs 1", [*latest, str(d["latest-1000"])],
             [*latest, str(d["latest-1"])], args.rounds)
        one = d["latest-1"]
        pair("report of the latest run (1000 runs of history) vs bare reader of that run",
             [*latest, str(d["latest-1000"])], [*bare, str(one)], args.rounds)
        if "compare" in d:
            c = str(d["compare"])
            pair(f"compare of two {args.records}-case runs", [*SEGBENCH, "compare", "base", "cand", "--reports", c],
                 [*bare, c], args.rounds, ok=(0, 4))


if __name__ == "__main__":
    main()
