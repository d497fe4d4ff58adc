"""The phone's shell: commands run by the host's bash (as /system/bin/sh) with device paths mapped
into the sandbox, and small stand-ins for Android's getprop, dumpsys and toybox's taskset and sha256sum on
PATH.

A word whose basename is one of the vendor tools is routed through ``segbench-tool``, which
checks the pushed file like exec would and then runs the Python stand-in
(segbench.emulator.tools) in the venv's interpreter.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import segbench
from segbench.emulator.faults import TOOLS
from segbench.emulator.sandbox import PathMapper, PhoneState

_GETPROP = r"""#!/bin/sh
# getprop [NAME]: all properties as "[k]: [v]", or one value (empty line when unset).
if [ $# -eq 0 ]; then cat "$SEGBENCH_EMU_STATE/props"; exit 0; fi
grep -F "[$1]: [" "$SEGBENCH_EMU_STATE/props" | head -n 1 | sed 's/^\[[^]]*\]: \[//; s/\]$//' | grep . || echo
"""

_DUMPSYS = r"""#!/bin/sh
case "$1" in
  battery) cat "$SEGBENCH_EMU_STATE/battery" ;;
  "") echo "Currently running services:"; echo "  battery" ;;
  *) echo "Can't find service: $1"; exit 0 ;;
