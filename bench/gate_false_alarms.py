"""How often the regression gate cries wolf, and how often it catches a real slowdown (docs/report.md).

    python bench/gate_false_alarms.py [--repeats 20] [--launches 5] [--load 1] [--where host,phones]

Each repeat of the experiment makes three runs of the same suite, under --load busy processes hogging CPUs:
a baseline, an identical candidate, and a candidate 20% slower; then `segbench compare` judges each candidate
against the baseline. As bench/nightly.sh does, the baseline gets --baseline-launches launches per case (the
nightly's BASELINE_LAUNCHES) and a comparison with unclear verdicts (past the threshold, not yet
sure) gets more evidence: the candidate run's launches are doubled (`run --resume RUN --launches 2K`, up to
--max-launches) and it is compared again. It prints the rate of repeats with a false alarm (any regression between
identical runs: should be 0), the rate of repeats where the slowdown was flagged on every case (should be 1), and
how many launches the candidates ended with.

- host: two ONNX models of known cost (chains of matrix products); the slow candidate is the same models with
  20% more of the same products, under the same names, so compare pairs them. Judged with `compare --clock cpu`
  (--host-clock): on a loaded machine wall time mostly measures the load.
- phones: two emulated MI 9s (`run --device A,B`); the slow candidate runs with the emulator's `slow=1.2`
  fault, which makes its vendor-tool stand-ins report 20% longer runs (on the emulated phone's clock: the CPU
  time of each run, docs/device.md).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _cost_model(path: Path, layers: int, size: int = 256) -> None:
    """An ONNX model whose cost is ``layers`` equal matrix products (plus a tanh each, to keep values bounded)."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    nodes, inits, x = [], [], "x"
    for i in range(layers):
        w = numpy_helper.from_array((rng.standard_normal((size, size)) / np.sqrt(size)).astype(np.float32), f"w{i}")
        inits.append(w)
        nodes += [helper.make_node("MatMul", [x, f"w{i}"], [f"m{i}"]), helper.make_node("Tanh", [f"m{i}"], [f"t{i}"])]
        x = f"t{i}"
    graph = helper.make_graph(nodes, "cost", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, size, size])],
                              [helper.make_tensor_value_info(x, TensorProto.FLOAT, [1, 3, size, size])], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


def _segbench(*args: str, env: dict | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "segbench", *args], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})


def _run(reports: Path, models: Path, launches: int, extra: tuple[str, ...] = (), env: dict | None = None) -> str:
    done = _segbench("run", "--models", str(models), "--launches", str(launches), "--warmup", "3", "--repeats", "15",
                     "--reports", str(reports), "-q", *extra, env=env)
    if done.returncode != 0:
        sys.exit(f"segbench run failed ({done.returncode}): {done.stderr.strip().splitlines()[-1:]}")
    return sorted(p.name for p in (reports / "runs").iterdir())[-1]


def _verdicts(reports: Path, base: str, cand: str, expect: str, launches: int, max_launches: int,
              clock: str = "wall", env: dict | None = None) -> tuple[int, int, int]:
    """(regressions, cases, the candidate's launches per case) of `segbench compare BASE CAND --clock CLOCK`, after
    doubling the candidate's launches while a verdict is unclear (bench/nightly.sh's loop); the rows that are not
    ``expect`` are printed on stderr (what a miss or a false alarm looked like)."""
    while True:
        done = _segbench("compare", base, cand, "--reports", str(reports), "--clock", clock)
        rows = [ln.split("|")[1:-1] for ln in done.stdout.splitlines()
                if ln.startswith("| ") and not ln.startswith("| case")]
        statuses = [r[4].strip() for r in rows]
        if "unclear" not in statuses or launches >= max_launches:
            break
        launches = min(2 * launches, max_launches)
        more = _segbench("run", "--resume", cand, "--launches", str(launches), "--reports", str(reports), "-q", env=env)
        if more.returncode != 0:
            sys.exit(f"segbench run --resume failed ({more.returncode}): {more.stderr.strip().splitlines()[-1:]}")
    for r, status in zip(rows, statuses):
        if status != expect:
            print(f"  |{'|'.join(r)}|", file=sys.stderr)
    return statuses.count("regression"), len(rows), launches


@contextlib.contextmanager
def _load(n: int) -> Iterator[None]:
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        yield
    finally:
        for h in hogs:
            h.kill()
            h.wait()


