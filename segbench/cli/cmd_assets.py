"""`segbench assets fetch [TOOL]`: download the vendor tools the manifest has a url for, sha256 checked."""

from __future__ import annotations

from pathlib import Path

import click


@click.group("assets")
def command() -> None:
    """The vendor tools in device_assets/ (manifest.toml and <abi>/<tool>)."""


@command.command("fetch")
@click.argument("tool", required=False)
@click.option("--abi", metavar="ABI", help="The ABI to fetch for (default: the phone's, as for `segbench devices`).")
@click.option("--device", metavar="SERIAL|auto", default="auto", show_default=True,
              help="The phone whose ABI to use when --abi is not given.")
@click.option("--adb-server", metavar="HOST:PORT", help="adb server (default: ANDROID_ADB_SERVER_PORT or 5037).")
@click.option("--assets", default="device_assets", show_default=True, metavar="DIR",
              help="Where the manifest is and the tools go (DIR/<abi>/...).")
@click.option("--timeout", type=click.FloatRange(min=1), default=60, show_default=True, metavar="S",
              help="Seconds without data before a download is given up.")
def fetch_command(tool: str | None, abi: str | None, device: str, adb_server: str | None, assets: str,
                  timeout: float) -> int:
    """Download TOOL (a variant such as litert, a binary or a runtime; default: every tool with a url) for the
    phone's ABI into ASSETS/<abi>/, checking the manifest's sha256. A file already there with that sha256 is not
    downloaded again; a failed or mismatched download leaves nothing behind."""
    from segbench.assets import fetch, select_specs

    where = Path(assets)
    abi = abi or _phone_abi(device, adb_server)
    for spec in select_specs(where, abi, tool):
        path, digest, downloaded = fetch(where, spec, timeout)
        state = "downloaded" if downloaded else "already there"
        pin = "checked" if spec.sha256 else f"not pinned: put sha256 = \"{digest}\" in the manifest to vet it"
        click.echo(f"{spec.name_for_humans()} {spec.version or ''} for {abi}: {path} ({state}; sha256 {digest[:12]}, "
                   f"{pin})")
    return 0


def _phone_abi(device: str, adb_server: str | None) -> str:
    from segbench.devices import adb
    from segbench.errors import DeviceError

    client = adb.client(adb_server)
    serial = adb.choose(client, None if device == "auto" else device)
    abi = adb.AdbDevice(client, serial).info().abi
    if not abi:
        raise DeviceError(f"{serial} did not report its ABI (ro.product.cpu.abi)", hint="give --abi")
    return abi
