"""Push throughput to the emulated phone: AdbDevice.push against `adb push`, paired and alternating.

    python bench/adb_push_throughput.py [--mb 50] [--rounds 10] [--warmup 3]

The phone runs in a process of its own behind an adb server of its own (bench/emulated.py). Both sides are
warmed first (server, page cache, the phone's first connection). Then each round pushes the same file once
with each, in alternating order (ABAB in even rounds, BABA in odd ones), so a slow moment of this shared machine
hits both; every push goes to a new name (AdbDevice.push then pays its full price: the STAT that finds no file
there, the stream, the size check), and the files are removed untimed between rounds. `adb push` is a process
per push, as a script would run it. Printed: each side's MB/s median and range, and the per-round ratio
(AdbDevice.push / `adb push`) median and range; the goal is >= 0.8. Run on demand (not a test).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import adbutils
from emulated import emulated_phone, spread

from segbench.devices.adb import AdbDevice


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    args = ap.parse_args()
    size = args.mb * 1024 * 1024
    with tempfile.TemporaryDirectory() as tmp, emulated_phone(Path(tmp)) as phone:
        src = os.path.join(tmp, "blob.bin")
        with open(src, "wb") as f:
            f.write(os.urandom(size))
        ours = AdbDevice(adbutils.AdbClient(port=phone.adb_port), phone.serial)
        remote = "/data/local/tmp/bench"

        def cli(name: str) -> float:
            t = time.perf_counter()
            done = phone.adb("push", src, f"{remote}/{name}")
            seconds = time.perf_counter() - t
            if done.returncode != 0:
                raise SystemExit(f"adb push failed: {done.stderr.decode(errors='replace').strip()}")
            return seconds

        def segbench(name: str) -> float:
            t = time.perf_counter()
            if not ours.push(src, f"{remote}/{name}"):
                raise SystemExit("AdbDevice.push skipped a file that was not on the phone")
            return time.perf_counter() - t

        sides = {"adb push": cli, "AdbDevice.push": segbench}
        for i in range(args.warmup):
            for name, push in sides.items():
                push(f"warm{i}-{name.replace(' ', '_')}")
        phone.adb("shell", f"rm -rf {remote}")
        mbps: dict[str, list[float]] = {name: [] for name in sides}
        ratios = []
        for r in range(args.rounds):
            order = list(sides) if r % 2 == 0 else list(reversed(sides))
            seconds = {name: sides[name](f"r{r}-{name.replace(' ', '_')}") for name in order}
            for name, s in seconds.items():
                mbps[name].append(size / s / 1e6)
            ratios.append(seconds["adb push"] / seconds["AdbDevice.push"])
            phone.adb("shell", f"rm -rf {remote}")
        ours.close()
    print(f"{args.mb} MB file, {args.rounds} rounds (alternating order), after {args.warmup} warm-up pushes each")
    for name, values in mbps.items():
        print(f"{name:<16} {spread(values, '{:.0f}')} MB/s  median (range)")
    print(f"AdbDevice.push / adb push  {spread(ratios)}  (goal >= 0.8)")


if __name__ == "__main__":
    main()
