"""The vendor tools a phone runs, from ``device_assets/``: ``<abi>/<binary>`` plus ``manifest.toml``.

The manifest describes each tool once (runtime, upstream binary name, version, where to get it,
libraries it needs beside it, and the sha256 of the binary a team has vetted, per ABI). The binaries
themselves are dropped in by users and never committed. See device_assets/README.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from segbench.compat import tomllib
from segbench.errors import SegbenchError, UsageError
from segbench.validate import item, items

MANIFEST = "manifest.toml"
# What every stub for the emulated phone carries (segbench/emulator/assets.py), so that a real phone's run can say
# the file is no real tool.
STUB_MARK = b"segbench-emulator-stub"


@dataclass(frozen=True)
class ToolSpec:
    """One manifest entry: a tool for one ABI."""

    runtime: str
    binary: str
    abi: str
    version: str | None = None
    source: str | None = None
    get: str | None = None
    libs: tuple[str, ...] = ()
    sha256: str | None = None  # the vetted binary; None: not pinned, any file of that name is used
    variant: str | None = None  # another build of the runtime's tool ("litert"): kept in <abi>/<variant>/
    url: str | None = None  # where `segbench assets fetch` downloads the binary from ({version}, {abi} filled)

    @property
    def relpath(self) -> str:
        """Where the binary lives under device_assets/<abi>/ (and under bin/ on the phone)."""
        return f"{self.variant}/{self.binary}" if self.variant else self.binary

    def name_for_humans(self) -> str:
        return f"{self.variant} {self.binary}" if self.variant else self.binary

    def download_url(self) -> str | None:
        return self.url.format(version=self.version or "", abi=self.abi) if self.url else None

    def where_to_get(self) -> str:
        # The manifest's first sentence and the command it introduces, then the source, on one line.
        lines = [ln.strip() for ln in (self.get or "").strip().splitlines() if ln.strip()]
        how = " ".join(lines[:2]) if lines and lines[0].endswith(":") else (lines[0] if lines else "")
        return "; ".join(x for x in (how, self.source and f"source {self.source}") if x) or "see device_assets/README.md"


@dataclass(frozen=True)
class Tool:
    """A tool found for one ABI: the files to push (binary first) and what the manifest says of it."""

    runtime: str
    binary: Path
    files: tuple[Path, ...]
    version: str | None
    sha256: str
    variant: str | None = None


def read_manifest(assets: Path) -> dict[tuple[str, str, str], ToolSpec]:
    """(runtime, abi, variant or "") -> ToolSpec from ``assets/manifest.toml``."""
    path = assets / MANIFEST
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file", hint="--assets must be a device_assets directory (see device_assets/README.md)") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SegbenchError(f"cannot read {path}: {exc}") from None
    specs: dict[tuple[str, str, str], ToolSpec] = {}
    for i, entry in enumerate(items(data, "tool", dict, str(path), optional=True) or ()):
        spec = _spec(entry, f"{path}: [[tool]] {i + 1}")
        specs[(spec.runtime, spec.abi, spec.variant or "")] = spec
    return specs


def _spec(entry: dict, where: str) -> ToolSpec:
    """One [[tool]] table, every value of its documented type (device_assets/README.md)."""
    from segbench.model import RUNTIMES

    def text(key: str, **checks: object) -> str | None:
        return item(entry, key, str, where, **checks) or None

    return ToolSpec(
        runtime=item(entry, "runtime", str, where, choices=RUNTIMES), binary=item(entry, "binary", str, where,
                                                                                  nonempty=True),
        abi=item(entry, "abi", str, where, nonempty=True), version=text("version", optional=True),
        source=text("source", optional=True), get=text("get", optional=True),
        libs=tuple(items(entry, "libs", str, where, optional=True, nonempty=True) or ()),
        sha256=text("sha256", optional=True), variant=text("variant", optional=True), url=text("url", optional=True),
    )


def variants(assets: Path) -> set[str]:
    """The tool variants the manifest names (``litert``)."""
    return {spec.variant for spec in read_manifest(assets).values() if spec.variant}


def find_tool(assets: Path, abi: str | None, runtime: str, variant: str | None = None,
              emulated: bool | None = None) -> Tool:
    """The tool for ``runtime`` on a phone of ``abi`` (``variant``: another build of it, e.g. ``litert``); a clear
    error says where to get a missing one. On a phone that is not ``emulated``, the emulated phone's stub (what
    `segbench emulator --assets` writes) is refused: it is no tool."""
    from segbench.models import sha256_file

    if not abi:
        raise SegbenchError("the device did not report its ABI (ro.product.cpu.abi)")
    spec = read_manifest(assets).get((runtime, abi, variant or ""))
    if spec is None:
        which = f"{variant} {runtime}" if variant else runtime
        raise SegbenchError(f"{assets / MANIFEST} names no {which} tool for {abi}",
                            hint="add a [[tool]] entry (device_assets/README.md)")
    binary = assets / abi / spec.relpath
    if not binary.is_file():
        fetch = f"segbench assets fetch {spec.variant or spec.binary}, or " if spec.url else ""
        raise SegbenchError(f"{spec.binary} for {abi} is missing: {fetch}put it at {binary} (for the emulated phone, "
                            f"`segbench emulator --assets {assets}` writes stand-ins)", hint=spec.where_to_get())
    if emulated is False and is_stub(binary):
        raise SegbenchError(f"{binary} is a stand-in for the emulated phone (`segbench emulator --assets`), not a tool "
                            "a real phone can run: put the real one there", hint=spec.where_to_get())
    libs = [assets / abi / lib for lib in spec.libs]
    missing = [p for p in libs if not p.is_file()]
    if missing:
        raise SegbenchError(f"{spec.binary} needs {', '.join(p.name for p in missing)} beside it in {assets / abi}",
                            hint=spec.where_to_get())
    digest = sha256_file(binary)
    if spec.sha256 and spec.sha256 != digest:
        raise SegbenchError(
            f"{binary} is not the binary the manifest vetted (sha256 {digest[:12]}..., expected {spec.sha256[:12]}...)",
            hint=f"update its sha256 in {assets / MANIFEST} if this build is intended",
        )
    return Tool(runtime, binary, (binary, *libs), spec.version, digest, spec.variant)


def is_stub(path: Path) -> bool:
    """Whether ``path`` is a stub for the emulated phone (an ELF magic, then STUB_MARK within its few bytes)."""
    try:
        with open(path, "rb") as f:
            head = f.read(256)
    except OSError:
        return False
    return head.startswith(b"\x7fELF") and STUB_MARK in head


# ---------------------------------------------------------------------------------------------
# segbench assets fetch


def select_specs(assets: Path, abi: str, name: str | None) -> list[ToolSpec]:
    """The manifest entries ``segbench assets fetch [NAME]`` means for ``abi``: a variant (``litert``), a binary or
    a runtime (their standard tool), or, without NAME, every entry that has a download ``url``."""
    specs = [s for s in read_manifest(assets).values() if s.abi == abi]
    if not specs:
        raise UsageError(f"{assets / MANIFEST} names no tool for {abi}", hint="check --abi")
    if name is None:
        picked = [s for s in specs if s.url]
        if not picked:
            raise SegbenchError(f"{assets / MANIFEST} has no tool with a download url for {abi}")
        return picked
    picked = [s for s in specs if name == s.variant or (not s.variant and name in (s.binary, s.runtime))]
    if not picked:
        names = sorted({s.variant or s.binary for s in specs})
        raise UsageError(f"{assets / MANIFEST} names no tool {name!r} for {abi}", hint=f"use one of {', '.join(names)}")
    return picked


def fetch(assets: Path, spec: ToolSpec, timeout: float = 60.0) -> tuple[Path, str, bool]:
    """Download ``spec``'s binary into ``assets/<abi>/`` and check its sha256: (path, sha256, downloaded).

    A file already there with the pinned sha256 is kept (no download). The download goes to a temporary file
    beside the target and is renamed into place only when complete and, when the manifest pins one, of the
    right sha256, so an interrupted or wrong download never leaves a file behind.
    """
    import hashlib
    import os
    import tempfile
    import urllib.error
    import urllib.request

    from segbench.models import sha256_file

    url = spec.download_url()
    target = assets / spec.abi / spec.relpath
    if not url:
        raise SegbenchError(f"{spec.name_for_humans()} has no download url in {assets / MANIFEST}",
                            hint=spec.where_to_get())
    if target.is_file():
        digest = sha256_file(target)
        if spec.sha256 is None or digest == spec.sha256:
            return target, digest, False
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    h = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                with urllib.request.urlopen(url, timeout=timeout) as resp:
                    while chunk := resp.read(1 << 20):
                        h.update(chunk)
                        out.write(chunk)
            except urllib.error.HTTPError as exc:
                raise SegbenchError(f"cannot download {url}: HTTP {exc.code} {exc.reason}") from None
            except (urllib.error.URLError, OSError) as exc:
                reason = getattr(exc, "reason", None) or exc
                raise SegbenchError(f"cannot download {url}: {reason} (offline, or the address is wrong?)") from None
        digest = h.hexdigest()
        if spec.sha256 and digest != spec.sha256:
            raise SegbenchError(f"{url} has sha256 {digest[:12]}..., the manifest pins {spec.sha256[:12]}...; "
                                "nothing was saved", hint=f"if this build is intended, update its sha256 in {assets / MANIFEST}")
        os.chmod(tmp, 0o755)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target, digest, True
