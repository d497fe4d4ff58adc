"""The results directory: ``<reports>/runs/<run_id>/{run.json, results.jsonl, logs/}``.

results.jsonl is append-only, one Measurement per line, flushed and fsynced as each case
finishes, so a crash or Ctrl-C loses at most the case in flight. Readers skip a torn last
line (a crash mid-write) and accept every schema version they know; a record of a newer version
of a kind they know is a StoreError naming file, line and version (docs/results-format.md).
Appends are safe for concurrent writers (the phones of a farm run, or several processes):
each line is written whole under an exclusive flock.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import itertools
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, TypeVar

from segbench.errors import StoreError
from segbench.model import (
    ACCURACY_SCHEMA,
    MEASUREMENT_SCHEMA,
    RUN_SCHEMA,
    Accuracy,
    Measurement,
    RunInfo,
    current,
)

if TYPE_CHECKING:
    from segbench.columns import Columns, Deriver

KNOWN_MEASUREMENT_SCHEMAS = {MEASUREMENT_SCHEMA}
KNOWN_ACCURACY_SCHEMAS = {ACCURACY_SCHEMA}
T = TypeVar("T")
KNOWN_RUN_SCHEMAS = {RUN_SCHEMA}
KNOWN_SCHEMAS = KNOWN_MEASUREMENT_SCHEMAS | KNOWN_ACCURACY_SCHEMAS | KNOWN_RUN_SCHEMAS
# <reports>/index/accuracies.json: each run's accuracy records, with the size and mtime of the results.jsonl they
# were read from, so a report joins mIoU from every run without parsing every run's records (a cache: deleting it
# costs one full read).
ACCURACY_INDEX_SCHEMA = "segbench.accuracy-index/1"


def _newer_than_known(schema: object) -> str | None:
    """For ``segbench.<kind>/<version>`` of a kind this segbench knows at a higher version than it knows: the
    versions it does know (for the error), else None. Kinds it does not know at all are other records, skipped."""
    if not isinstance(schema, str):
        return None
    kind, _, version = schema.rpartition("/")
    known = sorted(s for s in KNOWN_SCHEMAS if s.rpartition("/")[0] == kind)
    if not known or not (version.isascii() and version.isdigit()):
        return None
    if int(version) > max(int(s.rpartition("/")[2]) for s in known):
        return ", ".join(known)
    return None


def utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def new_run_id() -> str:
    """Sortable by time (to the millisecond), unique across parallel CI jobs: 20261121-143501-042-3fa2."""
    import secrets  # here, not at the top: `segbench report` never makes a run id (tests/test_startup.py)

    now = _dt.datetime.now(_dt.timezone.utc)
    return now.strftime("%Y%m%d-%H%M%S-") + f"{now.microsecond // 1000:03d}-" + secrets.token_hex(2)


def safe_name(text: str) -> str:
    """A device id as a file name: 127.0.0.1:28001 -> 127.0.0.1_28001."""
    import re

    return re.sub(r"[^A-Za-z0-9._+-]+", "_", text)


def write_atomic(path: Path, content: str | bytes | Callable[[BinaryIO], object]) -> None:
    """Replace ``path`` atomically: ``content`` (text as UTF-8, bytes, or a function writing to the binary
    file) goes to a temp file beside it, which is then renamed, so an interrupted or failed write never leaves
    a half file. The temp file never stays behind, not even when the disk is full; OSError goes to the caller."""
    import tempfile  # here: tempfile pulls in shutil, random and the compression modules, which reading never needs

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            if callable(content):
                content(f)
            else:
                f.write(content.encode("utf-8") if isinstance(content, str) else content)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual file mode
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def make_folder_atomic(path: Path, fill: Callable[[Path], object]) -> None:
    """Make the folder ``path`` holding what ``fill(folder)`` writes into an empty folder, whole or not at all: built
    under a hidden temporary name beside it and renamed into place (a rename that fails, EEXIST or ENOTEMPTY, on a
    non-empty folder of that name made meanwhile: nothing is replaced). On any failure the temporary folder is
    removed and the error goes to the caller."""
    import shutil
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700; give the usual folder mode
        fill(tmp)
        os.rename(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_entries_atomic(path: Path, fill: Callable[[Path], object]) -> None:
    """Put what ``fill(folder)`` writes into an empty folder into ``path`` whole or not at all: a new ``path`` is
    made by make_folder_atomic; into one that exists, the entries are written in a hidden temporary folder inside it
    and each renamed into place, replacing the one of its name (other entries of ``path`` are kept). A failure while
    writing (a full disk) leaves ``path`` as it was and no temporary folder behind; OSError goes to the caller."""
    import shutil
    import tempfile

    if not path.exists():
        make_folder_atomic(path, fill)
        return
    tmp = Path(tempfile.mkdtemp(prefix=".new.", suffix=".tmp", dir=path))
    try:
        fill(tmp)
        for entry in sorted(tmp.iterdir()):
            target = path / entry.name
            old = tmp / f".old.{entry.name}"
            if os.path.lexists(target):
                os.rename(target, old)  # set aside (a folder cannot be renamed onto a full one), dropped below
            try:
                os.rename(entry, target)
            except OSError:
                if os.path.lexists(old):
                    os.rename(old, target)
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def log_bytes(text: str) -> bytes:
    """A log written by segbench itself as bytes: UTF-8, with the bytes of a file name that is not UTF-8 (Python holds
    them as surrogates) written back as they are, so that naming such a model never fails its case."""
    return text.encode("utf-8", "surrogateescape")


def write_error(exc: OSError, path: Path) -> StoreError:
    if exc.errno == errno.ENOSPC:
        return StoreError(f"disk full while writing {path}", hint="results written before this point are kept")
    return StoreError(f"cannot write {path}: {exc.strerror or exc}")


def _stamp_of(path: str | os.PathLike[str]) -> list[int] | None:
    """RunDir._stamp of the results.jsonl at ``path`` (a string where thousands of runs are looked at)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]


