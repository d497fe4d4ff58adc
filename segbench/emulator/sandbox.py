"""The phone's filesystem: a sandbox root on the host, device paths mapped into it, and the
sysfs/procfs files whose contents follow the thermal model.

Mapping is textual (reference pitfall 11): a device path under one of MAPPED_PREFIXES becomes
``root + path`` in shell commands, and the root is cut out of everything printed back.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import threading
import time
from pathlib import Path

from segbench.emulator.faults import Faults
from segbench.emulator.profile import Profile, advance, capped_khz

MAPPED_PREFIXES = ("/data", "/sdcard", "/storage", "/sys", "/proc/cpuinfo", "/proc/meminfo", "/system", "/vendor")
WRITABLE_PREFIXES = ("/data/", "/sdcard/", "/storage/")
# A device path starts a shell word: after start, blank, quote, = : ( < > ; | & or backtick.
_WORD_START = r"(?:(?<=[\s'\"=:(<>;|&`])|^)"


def device_to_host(root: str, path: str) -> str | None:
    """A device path -> host path inside ``root``; None when it would escape the root."""
    # '//x' survives posixpath.normpath (pitfall 1), so strip every leading slash first.
    rel = posixpath.normpath("/" + path.lstrip("/")).lstrip("/")
    if rel.startswith(".."):
        return None
    return os.path.join(root, rel) if rel not in ("", ".") else root


def is_writable(path: str) -> bool:
    norm = posixpath.normpath("/" + path.lstrip("/"))
    return any((norm + "/").startswith(p) for p in WRITABLE_PREFIXES) and norm.count("/") >= 2


class PathMapper:
    """Textual device<->host path substitution for shell commands and their output."""

    def __init__(self, root: str) -> None:
        self.root = root
        prefixes = "|".join(re.escape(p) for p in sorted(MAPPED_PREFIXES, key=len, reverse=True))
        self._inbound = re.compile(_WORD_START + f"({prefixes})(?=[/\\s'\"*;|&)<>:`$]|$)")
        self._outbound = re.compile(re.escape(root.encode()) + rb"(/?)")

    def command(self, command: str) -> str:
        return self._inbound.sub(lambda m: self.root + m.group(1), command)

    def output(self, data: bytes) -> bytes:
        # "<root>/x" -> "/x"; a bare "<root>" (the device's "/") -> "/".
        return self._outbound.sub(lambda m: b"/", data)

    def split_safe(self, data: bytes) -> tuple[bytes, bytes]:
        """(part that can be unmapped now, tail that may be the start of the root path)."""
        needle = self.root.encode()
        for keep in range(min(len(needle) - 1, len(data)), 0, -1):
            if needle.startswith(data[-keep:]):
                return data[:-keep], data[-keep:]
        return data, b""


class PhoneState:
    """Files of one emulated phone plus its thermal state. Thread-safe."""

    def __init__(self, profile: Profile, root: Path, state_dir: Path, faults: Faults) -> None:
        self.profile = profile
        self.root = root
        self.state_dir = state_dir
        self.faults = faults
        self.pushed_bytes = 0
        self._lock = threading.Lock()
        self._t = time.time()
        self._temps = [z.idle_c if faults.throttle_c is None or not z.cluster else faults.throttle_c
                       for z in profile.zones]
        self._busy_offset = 0
        self._write_static()
        self.refresh()

    # -- layout -----------------------------------------------------------------------------
    def host(self, device_path: str) -> Path:
        return self.root / device_path.lstrip("/")

    def _write(self, device_path: str, text: str) -> None:
        path = self.host(device_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text)
        os.replace(tmp, path)  # readers never see a half-written file

    def _write_static(self) -> None:
        for d in ("data/local/tmp", "sdcard", "system/bin", "vendor"):
            (self.root / d).mkdir(parents=True, exist_ok=True)
        (self.state_dir / "busy").mkdir(parents=True, exist_ok=True)
        for lib in self.profile.vendor_libs:  # present, not loadable: only the tool stand-ins "use" them
            self._write(lib, "\x7fELF (emulated accelerator library)\n")
        self._write("/proc/cpuinfo", self.profile.cpuinfo)
        self._write("/proc/meminfo", self.profile.meminfo)
        n = self.profile.cpu_count
        for name in ("online", "possible", "present"):
            self._write(f"/sys/devices/system/cpu/{name}", f"0-{n - 1}\n")
        for cluster in self.profile.clusters:
            for cpu in cluster.cpus:
                base = f"/sys/devices/system/cpu/cpu{cpu}/cpufreq/"
                self._write(base + "cpuinfo_max_freq", f"{cluster.max_khz}\n")
                self._write(base + "cpuinfo_min_freq", f"{cluster.min_khz}\n")
                self._write(base + "scaling_min_freq", f"{cluster.min_khz}\n")
                self._write(base + "scaling_governor", "schedutil\n")
                self._write(base + "scaling_available_frequencies",
                            " ".join(map(str, cluster.freqs_khz)) + " \n")
                self._write(base + "related_cpus", " ".join(map(str, cluster.cpus)) + "\n")
        for i, zone in enumerate(self.profile.zones):
            self._write(f"/sys/class/thermal/thermal_zone{i}/type", zone.type + "\n")
        self._write_state_files()

    def _write_state_files(self) -> None:
        props = "".join(f"[{k}]: [{v}]\n" for k, v in sorted(self.profile.props))
        (self.state_dir / "props").write_text(props)
        (self.state_dir / "faults").write_text(self.faults.env_value())
        # What the tool stand-ins may use: the GPU behind the OpenCL driver, NNAPI behind Android's runtime.
        accel = [f"gpu {self.profile.gpu}"] if self.profile.gpu and any("OpenCL" in x for x in self.profile.vendor_libs) else []
        accel += ["nnapi"] if any("libneuralnetworks" in x for x in self.profile.vendor_libs) else []
        (self.state_dir / "accelerators").write_text("".join(f"{x}\n" for x in accel))
        # The CPUs' max frequencies ("cpu khz" lines), as the tool stand-ins' own CPU binding reads the topology.
        (self.state_dir / "cpufreq").write_text("".join(f"{cpu} {c.max_khz}\n" for c in self.profile.clusters
                                                        for cpu in c.cpus))

    # -- dynamic files ----------------------------------------------------------------------
    def _busy_spans(self, now: float) -> list[tuple[float, float]]:
        """(start, end) of tool runs since the last refresh; running ones end now."""
        spans = []
        log = self.state_dir / "busy.log"
        if log.exists():
            with open(log) as f:
                f.seek(self._busy_offset)
                text = f.read()
            complete = text[: text.rfind("\n") + 1]
            self._busy_offset += len(complete)
            spans += [(float(a), float(b)) for a, b in (ln.split() for ln in complete.splitlines())]
        for marker in (self.state_dir / "busy").iterdir():
            try:
                spans.append((float(marker.read_text() or now), now))
            except (OSError, ValueError):
                continue  # the tool finished while we looked
        return spans

    def temperatures(self) -> dict[str, float]:
        with self._lock:
            return {z.type: t for z, t in zip(self.profile.zones, self._temps)}

    def refresh(self, now: float | None = None) -> None:
        """Advance the thermal model to ``now`` and rewrite temps, frequencies and battery."""
        with self._lock:
            now = time.time() if now is None else now
            if now > self._t:
                spans = self._busy_spans(now)
                self._temps = advance(self._temps, self.profile.zones, self._t, now, spans,
                                      self.faults.throttle_c)
                self._t = now
            for i, t in enumerate(self._temps):
                self._write(f"/sys/class/thermal/thermal_zone{i}/temp", f"{round(t * 1000)}\n")
            hottest = {c.name: max(t for z, t in zip(self.profile.zones, self._temps) if z.cluster == c.name)
                       for c in self.profile.clusters}
            for cluster in self.profile.clusters:
                cap = capped_khz(cluster, hottest[cluster.name])
                for cpu in cluster.cpus:
                    base = f"/sys/devices/system/cpu/cpu{cpu}/cpufreq/"
                    self._write(base + "scaling_max_freq", f"{cap}\n")
                    self._write(base + "scaling_cur_freq", f"{cap}\n")
            battery_c = self._temps[[z.type for z in self.profile.zones].index("battery")]
            (self.state_dir / "battery").write_text(self._dumpsys_battery(battery_c))

    def _dumpsys_battery(self, temp_c: float) -> str:
        return ("Current Battery Service state:\n  AC powered: false\n  USB powered: true\n"
                "  Wireless powered: false\n  Max charging current: 500000\n"
                "  Max charging voltage: 5000000\n  Charge counter: 2790000\n  status: 2\n  health: 2\n"
                f"  present: true\n  level: {self.profile.battery_level}\n  scale: 100\n  voltage: 4213\n"
                f"  temperature: {round(temp_c * 10)}\n  technology: Li-poly\n")

    def log_command(self, command: str) -> None:
        """Keep the text of each shell command received (shell.jsonl), so tests can count a host's round trips."""
        with open(self.state_dir / "shell.jsonl", "a") as f:
            f.write(json.dumps(command) + "\n")

    def shell_commands(self) -> list[str]:
        log = self.state_dir / "shell.jsonl"
        if not log.exists():
            return []
        return [json.loads(ln) for ln in log.read_text().splitlines() if ln.strip()]

    def tool_runs(self) -> list[dict]:
        log = self.state_dir / "tool_runs.jsonl"
        if not log.exists():
            return []
        return [json.loads(ln) for ln in log.read_text().splitlines() if ln.strip()]
