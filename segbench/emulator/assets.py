"""device_assets for the emulated phone: the shipped manifest, and stub files where the tools go.

The emulated phone runs its stand-in for a pushed, executable file by the file's name (docs/emulator.md), so
the bytes are a stub; the manifest is the real one (device_assets/manifest.toml), as a user sets it up. The
package carries a copy of that manifest (``SHIPPED_MANIFEST``), so `segbench emulator --assets DIR` works from an
installed package too, without a clone.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from segbench.assets import MANIFEST, STUB_MARK, read_manifest

# What a stub of a LiteRT 2.x build carries, as the real binary carries its benchmark class's name: the
# benchmark_model stand-in then acts as that tool (segbench/emulator/tools/tflite_benchmark.py).
LITERT_MARK = b"BenchmarkLiteRtModel"
# device_assets/manifest.toml, shipped as package data (tests/test_emulator.py keeps the two byte for byte equal).
SHIPPED_MANIFEST = Path(__file__).with_name("manifest.toml")


def stub_assets(root: Path | str, manifest: Path | str | None = None) -> Path:
    """A device_assets directory at ``root`` (created if needed) with a manifest and a stub for every binary and
    library it lists for arm64-v8a, where each goes (a variant in its own directory); returns ``root``.

    ``manifest`` is copied in when given; without it the directory's own manifest.toml is kept, else the shipped
    one is copied. Files already in place (a user's real tools, or stubs from before) are left as they are.
    """
    stub_files(Path(root), None if manifest is None else Path(manifest))
    return Path(root)


def stub_files(root: Path, manifest: Path | None = None) -> list[Path]:
    """What stub_assets does; returns the files it wrote (the manifest first when it copied one)."""
    written: list[Path] = []
    (root / "arm64-v8a").mkdir(parents=True, exist_ok=True)
    if manifest is not None or not (root / MANIFEST).is_file():
        shutil.copyfile(manifest or SHIPPED_MANIFEST, root / MANIFEST)
        written.append(root / MANIFEST)
    for spec in read_manifest(root).values():
        if spec.abi != "arm64-v8a":
            continue
        where = root / spec.abi / (spec.variant or "")
        where.mkdir(parents=True, exist_ok=True)
        mark = LITERT_MARK if spec.variant == "litert" else b""
        for name in (spec.binary, *spec.libs):
            path = where / name
            if path.exists():
                continue
            path.write_bytes(b"\x7fELF\x02\x01\x01" + name.encode() + mark + STUB_MARK)
            os.chmod(path, 0o755)
            written.append(path)
    return written
