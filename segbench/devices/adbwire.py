"""The adb server's client protocol, as much of it as segbench uses (a leaf: sockets and struct, no adbutils).

A client talks to the adb server over TCP: each request is four hex digits of length and the text, answered by
``OKAY`` or ``FAIL`` + hex length + message. ``host:transport:SERIAL`` turns the connection into a pipe to that
phone, and the next request opens one of the phone's services on it (``shell,v2,raw:...``, ``sync:``).

Why segbench speaks it itself rather than through adbutils for its commands and files: adbutils opens a second
connection before every device connection to ask the server's version, and closing any connection sleeps 10 ms,
so a shell command cost about 18 ms against 8 ms for a whole `adb shell` process, and a push one more such
connection. Here a command costs one connection with two requests, and the ``sync:`` service is kept open for
a phone's pushes and pulls: adbd serves sync requests one after the other until ``QUIT``, as `adb push` of
several files uses it.

Sync requests: an id (4 bytes) + a little-endian u32 length + the path. ``STAT`` -> ``STAT`` mode, size, mtime
(u32 each; all 0 when the path does not exist); ``SEND "path,mode"`` then ``DATA`` blocks of at most 64 KiB and
``DONE`` + mtime -> ``OKAY`` or ``FAIL``; ``RECV path`` -> ``DATA``* then ``DONE`` (or ``FAIL``); ``QUIT``.
"""

from __future__ import annotations

import contextlib
import socket
import struct
from dataclasses import dataclass
from typing import BinaryIO

SYNC_DATA_MAX = 64 * 1024  # adbd's limit for one DATA block
_U32 = struct.Struct("<I")
_STAT = struct.Struct("<4sIII")


class ServerRefused(Exception):
    """The adb server answered FAIL: no such device, device offline or unauthorized, service refused."""


class SyncFailed(Exception):
    """The phone's sync service answered FAIL (no such file, read-only, no space left): the phone is there."""


