"""An emulated phone in a process of its own, behind an adb server of its own (for the device benchmarks).

The phone runs in another process (this file, run as a script), as a real phone is elsewhere: in the benchmark's
own process its Python threads would share the interpreter lock with the client being timed. It prints its serial
and the directory where it logs the shell commands it receives (shell.jsonl), so a benchmark can replay them.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
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
    state_dir: Path

    def adb(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([adb_binary(), "-P", str(self.adb_port), "-s", self.serial, *args],
                              capture_output=True, check=False)

    def shell_commands(self) -> list[str]:
        """The shell commands the phone has received so far, oldest first."""
        log = self.state_dir / "shell.jsonl"
        return [json.loads(ln) for ln in log.read_text().splitlines() if ln.strip()] if log.exists() else []


@contextlib.contextmanager
def emulated_phone(tmp: Path) -> Iterator[Phone]:
    """A started adb server and an emulated phone connected to it; both stopped on exit."""
    adb_port, phone_port = free_port(ADB_PORTS), free_port(PHONE_PORTS)
    subprocess.run([adb_binary(), "-P", str(adb_port), "start-server"], capture_output=True, check=False)
    log = tmp / "emulator.log"
    with open(log, "w") as err:
        emu = subprocess.Popen([sys.executable, __file__, str(phone_port), str(adb_port)], stdout=subprocess.PIPE,
                               stderr=err, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    try:
        serial = emu.stdout.readline().strip() if emu.stdout else ""
        state_dir = emu.stdout.readline().strip() if emu.stdout else ""
        if not serial or not state_dir:
            sys.exit("the emulated phone did not start: " + log.read_text()[-2000:])
        yield Phone(serial, adb_port, Path(state_dir))
    finally:
        emu.terminate()
        emu.wait(30)
        subprocess.run([adb_binary(), "-P", str(adb_port), "kill-server"], capture_output=True, check=False)


def spread(values: list[float], fmt: str = "{:.2f}") -> str:
    """'median (min-max)'."""
    return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def _serve(port: int, adb_port: int) -> None:
    import signal
    import threading

    from segbench.emulator import EmulatedPhone

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with EmulatedPhone(port=port, adb_port=adb_port) as phone:
        print(phone.serial, phone.state.state_dir, sep="\n", flush=True)
        threading.Event().wait()


if __name__ == "__main__":
    _serve(int(sys.argv[1]), int(sys.argv[2]))
