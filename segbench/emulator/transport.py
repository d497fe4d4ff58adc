"""The device side of the ADB transport: packets, the CNXN handshake, streams with flow control.

One thread reads each TCP connection and dispatches packets; each opened service runs in a thread
of its own, so several streams and several clients work at once. Flow control is the default
(non-delayed-ack) one: one outstanding WRTE per stream in each direction, a WRTE answered by OKAY before the
next (AOSP's protocol.txt:
https://android.googlesource.com/platform/packages/modules/adb/+/refs/heads/main/protocol.txt).
"""

from __future__ import annotations

import contextlib
import os
import queue
import socket
import struct
import threading
from collections.abc import Callable

A_CNXN = 0x4E584E43
A_OPEN = 0x4E45504F
A_OKAY = 0x59414B4F
A_CLSE = 0x45534C43
A_WRTE = 0x45545257
A_AUTH = 0x48545541
VERSION = 0x01000001
MAX_PAYLOAD = 256 * 1024  # what we advertise; loopback pushes are fastest at 256K-1M
_HEADER = struct.Struct("<6I")
AUTH_TOKEN = 1
AUTH_SIGNATURE = 2


class Dropped(Exception):
    """The connection is gone (host closed it, or the phone was unplugged)."""


def _read_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise Dropped
        buf += chunk
    return bytes(buf)


class Stream:
    """One service stream. ``send`` blocks until the host acknowledged the previous WRTE."""

    def __init__(self, conn: Connection, local_id: int, remote_id: int) -> None:
        self.conn = conn
        self.local_id = local_id
        self.remote_id = remote_id
        self.closed = threading.Event()
        self._acked = threading.Event()
        self._acked.set()
        self._inbox: queue.Queue[bytes | None] = queue.Queue()
        self._pending = b""
        self.on_close: Callable[[], None] | None = None

    # -- device -> host ---------------------------------------------------------------------
    def send(self, data: bytes) -> None:
        view = memoryview(data)
        step = self.conn.max_payload
        for i in range(0, len(view), step):
            while not self._acked.wait(0.5):
                if self.closed.is_set():
                    raise Dropped
            if self.closed.is_set():
                raise Dropped
            self._acked.clear()
            self.conn.send_packet(A_WRTE, self.local_id, self.remote_id, view[i:i + step])

    def acked(self) -> None:
        self._acked.set()

    # -- host -> device ---------------------------------------------------------------------
    def deliver(self, data: bytes) -> None:
        self._inbox.put(data)

    def recv(self) -> bytes | None:
        """Next chunk from the host (None when the stream closed); acknowledging it lets the
        host send the next one, so a slow consumer slows the sender down."""
        data = self._inbox.get()
        if data is None:
            return None
        if not self.closed.is_set():
            with contextlib.suppress(Dropped, OSError):
                self.conn.send_packet(A_OKAY, self.local_id, self.remote_id)
        return data

    def recv_exact(self, n: int) -> bytes:
        while len(self._pending) < n:
            chunk = self.recv()
            if chunk is None:
                raise Dropped
            self._pending += chunk
        out, self._pending = self._pending[:n], self._pending[n:]
        return out

    # -- ending -----------------------------------------------------------------------------
    def close(self) -> None:
        """The service finished: tell the host (once)."""
        if not self.closed.is_set():
            self.closed.set()
            with contextlib.suppress(Dropped, OSError):
                self.conn.send_packet(A_CLSE, self.local_id, self.remote_id)
            self.conn.forget(self.local_id)
        self._inbox.put(None)

    def abort(self) -> None:
        """The host closed the stream or the connection dropped: stop the service."""
        self.closed.set()
        self._acked.set()
        self._inbox.put(None)
        if self.on_close:
            self.on_close()


ServiceHandler = Callable[[Stream, str], None]