def _line_numbers(value: object) -> list[int] | None:
    """A cache's list of damaged line numbers, or None when it holds none (an older cache) or something else."""
    if isinstance(value, list) and all(isinstance(n, int) and not isinstance(n, bool) for n in value):
        return value
    return None


class RunDir:
    """One run's directory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # (stamp, accuracy records as stored) of the last time columns() read results.jsonl: the store's accuracy
        # index takes them from here (Store.accuracies_by_run's ``read``) instead of reading the file again.
        self.accuracies_read: tuple[list[int], list[dict]] | None = None

    @property
    def run_id(self) -> str:
        return self.path.name

    @property
    def results_path(self) -> Path:
        return self.path / "results.jsonl"

    @property
    def info_path(self) -> Path:
        return self.path / "run.json"

    def lock(self) -> contextlib.AbstractContextManager[None]:
        """Hold this run for this process (``run.lock`` in its directory; segbench.locks): a second
        ``segbench run --resume`` of it, while this one runs or resumes it, is refused instead of measuring the
        same missing cases again."""
        from segbench.locks import hold

        def busy(holder: str) -> StoreError:
            return StoreError(f"run {self.run_id} is locked: {holder} is running it",
                              hint="wait for it to end; resume it afterwards if cases are still missing")

        return hold(self.path / "run.lock", f"segbench pid {os.getpid()}", busy)

    def log_path(self, case_id: str, device: str | None = None) -> Path:
        """logs/<case_id>.log; a farm run keeps each phone's logs apart in logs/<device>/."""
        logs = self.path / "logs"
        if device:
            logs = logs / safe_name(device)
        return logs / f"{case_id}.log"

    def write_info(self, info: RunInfo) -> None:
        """Replace run.json atomically (write a temp file, then rename)."""
        try:
            write_atomic(self.info_path, json.dumps(info.to_dict(), indent=2, sort_keys=True) + "\n")
        except OSError as exc:
            raise write_error(exc, self.info_path) from None

    def info(self) -> RunInfo:
        try:
            data = json.loads(self.info_path.read_text())
        except FileNotFoundError:
            raise StoreError(f"{self.path} is not a run directory (no run.json)") from None
        except (OSError, ValueError) as exc:
            raise StoreError(f"cannot read {self.info_path}: {exc}") from None
        schema = data.get("schema") if isinstance(data, dict) else None
        if schema not in KNOWN_RUN_SCHEMAS:
            known = _newer_than_known(schema)
            raise StoreError(f"{self.info_path}: " + (f"a {schema} file, newer than this segbench reads ({known})"
                                                     if known else f"unknown schema {schema!r}"),
                             hint="upgrade segbench to read this run")
        try:
            return RunInfo.from_dict(data, str(self.info_path))
        except (KeyError, TypeError, ValueError) as exc:
            raise StoreError(f"{self.info_path} is damaged: {exc}") from None

    def append(self, record: Measurement | Accuracy) -> None:
        """Append one record (of any kind) and make it durable before returning."""
        data = (json.dumps(record.to_dict(), sort_keys=True, allow_nan=False) + "\n").encode()
        try:
            fd = os.open(self.results_path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise write_error(exc, self.results_path) from None
        size = None
        import fcntl  # here: a report, which only reads, never loads the extension module

        try:
            # flock is per open file, so it excludes other threads' appends as well as other processes'.
            fcntl.flock(fd, fcntl.LOCK_EX)
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                data = b"\n" + data  # a torn line from a crash: keep our record on a line of its own
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        except OSError as exc:
            if size is not None:  # a record that did not fit (full disk) is taken back whole, not left torn
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, size)
            raise write_error(exc, self.results_path) from None
        finally:
            os.close(fd)  # closing releases the lock

    def write_log(self, case_id: str, data: bytes | BinaryIO, device: str | None = None) -> Path:
        """Save a tool's raw output byte for byte, in a new file: an existing log is never overwritten (an
        earlier attempt at the case, kept when a crash cut it off before its record), the new one takes the
        next free name ``<case_id>.2.log``, ``.3.log``, ... ``data``: the bytes, or a file to copy them from a
        block at a time (a log imported by `segbench parse` can be large). Returns the path written."""
        first = self.log_path(case_id, device)
        try:
            first.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise write_error(exc, first.parent) from None
        for n in itertools.count(1):
            path = first if n == 1 else first.with_name(f"{case_id}.{n}.log")
            try:
                # O_EXCL: never an existing file, and never through a symlink planted in its place.
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
            except FileExistsError:
                continue
            except OSError as exc:
                raise write_error(exc, path) from None
            try:
                for block in [data] if isinstance(data, bytes) else iter(lambda: data.read(2**20), b""):
                    view = memoryview(block)
                    while view:
                        view = view[os.write(fd, view):]
            except OSError as exc:
                path.unlink(missing_ok=True)  # no half log behind (a full disk)
                raise write_error(exc, path) from None
            finally:
                os.close(fd)
            return path
        raise AssertionError("unreachable")

    def measurements(self, superseded: bool = False, warn: Callable[[str], None] | None = None) -> list[Measurement]:
        """The stored latency records that count, in order (model.current: of a case's launch recorded twice on one
        device, as when --resume ran again a case its phone had failed, the later); ``superseded``: every record.
        A torn or foreign line is skipped, not fatal; damaged lines before the last are said to ``warn`` (damage)."""
        records = self._records(KNOWN_MEASUREMENT_SCHEMAS, Measurement.from_dict, warn)
        return records if superseded else current(records, shard=self._shard())

    def _shard(self) -> bool:
        """Whether the run shares its cases out among phones (settings.split shard: one record per case)."""
        try:
            settings = json.loads(self.info_path.read_text()).get("settings")
            return isinstance(settings, dict) and settings.get("split") == "shard"
        except (OSError, ValueError, AttributeError):
            return False  # info() says what is wrong with run.json where it is read

    def accuracies(self, warn: Callable[[str], None] | None = None) -> list[Accuracy]:
        """Every stored accuracy record (``segbench eval``), in order (damaged lines said to ``warn``)."""
        return self._records(KNOWN_ACCURACY_SCHEMAS, Accuracy.from_dict, warn)

    def _accuracy_dicts(self) -> list[dict]:
        """The accuracy records as stored (each checked by Accuracy.from_dict), for the store's index."""
        return self._records(KNOWN_ACCURACY_SCHEMAS, lambda data, where: (Accuracy.from_dict(data, where), data)[1])

    def _stamp(self) -> list[int] | None:
        """(size, mtime) of results.jsonl: it only grows, so any new record changes it."""
        return _stamp_of(self.results_path)

    def _records(self, schemas: set[str], parse: Callable[[dict, str], T],
                 warn: Callable[[str], None] | None = None) -> list[T]:
        """The lines of results.jsonl whose schema is one of ``schemas``, parsed. Lines that are no record (a torn
        line, a foreign one) are skipped; a record of a known schema with a value of the wrong type is a StoreError
        naming the line and key (segbench.validate), not a record half read. Damaged lines: said to ``warn``."""
        damaged: list[int] = []
        out = [record for record, _, _ in self._located(schemas, parse, self._read(), damaged=damaged)]
        self._say_damage(damaged, warn)
        return out

    def _say_damage(self, damaged: list[int], warn: Callable[[str], None] | None) -> None:
        """One line for the run's damaged lines (see damage), if any and if there is someone to tell."""
        if damaged and warn is not None:
            warn(self.damage(damaged))

    def damage(self, damaged: list[int]) -> str:
        """What a reader says of lines of results.jsonl that are no record, found before its last line: not the
        half line a crash leaves at the end (appends start a line of their own after it), so a record may be lost."""
        shown = ", ".join(str(n) for n in damaged[:10]) + (f" and {len(damaged) - 10} more" if len(damaged) > 10
                                                             else "")
        return (f"{self.results_path} line{'s' if len(damaged) > 1 else ''} {shown}: not a whole record (the file is "
                f"damaged, or a write was cut off), skipped: a result may be missing; the other records are used")

    def _read(self) -> bytes:
        try:
            return self.results_path.read_bytes()
        except FileNotFoundError:
            return b""
        except OSError as exc:
            raise StoreError(f"cannot read {self.results_path}: {exc.strerror or exc}") from None

    def _located(self, schemas: set[str], parse: Callable[[dict, str], T], data: bytes,
                 accuracies: list[dict] | None = None,
                 damaged: list[int] | None = None) -> list[tuple[T, int, int]]:
        """_records, each with the byte offset and length of its line in ``data`` (the file's bytes); given
        ``accuracies`` (and measurements are what is read), the accuracy records of the same lines are added to it
        as stored (each checked by Accuracy.from_dict, as _accuracy_dicts does): one pass over the file for both.
        Given ``damaged``, the numbers of the lines that are no JSON object are added to it, except an unfinished
        last line (no newline after it): the half line a crash mid-write leaves, skipped in silence."""
        out = []
        start = 0
        lines = data.split(b"\n")
        for number, raw in enumerate(lines, 1):
            at, start = start, start + len(raw) + 1
            line = raw.decode("utf-8", errors="replace")
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                schema = record.get("schema")
            except (ValueError, AttributeError):
                if damaged is not None and number < len(lines):  # lines[-1]: after the last newline, unfinished
                    damaged.append(number)
                continue  # a torn line (a crash mid-write), or no record at all
            if schema not in schemas and (known := _newer_than_known(schema)):
                raise StoreError(f"{self.results_path} line {number}: a {schema} record, newer than this segbench "
                                 f"reads ({known})", hint="upgrade segbench to read this run")
            try:
                if schema in schemas:
                    out.append((parse(record, f"{self.results_path} line {number}"), at, len(raw)))
                elif accuracies is not None and schema in KNOWN_ACCURACY_SCHEMAS:
                    Accuracy.from_dict(record, f"{self.results_path} line {number}")
                    accuracies.append(record)
            except (ValueError, TypeError, KeyError, AttributeError):
                continue
        return out

    def columns(self, derive: Deriver | None = None, tag: str = "",
                warn: Callable[[str], None] | None = None, samples: bool = True) -> Columns:
        """The latency records that count (as ``measurements()``) as columns, from the run's cache file
        <reports>/index/columns/<run_id>.cols when it was built from this very results.jsonl (same size and mtime,
        or, after a copy, the same sha256) with the same ``derive`` ``tag``; otherwise read from results.jsonl and the
        cache written again. A cache file that cannot be read is said to ``warn`` and replaced; one that cannot be
        written (a read-only reports directory) only costs the speed-up. results.jsonl stays the only source.
        Without ``samples`` a cached run's per-iteration samples are left unread (Columns.load)."""
        import hashlib  # here, as numpy (columns): a report of a few records never builds a cache

        from segbench.columns import CACHE_SUFFIX, Columns

        cache = self.path.parent.parent / "index" / "columns" / f"{self.run_id}{CACHE_SUFFIX}"
        shard = self._shard()
        stamp = self._stamp()
        if stamp is None:
            return Columns.of([], derive)  # no results yet: nothing to cache
        meta: dict | None = None
        try:
            cols, meta = Columns.load(cache, str(self.results_path), samples)
        except FileNotFoundError:
            cols = None
        except (OSError, ValueError, KeyError, TypeError, EOFError) as exc:
            cols = None
            if warn:
                warn(f"the cache {cache} cannot be read ({exc}); rebuilding it from {self.results_path}")
        # A cache says which lines it found damaged ("damaged"): the warning comes back from it on every read while
        # the damage is there (a cache without the key, of an older segbench, is built again to find them).
        damaged_before = _line_numbers(meta.get("damaged")) if meta is not None else None
        if (cols is not None and meta is not None and meta.get("shard") == shard and meta.get("derive") == tag
                and damaged_before is not None):
            if meta.get("stamp") == stamp:
                self._say_damage(damaged_before, warn)
                return cols
            if meta.get("stamp", [None])[0] == stamp[0] and meta.get("sha256") == self._sha256():
                self._say_damage(damaged_before, warn)
                if cols.samples is None:  # written again whole: read it whole
                    with contextlib.suppress(OSError, ValueError, KeyError, TypeError, EOFError):
                        self._save_columns(cache, Columns.load(cache, str(self.results_path))[0],
                                           {**meta, "stamp": stamp})
                    return cols
                self._save_columns(cache, cols, {**meta, "stamp": stamp})  # a copy of the same file: same records
                return cols
        data = self._read()
        accuracies: list[dict] = []
        damaged: list[int] = []
        located = self._located(KNOWN_MEASUREMENT_SCHEMAS, Measurement.from_dict, data, accuracies, damaged)
        self._say_damage(damaged, warn)
        self.accuracies_read = (stamp, accuracies)
        records = [m for m, _, _ in located]
        keep = {id(m) for m in current(records, shard=shard)}
        located = [x for x in located if id(x[0]) in keep]
        cols = Columns.of([m for m, _, _ in located], derive,
                          (str(self.results_path), [a for _, a, _ in located], [n for _, _, n in located]))
        # The stamp is taken before reading: an append during the read makes the next reader build again.
        self._save_columns(cache, cols, {"stamp": stamp, "sha256": hashlib.sha256(data[:stamp[0]]).hexdigest(),
                                         "shard": shard, "derive": tag, "damaged": damaged})
        return cols

    def _sha256(self) -> str | None:
        import hashlib

        try:
            return hashlib.sha256(self.results_path.read_bytes()).hexdigest()
        except OSError:
            return None

    @staticmethod
    def _save_columns(path: Path, cols: Columns, meta: dict) -> None:
        with contextlib.suppress(OSError, ValueError, TypeError):
            path.parent.mkdir(parents=True, exist_ok=True)
            cols.save(path, meta, write_atomic)
            path.with_suffix(".npz").unlink(missing_ok=True)  # the cache as segbench.columns/1 wrote it


