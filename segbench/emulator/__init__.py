"""An emulated Android phone on loopback (docs/emulator.md).

The device side of the ADB protocol on a TCP port that the real adb server reaches with
`adb connect`, a Snapdragon 855 / Xiaomi MI 9 profile (props, cpufreq, thermal zones that heat
while a benchmark runs), a sandboxed filesystem and shell, and stand-ins for the three vendor
benchmark tools that really run the model on the host and print the vendor's log format.
The harness never special-cases it: it is just a phone that happens to live on loopback.
"""

from segbench.emulator.assets import stub_assets
from segbench.emulator.faults import Faults, parse_faults
from segbench.emulator.phone import EmulatedPhone

__all__ = ["EmulatedPhone", "Faults", "parse_faults", "stub_assets"]
