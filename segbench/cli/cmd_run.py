"""`segbench run`: benchmark every model in a directory, on this machine (or a device)."""

from __future__ import annotations

import contextlib

import click

from segbench.errors import EXIT_CASES_FAILED, EXIT_INTERRUPTED, EXIT_OK
from segbench.vocab import MAX_RUNS, RUNTIMES


@click.command("run")
@click.option("--models", "models", metavar="DIR|FILE", help="Directory of model files (or one model file).")
@click.option("--runtime", type=click.Choice(RUNTIMES), help="Only benchmark models this runtime executes.")
@click.option("--threads", default="1", show_default=True, metavar="N[,N...]", help="Thread counts to sweep.")
@click.option("--power-mode", "power_mode", default="high", show_default=True, metavar="MODE[,MODE...]",
              help="CPUs to run on, the same for every tool: prime, gold, silver, big (gold + prime), or "
                   "cpus:LIST (cpus:4-7, cpus:0,7); a cluster or CPU the machine lacks is a skipped record. Or Paddle "
                   "Lite's own modes high, low, full, no_bind, rand_high, rand_low, in which benchmark_bin binds its "
                   "threads itself (docs/device.md, \"Power modes\").")
@click.option("--backend", "backend", default="cpu", show_default=True, metavar="NAME[,NAME...]",
              help="What executes each case: cpu (the tool's default CPU path), xnnpack, gpu, gpu-fp16, nnapi, "
                   "nnapi-fp16, npu; each tool maps them to its own flags, and a backend a tool or phone lacks is a "
                   "skipped record saying why (docs/vendor-tools.md, \"Backends\").")
@click.option("--profile", "profile", is_flag=True, default=None,
              help="Per-operator times from each tool that gives them, into ops_by_type (report --view ops); "
                   "profiling slows the timed runs, and the records say they were profiled.")
@click.option("--memory", "memory", is_flag=True, default=None,
              help="The tools' memory figures (peak footprint) into memory_mb.")
@click.option("--warmup", default=20, show_default=True, type=click.IntRange(min=0, max=MAX_RUNS),
              help="Untimed runs first.")
@click.option("--repeats", default=50, show_default=True, type=click.IntRange(min=1, max=MAX_RUNS), help="Timed runs.")
@click.option("--input", "input_path", metavar="FILE",
              help="An image (made into each model's input by gen-input) or a tensor file (.npy, .pb, raw bytes); "
                   "default: seeded random.")
@click.option("--preset", "input_preset", metavar="NAME",
              help="Normalisation of an image --input: paddleseg, imagenet, tf, raw, unit, pixels (docs/gen-input.md; "
                   "default: the model's deploy.yaml, else paddleseg for float inputs, pixels for integer).")
@click.option("--device", metavar="SERIAL[,SERIAL...]|all|auto",
              help="Run on Android phones over ADB: one serial (or ANDROID_SERIAL with 'auto' = the only attached "
                   "one), several (each runs every case, in parallel), or 'all' ready ones (docs/farm.md). "
                   "Default: this machine.")
@click.option("--adb-server", "adb_servers", metavar="HOST:PORT", multiple=True,
              help="adb server (default: ANDROID_ADB_SERVER_PORT or 5037); repeat to join the phones of several.")
@click.option("--assets", default="device_assets", show_default=True, metavar="DIR",
              help="Vendor tools for the phone: DIR/manifest.toml and DIR/<abi>/<tool> (device_assets/README.md).")
@click.option("--tool", "tool_variants", metavar="VARIANT", multiple=True,
              help="On a device: another build of a runtime's tool from the manifest, by its variant (litert: "
                   "LiteRT 2.x's benchmark_model for tflite); repeatable.")
@click.option("--timeout", type=click.FloatRange(min=1), metavar="S",
              help="On a device: seconds before a case's tool is killed and the case marked timeout [default: 600].")
@click.option("--cooldown", metavar="none|Ns|NC",
              help="On a device, before each case: none, a pause (30s), or wait until the CPU zones are below "
                   "a temperature (45C) [default: none].")
@click.option("--reconnect-wait", "reconnect_wait", type=click.FloatRange(min=0), metavar="S",
              help="On a device: seconds to wait for a phone that went away to come back [default: 90].")