def _half_made(runs: str, name: str) -> bool:
    """Whether runs/``name`` is a folder without run.json (not a hidden one: create_run's work in progress)."""
    return not name.startswith(".") and os.path.isdir(os.path.join(runs, name)) and not os.path.lexists(
        os.path.join(runs, name, "run.json"))


def half_made_text(path: Path) -> str:
    """What readers say of a run folder without run.json."""
    return f"{path} has no run.json: a run whose creation failed (a full disk?), not a run"


class Store:
    """A reports directory holding many runs."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    def create_run(self, info: RunInfo) -> RunDir:
        """The run's folder with its logs/ and run.json, made whole or not at all (make_folder_atomic), so a failure
        (a full disk) leaves no run folder without run.json."""
        path = self.runs_dir / info.run_id
        if path.exists():
            raise StoreError(f"run {info.run_id} already exists in {self.runs_dir}")

        def fill(folder: Path) -> None:
            (folder / "logs").mkdir()
            RunDir(folder).write_info(info)

        try:
            make_folder_atomic(path, fill)
        except OSError as exc:
            if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):  # a run of that id made meanwhile: nothing replaced
                raise StoreError(f"run {info.run_id} already exists in {self.runs_dir}") from None
            raise self._create_error(exc, path) from None
        return RunDir(path)

    @staticmethod
    def _create_error(exc: OSError, path: Path) -> StoreError:
        if exc.errno == errno.ENOSPC:
            return StoreError(f"disk full while creating {path}", hint="free some space; nothing was left behind")
        return StoreError(f"cannot create {path}: {exc.strerror or exc}", hint="check --reports")

    def run(self, run_id: str) -> RunDir:
        path = self.runs_dir / run_id
        if not (path / "run.json").is_file():
            if _half_made(str(self.runs_dir), run_id):
                raise StoreError(half_made_text(path), hint="delete the folder; it holds no run to report or resume")
            known = ", ".join(self.run_ids()[-3:]) or "none"
            raise StoreError(f"no run {run_id!r} in {self.runs_dir}", hint=f"latest runs: {known}")
        return RunDir(path)

    def run_ids(self, half_made: Callable[[Path], None] | None = None) -> list[str]:
        """Run ids, oldest first (ids sort by time); a folder without run.json (a run whose creation failed, as
        older segbench versions could leave on a full disk) is no run, passed to ``half_made``."""
        runs = str(self.runs_dir)
        out = []
        for name in self._names():
            if os.path.isfile(os.path.join(runs, name, "run.json")):
                out.append(name)
            elif half_made is not None and _half_made(runs, name):
                half_made(self.runs_dir / name)
        return out

    def _names(self) -> list[str]:
        """The names in runs/, sorted (strings, not Paths: a farm's history holds thousands); hidden ones are left
        out: create_run's folder in the making (``.RUN_ID.*.tmp``) holds a run.json before it is renamed into place,
        and a reader at that moment must not take it for a run."""
        try:
            with os.scandir(self.runs_dir) as entries:
                return sorted(e.name for e in entries if not e.name.startswith("."))
        except (FileNotFoundError, NotADirectoryError):
            return []

    def latest(self, half_made: Callable[[Path], None] | None = None) -> RunDir:
        """The newest run; folders without run.json newer than it are passed over and given to ``half_made``."""
        runs = str(self.runs_dir)
        for name in reversed(self._names()):  # the newest run with a run.json, without looking at older ones
            if os.path.isfile(os.path.join(runs, name, "run.json")):
                return RunDir(self.runs_dir / name)
            if half_made is not None and _half_made(runs, name):
                half_made(self.runs_dir / name)
        raise StoreError(f"no runs in {self.runs_dir}", hint="run `segbench run` first, or pass --reports")

    def accuracies_by_run(self, skip: Iterable[str] = (), skipped: Callable[[str, StoreError], None] | None = None,
                          read: Iterable[RunDir] = ()) -> dict[str, list[Accuracy]]:
        """Every run's accuracy records (run id -> records; runs in ``skip`` left out), read through the index
        <reports>/index/accuracies.json: only runs whose results.jsonl changed since it was written are read again,
        and of those, runs in ``read`` whose file was just read whole (RunDir.accuracies_read, by columns(): a cache
        built) and has not changed since take the records found then. A run that cannot be read is left out and
        passed to ``skipped``. An index that cannot be written is no error (a read-only reports directory): the
        records are read and the index is not kept."""
        index_path = self.root / "index" / "accuracies.json"
        try:
            index = json.loads(index_path.read_text())
            entries = index["runs"] if index.get("schema") == ACCURACY_INDEX_SCHEMA else {}
            if not isinstance(entries, dict):
                entries = {}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            entries = {}
        out: dict[str, list[Accuracy]] = {}
        fresh: dict[str, dict] = {}
        exclude = set(skip)
        seen = {run.run_id: run.accuracies_read for run in read if run.accuracies_read is not None}
        runs = str(self.runs_dir)
        for run_id in self.run_ids():
            # Paths as strings: a farm's history holds thousands of runs, and Path's joins cost more than the stat.
            results = os.path.join(runs, run_id, "results.jsonl")
            stamp = _stamp_of(results)
            entry = entries.get(run_id)
            valid = isinstance(entry, dict) and entry.get("stamp") == stamp and isinstance(entry.get("records"), list)
            if run_id in exclude:  # the caller reads these whole: indexed by a later call, not read twice now
                if valid:
                    fresh[run_id] = entry
                continue
            if not valid and run_id in seen and seen[run_id][0] == stamp:
                entry, valid = {"stamp": stamp, "records": seen[run_id][1]}, True
            run = RunDir(self.runs_dir / run_id) if not valid else None
            if run is not None:
                try:
                    entry = {"stamp": stamp, "records": run._accuracy_dicts()}
                except StoreError as exc:
                    if skipped:
                        skipped(run_id, exc)
                    continue
            fresh[run_id] = entry
            where = f"{index_path} ({results})"
            try:
                out[run_id] = [Accuracy.from_dict(d, where) for d in entry["records"]]
            except (ValueError, TypeError, KeyError, AttributeError):  # an edited index: read the run itself
                try:
                    out[run_id] = (run or RunDir(self.runs_dir / run_id)).accuracies()
                except StoreError as exc:
                    if skipped:
                        skipped(run_id, exc)
                fresh.pop(run_id)
        if fresh != entries:
            with contextlib.suppress(OSError, ValueError):
                index_path.parent.mkdir(exist_ok=True)
                write_atomic(index_path, json.dumps({"schema": ACCURACY_INDEX_SCHEMA, "runs": fresh},
                                                    sort_keys=True, allow_nan=False))
        return out

    def import_run(self, info: RunInfo, measurements: Iterable[Measurement]) -> RunDir:
        """Store records that were measured elsewhere (parsed logs) as a completed run."""
        run = self.create_run(info)
        for m in measurements:
            run.append(replace(m, run_id=info.run_id))
        run.write_info(replace(info, status="completed", finished=info.finished or utc_now()))
        return run
