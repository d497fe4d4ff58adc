"""Shared test helpers: fixture paths and running the real CLI."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
SELFIE = FIXTURES / "models" / "selfie_segmentation.tflite"
ASTRONAUT = FIXTURES / "images" / "astronaut.png"
LOGS = FIXTURES / "logs"


def published_manifest(directory: Path, keep=lambda line: True) -> Path:
    """The repository's `[[published]]` tables alone, in ``directory/manifest.toml`` (lines ``keep`` refuses left out).

    Its `[[model]]` entries are not copied: the README's `segbench zoo export ... -o models_dir` rewrites them (head,
    zoo figures), and no test may depend on the state of a file that a documented command changes."""
    chunks = re.split(r"(?m)^(?=\[\[)", (ROOT / "models_dir" / "manifest.toml").read_text(encoding="utf-8"))
    text = "".join(c for c in chunks if c.startswith("[[published]]"))
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "manifest.toml"
    path.write_text("".join(ln for ln in text.splitlines(keepends=True) if keep(ln)), encoding="utf-8")
    return path


@dataclass
class CliResult:
    code: int
    out: str
    err: str


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 300, env: dict | None = None) -> CliResult:
    """Run `python -m segbench ARGS` in a real subprocess, as a user would."""
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = str(ROOT) + os.pathsep + full_env.get("PYTHONPATH", "")
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "segbench", *args],
        cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def case_label(record: dict) -> str:
    """A stored record's case id without its hash: the readable ``name__runtime__tN__mode`` (model.Case.case_id)."""
    prefix, _, digest = record["case_id"].rpartition("__")
    assert len(digest) == 16 and all(c in "0123456789abcdef" for c in digest), record["case_id"]
    return prefix


def assert_one_line_error(result: CliResult, code: int) -> None:
    """A user error: the documented exit code, one `segbench: error:` line, no traceback."""
    assert result.code == code, (result.code, result.out, result.err)
    assert "Traceback" not in result.err and "Traceback" not in result.out, result.err
    lines = [ln for ln in result.err.splitlines() if ln.strip()]
    assert any(ln.startswith("segbench: error:") or ln.startswith("Error:") for ln in lines), result.err


@pytest.fixture
def cli():
    return run_cli


# --------------------------------------------------------------- device tests (the emulated phone)

def start_adb_server(ports: range) -> int:
    """A real adb server (the adbutils wheel's binary) on a free port of ``ports``; stop it with stop_adb_server."""
    from adbutils import adb_path

    from segbench.emulator.phone import free_port

    port = free_port(ports)
    subprocess.run([adb_path(), "-P", str(port), "start-server"], capture_output=True, timeout=30, check=False)
    return port


def stop_adb_server(port: int) -> None:
    from adbutils import adb_path

    subprocess.run([adb_path(), "-P", str(port), "kill-server"], capture_output=True, timeout=30, check=False)


def tool_pids(phone, tool: str) -> list[int]:
    """This emulated phone's running stand-ins of ``tool``: host processes `python -m segbench.emulator.tools TOOL
    ...` whose SEGBENCH_EMU_STATE is the phone's."""
    mine = f"SEGBENCH_EMU_STATE={phone.state.state_dir}".encode()
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            if b"segbench.emulator.tools" in argv and tool.encode() in argv:
                if mine in (proc / "environ").read_bytes().split(b"\0"):
                    pids.append(int(proc.name))
        except (OSError, ValueError):
            continue  # not a process, or gone while we looked
    return pids


def make_device_assets(root: Path) -> Path:
    """device_assets as a user sets it up: the shipped manifest, the tools dropped into arm64-v8a/ (stubs:
    the emulated phone runs its stand-in for a pushed tool by the tool's name)."""
    from segbench.emulator import stub_assets

    return stub_assets(root, ROOT / "device_assets" / "manifest.toml")


@pytest.fixture(scope="module")
def adb_port(request: pytest.FixtureRequest):
    """An adb server for one test module, on a port from the module's own ADB_PORTS (modules never collide)."""
    port = start_adb_server(request.module.ADB_PORTS)
    try:
        yield port
    finally:
        stop_adb_server(port)


@pytest.fixture(scope="module")
def assets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_device_assets(tmp_path_factory.mktemp("assets"))


@pytest.fixture
def tiny_disk(tmp_path: Path):
    """A 64 KiB tmpfs: a real full disk. Needs root (mount); skipped elsewhere."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode(errors='replace').strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], capture_output=True)


@pytest.fixture
def without_paddlelite() -> None:
    """For what happens where paddlelite is not installed (the usual case: it has wheels for Python 3.10 only)."""
    import importlib.util

    if importlib.util.find_spec("paddlelite") is not None:
        pytest.skip("paddlelite is installed here (tests/test_paddle_lite.py covers Paddle Lite)")