@click.option("--set-aside-after", "set_aside_after", type=click.IntRange(min=1), metavar="N",
              help="On a device: after N cases in a row fail because of the phone (not the model), record its "
                   "remaining cases as not run [default: 3].")
@click.option("--launches", type=click.IntRange(min=1, max=1000), metavar="K",
              help="Launch every case K times, interleaved (A B A B), each in a fresh session or tool process: "
                   "reports and compare then judge on launch-to-launch variation (docs/report.md) [default: 1].")
@click.option("--split", type=click.Choice(["each", "shard"]),
              help="With several phones: each runs every case (compare phones), or shard: the cases are shared out, "
                   "each runs once on a free phone (finish sooner; phones of one kind) [default: each].")
@click.option("--reports", default="reports", show_default=True, metavar="DIR", help="Where runs are stored.")
@click.option("--suite", type=click.Path(exists=True, dir_okay=False), metavar="FILE",
              help="Settings from a suite TOML (bench/*.toml); options given on the command line win.")
@click.option("--resume", metavar="RUN_ID",
              help="Finish an interrupted run: only its missing cases run. With --launches K (more than it had): "
                   "add launches to every case, for the verdicts compare found unclear.")
@click.option("-q", "--quiet", is_flag=True,
              help="Only the table (stdout), warnings and errors: no run line, progress, tool or push lines.")
