"""What the CLI imports at start: heavy libraries only where a command needs them (bench/startup.py times it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("numpy", "pandas", "matplotlib", "onnx", "onnxruntime", "tabulate", "scipy", "importlib.metadata")


def imported_after(args: list[str]) -> set[str]:
    """The modules loaded once `segbench ARGS` has run (in a fresh interpreter)."""
    code = ("import sys, json\nfrom segbench.cli import main\n"
            "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
            "print('\\n' + json.dumps(sorted(sys.modules)))\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=120)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_help_imports_nothing_heavy():
    loaded = imported_after(["--help"])
    assert "segbench.cli.cmd_run" in loaded  # the check can fail: the commands were loaded
    assert not {m for m in HEAVY if m in loaded}


def test_version_is_still_printed():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-m", "segbench", "--version"], capture_output=True, text=True, env=env,
                         timeout=60)
    assert out.returncode == 0
    assert out.stdout.startswith("segbench, version ")
