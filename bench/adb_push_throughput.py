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
        dev = adbutils.AdbClient(port=port).device(phone.serial)
        ours_dev = AdbDevice(adbutils.AdbClient(port=port), phone.serial)

        def best(push) -> float:
            """MB/s of the fastest of three pushes (the first also warms the page cache)."""
            times = []
            for i in range(3):
                t = time.perf_counter()
                push(f"/data/local/tmp/bench{i}.bin")
                times.append(time.perf_counter() - t)
            return size / min(times) / 1e6

        cli = best(lambda remote: adb(port, "-s", phone.serial, "push", src, remote))
        lib = best(lambda remote: dev.sync.push(src, remote))
        ours = best(lambda remote: ours_dev.push(src, remote + ".segbench"))
    subprocess.run([adbutils.adb_path(), "-P", str(port), "kill-server"], capture_output=True, check=False)
    print(f"adb push          {cli:8.1f} MB/s")
    print(f"adbutils push     {lib:8.1f} MB/s")
    print(f"AdbDevice.push    {ours:8.1f} MB/s  ({ours / cli:.2f} x adb push, incl. the content-hash skip check; goal >= 0.8)")


if __name__ == "__main__":
    main()
