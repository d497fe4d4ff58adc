"""AdbDevice over the adb server's protocol (segbench.devices.adbwire): one kept sync connection per phone, the
push skip rules, and a phone that goes away, through the real adb server and the emulated phone."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from segbench import models
from segbench.devices.adb import AdbDevice, client, wait_online
from segbench.emulator import EmulatedPhone
from segbench.emulator.phone import free_port
from segbench.errors import DeviceError, DeviceGone

pytestmark = pytest.mark.slow

ADB_PORTS = range(36037, 36100)
PHONE_PORTS = range(36100, 36400, 2)
REMOTE = "/data/local/tmp/wire"


@pytest.fixture
def phone(adb_port):
    with EmulatedPhone(port=free_port(PHONE_PORTS), adb_port=adb_port) as p:
        yield p


def _device(adb_port: int, phone: EmulatedPhone) -> AdbDevice:
    return AdbDevice(client(f"127.0.0.1:{adb_port}"), phone.serial)


def _file(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


def _on_phone(phone: EmulatedPhone, remote: str) -> bytes:
    return (phone.root / remote.lstrip("/")).read_bytes()


def test_one_sync_connection_carries_every_push_and_pull(adb_port, phone, tmp_path):
    dev = _device(adb_port, phone)
    blobs = {f"{REMOTE}/a/{i}.bin": os.urandom(100_000 + i) for i in range(3)}  # more than one DATA block each
    for i, (remote, data) in enumerate(blobs.items()):
        assert dev.push(_file(tmp_path / f"{i}.bin", data), remote) is True
    for remote, data in blobs.items():
        assert _on_phone(phone, remote) == data
        dev.pull(remote, str(tmp_path / "back.bin"))
        assert (tmp_path / "back.bin").read_bytes() == data
    assert phone.services().count("sync") == 1, phone.services()
    # adbd makes the directories (fixed_push_mkdir): no `mkdir -p`, and nothing hashed for files not yet there.
    assert not [c for c in phone.shell_commands() if "mkdir" in c or "sha256sum" in c]
    dev.close()


def test_a_push_is_skipped_only_when_the_bytes_match(adb_port, phone, tmp_path):
    dev = _device(adb_port, phone)
    remote = f"{REMOTE}/same.bin"
    local = _file(tmp_path / "same.bin", b"x" * 5000)
    assert dev.push(local, remote) is True
    assert dev.push(local, remote) is False  # same size: hashed on both sides, equal
    local = _file(tmp_path / "same.bin", b"y" * 5000)  # same size, other bytes
    assert dev.push(local, remote) is True and _on_phone(phone, remote) == b"y" * 5000
    assert dev.push(_file(tmp_path / "longer.bin", b"y" * 5001), remote) is True  # other size: no hash asked
    assert len([c for c in phone.shell_commands() if "sha256sum" in c]) == 2
    assert _on_phone(phone, remote) == b"y" * 5001


def test_one_sha256sum_names_each_file_and_leaves_out_the_missing_as_toybox_does(adb_port, phone, tmp_path):
    """toybox's sha256sum prints "HASH  NAME" per file it read, the name as given (no escaping, unlike GNU's), and a
    line on stderr with exit status 1 for one it cannot read, going on with the rest; the emulated phone's does too."""
    dev = _device(adb_port, phone)
    blobs = {f"{REMOTE}/h/a.bin": b"a", f"{REMOTE}/h/back\\slash.bin": b"b", f"{REMOTE}/h/with space.bin": b"c"}
    for i, (remote, data) in enumerate(blobs.items()):
        dev.push(_file(tmp_path / f"{i}.bin", data), remote)
    missing = f"{REMOTE}/h/missing.bin"
    raw = dev.shell(f"sha256sum {REMOTE}/h/a.bin {missing} '{REMOTE}/h/back\\slash.bin'")
    assert raw.returncode == 1 and raw.stderr == f"sha256sum: {missing}: No such file or directory\n".encode()
    assert raw.stdout.decode().splitlines() == [f"{hashlib.sha256(b'a').hexdigest()}  {REMOTE}/h/a.bin",
                                                f"{hashlib.sha256(b'b').hexdigest()}  {REMOTE}/h/back\\slash.bin"]
    found = dev.remote_sha256s([*blobs, missing])
    assert found == {remote: hashlib.sha256(data).hexdigest() for remote, data in blobs.items()}
    assert len([c for c in phone.shell_commands() if c.startswith("sha256sum ")]) == 2


def test_stats_sent_together_come_back_in_order_over_one_connection(adb_port, phone, tmp_path):
    dev = _device(adb_port, phone)
    dev.push(_file(tmp_path / "x", b"x" * 7), f"{REMOTE}/st/x")
    paths = [f"{REMOTE}/st/x" if i % 100 == 0 else f"{REMOTE}/st/none{i}" for i in range(300)]  # two batches
    got = dev._synced(lambda sync: sync.stats(paths), "stats")
    assert [g.size for g in got] == [7 if i % 100 == 0 else 0 for i in range(300)]
    assert [g.regular for g in got] == [i % 100 == 0 for i in range(300)]
    assert dev._synced(lambda sync: sync.stat(f"{REMOTE}/st/x"), "stat").size == 7  # the connection is still in step
    assert phone.services().count("sync") == 1


