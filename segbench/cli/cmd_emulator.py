"""`segbench emulator`: an emulated Android phone on loopback (docs/emulator.md)."""

from __future__ import annotations

import click


@click.command("emulator")
@click.option("--port", type=click.IntRange(1, 65535), required=True, help="Listen on 127.0.0.1:PORT.")
@click.option("--adb-port", type=click.IntRange(1, 65535), default=None,
              help="adb server to `adb connect` through (started if not running) [default: ANDROID_ADB_SERVER_PORT "
                   "or 5037, the server `segbench devices` and `run --device` use].")
@click.option("--profile", default="sd855-mi9", show_default=True, help="Emulated hardware.")
@click.option("--root", type=click.Path(file_okay=False), help="Sandbox root for the phone's files (default: a temp dir).")
@click.option("--fault", "fault", metavar="SPEC", help="Faults to inject, e.g. drop-after=3,crash=benchmark_bin.")
@click.option("--assets", type=click.Path(file_okay=False), metavar="DIR",
              help="First write a device_assets directory for this phone into DIR: the manifest (kept if DIR has "
                   "one) and stand-ins for its tools where they are missing; then `run --device --assets DIR` "
                   "needs no vendor binaries.")
def command(port: int, adb_port: int | None, profile: str, root: str | None, fault: str | None, assets: str | None) -> int:
    """Run an emulated phone (Xiaomi MI 9, Snapdragon 855) until Ctrl-C / SIGTERM.

    Prints the serial to use with adb and segbench (127.0.0.1:PORT).
    """
    import threading

    from segbench.devices.adb import server_address
    from segbench.emulator import EmulatedPhone

    if adb_port is None:  # where the other commands will look for it (a bad ANDROID_ADB_SERVER_PORT: exit 2)
        adb_port = server_address(None)[1]
    if assets is not None:
        _write_assets(assets)
    with EmulatedPhone(port=port, adb_port=adb_port, profile=profile, root=root, faults=fault) as phone:
        click.echo(phone.serial, nl=True)
        click.echo(f"emulated {phone.profile.prop('ro.product.model')} ({phone.profile.name}) on {phone.serial}, "
                   f"adb server port {adb_port}, root {phone.root}; Ctrl-C to stop", err=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            click.echo("segbench: emulator stopped", err=True)
    return 0


def _write_assets(assets: str) -> None:
    """The emulated phone's device_assets in ``assets``: its stand-ins run the models, so the files are stubs."""
    from pathlib import Path

    from segbench.emulator.assets import stub_files
    from segbench.errors import SegbenchError

    try:
        written = stub_files(Path(assets))
    except OSError as exc:
        raise SegbenchError(f"cannot write --assets {assets}: {exc.strerror or exc}") from None
    tools = [p for p in written if p.name != "manifest.toml"]
    manifest = "the shipped manifest.toml and " if len(tools) < len(written) else ""
    click.echo(f"{assets}: wrote {manifest}{len(tools)} stand-in file(s) for the emulated phone "
               f"(run --device ... --assets {assets}; stubs, not tools for a real phone)", err=True)
