"""Facts for run.json: harness git sha, host details and the versions of every runtime."""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path

from segbench.runners.host import package_version

RUNTIME_PACKAGES = ("onnxruntime", "ai-edge-litert", "tflite-runtime", "paddlelite", "paddlepaddle", "numpy", "onnx",
                    "adbutils")


def collect_versions() -> dict[str, str | None]:
    versions = {name: package_version(name) for name in RUNTIME_PACKAGES}
    versions["python"] = platform.python_version()
    return versions


def host_details() -> dict[str, str]:
    return {"platform": platform.platform(), "python": sys.version.split()[0], "executable": sys.executable}


def git_sha() -> str | None:
    """The harness's own commit when it runs from a git checkout (not the user's cwd)."""
    source = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(["git", "-C", str(source), "rev-parse", "--short=12", "HEAD"],
                             capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None
