"""device_assets for the emulated phone: the shipped manifest, and stub files where the tools go.

The emulated phone runs its stand-in for a pushed, executable file by the file's name (docs/emulator.md), so
the bytes are a stub; the manifest is the real one (device_assets/manifest.toml), as a user sets it up.
"""

from __future__ import annotations

import shutil
from pathlib import Path

# The files device_assets/manifest.toml lists for arm64-v8a: the three tools and ORT's shared library.
STUB_FILES = ("benchmark_bin", "benchmark_model", "onnxruntime_perf_test", "libonnxruntime.so")


def stub_assets(root: Path, manifest: Path) -> Path:
    """A device_assets directory at ``root`` (created) with ``manifest`` and a stub for each of STUB_FILES."""
    (root / "arm64-v8a").mkdir(parents=True)
    shutil.copy(manifest, root / "manifest.toml")
    for name in STUB_FILES:
        (root / "arm64-v8a" / name).write_bytes(b"\x7fELF\x02\x01\x01" + name.encode())
    return root