def command(models: str | None, runtime: str | None, threads: str, power_mode: str, backend: str,
            profile: bool | None, memory: bool | None, warmup: int, repeats: int,
            input_path: str | None, input_preset: str | None, device: str | None, adb_servers: tuple[str, ...],
            assets: str, tool_variants: tuple[str, ...], timeout: float | None, cooldown: str | None, reconnect_wait: float | None,
            set_aside_after: int | None, launches: int | None, split: str | None, reports: str, suite: str | None, resume: str | None,
            quiet: bool) -> int:
    """Benchmark models: warmup, then timed repeats, per thread count and power mode.

    Without --device, models run in this process on this machine (ONNX with onnxruntime,
    TFLite with ai-edge-litert, Paddle with paddlelite where installed). With --device, each model
    runs on the phone with its vendor tool (onnxruntime_perf_test, benchmark_model, benchmark_bin).
    Several phones (a farm) each run every case, in parallel; a phone that keeps failing is set
    aside and its remaining cases are recorded as not run (exit 3).
    Every case's record is saved as soon as it finishes; Ctrl-C keeps them (exit 130) and
    --resume RUN_ID finishes the run; --resume RUN_ID --launches K gives each of its cases K launches.
    """
    from pathlib import Path

    from segbench import farm, power
    from segbench.errors import UsageError
    from segbench.execute import InProcessBackend
    from segbench.models import find_models, real
    from segbench.ondevice import parse_cooldown
    from segbench.store import Store
    from segbench.sweep import SweepSettings, parse_backends, plan

    store = Store(reports)
    ctx = click.get_current_context()
    echo = lambda msg: click.echo(msg, err=True)  # noqa: E731
    # -q keeps the table (stdout), warnings and errors; what is only news (the run line, tools, push totals) goes
    news = (lambda msg: None) if quiet else echo  # noqa: E731
    with contextlib.ExitStack() as stack:  # the run lock, then the phones; released in reverse order
        run = None
        if resume:
            run = store.run(resume)
            stack.enter_context(run.lock())  # before anything reads which cases are missing
            info = run.info()
            settings = SweepSettings.from_dict(info.settings, f"{run.info_path}: settings")
            # What the run was started with, unless given again: a new shell needs neither --assets, --tool nor
            # the adb server (ANDROID_ADB_SERVER_PORT) it had.
            if settings.assets and ctx.get_parameter_source("assets") != click.core.ParameterSource.COMMANDLINE:
                assets = settings.assets
            tool_variants = tool_variants or settings.tools
            if ctx.get_parameter_source("launches") == click.core.ParameterSource.COMMANDLINE and launches is not None:
                settings = _more_launches(run, info, settings, launches)
        else:
            given = _from_suite(suite) if suite else {}
            cli_values = {"models": models, "threads": threads, "power_modes": power_mode, "warmup": warmup,
                          "repeats": repeats, "input": input_path, "input_preset": input_preset, "runtime": runtime,
                          "device": device, "timeout": timeout, "cooldown": cooldown, "reconnect_wait": reconnect_wait,
                          "set_aside_after": set_aside_after, "split": split, "launches": launches,
                          "backends": backend, "profile": profile, "memory": memory}
            params = {"power_modes": "power_mode", "input": "input_path", "backends": "backend"}
            for key, value in cli_values.items():
                source = ctx.get_parameter_source(params.get(key, key))
                if key not in given or source == click.core.ParameterSource.COMMANDLINE:
                    if value is not None or key not in given:
                        given[key] = value
            if not given.get("models"):
                raise UsageError("missing --models DIR", hint="e.g. segbench run --models models_dir")
            threads_text = ",".join(map(str, given["threads"])) if isinstance(given["threads"], list) else given["threads"]
            modes_text = ",".join(given["power_modes"]) if isinstance(given["power_modes"], list) else given["power_modes"]
            backends_text = _names(given["backends"], "backends")
            settings = SweepSettings(
                models=str(real(Path(given["models"]))),
                threads=tuple(power.parse_threads(str(threads_text))),
                power_modes=tuple(power.parse_power_modes(modes_text)),
                warmup=_count(given["warmup"], "warmup", 0, MAX_RUNS), repeats=_count(given["repeats"], "repeats", 1, MAX_RUNS),
                input=str(real(Path(given["input"]))) if given.get("input") else None,
                input_preset=given.get("input_preset"), runtime=given.get("runtime"),
                include=tuple(given.get("include", ())), exclude=tuple(given.get("exclude", ())),
                device=given.get("device") or None, timeout=_seconds(given.get("timeout"), "timeout", 600.0, minimum=1),
                cooldown=str(given.get("cooldown") or "none"),
                reconnect_wait=_seconds(given.get("reconnect_wait"), "reconnect_wait", 90.0),
                set_aside_after=_count(_default(given.get("set_aside_after"), 3), "set_aside_after", 1),
                adb_servers=tuple(adb_servers), split=_split(given.get("split")),
                launches=_count(_default(given.get("launches"), 1), "launches", 1),
                backends=tuple(parse_backends(backends_text)),
                profile=_flag(given.get("profile"), "profile"), memory=_flag(given.get("memory"), "memory"),
                missing_tools=_missing_tools(given.get("missing_tools")),
            )
            if settings.device:  # kept for --resume: where the phones and their tools were found
                from dataclasses import replace

                from segbench.devices import adb

                servers = adb_servers or (":".join(map(str, adb.server_address(None))),)
                settings = replace(settings, adb_servers=tuple(servers), assets=str(real(Path(assets))),
                                   tools=tuple(dict.fromkeys(tool_variants)))
            from segbench.inputs import PRESET_NAMES, check_input

            if settings.input_preset and settings.input_preset not in PRESET_NAMES:
                raise UsageError(f"unknown --preset {settings.input_preset!r}", hint=f"use one of {', '.join(PRESET_NAMES)}")
            if settings.input:  # as given (the option, or the suite's input), not as resolved
                check_input(Path(settings.input), f"--input {given['input']}")
        parse_cooldown(settings.cooldown)  # a bad value is a usage error before anything runs
        found = _without_special_files(find_models(settings.models, lambda text: echo(f"segbench: warning: {text}")),
                                       echo)
        cases = plan([f.ref for f in found], settings)
        if not cases:
            which = " ".join(x for x in (settings.runtime, "models") if x)
            picked = " matching the suite's include/exclude" if settings.include or settings.exclude else ""
            raise UsageError(f"no {which}{picked} in {settings.models}")
        if tool_variants and not settings.device:
            raise UsageError("--tool picks a phone's tool: it needs --device")
        if settings.device:
            servers = adb_servers or settings.adb_servers  # a resumed run finds its phones where they were
            targets = farm.select(servers, settings.device)
            variants = _variants(Path(assets), tool_variants)
            backends = stack.enter_context(farm.open_phones(targets, settings, cases, Path(assets), echo, variants,
                                                               announce=news))
        else:
            backends = [InProcessBackend(op_profiling=settings.profile, memory_profile=settings.memory)]
        return _execute(store, run, settings, cases, found, backends, reports, quiet, echo, news, stack)