def connect(address: tuple[str, int], timeout: float) -> socket.socket:
    sock = socket.create_connection(address, timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def read_exact(sock: socket.socket, n: int) -> bytes:
    """``n`` bytes; EOFError when the connection closes first (the phone or the server went away)."""
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError("connection closed")
        buf += chunk
    return bytes(buf)


def request(sock: socket.socket, text: str) -> None:
    """Send one request and wait for the server's OKAY (ServerRefused on FAIL)."""
    data = text.encode()
    sock.sendall(b"%04x" % len(data) + data)
    status = read_exact(sock, 4)
    if status == b"OKAY":
        return
    if status == b"FAIL":
        raise ServerRefused(_hex_string(sock) or "the adb server refused the request")
    raise EOFError(f"the adb server answered {status!r} to {text.split(':')[0]}")


def _hex_string(sock: socket.socket) -> str:
    length = int(read_exact(sock, 4), 16)
    return read_exact(sock, length).decode(errors="replace")


def open_service(address: tuple[str, int], serial: str, service: str, timeout: float) -> socket.socket:
    """A connection to ``service`` on the phone ``serial``: two requests on one connection, no other."""
    sock = connect(address, timeout)
    try:
        request(sock, f"host:transport:{serial}")
        request(sock, service)
    except BaseException:
        sock.close()
        raise
    return sock


def host_query(address: tuple[str, int], text: str, timeout: float) -> str:
    """A request the server answers itself with a string (``host-serial:SERIAL:features``)."""
    with connect(address, timeout) as sock:
        request(sock, text)
        return _hex_string(sock)


@dataclass(frozen=True)
class Stat:
    mode: int  # 0 when the path does not exist
    size: int  # modulo 2**32: sync STAT carries 32 bits
    mtime: int

    @property
    def regular(self) -> bool:
        return self.mode & 0o170000 == 0o100000


class Sync:
    """One ``sync:`` connection to a phone, for any number of requests until ``close``."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    @classmethod
    def open(cls, address: tuple[str, int], serial: str, timeout: float) -> Sync:
        return cls(open_service(address, serial, "sync:", timeout))

    def _send_request(self, tag: bytes, path: str) -> bytes:
        data = path.encode()
        if len(data) > 1024:  # adbd refuses longer paths and ends the service
            raise SyncFailed(f"path too long for adb ({len(data)} bytes, at most 1024): {path}")
        return tag + _U32.pack(len(data)) + data

    def stat(self, path: str, timeout: float = 30.0) -> Stat:
        self.sock.settimeout(timeout)
        self.sock.sendall(self._send_request(b"STAT", path))
        return self._stat_reply()

    def stats(self, paths: list[str], timeout: float = 30.0) -> list[Stat]:
        """The STAT of each path, the requests sent together (256 at a time): one round trip, not one each. adbd
        reads and answers the requests of a sync connection one after another, so the answers come in order."""
        self.sock.settimeout(timeout)
        out: list[Stat] = []
        for i in range(0, len(paths), 256):
            batch = paths[i:i + 256]
            self.sock.sendall(b"".join(self._send_request(b"STAT", path) for path in batch))
            out += [self._stat_reply() for _ in batch]
        return out

    def _stat_reply(self) -> Stat:
        tag, mode, size, mtime = _STAT.unpack(read_exact(self.sock, _STAT.size))
        if tag != b"STAT":
            raise EOFError(f"the phone answered {tag!r} to STAT")
        return Stat(mode, size, mtime)

    def send(self, source: BinaryIO, remote: str, mode: int, mtime: int, timeout: float = 60.0) -> Stat:
        """Stream ``source`` to ``remote`` and return what the phone then has there.

        The STAT that checks the arrival goes out right behind DONE, so it costs no round trip of its own:
        adbd answers DONE (OKAY or FAIL) before it reads the next request."""
        sock = self.sock
        sock.settimeout(timeout)
        sock.sendall(self._send_request(b"SEND", f"{remote},{mode | 0o100000:d}"))
        # One buffer for every block, the header in front of the data: no copy per block.
        buf = bytearray(8 + SYNC_DATA_MAX)
        view = memoryview(buf)
        buf[:4] = b"DATA"
        while n := source.readinto(view[8:]):
            buf[4:8] = _U32.pack(n)
            sock.sendall(view[:8 + n])
        sock.sendall(b"DONE" + _U32.pack(mtime & 0xFFFFFFFF) + self._send_request(b"STAT", remote))
        self._okay()
        return self._stat_reply()

    def recv(self, remote: str, sink: BinaryIO, timeout: float = 60.0) -> int:
        """Copy ``remote`` into ``sink``; the number of bytes."""
        sock = self.sock
        sock.settimeout(timeout)
        sock.sendall(self._send_request(b"RECV", remote))
        total = 0
        while True:
            header = read_exact(sock, 8)
            tag, length = header[:4], _U32.unpack(header[4:])[0]
            if tag == b"DONE":
                return total
            if tag == b"FAIL":
                raise SyncFailed(read_exact(sock, length).decode(errors="replace"))
            if tag != b"DATA" or length > SYNC_DATA_MAX:
                raise EOFError(f"the phone sent {tag!r} in a file transfer")
            sink.write(read_exact(sock, length))
            total += length

    def _okay(self) -> None:
        header = read_exact(self.sock, 8)
        tag, length = header[:4], _U32.unpack(header[4:])[0]
        if tag == b"FAIL":
            raise SyncFailed(read_exact(self.sock, length).decode(errors="replace") or "the phone refused it")
        if tag != b"OKAY":
            raise EOFError(f"the phone answered {tag!r} to DONE")

    def close(self) -> None:
        """QUIT (the phone ends the service) and close; a connection already broken is just closed."""
        with contextlib.suppress(OSError):
            self.sock.settimeout(2)
            self.sock.sendall(b"QUIT" + _U32.pack(0))
        with contextlib.suppress(OSError):
            self.sock.close()
