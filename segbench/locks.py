"""Exclusive locks a segbench process holds while it works: on a run (``segbench run``, ``--resume``) and on a phone.

A lock is an flock on a small file that says who holds it; the kernel drops it when the process ends, however
it ends, so a crash never leaves a stale lock. Lock files are opened with O_NOFOLLOW and never truncated before
they are locked and checked to be a regular file of one link: a symlink or hard link planted where a lock file
goes is refused, never followed, so nothing is created or emptied through it.

Phone locks live in a private directory of the user's (mode 0700, owned by them; checked), not in world-writable
/tmp: ``$XDG_RUNTIME_DIR/segbench/locks``, else ``$XDG_CACHE_HOME/segbench/locks`` (``~/.cache/...``). A run's
lock is ``run.lock`` in the run's own directory, so that whoever runs a shared reports directory is excluded.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

from segbench.errors import SegbenchError


class LockError(SegbenchError):
    """A lock file or lock directory that cannot be used safely (a planted link, a directory others may write)."""


def lock_dir() -> Path:
    """The user's private directory for phone locks, made (0700) when missing; LockError when it is not private."""
    base = os.environ.get("XDG_RUNTIME_DIR") or os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    path = Path(base) / "segbench" / "locks"
    for d in (path.parent, path):
        try:
            d.mkdir(mode=0o700, parents=True)
        except FileExistsError:
            pass
        except OSError as exc:
            raise LockError(f"cannot create the lock directory {d}: {exc.strerror or exc}") from None
    st = os.lstat(path)
    why = ("is a symbolic link" if stat.S_ISLNK(st.st_mode) else "is not a directory" if not stat.S_ISDIR(st.st_mode)
           else f"belongs to uid {st.st_uid}" if st.st_uid != os.geteuid()
           else f"has mode {stat.S_IMODE(st.st_mode):04o}" if st.st_mode & 0o077 else None)
    if why:
        raise LockError(f"the lock directory {path} {why}; it must be a private directory (mode 0700) of yours",
                        hint="remove it and segbench makes it again")
    return path


@contextlib.contextmanager
def hold(path: Path, who: str, busy: Callable[[str], SegbenchError]) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` until the block ends. ``who`` is written into the file for others to read;
    when another process holds it, ``busy(what that process wrote)`` is raised at once (no waiting)."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, 0o600)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise LockError(f"the lock file {path} is a symbolic link; segbench does not follow it",
                            hint="remove it (nothing of segbench's makes links there)") from None
        raise LockError(f"cannot open the lock file {path}: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:
            what = "is not a regular file" if not stat.S_ISREG(st.st_mode) else f"has {st.st_nlink} hard links"
            raise LockError(f"the lock file {path} {what}; segbench does not use it", hint="remove it")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 512, 0).decode("utf-8", errors="replace").strip()
            raise busy(holder or "another process") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, who.encode(), 0)
        yield
    finally:
        os.close(fd)  # closing releases the lock