def _more_launches(run, info, settings, launches: int):
    """A resumed run's settings with ``launches`` launches per case, kept in its run.json first (so that a resume
    of this resume, or a report, sees them): launches can be added, never taken away."""
    from dataclasses import replace

    from segbench.errors import UsageError

    if launches < settings.launches:
        raise UsageError(f"--launches {launches}: run {run.run_id} already has {settings.launches} launches per case",
                         hint="a resume can add launches, not take them away")
    if launches > settings.launches:
        run.write_info(replace(info, settings={**info.settings, "launches": launches}))
    return replace(settings, launches=launches)


def _variants(assets, names: tuple[str, ...]) -> dict[str, str]:
    """runtime -> variant for each --tool VARIANT (a usage error for a variant the manifest does not name)."""
    from segbench.assets import read_manifest
    from segbench.errors import UsageError

    if not names:
        return {}
    specs = read_manifest(assets).values()
    out: dict[str, str] = {}
    for name in names:
        runtimes = {s.runtime for s in specs if s.variant == name}
        if not runtimes:
            known = sorted({s.variant for s in specs if s.variant})
            raise UsageError(f"--tool {name}: {assets / 'manifest.toml'} names no tool variant {name!r}",
                             hint=f"variants: {', '.join(known) or 'none'}")
        out.update({rt: name for rt in runtimes})
    return out


def _execute(store, run, settings, cases, found, backends, reports: str, quiet: bool, echo, news, stack) -> int:
    import shlex
    from dataclasses import replace
    from pathlib import Path

    from segbench import __version__, farm, power
    from segbench.execute import running
    from segbench.model import RunInfo
    from segbench.report.tables import render_summary
    from segbench.runinfo import git_sha, host_details
    from segbench.store import new_run_id, safe_name, utc_now

    devices = [b.device for b in backends]
    _check_split(settings.split, devices)
    for d in devices:  # before the run exists: a usage error leaves nothing behind
        power.check_threads(settings.threads, d.cores, "this machine" if d.kind == "host" else d.id)
    total = len(cases) * (1 if settings.split == "shard" else len(backends))
    if run is None:
        # Settings keep the phones by the names records use, so --resume finds the same ones.
        chosen = ",".join(d.id for d in devices) if settings.device else None
        info = RunInfo(
            run_id=new_run_id(), started=utc_now(), harness_version=__version__, device=devices[0],
            settings=replace(settings, device=chosen).to_dict(), host=host_details(),
            versions={k: v for b in backends for k, v in b.versions().items()},
            git_sha=git_sha(), cases_total=total, devices=tuple(devices) if len(devices) > 1 else (),
        )
        run = store.create_run(info)
        stack.enter_context(run.lock())  # a --resume of it while it runs is refused
    for b in backends:  # each phone prepares its inputs in its own directory: the workers run at the same time
        b.workdir = run.path / "inputs" / (safe_name(b.device.id) if len(backends) > 1 else "")
    split = "every case on each" if settings.split == "each" else "each case once, on a free phone"
    where = (f"{devices[0].id} ({devices[0].cpu_model or 'unknown CPU'})" if len(devices) == 1
             else f"{len(devices)} phones ({', '.join(d.id for d in devices)}), {split}")
    news(f"run {run.run_id}: {len(cases)} cases on {where}; results in {run.path}")
    for f in found:
        if f.error:
            echo(f"segbench: warning: {f.error}")
    broken = {f.ref.path: f.error for f in found if f.error}
    with running(run, total) as life:  # run.json is closed however this ends
        phones = farm.run_all(cases, backends, run, broken, set_aside_after=settings.set_aside_after, echo=echo,
                              quiet=quiet, split=settings.split)
        interrupted = any(p.outcome.interrupted for p in phones)
        life.status = "interrupted" if interrupted else "completed"
    # Damaged lines before the last (a resumed run's file, hurt since) are said once here, as report says them.
    measurements = run.measurements(warn=lambda text: echo(f"segbench: warning: {text}"))
    click.echo(render_summary(measurements, run.info()))
    if len(phones) > 1:  # a result, as the table is: which phone ran what, and which was set aside
        echo(farm.summary(phones))
    elif backends[0].summary():
        news(backends[0].summary())
    if interrupted:
        echo(f"segbench: interrupted: {len(measurements)} of {total} cases saved in {run.path}; "
             f"finish with: segbench run --resume {run.run_id} --reports {shlex.quote(str(Path(reports).resolve()))}")
        return EXIT_INTERRUPTED
    resumed = sum(p.outcome.skipped_existing for p in phones)
    if resumed:
        news(f"resumed: {resumed} cases were already done, ran {sum(len(p.outcome.measurements) for p in phones)}")
    return _verdict(measurements, run.path, echo)


