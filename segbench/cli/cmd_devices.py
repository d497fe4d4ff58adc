"""`segbench devices`: the phones the adb server sees, and what each needs."""

from __future__ import annotations

import json

import click


@click.command("devices")
@click.option("--adb-server", metavar="HOST:PORT", help="adb server (default: ANDROID_ADB_SERVER_PORT or 5037).")
@click.option("--json", "as_json", is_flag=True, help="JSON Lines, one device per line.")
def command(adb_server: str | None, as_json: bool) -> int:
    """List attached Android devices with model, SoC, Android version, CPU clusters, battery and temperatures.

    Offline or unauthorized devices are listed with what to do about them.
    """
    import dataclasses

    from segbench import power
    from segbench.devices import adb

    client = adb.client(adb_server)
    found = adb.attached(client)
    if not found and not as_json:
        click.echo("no devices attached (plug a phone in with USB debugging on, or `adb connect HOST:PORT`)")
        return 0
    for dev in found:
        if dev.state != "device":
            record = {"serial": dev.serial, "state": dev.state, "advice": dev.advice}
            click.echo(json.dumps(record) if as_json else f"{dev.serial}  {dev.advice}")
            continue
        info = adb.AdbDevice(client, dev.serial).info()
        if as_json:
            d = dataclasses.asdict(info)
            d["state"] = dev.state
            click.echo(json.dumps(d))
            continue
        clusters = " + ".join(
            f"{len(c)}x{max(info.cpu_max_khz[i] for i in c) / 1e6:.2f} GHz" for c in power.clusters(info.cpu_max_khz)
        )
        battery = info.extra.get("battery") or {}
        temps = info.extra.get("thermal_c") or {}
        hottest = max(temps.items(), key=lambda kv: kv[1]) if temps else None
        click.echo(f"{info.id}  {info.brand} {info.model} ({info.device})  {info.soc}  Android {info.android_version} "
                   f"(API {info.api_level})  {info.abi}" + ("  emulated" if info.emulated else ""))
        click.echo(f"    CPUs: {clusters or 'unknown'}  governor {info.extra.get('governor')}  "
                   f"memory {info.memory_mb:.0f} MB" if info.memory_mb else f"    CPUs: {clusters or 'unknown'}")
        click.echo(f"    battery {battery.get('level')}% {'charging' if battery.get('charging') else 'on battery'}"
                   f"  {battery.get('temperature_c')} °C"
                   + (f"; hottest zone {hottest[0]} {hottest[1]:.1f} °C" if hottest else ""))
    return 0
