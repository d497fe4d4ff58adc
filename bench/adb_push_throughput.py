"""Push throughput to the emulated phone: adb CLI, adbutils, and AdbDevice.push (as a ratio to adb push).

    python bench/adb_push_throughput.py [--mb 50]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time

import adbutils

from segbench.devices.adb import AdbDevice
from segbench.emulator import EmulatedPhone
from segbench.emulator.phone import ADB_PORTS, adb, free_port


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=50)
    size = ap.parse_args().mb * 1024 * 1024
    port = free_port(ADB_PORTS)
    with tempfile.TemporaryDirectory() as tmp, EmulatedPhone(adb_port=port) as phone:
        src = os.path.join(tmp, "blob.bin")
        with open(src, "wb") as f:
            f.write(os.urandom(size))
        t = time.perf_counter()
        adb(port, "-s", phone.serial, "push", src, "/data/local/tmp/cli.bin")
        cli = size / (time.perf_counter() - t) / 1e6
        dev = adbutils.AdbClient(port=port).device(phone.serial)
        t = time.perf_counter()
        dev.sync.push(src, "/data/local/tmp/adbutils.bin")
        lib = size / (time.perf_counter() - t) / 1e6
        t = time.perf_counter()
        AdbDevice(adbutils.AdbClient(port=port), phone.serial).push(src, "/data/local/tmp/segbench.bin")
        ours = size / (time.perf_counter() - t) / 1e6
    subprocess.run([adbutils.adb_path(), "-P", str(port), "kill-server"], capture_output=True, check=False)
    print(f"adb push          {cli:8.1f} MB/s")
    print(f"adbutils push     {lib:8.1f} MB/s")
    print(f"AdbDevice.push    {ours:8.1f} MB/s  ({ours / cli:.2f} x adb push, incl. sha256 checks)")


if __name__ == "__main__":
    main()