esac
"""

# toybox taskset: "taskset MASK COMMAND..." runs COMMAND bound to MASK. The emulated phone has
# 8 CPUs; the host has fewer, so the mask is checked and recorded, not applied.
_TASKSET = r"""#!/bin/sh
if [ "$1" = "-p" ]; then echo "taskset: -p is not emulated" >&2; exit 1; fi
if [ $# -lt 2 ]; then echo "usage: taskset [-ap] [mask] [PID | cmd [args...]]" >&2; exit 1; fi
mask=${1#0x}; shift
case "$mask" in ""|*[!0-9a-fA-F]*) echo "taskset: bad mask '$mask'" >&2; exit 1 ;; esac
if [ $(( 0x$mask & %(all)d )) -eq 0 ]; then echo "taskset: sched_setaffinity: Invalid argument" >&2; exit 1; fi
printf '%%s %%s\n' "$mask" "$*" >> "$SEGBENCH_EMU_STATE/taskset.log"
SEGBENCH_EMU_CPUMASK=$(printf '%%x' $(( 0x$mask & %(all)d ))) exec "$@"
"""

# toybox sha256sum FILE...: "HASH  NAME" for each file it read, the name printed as given (GNU's escapes a backslash
# or newline in it and marks the line with a leading backslash); for one it cannot open, "sha256sum: NAME: REASON"
# on stderr and exit status 1, going on with the rest. GNU's -z ends lines with NUL instead and escapes nothing.
# Not emulated: what toybox prints for a directory (segbench hashes only files a sync STAT found regular).
_SHA256SUM = r"""#!/bin/bash
case "$1" in -?*) exec -a sha256sum /usr/bin/sha256sum "$@" ;; esac
set -o pipefail
(exec -a sha256sum /usr/bin/sha256sum -z "$@") | tr '\0' '\n'
"""

# Checks the pushed binary like execve would, then runs the Python stand-in (told which file it is: the
# benchmark_model stand-in acts as LiteRT 2.x's tool when the file is that build).
_TOOL = r"""#!/bin/sh
tool=$1; bin=$2; shift 2
if [ ! -e "$bin" ]; then echo "/system/bin/sh: $bin: not found" >&2; exit 127; fi
if [ ! -x "$bin" ] || [ -d "$bin" ]; then echo "/system/bin/sh: $bin: can't execute: Permission denied" >&2; exit 126; fi
SEGBENCH_EMU_BINARY=$bin exec "$SEGBENCH_EMU_PYTHON" -m segbench.emulator.tools "$tool" "$@"
"""

# A tool named by a path (./benchmark_bin, /data/local/tmp/x/benchmark_model) in command position:
# at the start or after ; & | ( ` , past VAR=value words and taskset MASK / exec / nice / time. As an
# argument (sha256sum /data/local/tmp/benchmark_bin) it stays a file name.
_TOOL_WORD = re.compile(
    r"(?:^|(?<=[;&|(`]))"
    r"(\s*(?:[A-Za-z_]\w*=\S*\s+)*(?:(?:taskset\s+(?:0x)?[0-9a-fA-F]+|exec|nice(?:\s+-n\s*-?\d+)?|time)\s+)*)"
    r"((?:[^\s'\";|&()<>`]*/)(" + "|".join(TOOLS) + r"))(?=[\s;|&)<>`]|$)")


class Shell:
    """Runs shell commands for one phone."""

    def __init__(self, state: PhoneState) -> None:
        self.state = state
        self.bin_dir = state.state_dir / "bin"
        self.mapper = PathMapper(str(state.root))
        self._install_applets()

    def _install_applets(self) -> None:
        self.bin_dir.mkdir(parents=True, exist_ok=True)
        all_cpus = (1 << self.state.profile.cpu_count) - 1
        for name, text in (("getprop", _GETPROP), ("dumpsys", _DUMPSYS), ("segbench-tool", _TOOL),
                           ("taskset", _TASKSET % {"all": all_cpus}), ("sha256sum", _SHA256SUM)):
            path = self.bin_dir / name
            path.write_text(text)
            path.chmod(0o755)

    def rewrite(self, command: str) -> str:
        """Device command -> host command: tool words routed to the stand-ins, paths mapped."""
        # A bare tool name is looked up on PATH, where (as on a phone) no vendor tool lives.
        routed = _TOOL_WORD.sub(
            lambda m: f"{m.group(1)}{self.bin_dir}/segbench-tool {m.group(3)} {m.group(2)}", command)
        return self.mapper.command(routed)

    def env(self) -> dict[str, str]:
        package_parent = str(Path(segbench.__file__).resolve().parent.parent)
        return {
            "PATH": f"{self.bin_dir}:/usr/bin:/bin",
            "HOME": str(self.state.root / "data/local/tmp"),
            "TMPDIR": str(self.state.root / "data/local/tmp"),
            "ANDROID_DATA": str(self.state.root / "data"),
            "LANG": "C.UTF-8",
            "SEGBENCH_EMU_STATE": str(self.state.state_dir),
            "SEGBENCH_EMU_PYTHON": sys.executable,
            "SEGBENCH_EMU_FAULT": self.state.faults.env_value(),
            "PYTHONPATH": package_parent,
            "PYTHONDONTWRITEBYTECODE": "1",
        }

    def start(self, command: str, merge_stderr: bool) -> subprocess.Popen[bytes]:
        """Start ``command`` (the device's text) in its own process group."""
        self.state.refresh()
        self.state.log_command(command)
        argv = ["/system/bin/sh", "--norc", "--noprofile"]
        argv += ["-c", self.rewrite(command)] if command.strip() else ["-s"]
        return subprocess.Popen(
            argv, executable="/bin/bash", cwd=self.state.root, env=self.env(),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE,
            start_new_session=True,  # one process group to kill when the host closes the stream
        )


def signal_exit(returncode: int) -> tuple[int, bytes]:
    """(exit status the shell reports, message it prints) for a process that ended by a signal."""
    if returncode >= 0:
        return returncode, b""
    import signal

    sig = -returncode
    names = {signal.SIGSEGV: b"Segmentation fault", signal.SIGABRT: b"Aborted", signal.SIGKILL: b"Killed",
             signal.SIGTERM: b"Terminated", signal.SIGBUS: b"Bus error"}
    return 128 + sig, names.get(sig, f"Signal {sig}".encode()) + b" \n"


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    import contextlib
    import signal

    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