def _verdict(measurements, run_path, echo) -> int:
    """Exit 3 when a case failed or a set-aside phone never ran it; 0 otherwise."""
    from segbench import farm

    failed = [m for m in measurements if m.status in ("failed", "timeout")]
    not_run = farm.not_run(measurements)
    if failed:
        echo(f"segbench: {len(failed)} of {len(measurements)} cases failed (see the table and {run_path / 'logs'})")
    if not_run:
        phones = sorted({m.device_id or "?" for m in not_run})
        echo(f"segbench: {len(not_run)} case(s) not run: {', '.join(phones)} set aside")
    return EXIT_CASES_FAILED if failed or not_run else EXIT_OK


def _without_special_files(found, echo):
    """FIFOs, devices and sockets named like models (a link to /dev/zero) are left out with a warning: never read,
    they would hang or never end."""
    from pathlib import Path

    from segbench.models import special_file

    kept = []
    for f in found:
        if f.error and special_file(Path(f.ref.path)):
            echo(f"segbench: warning: {f.error}")
        else:
            kept.append(f)
    return kept


def _from_suite(path: str) -> dict:
    """Suite keys, with relative paths taken relative to the suite file."""
    from pathlib import Path

    from segbench.models import real
    from segbench.sweep import read_suite

    suite_path = Path(path)
    try:
        text = suite_path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:  # TOML is UTF-8 text: a suite of other bytes is one usage error, as bad TOML
        from segbench.errors import UsageError

        raise UsageError(f"{path} is not valid TOML: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    given = read_suite(text, path)
    for key in ("models", "input"):
        if isinstance(given.get(key), str) and not Path(given[key]).is_absolute():
            given[key] = str(real(suite_path.parent / given[key]))
    return given


def _missing_tools(value: object) -> str:
    from segbench.errors import UsageError
    from segbench.sweep import MISSING_TOOLS
    from segbench.validate import want

    return "error" if value is None else want(value, str, "missing_tools", choices=MISSING_TOOLS, error=UsageError)


def _split(value: object) -> str:
    from segbench.errors import UsageError
    from segbench.sweep import SPLITS
    from segbench.validate import want

    return "each" if value is None else want(value, str, "split", choices=SPLITS, error=UsageError)


def _check_split(split: str, devices) -> None:
    """Sharing cases out mixes the phones' numbers into one table: only sound for phones of one kind."""
    from segbench.baselines import device_kind
    from segbench.errors import UsageError

    kinds = sorted({device_kind(d) for d in devices})
    if split == "shard" and len(kinds) > 1:
        raise UsageError(f"--split shard needs phones of one kind, got {', '.join(kinds)}",
                         hint="use --split each, or name the phones of one kind with --device")


def _flag(value: object, key: str) -> bool:
    from segbench.errors import UsageError

    if value is None:
        return False
    if not isinstance(value, bool):
        raise UsageError(f"{key} must be true or false, not {value!r}")
    return value


def _names(value: object, key: str) -> str:
    """A suite's list of names (or the option's comma-separated text) as comma-separated text."""
    from segbench.errors import UsageError

    if isinstance(value, list) and all(isinstance(x, str) for x in value):
        return ",".join(value)
    if isinstance(value, str):
        return value
    raise UsageError(f"{key} must be a list of names, not {value!r}", hint='e.g. backends = ["cpu", "gpu"]')


def _default(value: object, default: object) -> object:
    return default if value is None else value


def _seconds(value: object, name: str, default: float, minimum: float = 0) -> float:
    from segbench.errors import UsageError
    from segbench.validate import want

    if value is None:
        return default
    return want(value, float, name, minimum=minimum, unit="seconds", error=UsageError)


def _count(value: object, name: str, minimum: int, maximum: int | None = None) -> int:
    from segbench.errors import UsageError
    from segbench.validate import want

    return want(value, int, name, minimum=minimum, maximum=maximum, error=UsageError)
