"""Where cases run: this machine (host.py) or an Android phone over ADB (adb.py).

A Device runs argv with a timeout and says how it ended; a missing exit status (the device
went away mid-command) is a failure, never a success.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from segbench.model import DeviceInfo


@dataclass(frozen=True)
class Completed:
    """How a remote command ended. ``returncode`` is None when no exit status arrived."""

    returncode: int | None
    stdout: bytes
    stderr: bytes
    timed_out: bool = False
    disconnected: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out and not self.disconnected


@dataclass(frozen=True)
class Facts:
    """What a phone's sensors said at one moment: zone temperatures (°C), each CPU's current and allowed kHz
    (empty: not read)."""

    thermal_c: dict[str, float]
    cur_khz: dict[str, int]
    cap_khz: dict[str, int]


class Device(Protocol):
    serial: str

    def info(self) -> DeviceInfo: ...

    def run(self, argv: list[str], timeout: float) -> Completed: ...

    def push(self, local: str, remote: str) -> bool:
        """Copy a file to the device; False when the same content was already there."""
        ...

    def pull(self, remote: str, local: str) -> None: ...
