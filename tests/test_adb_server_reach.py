"""An adb server segbench cannot reach is one line saying so and what to do, never "no device attached"; a local
server segbench starts, or one adbutils would start behind its back, never prints adb's own lines to stderr."""

from __future__ import annotations

import pytest

from conftest import FIXTURES, assert_one_line_error, run_cli, start_adb_server, stop_adb_server
from segbench.devices import adb
from segbench.emulator.phone import free_port
from segbench.errors import DeviceError

ADB_PORTS = range(37037, 37100)


def _dead_port() -> int:
    return free_port(ADB_PORTS)  # nothing listens there


@pytest.mark.parametrize("args", [["devices"], ["run", "--device", "127.0.0.1:5555"], ["run", "--device", "all"]])
def test_a_named_server_nothing_listens_on_is_one_line(args, tmp_path):
    port = _dead_port()
    extra = ["--models", str(FIXTURES / "models"), "--reports", str(tmp_path / "r")] if args[0] == "run" else []
    r = run_cli(*args, "--adb-server", f"127.0.0.1:{port}", *extra, timeout=120)
    assert_one_line_error(r, 1)
    assert r.err.strip() == (f"segbench: error: cannot reach the adb server at 127.0.0.1:{port}: nothing answers there "
                             f"(start it: `adb -P {port} start-server`, or check --adb-server and "
                             "ANDROID_ADB_SERVER_PORT)")
    assert not adb._listening("127.0.0.1", port)  # no server started behind the user's back
    assert not (tmp_path / "r" / "runs").exists() or not any((tmp_path / "r" / "runs").iterdir())


def test_the_local_server_segbench_starts_says_nothing_on_stderr():
    port = _dead_port()
    try:
        r = run_cli("devices", env={"ANDROID_ADB_SERVER_PORT": str(port)}, timeout=120)
        assert r.code == 0, r.err
        assert r.err == "" and "daemon" not in r.out, (r.out, r.err)
        assert adb._listening("127.0.0.1", port)  # started, as adb itself would
    finally:
        stop_adb_server(port)


def test_a_server_gone_after_the_check_is_one_error_and_not_restarted(monkeypatch, capfd):
    port = start_adb_server(ADB_PORTS)
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(port))  # adbutils' fallback would start this one
    try:
        client = adb.client(f"127.0.0.1:{port}")
        assert adb.attached(client) == []
        stop_adb_server(port)
        capfd.readouterr()
        with pytest.raises(DeviceError, match=f"cannot reach the adb server at 127.0.0.1:{port}"):
            adb.attached(client)
        out, err = capfd.readouterr()
        assert "daemon" not in out + err, (out, err)
        assert not adb._listening("127.0.0.1", port)
    finally:
        stop_adb_server(port)


def test_the_adbutils_hook_segbench_overrides_is_there():
    """segbench keeps adbutils from starting a server of its own through AdbConnection._safe_connect (private); an
    adbutils without it would quietly get its stock client back: this says so where it can fail loudly."""
    from adbutils._adb import AdbConnection

    from segbench.devices import adb

    assert callable(AdbConnection._safe_connect) and callable(AdbConnection._create_socket)
    assert adb._client_class().__name__ == "Client"
