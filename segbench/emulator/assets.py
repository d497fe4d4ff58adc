"""device_assets for the emulated phone: the shipped manifest, and stub files where the tools go.

The emulated phone runs its stand-in for a pushed, executable file by the file's name (docs/emulator.md), so
the bytes are a stub; the manifest is the real one (device_assets/manifest.toml), as a user sets it up.
"""

from __future__ import annotations

import shutil
from pathlib import Path

# What a stub of a LiteRT 2.x build carries, as the real binary carries its benchmark class's name: the
# benchmark_model stand-in then acts as that tool (segbench/emulator/tools/tflite_benchmark.py).
LITERT_MARK = b"BenchmarkLiteRtModel"


def stub_assets(root: Path, manifest: Path) -> Path:
    """A device_assets directory at ``root`` (created) with ``manifest`` and a stub for every binary and library
    it lists for arm64-v8a, where each goes (a variant in its own directory)."""
    from segbench.assets import read_manifest

    (root / "arm64-v8a").mkdir(parents=True)
    shutil.copy(manifest, root / "manifest.toml")
    for spec in read_manifest(root).values():
        if spec.abi != "arm64-v8a":
            continue
        where = root / spec.abi / (spec.variant or "")
        where.mkdir(parents=True, exist_ok=True)
        mark = LITERT_MARK if spec.variant == "litert" else b""
        (where / spec.binary).write_bytes(b"\x7fELF\x02\x01\x01" + spec.binary.encode() + mark)
        for lib in spec.libs:
            (where / lib).write_bytes(b"\x7fELF\x02\x01\x01" + lib.encode())
    return root
