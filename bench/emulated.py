"""An emulated phone in a process of its own, behind an adb server of its own (for the device benchmarks).

The phone runs as `segbench emulator` in another process, as a real phone is elsewhere: in the benchmark's own
process its Python threads would share the interpreter lock with the client being timed.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from segbench.emulator.phone import ADB_PORTS, PHONE_PORTS, adb_binary, free_port  # noqa: E402


@dataclass(frozen=True)
class Phone:
    serial: str
    adb_port: int
    root: Path  # the phone's files on this machine (its /data/local/tmp is root/data/local/tmp)

    def adb(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([adb_binary(), "-P", str(self.adb_port), "-s", self.serial, *args],
                              capture_output=True, check=False)


@contextlib.contextmanager
def emulated_phone(tmp: Path, assets: Path | None = None) -> Iterator[Phone]:
    """A started adb server and an emulated phone connected to it; both stopped on exit."""
    adb_port, phone_port = free_port(ADB_PORTS), free_port(PHONE_PORTS)
    subprocess.run([adb_binary(), "-P", str(adb_port), "start-server"], capture_output=True, check=False)
    root = tmp / "phone"
    cmd = [sys.executable, "-m", "segbench", "emulator", "--port", str(phone_port), "--adb-port", str(adb_port),
           "--root", str(root)] + (["--assets", str(assets)] if assets else [])
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    emu = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=open(tmp / "emulator.log", "w"), text=True, env=env)
    try:
        serial = emu.stdout.readline().strip() if emu.stdout else ""
        if not serial:
            sys.exit("the emulated phone did not start: " + (tmp / "emulator.log").read_text()[-2000:])
        yield Phone(serial, adb_port, root)
    finally:
        emu.terminate()
        emu.wait(30)
        subprocess.run([adb_binary(), "-P", str(adb_port), "kill-server"], capture_output=True, check=False)


def spread(values: list[float], fmt: str = "{:.2f}") -> str:
    """'median (min-max)'."""
    import statistics

    return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}-{fmt.format(max(values))})"