def test_look_ahead_hashes_once_and_still_catches_a_file_that_changed_or_vanished(adb_port, phone, tmp_path):
    dev = _device(adb_port, phone)
    files = {name: (_file(tmp_path / name, name.encode() * 1000), f"{REMOTE}/ahead/{name}")
             for name in ("same", "edit", "gone", "late", "new1")}
    for local, remote in list(files.values())[:4]:
        assert dev.push(local, remote) is True
    dev.close()
    dev = _device(adb_port, phone)  # a new run: nothing known of the phone
    edited = phone.root / files["edit"][1].lstrip("/")
    edited.write_bytes(b"x" * len(edited.read_bytes()))  # changed before the look: its hash differs
    seen = len(phone.shell_commands())
    assert dev.look_ahead(files.values()) == 4  # "new1" is not there: nothing to hash
    assert len(phone.shell_commands()) == seen + 1
    (phone.root / files["gone"][1].lstrip("/")).unlink()  # vanished after the look
    late = phone.root / files["late"][1].lstrip("/")
    late.write_bytes(b"y" * len(late.read_bytes()))  # changed after the look: a new mtime, hashed again
    os.utime(late, (time.time() + 5, time.time() + 5))
    pushed = {name: dev.push(local, remote) for name, (local, remote) in files.items()}
    assert pushed == {"same": False, "edit": True, "gone": True, "late": True, "new1": True}
    for local, remote in files.values():
        assert _on_phone(phone, remote) == Path(local).read_bytes()
    assert [c for c in phone.shell_commands()[seen + 1:] if "sha256sum" in c] == [f"sha256sum {files['late'][1]} 2>/dev/null"]


def test_a_phone_refusing_a_file_is_a_device_error_and_the_next_push_works(adb_port, phone, tmp_path):
    dev = _device(adb_port, phone)
    local = _file(tmp_path / "f.bin", b"data")
    with pytest.raises(DeviceError) as refused:
        dev.push(local, "/system/f.bin")
    assert not isinstance(refused.value, DeviceGone) and "Read-only file system" in str(refused.value)
    with pytest.raises(DeviceError) as missing:
        dev.pull(f"{REMOTE}/no-such-file", str(tmp_path / "x"))
    assert not isinstance(missing.value, DeviceGone) and "No such file" in str(missing.value)
    assert dev.push(local, f"{REMOTE}/f.bin") is True and _on_phone(phone, f"{REMOTE}/f.bin") == b"data"


def test_an_unplugged_phone_is_device_gone_and_a_replugged_one_gets_a_new_connection(adb_port, phone, tmp_path):
    dev = _device(adb_port, phone)
    assert dev.push(_file(tmp_path / "1.bin", b"1" * 70_000), f"{REMOTE}/1.bin") is True
    phone.unplug()
    with pytest.raises(DeviceGone):
        dev.push(_file(tmp_path / "2.bin", b"2" * 70_000), f"{REMOTE}/2.bin")
    done = dev.shell("echo hi", 5)
    assert done.disconnected and not done.ok
    phone.replug()
    assert wait_online(client(f"127.0.0.1:{adb_port}"), phone.serial, 60)
    # The connection kept from before the drop is dead: the push notices and opens a new one.
    assert dev.push(_file(tmp_path / "3.bin", b"3" * 70_000), f"{REMOTE}/3.bin") is True
    assert _on_phone(phone, f"{REMOTE}/3.bin") == b"3" * 70_000
    assert dev.shell("echo hi", 5).stdout == b"hi\n"


def test_a_phone_without_fixed_push_mkdir_gets_mkdir_once_per_directory(adb_port, phone, tmp_path):
    dev = _device(adb_port, phone)
    dev._features = frozenset({"shell_v2"})  # as an adbd older than Android 7 says
    for i in range(3):
        dev.push(_file(tmp_path / f"{i}.bin", bytes([i]) * 10), f"{REMOTE}/old/{i}.bin")
    assert [c for c in phone.shell_commands() if "mkdir" in c] == [f"mkdir -p {REMOTE}/old"]


def test_local_hashes_are_remembered_only_for_files_that_stood_still(tmp_path, monkeypatch):
    old, young = tmp_path / "old.bin", tmp_path / "young.bin"
    old.write_bytes(b"a" * 10)
    young.write_bytes(b"b" * 10)
    past = time.time() - 60
    os.utime(old, (past, past))
    want_old, want_young = models.sha256_file(old), models.sha256_file(young)
    assert models.sha256_cached(old) == want_old and models.sha256_cached(young) == want_young
    calls = []
    real = models.sha256_file
    monkeypatch.setattr(models, "sha256_file", lambda p, *a: calls.append(Path(p).name) or real(p, *a))
    assert models.sha256_cached(old) == want_old and models.sha256_cached(young) == want_young
    assert calls == ["young.bin"]  # written just now: its mtime could hide a rewrite in the same clock tick
    old.write_bytes(b"c" * 10)  # rewritten: a new mtime and ctime, so hashed again
    assert models.sha256_cached(old) == models.sha256_file(old) != want_old


def test_facts_and_info_are_one_command_each_and_a_cut_reading_is_empty(adb_port, phone, monkeypatch):
    from segbench.devices import Completed

    dev = _device(adb_port, phone)
    info = dev.info()
    assert len(phone.shell_commands()) == 1
    assert info.model == "MI 9" and info.cpu_max_khz[7] == 2841600 and info.extra["thermal_c"]["cpu-1-0-usr"] > 20
    assert info.memory_mb and info.extra["battery"]["level"] is not None and info.extra["governor"]
    facts = dev.facts()
    assert len(phone.shell_commands()) == 2
    whole = dev.shell(phone.shell_commands()[-1]).stdout
    assert facts.cur_khz["cpu7"] > 0 and facts.cap_khz["cpu7"] > 0 and set(facts.thermal_c) == set(dev.thermal_c())
    cut = whole[: whole.index(b"scaling_max_freq")]  # the link went while the phone printed
    monkeypatch.setattr(dev, "shell", lambda *a, **k: Completed(None, cut, b"", disconnected=True))
    assert dev.facts() == type(facts)({}, {}, {})
    with pytest.raises(DeviceGone):
        dev.info()