def _host(tmp: Path, args: argparse.Namespace) -> tuple[int, int]:
    same_dir, slow_dir = tmp / "host_models", tmp / "host_models_slow"
    for d, extra in ((same_dir, 0), (slow_dir, 1)):
        d.mkdir()
        _cost_model(d / "cost_a.onnx", 5 + extra)  # 5 -> 6 products: +20%
        _cost_model(d / "cost_b.onnx", 10 + 2 * extra)  # 10 -> 12
    false_alarms = caught = 0
    used: list[int] = []
    for i in range(args.repeats):
        reports = tmp / f"host_{i}"
        base = _run(reports, same_dir, args.baseline_launches)
        same = _run(reports, same_dir, args.launches)
        slow = _run(reports, slow_dir, args.launches)
        reg, _, k = _verdicts(reports, base, same, "same", args.launches, args.max_launches, args.host_clock)
        false_alarms += reg > 0
        used.append(k)
        reg, n, k = _verdicts(reports, base, slow, "regression", args.launches, args.max_launches, args.host_clock)
        caught += reg == n > 0
        used.append(k)
    return false_alarms, caught, used


def _phones(tmp: Path, args: argparse.Namespace) -> tuple[int, int]:
    import adbutils

    from segbench.emulator import EmulatedPhone, stub_assets
    from segbench.emulator.phone import free_port

    models = tmp / "phone_models"
    models.mkdir()
    for name in ("selfie_a", "selfie_b"):
        (models / f"{name}.tflite").write_bytes((ROOT / "tests/fixtures/models/selfie_segmentation.tflite").read_bytes())
    assets = stub_assets(tmp / "assets", ROOT / "device_assets" / "manifest.toml")
    port = free_port(range(27160, 27200, 2))
    subprocess.run([adbutils.adb_path(), "-P", str(port), "start-server"], capture_output=True, check=False)
    env = {"ANDROID_ADB_SERVER_PORT": str(port)}
    false_alarms = caught = 0
    used: list[int] = []
    try:
        with EmulatedPhone(port=free_port(range(29100, 29200, 2)), adb_port=port) as a, \
                EmulatedPhone(port=free_port(range(29150, 29200, 2)), adb_port=port) as b:
            device = ("--device", f"{a.serial},{b.serial}", "--assets", str(assets))
            for i in range(args.repeats):
                reports = tmp / f"phones_{i}"
                base = _run(reports, models, args.baseline_launches, device, env)
                same = _run(reports, models, args.launches, device, env)
                for p in (a, b):
                    p.set_faults("slow=1.2")
                slow = _run(reports, models, args.launches, device, env)
                for p in (a, b):
                    p.set_faults(None)
                reg, _, k = _verdicts(reports, base, same, "same", args.launches, args.max_launches, env=env)
                false_alarms += reg > 0
                used.append(k)
                for p in (a, b):  # launches added to the slow candidate are slow too
                    p.set_faults("slow=1.2")
                reg, n, k = _verdicts(reports, base, slow, "regression", args.launches, args.max_launches, env=env)
                for p in (a, b):
                    p.set_faults(None)
                caught += reg == n > 0
                used.append(k)
    finally:
        subprocess.run([adbutils.adb_path(), "-P", str(port), "kill-server"], capture_output=True, check=False)
    return false_alarms, caught, used


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--launches", type=int, default=5)
    ap.add_argument("--max-launches", type=int, default=20,
                    help="launches an unclear comparison's candidate may grow to (bench/nightly.sh's MAX_LAUNCHES)")
    ap.add_argument("--baseline-launches", type=int, default=20,
                    help="launches per case of each baseline run (bench/nightly.sh's BASELINE_LAUNCHES)")
    ap.add_argument("--load", type=int, default=1, help="busy processes running meanwhile")
    ap.add_argument("--where", default="host,phones")
    ap.add_argument("--host-clock", default="cpu", choices=("wall", "cpu"),
                    help="compare --clock for the host runs (wall: see how a load moves wall time)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp, _load(args.load):
        for where in args.where.split(","):
            false_alarms, caught, used = (_host if where == "host" else _phones)(Path(tmp), args)
            clock = f", --clock {args.host_clock}" if where == "host" else ""
            print(f"{where}: {args.repeats} repeats, baselines of {args.baseline_launches} launches, "
                  f"candidates of {args.launches} (doubled while unclear), {args.load} busy process(es)"
                  f"{clock}: "
                  f"false-alarm rate {false_alarms / args.repeats:.2f} (identical runs), "
                  f"detection rate {caught / args.repeats:.2f} (20% slower, every case flagged); "
                  f"candidates ended with {min(used)}-{max(used)} launches (median {sorted(used)[len(used) // 2]}, "
                  f"up to {args.max_launches})")


if __name__ == "__main__":
    main()