class Connection:
    """One TCP connection from the adb server (one 'transport' in adb's terms)."""

    def __init__(self, sock: socket.socket, banner: bytes, open_service: Callable[[Connection, str], ServiceHandler | None],
                 unauthorized: bool = False) -> None:
        self.sock = sock
        self.banner = banner
        self.max_payload = MAX_PAYLOAD
        self._open_service = open_service
        self._unauthorized = unauthorized
        self._send_lock = threading.Lock()
        self._streams: dict[int, Stream] = {}
        self._streams_lock = threading.Lock()
        self._next_id = 1
        self.dropped = threading.Event()

    def send_packet(self, cmd: int, arg0: int, arg1: int, payload: bytes | memoryview = b"") -> None:
        header = _HEADER.pack(cmd, arg0, arg1, len(payload), 0, cmd ^ 0xFFFFFFFF)
        with self._send_lock:
            if self.dropped.is_set():
                raise Dropped
            self.sock.sendall(header + bytes(payload) if len(payload) < 65536 else header)
            if len(payload) >= 65536:
                self.sock.sendall(payload)

    def _read_packet(self) -> tuple[int, int, int, bytes]:
        cmd, arg0, arg1, length, _check, _magic = _HEADER.unpack(_read_exact(self.sock, _HEADER.size))
        return cmd, arg0, arg1, _read_exact(self.sock, length) if length else b""

    def forget(self, local_id: int) -> None:
        with self._streams_lock:
            self._streams.pop(local_id, None)

    def drop(self) -> None:
        """Pull the plug: the socket goes away mid-whatever, every service stops."""
        self.dropped.set()
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self.sock.close()
        with self._streams_lock:
            streams, self._streams = list(self._streams.values()), {}
        for s in streams:
            s.abort()

    def serve(self) -> None:
        """Handshake, then dispatch packets until the connection ends."""
        try:
            self._handshake()
            while True:
                self._dispatch(*self._read_packet())
        except (Dropped, OSError):
            pass
        finally:
            self.drop()

    def _handshake(self) -> None:
        while True:
            cmd, _version, max_data, _payload = self._read_packet()
            if cmd == A_CNXN:
                break
        self.max_payload = max(4096, min(MAX_PAYLOAD, max_data))
        if self._unauthorized:
            # adbd with auth on: ask for a signature; never accept one (the prompt is not answered).
            # Each signature is rejected with a new token; the host then offers its public key
            # (AUTH type 3) and shows the device as "unauthorized" while the prompt is pending.
            self.send_packet(A_AUTH, AUTH_TOKEN, 0, os.urandom(20))
            while True:
                cmd, kind, _, _ = self._read_packet()
                if cmd == A_AUTH and kind == AUTH_SIGNATURE:
                    self.send_packet(A_AUTH, AUTH_TOKEN, 0, os.urandom(20))
        self.send_packet(A_CNXN, VERSION, MAX_PAYLOAD, self.banner)

    def _dispatch(self, cmd: int, arg0: int, arg1: int, payload: bytes) -> None:
        if cmd == A_OPEN:
            self._open(arg0, payload.rstrip(b"\0").decode(errors="replace"))
            return
        with self._streams_lock:
            stream = self._streams.get(arg1)
        if stream is None:
            return  # a late packet for a stream that already ended
        if cmd == A_OKAY:
            stream.acked()
        elif cmd == A_WRTE:
            stream.deliver(payload)
        elif cmd == A_CLSE:
            self.forget(arg1)
            stream.abort()

    def _open(self, remote_id: int, service: str) -> None:
        handler = self._open_service(self, service)
        if handler is None:
            self.send_packet(A_CLSE, 0, remote_id)
            return
        with self._streams_lock:
            local_id = self._next_id
            self._next_id += 1
            stream = Stream(self, local_id, remote_id)
            self._streams[local_id] = stream
        self.send_packet(A_OKAY, local_id, remote_id)

        def run() -> None:
            try:
                handler(stream, service)
            except (Dropped, OSError):
                pass
            finally:
                stream.close()

        threading.Thread(target=run, name=f"adb-{service[:20]}", daemon=True).start()
