"""Android phones over ADB, through adbutils (its wheel carries the adb binary).

- Server: ``--adb-server HOST:PORT``, else ``ANDROID_ADB_SERVER_PORT`` on localhost, else
  127.0.0.1:5037. A local server that is down is started with the bundled adb.
- Device: ``--device SERIAL``, else ``ANDROID_SERIAL``, else the only attached device.
- Commands use shell protocol v2 with a deadline of our own, so exit codes are real and a
  command whose exit status never arrives (device gone, timeout) is a failure.
- Commands and files go over the adb server's protocol directly (segbench.devices.adbwire says why):
  one connection per command, one kept ``sync:`` connection per phone for its pushes and pulls.
  adbutils still lists, connects and disconnects devices and carries the adb binary.
- Pushes send 64 KiB DATA packets (adbutils' own push writes 4 KiB packets, several times slower)
  and skip files whose sha256 already matches on the device (hashed only when the sizes match). A run
  that knows its files beforehand has them all hashed by one command (``look_ahead``), not one each.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import posixpath
import re
import shlex
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from segbench.devices import Completed, Facts, adbwire
from segbench.errors import DeviceError, DeviceGone, UsageError
from segbench.model import DeviceInfo
from segbench.models import sha256_cached
from segbench.validate import want_port

DEFAULT_SERVER_PORT = 5037
T = TypeVar("T")
REMOTE_ROOT = "/data/local/tmp/segbench"


def server_address(adb_server: str | None = None) -> tuple[str, int]:
    """(host, port) of the adb server to use; a bad --adb-server or ANDROID_ADB_SERVER_PORT is a usage error."""
    if adb_server:
        host, _, port = adb_server.rpartition(":")
        if not host:
            raise UsageError(f"--adb-server {adb_server!r} is not HOST:PORT", hint="e.g. --adb-server 127.0.0.1:5037")
        return host, want_port(port, f"the port of --adb-server {adb_server!r}", error=UsageError)
    env = os.environ.get("ANDROID_ADB_SERVER_PORT")
    if env:
        return (os.environ.get("ANDROID_ADB_SERVER_ADDRESS", "127.0.0.1"),
                want_port(env, "ANDROID_ADB_SERVER_PORT", error=UsageError))
    return "127.0.0.1", DEFAULT_SERVER_PORT


def adbutils_module():
    """adbutils, imported once ANDROID_ADB_SERVER_PORT is known to be a port: its import makes a client from it and
    a bad value would be a ValueError from inside the library."""
    server_address()
    import adbutils

    return adbutils


def _listening(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=2):
        return True
    return False


def _unreachable(host: str, port: int, why: str = "nothing answers there") -> DeviceError:
    """The one line for an adb server segbench cannot reach, with what to do."""
    start = (f"`adb -a -P {port} start-server` on {host}" if host not in LOCAL_HOSTS
             else f"`adb -P {port} start-server`" if port != DEFAULT_SERVER_PORT else "`adb start-server`")
    return DeviceError(f"cannot reach the adb server at {host}:{port}: {why}",
                       hint=f"start it: {start}, or check --adb-server and ANDROID_ADB_SERVER_PORT")


LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
SOCKET_TIMEOUT = 15.0  # seconds for each answer of the adb server


def _startable(port: int) -> bool:
    """Whether segbench starts a local server that is down on ``port``: the one adb itself would start (5037, or
    ANDROID_ADB_SERVER_PORT's). A server named on another port was meant to be running: starting one there would
    only hide a wrong port behind an empty device list (and leave a stray server behind)."""
    env = os.environ.get("ANDROID_ADB_SERVER_PORT")
    return port == DEFAULT_SERVER_PORT or (env is not None and env.strip() == str(port))


def ensure_server(host: str, port: int) -> None:
    """Start the bundled adb server when the local default one (see _startable) is down; any other must already run.
    adb's own lines (`* daemon not running; starting now ...`) are kept off stderr: a failure is one segbench line."""
    if _listening(host, port):
        return
    if host not in LOCAL_HOSTS or not _startable(port):
        raise _unreachable(host, port)
    adb_path = adbutils_module().adb_path

    try:
        done = subprocess.run([adb_path(), "-P", str(port), "start-server"], capture_output=True, text=True,
                              errors="replace", timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise _unreachable(host, port, f"starting it failed: {exc}") from None
    if not _listening(host, port):
        said = [ln.strip() for ln in (done.stderr + done.stdout).splitlines() if ln.strip() and not ln.startswith("*")]
        raise _unreachable(host, port, "starting it failed" + (f": {said[-1]}" if said else ""))


def client(adb_server: str | None = None):
    """An adbutils client for the chosen server (started if it is the local default one and down). Its connections
    never start a server themselves (adbutils' own fallback runs `adb start-server` on the default port, printing
    to segbench's stderr): a server gone meanwhile is an AdbError, said as one line where it is caught."""
    host, port = server_address(adb_server)
    adbutils_module()
    ensure_server(host, port)
    return _client_class()(host=host, port=port, socket_timeout=SOCKET_TIMEOUT)


@functools.cache
def _client_class():
    """adbutils.AdbClient whose connections only connect (made here: adbutils is imported when a phone is used).

    The hook is adbutils' private AdbConnection._safe_connect (2.8-2.12): an adbutils without it gets its own client
    back, whose only difference is that fallback (tests/test_adb_server_reach.py checks the hook is there)."""
    from adbutils import AdbClient, AdbTimeout

    try:
        from adbutils._adb import AdbConnection
    except ImportError:
        return AdbClient
    if not callable(getattr(AdbConnection, "_safe_connect", None)) or not callable(
            getattr(AdbConnection, "_create_socket", None)):
        return AdbClient

    class Connection(AdbConnection):
        def _safe_connect(self):  # adbutils' own starts a server when the connection fails
            return self._create_socket()

    class Client(AdbClient):
        def make_connection(self, timeout: float | None = None) -> AdbConnection:
            try:
                conn = Connection(self.host, self.port)
            except TimeoutError:  # as adbutils' own make_connection says it
                raise AdbTimeout("connect to adb server timeout") from None
            conn.conn.settimeout(timeout or SOCKET_TIMEOUT)
            return conn

    return Client


@dataclass(frozen=True)
class Attached:
    serial: str
    state: str  # device | offline | unauthorized | ...

    @property
    def advice(self) -> str:
        return {
            "device": "ready",
            "offline": "offline: reconnect the cable (or `adb reconnect offline`), then retry",
            "unauthorized": "unauthorized: unlock the phone and accept the USB debugging prompt",
            "no permissions": "no permissions: fix udev rules for this USB device",
        }.get(self.state, f"{self.state}: wait until `adb devices` shows it as 'device'")


def attached(adb) -> list[Attached]:
    from adbutils import AdbError
    from adbutils.errors import AdbConnectionError

    try:
        return [Attached(d.serial, d.state) for d in adb.list()]
    except AdbConnectionError as exc:  # gone since ensure_server found it
        raise _unreachable(adb.host, adb.port, str(exc)) from None
    except (AdbError, OSError) as exc:
        raise DeviceError(f"cannot list devices: {exc}") from None


def choose(adb, serial: str | None = None) -> str:
    """The serial to use: asked for, ANDROID_SERIAL, or the only attached device."""
    serial = serial or os.environ.get("ANDROID_SERIAL")
    devices = attached(adb)
    if serial:
        match = [d for d in devices if d.serial == serial]
        if not match:
            known = ", ".join(d.serial for d in devices) or "none"
            raise DeviceError(f"device {serial} is not attached", hint=f"attached: {known}")
        if match[0].state != "device":
            raise DeviceError(f"device {serial} is {match[0].advice}")
        return serial
    ready = [d for d in devices if d.state == "device"]
    if len(ready) == 1:
        return ready[0].serial
    if not ready:
        others = "; ".join(f"{d.serial} {d.advice}" for d in devices)
        raise DeviceError("no device attached" + (f" ({others})" if others else ""),
                          hint="plug a phone in with USB debugging on, or `adb connect HOST:PORT`")
    raise DeviceError(f"{len(ready)} devices attached ({', '.join(d.serial for d in ready)})",
                      hint="choose one with --device SERIAL or ANDROID_SERIAL")


def wait_online(adb, serial: str, timeout: float) -> bool:
    """Wait until ``serial`` is back and answers a command; True when it came back in time.

    A phone over TCP (serial HOST:PORT) is reconnected with `adb connect`: the server gives up on a lost
    TCP transport after about a minute, and may keep it listed ('offline', even 'device') meanwhile,
    so a listing that does not answer is dropped (`adb disconnect`) and connected afresh.
    """
    from adbutils import AdbError

    deadline = time.monotonic() + timeout
    tcp = ":" in serial
    while time.monotonic() < deadline:
        try:
            state = {d.serial: d.state for d in adb.list()}.get(serial)
            if state == "device" and AdbDevice(adb, serial).shell("echo ok", 5).stdout.strip() == b"ok":
                return True
            if tcp:
                if state is not None:
                    adb.disconnect(serial)
                adb.connect(serial, timeout=5)
        except (AdbError, OSError):
            pass
        time.sleep(1.0)
    return False


def is_emulated(props: dict[str, str]) -> bool:
    """Android's emulators set ro.kernel.qemu (Android 11 and older) or ro.boot.qemu (12 and newer) to 1; real
    phones never do."""
    return "1" in (props.get("ro.kernel.qemu"), props.get("ro.boot.qemu"))


def _parse_getprop(text: str) -> dict[str, str]:
    props = {}
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("[") and "]: [" in line and line.endswith("]"):
            key, _, value = line[1:-1].partition("]: [")
            props[key] = value
    return props


_CPUFREQ = "/sys/devices/system/cpu/cpu[0-9]*/cpufreq"
_ZONES = "/sys/class/thermal/thermal_zone*"
_MARK = "##segbench "
_HEX = re.compile(rb"[0-9a-f]+")


def _first_lines(*globs: str) -> str:
    """A command printing the first line of every readable, non-empty file of ``globs`` as PATH:VALUE lines, in the
    shell itself: the glob, ``read`` and ``echo`` are builtins of every phone's shell (mksh), so it starts no process
    at all. (A loop with ``$(cat FILE)`` forks one per file, some 30 for a phone's zones and CPUs: on the emulated
    phone that made a reading 3x as long as a command that does nothing; ``grep -H .`` forked one for them all, the
    one process a case boundary still cost.) A file that cannot be read (a sensor that is off) is left out."""
    return f'for f in {" ".join(globs)}; do v=; read -r v < "$f"; [ -n "$v" ] && echo "$f:$v"; done 2>/dev/null'


def _by_path(text: str) -> dict[str, str]:
    """PATH:VALUE lines -> {path: value} (a file's first line)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        path, sep, value = line.partition(":")
        if sep and path.startswith("/"):
            out.setdefault(path, value.strip())
    return out


def _thermal(files: dict[str, str]) -> dict[str, float]:
    """Each zone's type -> °C, in the order the phone lists its zones."""
    out: dict[str, float] = {}
    for path, name in files.items():
        if not path.endswith("/type"):
            continue
        value = files.get(path[: -len("type")] + "temp", "")
        if name and value.isascii() and value.lstrip("-").isdigit():
            millis = int(value)
            # Most kernels report millidegrees; a few report degrees.
            out[name if name not in out else f"{name}.{len(out)}"] = millis / 1000.0 if abs(millis) > 500 else float(millis)
    return out


def _khz_of(files: dict[str, str], name: str) -> dict[str, int]:
    return {f"cpu{c}": int(v) for p, v in files.items()
            if p.endswith(f"/{name}") and (c := _cpu_index(p)) is not None and v.isascii() and v.isdigit()}


_FACTS_READ = _first_lines(f"{_ZONES}/type", f"{_ZONES}/temp", f"{_CPUFREQ}/scaling_cur_freq", f"{_CPUFREQ}/scaling_max_freq")
_FACTS_SCRIPT = f"{_FACTS_READ}; echo '{_MARK}end'"
# Everything info() needs, in one command: sections after "##segbench NAME" lines.
_INFO_SCRIPT = "; ".join((
    f"echo '{_MARK}props'", "getprop",
    f"echo '{_MARK}cpufreq'", _first_lines(f"{_CPUFREQ}/cpuinfo_max_freq", f"{_CPUFREQ}/scaling_governor"),
    f"echo '{_MARK}meminfo'", "cat /proc/meminfo",
    f"echo '{_MARK}cpuinfo'", "cat /proc/cpuinfo",
    f"echo '{_MARK}battery'", "dumpsys battery",
    f"echo '{_MARK}thermal'", _first_lines(f"{_ZONES}/type", f"{_ZONES}/temp"),
    f"echo '{_MARK}end'"))


def _sections(text: str) -> dict[str, str]:
    """'##segbench NAME' lines -> {NAME: the text up to the next such line}; only sections whose next marker came
    (the last one printed may have been cut short by the link going)."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        if line.startswith(_MARK):
            current = sections.setdefault(line[len(_MARK):].strip(), [])
        elif current is not None:
            current.append(line)
    names = list(sections)
    return {name: "\n".join(sections[name]) for name in names[:-1]}


def _cpu_index(path: str) -> int | None:
    for part in path.split("/"):
        if part.startswith("cpu") and part[3:].isdigit():
            return int(part[3:])
    return None


class AdbDevice:
    """One phone. Every call has a timeout; a vanished device raises DeviceError.

    Commands and files go over the adb server's own protocol (segbench.devices.adbwire): a command is one
    connection, and one ``sync:`` connection carries all the phone's pushes and pulls while it lasts."""

    def __init__(self, adb, serial: str) -> None:
        self._adb = adb
        self.serial = serial
        self._address = (adb.host, adb.port)
        self._sync: adbwire.Sync | None = None
        self._sync_lock = threading.Lock()
        self._features: frozenset[str] | None = None
        self._made_dirs: set[str] = set()
        # look_ahead's findings: remote path -> (its STAT then, the phone's sha256 of it then); each used once.
        self._looked: dict[str, tuple[adbwire.Stat, str]] = {}
        self._props: dict[str, str] | None = None  # getprop as info() read it

    def close(self) -> None:
        """End the kept sync connection (the next push or pull opens a new one)."""
        with self._sync_lock:
            self._drop_sync()

    # -- commands ---------------------------------------------------------------------------
    def shell(self, command: str, timeout: float = 30.0) -> Completed:
        """Run a shell command string with shell v2 and a total deadline."""
        deadline = time.monotonic() + timeout
        try:
            sock = adbwire.open_service(self._address, self.serial, f"shell,v2,raw:{command}", min(timeout, 15))
        except (adbwire.ServerRefused, OSError, EOFError) as exc:  # not attached, offline, no server
            return Completed(None, b"", str(exc).encode(), disconnected=True)
        out, err = bytearray(), bytearray()
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return Completed(None, bytes(out), bytes(err), timed_out=True)
                sock.settimeout(remaining)
                header = adbwire.read_exact(sock, 5)
                kind, length = header[0], struct.unpack("<I", header[1:])[0]
                data = adbwire.read_exact(sock, length) if length else b""
                if kind == 1:
                    out += data
                elif kind == 2:
                    err += data
                elif kind == 3:
                    return Completed(data[0] if data else None, bytes(out), bytes(err))
        except TimeoutError:
            return Completed(None, bytes(out), bytes(err), timed_out=True)
        except (OSError, EOFError) as exc:
            return Completed(None, bytes(out), bytes(err) + f"\n{exc}".encode(), disconnected=True)
        finally:
            with contextlib.suppress(OSError):
                sock.close()

    def run(self, argv: list[str], timeout: float) -> Completed:
        return self.shell(" ".join(shlex.quote(a) for a in argv), timeout)

    def check(self, command: str, timeout: float = 30.0) -> str:
        """Run a command that must succeed; its stdout as text."""
        done = self.shell(command, timeout)
        if done.disconnected:
            raise DeviceGone(f"device {self.serial} disconnected during `{command.split()[0]}`")
        if done.timed_out:
            raise DeviceError(f"device {self.serial} did not answer `{command.split()[0]}` (timed out)")
        if done.returncode != 0:
            msg = (done.stderr or done.stdout).decode(errors="replace").strip().splitlines()
            raise DeviceError(f"`{command}` failed on {self.serial}: {msg[-1] if msg else done.returncode}")
        return done.stdout.decode(errors="replace")

    def features(self) -> frozenset[str]:
        """What the phone's adbd says it can do (the adb server keeps it from the connection; read once)."""
        if self._features is None:
            try:
                text = adbwire.host_query(self._address, f"host-serial:{self.serial}:features", 15)
            except (adbwire.ServerRefused, OSError, EOFError):
                return frozenset()  # asked again next time; meanwhile assume an old phone
            self._features = frozenset(f.strip() for f in text.split(",") if f.strip())
        return self._features

    # -- files ------------------------------------------------------------------------------
    def remote_sha256(self, remote: str) -> str | None:
        return self.remote_sha256s([remote]).get(remote)

    def remote_sha256s(self, remotes: list[str]) -> dict[str, str]:
        """The phone's sha256 of each of ``remotes``, in one command: {remote: hex digest} for each file it read.

        sha256sum (toybox's on Android) prints "HEX  NAME" for each file it read, in the order given, and for each
        it could not (missing, unreadable) a line on stderr and exit status 1, going on with the rest. A line is
        matched to its file by the very name asked for: a file missing from the answer was not hashed, and a name
        printed otherwise (GNU's sha256sum escapes a backslash or newline) leaves that file unknown, as does a
        command cut off (no exit status): the caller then takes it as not there."""
        if not remotes:
            return {}
        done = self.shell("sha256sum " + " ".join(shlex.quote(r) for r in remotes) + " 2>/dev/null",
                          60.0 * len(remotes))
        if done.returncode is None:
            return {}
        asked = {r.encode(): r for r in remotes}
        found: dict[str, str] = {}
        for line in done.stdout.split(b"\n")[:-1]:  # complete lines only
            digest, sep, name = line.partition(b"  ")
            if sep and name in asked and len(digest) == 64 and _HEX.fullmatch(digest):
                found[asked[name]] = digest.decode()
        return found

    def look_ahead(self, files: Iterable[tuple[str, str]]) -> int:
        """Files a run is about to push, as (local, remote), checked in one go: the remote ones STATed on the kept
        sync connection (the requests sent together) and those of the local file's size hashed by one `sha256sum`
        for them all. Pushing one of them then asks no hash of its own while it stands as it stood (the same mode,
        size and mtime in the push's own STAT); one that changed or vanished since is hashed or sent as before.
        Returns how many were hashed."""
        pairs = list(files)
        remotes = [remote for _, remote in pairs]
        seen = self._synced(lambda sync: sync.stats(remotes), f"look at {len(remotes)} file(s) on {self.serial}")
        stats = {remote: there for (local, remote), there in zip(pairs, seen)
                 if there.regular and there.size == os.stat(local).st_size & 0xFFFFFFFF}
        digests = self.remote_sha256s(list(stats))
        self._looked.update((remote, (stats[remote], digest)) for remote, digest in digests.items())
        return len(digests)

    def _phone_digest(self, remote: str, there: adbwire.Stat) -> str | None:
        """The phone's sha256 of ``remote``, which stands as ``there`` says: look_ahead's if it still stands as then."""
        looked = self._looked.pop(remote, None)
        if looked is not None and looked[0] == there:
            return looked[1]
        return self.remote_sha256(remote)

    def push(self, local: str, remote: str, digest: str | None = None, mode: int | None = None) -> bool:
        """Copy ``local`` to ``remote`` unless the device already has the same bytes there.

        ``mode``: the permission bits the file gets on the phone (a tool: 0o755), carried by the SEND request itself
        so that no `chmod` follows; a file already there without its execute bits is sent again. Default: the local
        file's bits.

        A sync STAT first (on the kept connection: no new connection, one round trip): a file that is not there,
        or not of this size, is sent at once; only one of the same size is hashed, on the phone and here (``digest``,
        else this process's cache by size and mtime). After DONE the size is checked by the STAT sent behind it:
        the transport is checksummed, a second remote hash would halve throughput.
        """
        st = os.stat(local)
        mode = st.st_mode & 0o777 if mode is None else mode
        there = self._synced(lambda sync: sync.stat(remote), f"push of {local} to {self.serial}:{remote}")
        runnable = there.mode & mode & 0o111 == mode & 0o111
        if there.regular and runnable and there.size == st.st_size & 0xFFFFFFFF:
            if self._phone_digest(remote, there) == (digest or sha256_cached(Path(local), st)):
                return False
        self._make_dir(posixpath.dirname(remote))
        with open(local, "rb") as source:
            arrived = self._synced(
                lambda sync: sync.send(source, remote, mode, int(st.st_mtime)),
                f"push of {local} to {self.serial}:{remote}", again=False)
        if arrived.size != st.st_size & 0xFFFFFFFF:  # sync STAT carries 32 bits of size
            raise DeviceError(f"push of {local} to {self.serial}:{remote} arrived truncated "
                              f"({arrived.size} of {st.st_size} bytes)")
        return True

    def _make_dir(self, remote_dir: str) -> None:
        """adbd makes a pushed file's directories itself when it has ``fixed_push_mkdir`` (Android 7 and newer);
        an older one gets `mkdir -p`, once per directory, as the adb client does for it."""
        if remote_dir in self._made_dirs or "fixed_push_mkdir" in self.features():
            return
        self.check(f"mkdir -p {shlex.quote(remote_dir)}")
        self._made_dirs.add(remote_dir)

    def _synced(self, step: Callable[[adbwire.Sync], T], what: str, again: bool = True) -> T:
        """``step`` on the kept sync connection (opened when there is none).

        A kept connection may have died since its last use (the phone was unplugged and came back): a step that
        breaks on a kept connection before anything changed on the phone (``again``: STAT, RECV) is tried once
        more on a new one. A break on a new connection is DeviceGone; a FAIL from the phone is DeviceError."""
        with self._sync_lock:
            for attempt in (1, 2):
                kept = self._sync is not None
                if self._sync is None:
                    try:
                        self._sync = adbwire.Sync.open(self._address, self.serial, 30)
                    except (adbwire.ServerRefused, OSError, EOFError) as exc:
                        raise DeviceGone(f"cannot open a sync connection to {self.serial}: {exc}") from None
                try:
                    return step(self._sync)
                except adbwire.SyncFailed as exc:
                    self._drop_sync()  # adbd ends the service after a FAIL
                    raise DeviceError(f"{what} failed: {exc}") from None
                except (OSError, EOFError) as exc:
                    self._drop_sync()
                    if not (kept and again and attempt == 1):
                        raise DeviceGone(f"{what} broke off: {exc}") from None
            raise AssertionError("unreachable")

    def _drop_sync(self) -> None:
        if self._sync is not None:
            self._sync.close()
            self._sync = None

    def pull(self, remote: str, local: str) -> None:
        def receive(sync: adbwire.Sync) -> int:
            with open(local, "wb") as sink:  # a retry on a new connection starts the file again
                return sync.recv(remote, sink)

        self._synced(receive, f"pull of {self.serial}:{remote}")

    def read_text(self, remote: str, timeout: float = 30.0) -> str:
        return self.check(f"cat {shlex.quote(remote)}", timeout)

    # -- facts ------------------------------------------------------------------------------
    def hardware_serial(self) -> str | None:
        """The phone's own serial number (``ro.serialno``), whatever address it is reached at; None when unset.
        Taken from info()'s properties when it read them (no command of its own)."""
        value = (self._props.get("ro.serialno", "") if self._props is not None
                 else self.check("getprop ro.serialno", 15)).strip()
        return value if value and value.lower() != "unknown" else None

    def info(self) -> DeviceInfo:
        """What the phone is, in one shell command (props, CPUs, memory, battery, temperatures)."""
        sections = _sections(self.check(_INFO_SCRIPT, 30))
        if "thermal" not in sections:  # no end marker: the output was cut short
            raise DeviceGone(f"device {self.serial} stopped answering while its facts were read")
        props = self._props = _parse_getprop(sections["props"])
        cpufreq = _by_path(sections["cpufreq"])
        max_khz = {int(cpu[3:]): khz for cpu, khz in _khz_of(cpufreq, "cpuinfo_max_freq").items()}
        governors = {v for p, v in cpufreq.items() if p.endswith("/scaling_governor")}
        mem = next((int(ln.split()[1]) / 1024 for ln in sections["meminfo"].splitlines()
                    if ln.startswith("MemTotal:") and len(ln.split()) > 1 and ln.split()[1].isdigit()), None)
        hardware = next((ln.split(":", 1)[1].strip() for ln in sections["cpuinfo"].splitlines()
                         if ln.startswith("Hardware") and ":" in ln), None)
        sdk = props.get("ro.build.version.sdk", "")

        def prop(*names: str) -> str | None:
            return next((props[n] for n in names if props.get(n)), None)

        return DeviceInfo(
            id=self.serial, kind="android",
            brand=prop("ro.product.vendor.brand", "ro.product.brand"),
            model=prop("ro.product.vendor.model", "ro.product.model"),
            device=prop("ro.product.vendor.device", "ro.product.device"),
            soc=prop("ro.soc.model", "ro.board.platform", "ro.hardware"),
            os=f"Android {props.get('ro.build.version.release', '?')}",
            android_version=props.get("ro.build.version.release"),
            api_level=int(sdk) if sdk.isdigit() else None,
            abi=prop("ro.product.cpu.abi"),
            cpu_model=hardware,
            cores=len(max_khz) or None,
            cpu_max_khz=dict(sorted(max_khz.items())),
            memory_mb=round(mem, 1) if mem else None,
            extra={"governor": ",".join(sorted(governors)) or None, "battery": _battery(sections["battery"]),
                   "thermal_c": _thermal(_by_path(sections["thermal"])),
                   "fingerprint": props.get("ro.build.fingerprint")},
            emulated=is_emulated(props),
        )

    def thermal_c(self) -> dict[str, float]:
        return _thermal(self._read(f"{_ZONES}/type", f"{_ZONES}/temp"))

    def cur_khz(self) -> dict[str, int]:
        return _khz_of(self._read(f"{_CPUFREQ}/scaling_cur_freq"), "scaling_cur_freq")

    def cap_khz(self) -> dict[str, int]:
        """Each CPU's scaling_max_freq: the ceiling the thermal governor lets it reach now."""
        return _khz_of(self._read(f"{_CPUFREQ}/scaling_max_freq"), "scaling_max_freq")

    def _read(self, *globs: str) -> dict[str, str]:
        return _by_path(self.shell(_first_lines(*globs), 15).stdout.decode(errors="replace"))

    # The reading facts() takes, as a command another command may carry (ondevice runs it around a tool, in the
    # tool's own command): it prints PATH:VALUE lines and never fails.
    facts_command = _FACTS_READ

    @staticmethod
    def read_facts(text: str) -> Facts:
        """What ``facts_command`` printed (whole: the caller checks its output was not cut) -> Facts."""
        files = _by_path(text)
        return Facts(thermal_c=_thermal(files), cur_khz=_khz_of(files, "scaling_cur_freq"),
                     cap_khz=_khz_of(files, "scaling_max_freq"))

    def facts(self) -> Facts:
        """thermal_c, cur_khz and cap_khz read in one shell command that starts no process: the readings around a case, one
        round trip. Output the phone did not print whole (no end marker: the link went mid-command) is an empty
        reading, as a failed single read is."""
        text = self.shell(_FACTS_SCRIPT, 15).stdout.decode(errors="replace")
        if f"{_MARK}end" not in text:
            return Facts({}, {}, {})
        return self.read_facts(text)

    def battery(self) -> dict[str, object]:
        return _battery(self.shell("dumpsys battery", 15).stdout.decode(errors="replace"))


def _battery(text: str) -> dict[str, object]:
    """`dumpsys battery` -> level, charging, temperature."""
    fields = {k.strip(): v.strip() for k, _, v in (ln.partition(":") for ln in text.splitlines()) if v}
    level = fields.get("level", "")
    temp = fields.get("temperature", "")
    return {
        "level": int(level) if level.isdigit() else None,
        "charging": any(fields.get(k) == "true" for k in ("AC powered", "USB powered", "Wireless powered")),
        "temperature_c": int(temp) / 10 if temp.lstrip("-").isdigit() else None,
    }


def lock_path(ident: str) -> Path:
    """The lock file of the phone whose serial number is ``ident``, in the user's private lock directory."""
    from segbench.locks import lock_dir

    digest = hashlib.sha256(ident.encode()).hexdigest()[:12]
    return lock_dir() / f"phone-{re.sub(r'[^A-Za-z0-9._+-]+', '_', ident)[:64]}-{digest}.lock"


@contextlib.contextmanager
def device_lock(phone: AdbDevice, name: str | None = None) -> Iterator[None]:
    """Hold an exclusive lock on a phone for a run, so two runs never share it.

    The lock is keyed by what the phone is (``ro.serialno``), not by how it is reached: ``127.0.0.1:P`` and
    ``localhost:P``, or one phone on two adb servers, are one phone. ``name`` is how this run calls it (records'
    device id); a phone without a serial number is keyed by its adb serial. segbench.locks has the file's rules.
    """
    from segbench.locks import hold

    name = name or phone.serial
    ident = phone.hardware_serial() or phone.serial
    me = f"segbench pid {os.getpid()}"

    def busy(holder: str) -> DeviceError:
        if holder.startswith(f"{me} ("):  # this very run holds it: the phone is reached twice (two servers)
            return DeviceError(f"device {name} is {holder[len(me) + 2:].rstrip(')')} again (serial number {ident}), "
                               "which this run already has")
        return DeviceError(f"device {name} is in use by {holder}", hint="wait for that run to finish")

    with hold(lock_path(ident), f"{me} ({name})", busy):
        yield
