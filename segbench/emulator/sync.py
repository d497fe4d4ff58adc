"""The sync: service (adb push/pull/ls): STAT, STA2, LST2, LIST, LIS2, SEND, SND2, RECV, RCV2, QUIT.

Record sizes follow AOSP file_sync_protocol.h: stat v1 16 bytes, stat_v2 72, dent 20 + name,
dent_v2 76 + name, and LIS2's DONE is a full 76-byte dent_v2 (reference pitfall 2).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import struct

from segbench.emulator.sandbox import PhoneState, device_to_host, is_writable
from segbench.emulator.transport import Stream

DATA_MAX = 64 * 1024
_STAT_V2 = struct.Struct("<4sIQQIIIIQqqq")  # 72 bytes
_DENT_V1 = struct.Struct("<4sIIII")  # 20 bytes
_DENT_V2 = struct.Struct("<4sIQQIIIIQqqqI")  # 76 bytes


def _u32(b: bytes) -> int:
    return struct.unpack("<I", b)[0]


def _fail(stream: Stream, message: str) -> None:
    data = message.encode()
    stream.send(b"FAIL" + struct.pack("<I", len(data)) + data)


def _stat_v2(tag: bytes, st: os.stat_result | None, err: int = 0) -> bytes:
    if st is None:
        return _STAT_V2.pack(tag, err, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    return _STAT_V2.pack(tag, 0, st.st_dev, st.st_ino, st.st_mode, st.st_nlink, 2000, 2000, st.st_size,
                         int(st.st_atime), int(st.st_mtime), int(st.st_ctime))


class SyncSession:
    def __init__(self, stream: Stream, state: PhoneState) -> None:
        self.stream = stream
        self.state = state
        self.root = str(state.root)

    def host(self, path: str) -> str | None:
        return device_to_host(self.root, path)

    def run(self) -> None:
        self.state.refresh()  # `adb pull /sys/...` sees current temperatures
        while True:
            header = self.stream.recv_exact(8)
            tag, length = header[:4], _u32(header[4:])
            if tag == b"QUIT":
                return
            if length > 1024:
                _fail(self.stream, "path too long")
                return
            path = self.stream.recv_exact(length).decode(errors="replace")
            handler = {b"STAT": self.do_stat, b"STA2": self.do_stat2, b"LST2": self.do_lstat2,
                       b"LIST": self.do_list, b"LIS2": self.do_list2, b"SEND": self.do_send,
                       b"SND2": self.do_send2, b"RECV": self.do_recv, b"RCV2": self.do_recv2}.get(tag)
            if handler is None:
                _fail(self.stream, f"unknown sync command {tag!r}")
                return
            if handler(path) is False:
                return

    # -- stat / list ------------------------------------------------------------------------
    def _lstat(self, path: str, follow: bool) -> tuple[os.stat_result | None, int]:
        host = self.host(path)
        if host is None:
            return None, errno.EACCES
        try:
            return (os.stat(host) if follow else os.lstat(host)), 0
        except OSError as exc:
            return None, exc.errno or errno.ENOENT

    def do_stat(self, path: str) -> None:
        st, _ = self._lstat(path, follow=False)
        fields = (st.st_mode, st.st_size & 0xFFFFFFFF, int(st.st_mtime)) if st else (0, 0, 0)
        self.stream.send(b"STAT" + struct.pack("<III", *fields))

    def do_stat2(self, path: str) -> None:
        st, err = self._lstat(path, follow=True)
        self.stream.send(_stat_v2(b"STA2", st, err))

    def do_lstat2(self, path: str) -> None:
        st, err = self._lstat(path, follow=False)
        self.stream.send(_stat_v2(b"LST2", st, err))

    def _entries(self, path: str) -> list[tuple[str, os.stat_result]]:
        host = self.host(path)
        out = []
        if host and os.path.isdir(host):
            for name in [".", "..", *sorted(os.listdir(host))]:
                with contextlib.suppress(OSError):
                    out.append((name, os.lstat(os.path.join(host, name))))
        return out

    def do_list(self, path: str) -> None:
        for name, st in self._entries(path):
            raw = name.encode()
            self.stream.send(_DENT_V1.pack(b"DENT", st.st_mode, st.st_size & 0xFFFFFFFF, int(st.st_mtime),
                                           len(raw)) + raw)
        self.stream.send(_DENT_V1.pack(b"DONE", 0, 0, 0, 0))

    def do_list2(self, path: str) -> None:
        for name, st in self._entries(path):
            raw = name.encode()
            self.stream.send(_DENT_V2.pack(b"DNT2", 0, st.st_dev, st.st_ino, st.st_mode, st.st_nlink, 2000,
                                           2000, st.st_size, int(st.st_atime), int(st.st_mtime),
                                           int(st.st_ctime), len(raw)) + raw)
        self.stream.send(_DENT_V2.pack(b"DONE", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))

    # -- push -------------------------------------------------------------------------------
    def do_send(self, spec: str) -> bool:
        path, _, mode = spec.rpartition(",")
        if not path or not (mode.isascii() and mode.isdigit()):
            path, mode = spec, str(0o100644)
        return self._receive_file(path, int(mode))

    def do_send2(self, path: str) -> bool:
        tag, mode, flags = struct.unpack("<4sII", self.stream.recv_exact(12))
        if tag != b"SND2" or flags:
            _fail(self.stream, "compressed sync transfers are not supported")
            return False
        return self._receive_file(path, mode)

    def _receive_file(self, path: str, mode: int) -> bool:
        """DATA* then DONE from the host; OKAY or FAIL only after DONE, as adbd does."""
        error = self._check_target(path)
        host = self.host(path) if error is None else None
        tmp = f"{host}.adb-sync-{os.getpid()}-{id(self)}" if host else None
        out = None
        if tmp:
            try:
                os.makedirs(os.path.dirname(tmp), exist_ok=True)
                out = open(tmp, "wb")
            except OSError as exc:
                error = f"couldn't create file: {os.strerror(exc.errno or errno.EIO)}"
        budget = self.state.faults.disk_full
        try:
            while True:
                header = self.stream.recv_exact(8)
                tag, value = header[:4], _u32(header[4:])
                if tag == b"DONE":
                    break
                if tag != b"DATA" or value > DATA_MAX:
                    _fail(self.stream, f"invalid data message: expected DATA, got {tag!r}")
                    return False
                data = self.stream.recv_exact(value)
                if out is None or error:
                    continue  # discard, then report the error after DONE
                if budget is not None and self.state.pushed_bytes + len(data) > budget:
                    error = "write failed: No space left on device"
                    continue
                out.write(data)
                self.state.pushed_bytes += len(data)
        finally:
            if out:
                out.close()
        if error or not host or not tmp:
            if tmp:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
            _fail(self.stream, error or "couldn't create file")
            return True
        # adbd copies the user's permission bits to the group (reference pitfall 12).
        perms = stat.S_IMODE(mode) | ((stat.S_IMODE(mode) & 0o700) >> 3)
        os.chmod(tmp, perms)
        os.utime(tmp, (value, value))
        os.replace(tmp, host)
        self.stream.send(b"OKAY" + struct.pack("<I", 0))
        return True

    def _check_target(self, path: str) -> str | None:
        host = self.host(path)
        if host is None or not is_writable(path):
            return "couldn't create file: Read-only file system"
        if os.path.isdir(host):
            return "couldn't create file: Is a directory"
        return None

    # -- pull -------------------------------------------------------------------------------
    def do_recv(self, path: str) -> bool:
        host = self.host(path)
        try:
            if host is None:
                raise PermissionError(errno.EACCES, "Permission denied")
            with open(host, "rb") as f:
                # Several DATA records per WRTE: fewer round trips than one packet per record.
                batch = bytearray()
                while block := f.read(DATA_MAX):
                    batch += b"DATA" + struct.pack("<I", len(block)) + block
                    if len(batch) + DATA_MAX + 8 > self.stream.conn.max_payload:
                        self.stream.send(bytes(batch))
                        batch.clear()
                if batch:
                    self.stream.send(bytes(batch))
        except OSError as exc:
            _fail(self.stream, os.strerror(exc.errno or errno.EIO))
            return True
        self.stream.send(b"DONE" + struct.pack("<I", 0))
        return True

    def do_recv2(self, path: str) -> bool:
        tag, flags = struct.unpack("<4sI", self.stream.recv_exact(8))
        if tag != b"RCV2" or flags:
            _fail(self.stream, "compressed sync transfers are not supported")
            return False
        return self.do_recv(path)


def sync_service(state: PhoneState):
    def handle(stream: Stream, service: str) -> None:
        SyncSession(stream, state).run()

    return handle
