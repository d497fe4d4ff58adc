"""Services a stream can open: shell (v1 and v2, raw and pty), exec, and sync."""

from __future__ import annotations

import contextlib
import struct
import subprocess
import threading
from collections.abc import Callable

from segbench.emulator.shell import Shell, kill_group, signal_exit
from segbench.emulator.transport import Dropped, Stream

# Shell protocol v2 packet ids.
STDIN, STDOUT, STDERR, EXIT, CLOSE_STDIN, WINDOW = 0, 1, 2, 3, 4, 5
_READ = 64 * 1024


def parse_shell_service(service: str) -> tuple[bool, bool, str]:
    """'shell,v2,TERM=xterm,raw:ls' -> (v2, pty, command). v1 'shell:' runs with a pty when empty."""
    head, _, command = service.partition(":")
    args = head.split(",")[1:]
    v2 = "v2" in args
    pty = "pty" in args or (not command and "raw" not in args)
    return v2, pty, command


class _Output:
    """Copies a process pipe to the stream, unmapping host paths, one v2 packet per chunk."""

    def __init__(self, stream: Stream, shell: Shell, kind: int | None, pty: bool, lock: threading.Lock) -> None:
        self.stream, self.shell, self.kind, self.pty, self.lock = stream, shell, kind, pty, lock

    def emit(self, data: bytes) -> None:
        if not data:
            return
        data = self.shell.mapper.output(data)
        if self.pty:
            data = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        with self.lock:
            if self.kind is None:
                self.stream.send(data)
            else:
                self.stream.send(bytes([self.kind]) + struct.pack("<I", len(data)) + data)

    def pump(self, pipe) -> None:
        carry = b""
        with contextlib.suppress(Dropped, OSError, ValueError):
            while chunk := pipe.read1(_READ):
                ready, carry = self.shell.mapper.split_safe(carry + chunk)
                self.emit(ready)
            self.emit(carry)


def _feed_stdin(stream: Stream, proc: subprocess.Popen[bytes], v2: bool) -> None:
    """Host -> process stdin (v2: unwrap packets; 4 = close stdin)."""
    stdin = proc.stdin
    assert stdin is not None
    with contextlib.suppress(Dropped, OSError, ValueError):
        while True:
            if v2:
                header = stream.recv_exact(5)
                kind, length = header[0], struct.unpack("<I", header[1:])[0]
                data = stream.recv_exact(length) if length else b""
                if kind == CLOSE_STDIN:
                    break
                if kind != STDIN:
                    continue
            else:
                data = stream.recv()
                if data is None:
                    break
            stdin.write(data)
            stdin.flush()
    with contextlib.suppress(OSError, ValueError):
        stdin.close()


def shell_service(shell: Shell, on_started: Callable[[str], Callable[[], None] | None]) -> Callable[[Stream, str], None]:
    """The shell and exec services. ``on_started(command)`` may return a fault to fire instead of the exit status."""

    def handle(stream: Stream, service: str) -> None:
        if service.startswith("exec:"):
            v2, pty, command = False, False, service[5:]
        else:
            v2, pty, command = parse_shell_service(service)
        proc = shell.start(command, merge_stderr=not v2 or pty)
        stream.on_close = lambda: kill_group(proc)
        pull_plug = on_started(command)
        lock = threading.Lock()
        out = _Output(stream, shell, STDOUT if v2 else None, pty, lock)
        pumps = [threading.Thread(target=out.pump, args=(proc.stdout,), daemon=True)]
        if proc.stderr is not None:
            err = _Output(stream, shell, STDERR, pty, lock)
            pumps.append(threading.Thread(target=err.pump, args=(proc.stderr,), daemon=True))
        threading.Thread(target=_feed_stdin, args=(stream, proc, v2), daemon=True).start()
        for p in pumps:
            p.start()
        for p in pumps:
            p.join()
        code, message = signal_exit(proc.wait())
        if pull_plug is not None:
            pull_plug()
            return
        if stream.closed.is_set():
            return
        if message:
            # The shell reports a child killed by a signal, as mksh does on a phone.
            _Output(stream, shell, STDERR if v2 and not pty else (STDOUT if v2 else None), pty, lock).emit(message)
        if v2:
            with lock:
                stream.send(bytes([EXIT]) + struct.pack("<I", 1) + bytes([code & 0xFF]))

    return handle


def root_service(stream: Stream, service: str) -> None:
    stream.send(b"adbd cannot run as root in production builds\n")
