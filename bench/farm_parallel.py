"""Wall time of the same suite on one emulated phone and on two at once (`run --device S1,S2`).

    python bench/farm_parallel.py [--repeats 300] [--threads 1] [--copies 6]

The suite is --copies copies of the same TFLite model (so the cases cost the same and shard can split
them evenly), at each thread count.

--split shard shares the cases out: two phones should take about half the time of one (ratio 0.5).
--split each (the default) runs every case on each phone, twice the work: a ratio near 1.0 means the
phones really run in parallel, 2.0 would mean one after the other. The emulated phones' vendor-tool
stand-ins run the models on this machine's CPUs, so the ratios also show how many cores they share.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import adbutils

from segbench.emulator import EmulatedPhone, stub_assets
from segbench.emulator.phone import free_port

ROOT = Path(__file__).resolve().parent.parent

def _assets(root: Path) -> Path:
    return stub_assets(root, ROOT / "device_assets" / "manifest.toml")


def _models(root: Path, copies: int) -> Path:
    """``copies`` equal cases: one model under several names (pushed once, content-keyed on the phone)."""
    root.mkdir()
    for i in range(copies):
        shutil.copy(ROOT / "tests" / "fixtures" / "models" / "selfie_segmentation.tflite", root / f"selfie_{i}.tflite")
    return root


def _timed_run(serials: list[str], adb_port: int, assets: Path, reports: Path, args: argparse.Namespace,
               split: str = "each") -> float:
    cmd = [sys.executable, "-m", "segbench", "run", "--device", ",".join(serials), "--split", split, "--models",
           str(args.models), "--threads", args.threads, "--warmup", "5",
           "--repeats", str(args.repeats), "--assets", str(assets), "--reports", str(reports), "-q"]
    env = dict(os.environ, ANDROID_ADB_SERVER_PORT=str(adb_port), PYTHONPATH=str(ROOT))
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        sys.exit(f"segbench run failed ({done.returncode}):\n{done.stderr}")
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=300)
    ap.add_argument("--threads", default="1")
    ap.add_argument("--copies", type=int, default=6)
    args = ap.parse_args()
    port = free_port(range(27060, 27100, 2))
    subprocess.run([adbutils.adb_path(), "-P", str(port), "start-server"], capture_output=True, check=False)
    try:
        with tempfile.TemporaryDirectory() as tmp, \
                EmulatedPhone(port=free_port(range(28900, 29000, 2)), adb_port=port) as a, \
                EmulatedPhone(port=free_port(range(28950, 29000, 2)), adb_port=port) as b:
            assets = _assets(Path(tmp))
            args.models = _models(Path(tmp) / "models", args.copies)
            # A first pass pushes the tools and models to both phones, so the timed runs push nothing.
            _timed_run([a.serial, b.serial], port, assets, Path(tmp) / "warm", args)
            one = _timed_run([a.serial], port, assets, Path(tmp) / "one", args)
            shard = _timed_run([a.serial, b.serial], port, assets, Path(tmp) / "shard", args, "shard")
            each = _timed_run([a.serial, b.serial], port, assets, Path(tmp) / "each", args)
    finally:
        subprocess.run([adbutils.adb_path(), "-P", str(port), "kill-server"], capture_output=True, check=False)
    print(f"one phone:                 {one:.1f} s  (every case once)")
    print(f"two phones, --split shard: {shard:.1f} s  (every case once, on either phone)  ratio {shard / one:.2f} "
          "(0.50 = half the time)")
    print(f"two phones, --split each:  {each:.1f} s  (every case on each)               ratio {each / one:.2f} "
          "(1.00 = fully parallel, 2.00 = serial)")
    print(f"this host has {os.cpu_count()} CPUs for the emulated phones' tools; segbench's start-up is included")


if __name__ == "__main__":
    main()
