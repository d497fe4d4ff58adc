"""EmulatedPhone: a listening socket, the phone's state, faults, and `adb connect` through a real
adb server. Used by `segbench emulator` and by tests as a context manager."""

from __future__ import annotations

import contextlib
import dataclasses
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from segbench.emulator.faults import Faults, parse_faults
from segbench.emulator.profile import profile_named
from segbench.emulator.sandbox import PhoneState
from segbench.emulator.services import root_service, shell_service
from segbench.emulator.shell import Shell
from segbench.emulator.sync import sync_service
from segbench.emulator.transport import Connection, ServiceHandler
from segbench.errors import DeviceError

PHONE_PORTS = range(16000, 17000)
ADB_PORTS = range(15037, 15100)


def free_port(ports: range) -> int:
    """A port in ``ports`` that nothing listens on right now (even ones: adb probes odd 5555-5585)."""
    for port in ports:
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise DeviceError(f"no free port in {ports.start}-{ports.stop - 1}")


def adb_binary() -> str:
    from segbench.devices.adb import adbutils_module

    return adbutils_module().adb_path()


def adb(adb_port: int, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run([adb_binary(), "-P", str(adb_port), *args], capture_output=True, text=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise DeviceError(f"`adb {' '.join(args)}` did not finish within {timeout:.0f} s") from None


def server_running(adb_port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", adb_port), timeout=1):
        return True
    return False


class EmulatedPhone:
    """An emulated Android phone on 127.0.0.1:PORT.

    ``with EmulatedPhone(adb_port=15037) as phone:`` starts it, makes the adb server on that port
    `adb connect` to it (starting the server first if needed; a server started here is killed on
    exit), and on exit disconnects and stops. ``phone.serial`` is "127.0.0.1:PORT".
    """

    def __init__(self, port: int | None = None, adb_port: int | None = None, profile: str = "sd855-mi9",
                 root: str | Path | None = None, faults: str | Faults | None = None) -> None:
        # Each emulated phone is a phone of its own: its own serial number (ro.serialno), as real phones have,
        # so that the phone lock (keyed by it) tells two emulated phones apart and one phone's two addresses not.
        base = profile_named(profile)
        serialno = f"{base.prop('ro.serialno') or 'emulated'}-{secrets.token_hex(4)}"
        props = tuple((k, v) for k, v in base.props if k != "ro.serialno") + (("ro.serialno", serialno),)
        self.profile = dataclasses.replace(base, props=props)
        self.faults = faults if isinstance(faults, Faults) else parse_faults(faults)
        self.port = port if port is not None else free_port(PHONE_PORTS)
        self.adb_port = adb_port
        self._tmp = Path(tempfile.mkdtemp(prefix="segbench-phone-"))
        self.root = Path(root).resolve() if root else self._tmp / "root"
        self.root.mkdir(parents=True, exist_ok=True)
        self.state = PhoneState(self.profile, self.root, self._tmp / "state", self.faults)
        self.shell = Shell(self.state)
        self._listener: socket.socket | None = None
        self._connections: set[Connection] = set()
        self._lock = threading.Lock()
        self._commands = 0
        self._services: list[str] = []
        self.unplugged = False
        self._owns_server = False

    @property
    def serial(self) -> str:
        return f"127.0.0.1:{self.port}"

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> EmulatedPhone:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind(("127.0.0.1", self.port))
        except OSError as exc:
            listener.close()
            # Not a usage error (exit 2): the port is fine, something else holds it (exit 1, README's table).
            raise DeviceError(f"cannot listen on 127.0.0.1:{self.port}: {exc.strerror}",
                              hint="pick another --port") from None
        listener.listen(16)
        self._listener = listener
        threading.Thread(target=self._accept_loop, name="phone-accept", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._listener:
            with contextlib.suppress(OSError):
                self._listener.close()
            self._listener = None
        self._drop_all()
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> EmulatedPhone:
        self.start()
        if self.adb_port is not None:
            try:
                self.connect()
            except BaseException:
                self.stop()
                raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self.adb_port is not None:
                self.disconnect()
        finally:
            self.stop()

    # -- adb server -------------------------------------------------------------------------
    def connect(self, timeout: float = 20) -> None:
        """`adb connect` (its exit code is 0 even on failure, so its output is read)."""
        assert self.adb_port is not None
        if not server_running(self.adb_port):
            adb(self.adb_port, "start-server")
            self._owns_server = True
        done = adb(self.adb_port, "connect", self.serial, timeout=timeout)
        text = (done.stdout + done.stderr).strip()
        if self.faults.offline or self.faults.unauthorized:
            return  # adb reports those as failures to connect; the device list shows the state
        if "connected to" not in text:
            raise DeviceError(f"adb could not connect to the emulated phone: {text or 'no answer'}")
        self.wait_state("device", timeout)

    def wait_state(self, state: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        seen = ""
        while time.monotonic() < deadline:
            seen = self.adb_state()
            if seen == state:
                return
            time.sleep(0.05)
        raise DeviceError(f"{self.serial} is {seen or 'not listed'}, not {state}, after {timeout:.0f} s")

    def adb_state(self) -> str:
        assert self.adb_port is not None
        for line in adb(self.adb_port, "devices").stdout.splitlines()[1:]:
            serial, _, state = line.partition("\t")
            if serial == self.serial:
                return state.strip()
        return ""

    def disconnect(self) -> None:
        assert self.adb_port is not None
        with contextlib.suppress(DeviceError, OSError):
            adb(self.adb_port, "disconnect", self.serial, timeout=10)
        if self._owns_server:
            with contextlib.suppress(DeviceError, OSError):
                adb(self.adb_port, "kill-server", timeout=10)

    # -- faults -----------------------------------------------------------------------------
    def set_faults(self, faults: str | Faults | None) -> None:
        self.faults = faults if isinstance(faults, Faults) else parse_faults(faults)
        self.state.faults = self.faults
        self.state._write_state_files()
        self._commands = 0
        self._services: list[str] = []

    def unplug(self) -> None:
        """Like pulling the cable: connections die, new ones are refused until replug()."""
        self.unplugged = True
        self._drop_all()

    def replug(self) -> None:
        self.unplugged = False

    def _glitch(self, away_s: float = 1.0) -> None:
        self.unplug()
        threading.Timer(away_s, self.replug).start()

    def shell_commands(self) -> list[str]:
        """The shell commands the phone has received, oldest first (its round trips with the host)."""
        return self.state.shell_commands()

    def services(self) -> list[str]:
        """The kind of each service opened on the phone, oldest first (``shell,v2,raw``, ``sync``): its connections."""
        with self._lock:
            return list(self._services)

    def tool_runs(self) -> list[dict]:
        """What the vendor-tool stand-ins ran: tool, argv, cpumask, threads, figures measured."""
        return self.state.tool_runs()

    # -- serving ----------------------------------------------------------------------------
    def _drop_all(self) -> None:
        with self._lock:
            conns, self._connections = list(self._connections), set()
        for c in conns:
            c.drop()

    def _accept_loop(self) -> None:
        listener = self._listener
        while listener is not None and self._listener is listener:
            try:
                sock, _ = listener.accept()
            except OSError:
                return
            if self.unplugged:
                sock.close()
                continue
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = Connection(sock, self._banner(), self._open_service, unauthorized=self.faults.unauthorized)
            with self._lock:
                self._connections.add(conn)
            threading.Thread(target=self._serve, args=(conn,), name="phone-conn", daemon=True).start()

    def _serve(self, conn: Connection) -> None:
        if self.faults.offline:
            # The phone answers the handshake, then drops off the bus and stays away.
            threading.Timer(0.3, self.unplug).start()
        conn.serve()
        with self._lock:
            self._connections.discard(conn)

    def _banner(self) -> bytes:
        p = self.profile
        return (f"device::ro.product.name={p.prop('ro.product.name')};ro.product.model={p.prop('ro.product.model')};"
                f"ro.product.device={p.prop('ro.product.device')};features={','.join(p.features)}").encode()

    def _open_service(self, conn: Connection, service: str) -> ServiceHandler | None:
        with self._lock:
            self._commands += 1
            count = self._commands
            self._services.append(service.split(":", 1)[0])
        if self.faults.drop_after is not None and count > self.faults.drop_after:
            self.unplug()
            return None
        if service.startswith(("shell", "exec:")):
            return shell_service(self.shell, lambda command: self._started(conn, command))
        if service == "sync:":
            return sync_service(self.state)
        if service == "root:":
            return root_service
        return None  # forward, reverse, abb, framebuffer, ...: refused like an unknown service

    def _started(self, conn: Connection, command: str) -> Callable[[], None] | None:
        needle = self.faults.drop_during
        if not (needle and needle in command):
            return None
        # Let the command get going, then pull the plug: after 0.2 s, or when it ends, whichever is
        # first, so its exit status is never sent. Like a loose cable, the phone is back a moment later.
        once = threading.Lock()

        def pull_plug() -> None:
            if once.acquire(blocking=False):
                self._glitch()

        threading.Timer(0.2, pull_plug).start()
        return pull_plug
