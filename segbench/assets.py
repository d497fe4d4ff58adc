"""The vendor tools a phone runs, from ``device_assets/``: ``<abi>/<binary>`` plus ``manifest.toml``.

The manifest describes each tool once (runtime, upstream binary name, version, where to get it,
libraries it needs beside it, and the sha256 of the binary a team has vetted, per ABI). The binaries
themselves are dropped in by users and never committed. See device_assets/README.md.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from segbench.errors import SegbenchError, UsageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

MANIFEST = "manifest.toml"


@dataclass(frozen=True)
class ToolSpec:
    """One manifest entry."""

    runtime: str
    binary: str
    version: str | None = None
    source: str | None = None
    libraries: tuple[str, ...] = ()
    sha256: dict[str, str] = field(default_factory=dict)  # abi -> sha256 of the vetted binary


@dataclass(frozen=True)
class Tool:
    """A tool found for one ABI: the files to push (binary first) and what the manifest says of it."""

    runtime: str
    binary: Path
    files: tuple[Path, ...]
    version: str | None
    sha256: str


def read_manifest(assets: Path) -> dict[str, ToolSpec]:
    """runtime -> ToolSpec from ``assets/manifest.toml``."""
    path = assets / MANIFEST
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file", hint="--assets must be a device_assets directory (see device_assets/README.md)") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SegbenchError(f"cannot read {path}: {exc}") from None
    specs: dict[str, ToolSpec] = {}
    for i, entry in enumerate(data.get("tool", [])):
        try:
            spec = ToolSpec(
                runtime=str(entry["runtime"]), binary=str(entry["binary"]), version=entry.get("version") or None,
                source=entry.get("source"), libraries=tuple(entry.get("libraries", ())),
                sha256={str(k): str(v) for k, v in (entry.get("sha256") or {}).items() if v},
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise SegbenchError(f"{path}: [[tool]] entry {i + 1} is incomplete ({exc})") from None
        specs[spec.runtime] = spec
    return specs


def find_tool(assets: Path, abi: str | None, runtime: str) -> Tool:
    """The tool for ``runtime`` on a phone of ``abi``; a clear error says where to get a missing one."""
    from segbench.models import sha256_file

    specs = read_manifest(assets)
    spec = specs.get(runtime)
    if spec is None:
        raise SegbenchError(f"{assets / MANIFEST} names no tool for {runtime}")
    if not abi:
        raise SegbenchError("the device did not report its ABI (ro.product.cpu.abi)")
    binary = assets / abi / spec.binary
    if not binary.is_file():
        raise SegbenchError(
            f"{spec.binary} for {abi} is missing: put it at {binary}",
            hint=f"get it from {spec.source}" if spec.source else "see device_assets/README.md",
        )
    libs = [assets / abi / lib for lib in spec.libraries]
    missing = [p for p in libs if not p.is_file()]
    if missing:
        raise SegbenchError(f"{spec.binary} needs {', '.join(p.name for p in missing)} beside it in {assets / abi}")
    digest = sha256_file(binary)
    vetted = spec.sha256.get(abi)
    if vetted and vetted != digest:
        raise SegbenchError(
            f"{binary} is not the binary the manifest vetted (sha256 {digest[:12]}..., expected {vetted[:12]}...)",
            hint=f"update sha256.{abi} in {assets / MANIFEST} if this build is intended",
        )
    return Tool(runtime, binary, (binary, *libs), spec.version, digest)
