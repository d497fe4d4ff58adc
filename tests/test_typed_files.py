"""Every file segbench reads is checked value by value (segbench.validate): a value of the wrong type or range is one
`segbench: error:` line naming the file, the key and what was expected, with the documented exit code (2 for suites
and options, 1 for data files), never a traceback. The known ones through the real CLI; then random values
(wrong types, negatives, huge numbers, NaN and infinity, empty strings, nested tables) into each reader, through the
reader functions for many and through the CLI for a sample."""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

import pytest
import tomlkit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import FIXTURES, assert_one_line_error, run_cli
from segbench.errors import EXIT_ERROR, EXIT_USAGE, SegbenchError, StoreError, UsageError

TINY = FIXTURES / "models" / "tiny_seg.onnx"


def _toml(data: dict) -> str:
    return tomlkit.dumps(data)


def _models(tmp_path: Path, manifest: str) -> Path:
    models = tmp_path / "models"
    models.mkdir(exist_ok=True)
    shutil.copy(TINY, models / TINY.name)
    (models / "manifest.toml").write_text(manifest)
    return models


def _one_run(tmp_path: Path) -> tuple[Path, Path]:
    reports = tmp_path / "reports"
    r = run_cli("run", "--models", str(TINY), "--warmup", "0", "--repeats", "2", "--reports", str(reports))
    assert r.code == 0, r.err
    (run,) = (reports / "runs").iterdir()
    return reports, run


def _only_error(result, code: int, *parts: str) -> None:
    assert_one_line_error(result, code)
    errors = [ln for ln in result.err.splitlines() if ln.startswith("segbench: error:")]
    assert len(errors) == 1, result.err
    for part in parts:
        assert part in errors[0], (part, errors[0])


# ---------------------------------------------------------------- the known tracebacks, through the CLI

@pytest.mark.parametrize("manifest, says", [
    ("model = 5\n", "manifest.toml: model must be a list of tables, not 5"),
    ('[[model]]\nfile = "tiny_seg.onnx"\ninput_size = "big"\n',
     "manifest.toml: [[model]] 1: input_size must be a list of whole numbers >= 1, not 'big'"),
    ('[[model]]\nfile = "tiny_seg.onnx"\n[model.published]\nmiou = nan\n',
     "[[model]] 1: published.miou must be a number, not nan"),
])
def test_a_models_manifest_of_the_wrong_types_is_one_error(tmp_path, manifest, says):
    models = _models(tmp_path, manifest)
    r = run_cli("run", "--models", str(models), "--reports", str(tmp_path / "reports"))
    _only_error(r, EXIT_ERROR, says)
    assert not (tmp_path / "reports" / "runs").exists()  # nothing ran


def test_two_manifest_entries_for_one_file_are_one_error_naming_both(tmp_path):
    # The last entry used to win in silence, and the run went on under the second name.
    models = _models(tmp_path, '[[model]]\nname = "first"\nfile = "tiny_seg.onnx"\n\n'
                               '[[model]]\nname = "second"\nfile = "./tiny_seg.onnx"\n')
    r = run_cli("run", "--models", str(models), "--reports", str(tmp_path / "reports"))
    _only_error(r, EXIT_ERROR, str(models / "manifest.toml"), "[[model]] 1 (name 'first')",
                "[[model]] 2 (name 'second')", "'./tiny_seg.onnx'")
    assert not (tmp_path / "reports" / "runs").exists()  # nothing ran


def test_published_rows_of_the_wrong_types_are_one_error(tmp_path):
    manifest = tmp_path / "manifest.toml"
    for text, says in (('published = "abc"\n', "published must be a list of tables, not 'abc'"),
                       ('[[published]]\nmodel = "a"\ntable = "t"\nlatency_ms = "fast"\n',
                        "[[published]] 1: latency_ms must be a number, not 'fast'"),
                       ('[[published]]\nmodel = "a"\ntable = "t"\ndeltas = { miou = "more" }\n',
                        "[[published]] 1: deltas.miou must be a delta")):
        manifest.write_text(text)
        r = run_cli("report", "--published", "--table", "t", "--manifest", str(manifest), "--reports", str(tmp_path))
        _only_error(r, EXIT_ERROR, str(manifest), says)


@pytest.mark.parametrize("line, says", [
    ("models = 42", "models must be a non-empty string, not 42"),
    ('models = "."\ntimeout = -1', "timeout must be a number of seconds >= 1, not -1"),
    ('models = "."\nthreads = "x"', "threads must be a list of whole numbers >= 1 or their text"),
    ('models = "."\nthreads = [1, "x"]', "threads[1] must be a whole number >= 1, not 'x'"),
    ('models = "."\nrepeats = 99999999999', "repeats must be a whole number from 1 to 1000000"),
    ('models = "."\nwarmup = inf', "warmup must be a whole number from 0 to 1000000, not inf"),
    ('models = "."\nsplit = "half"', "split must be one of each, shard, not 'half'"),
])
def test_a_suite_of_the_wrong_types_is_a_usage_error_naming_file_and_key(tmp_path, line, says):
    suite = tmp_path / "suite.toml"
    suite.write_text(f"[suite]\n{line}\n")
    r = run_cli("run", "--suite", str(suite), "--reports", str(tmp_path / "reports"))
    _only_error(r, EXIT_USAGE, f"{suite}: {says}")


def test_a_damaged_run_json_and_record_are_one_error_naming_file_and_key(tmp_path):
    reports, run = _one_run(tmp_path)
    good = (run / "run.json").read_text()
    info = json.loads(good)
    (run / "run.json").write_text(json.dumps({**info, "device": "a phone"}))
    for args in (("report", "--run", run.name), ("run", "--resume", run.name), ("baseline", "save", run.name)):
        _only_error(run_cli(*args, "--reports", str(reports)), EXIT_ERROR,
                    f"{run / 'run.json'}: device must be a table, not 'a phone'")
    (run / "run.json").write_text(json.dumps({**info, "settings": {**info["settings"], "timeout": -1}}))
    _only_error(run_cli("run", "--resume", run.name, "--reports", str(reports)), EXIT_ERROR,
                f"{run / 'run.json'}: settings: timeout must be a number of seconds >= 1, not -1")
    (run / "run.json").write_text(good)
    record = json.loads((run / "results.jsonl").read_text())
    with open(run / "results.jsonl", "a") as f:
        f.write(json.dumps({**record, "samples_ms": [1.0, "slow"]}) + "\n")
    _only_error(run_cli("report", "--run", run.name, "--reports", str(reports)), EXIT_ERROR,
                f"{run / 'results.jsonl'} line 2: samples_ms[1] must be a number, not 'slow'")


def test_bad_ports_and_fault_values_are_usage_errors(tmp_path):
    env = {"ANDROID_ADB_SERVER_PORT": "abc"}
    _only_error(run_cli("devices", env=env), EXIT_USAGE, "ANDROID_ADB_SERVER_PORT must be a port number from 1 to "
                                                         "65535, not 'abc'")
    r = run_cli("run", "--models", str(TINY), "--device", "x", "--adb-server", "host:notaport", "--reports",
                str(tmp_path))
    _only_error(r, EXIT_USAGE, "the port of --adb-server 'host:notaport' must be a port number")
    for value in ("inf", "nan", "1e308"):
        _only_error(run_cli("emulator", "--port", "16999", "--fault", f"throttle={value}"), EXIT_USAGE,
                    f"--fault throttle={value!r}: expected degrees Celsius from -273 to 200")


def test_symlink_loops_in_a_models_dir_are_skipped_and_as_the_dir_refused(tmp_path):
    models = tmp_path / "models"
    (models / "sub").mkdir(parents=True)
    shutil.copy(TINY, models / TINY.name)
    (models / "loop.onnx").symlink_to("loop.onnx")
    (models / "sub" / "model.pdmodel").symlink_to("model.pdmodel")
    (models / "sub" / "up").symlink_to("..")
    (models / "manifest.toml").symlink_to("manifest.toml")
    r = run_cli("run", "--models", str(models), "--warmup", "0", "--repeats", "1", "--reports", str(tmp_path / "r"))
    assert r.code == 0 and "Traceback" not in r.err, r.err
    assert f"segbench: warning: {models / 'loop.onnx'}: a symbolic link loop, not a model file; skipped" in r.err
    assert "| tiny_seg" in r.out
    ring = tmp_path / "ring"
    ring.symlink_to(ring)
    _only_error(run_cli("run", "--models", str(ring), "--reports", str(tmp_path / "r")), EXIT_USAGE,
                "is a symbolic link loop, not a model file or directory")


# ---------------------------------------------------------------- random values into every reader

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                        HealthCheck.function_scoped_fixture])
scalars = st.one_of(
    st.booleans(), st.integers(min_value=-(2**63), max_value=2**63 - 1), st.integers(), st.just(0), st.just(-1),
    st.floats(), st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -0.0]), st.text(max_size=6), st.just(""),
    st.sampled_from(["1,2", "high", "tflite", "each", "abc", "-1", "1e9"]))
junk = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                     st.dictionaries(st.text(max_size=5), inner, max_size=3)),
                    max_leaves=6)
json_junk = st.one_of(st.none(), junk)


def _checked(call) -> None:
    """``call()`` returns, or raises a SegbenchError whose message is one line; nothing else."""
    try:
        call()
    except SegbenchError as exc:
        assert "\n" not in str(exc) and str(exc), repr(exc)


def _expect_code(call, code: int) -> None:
    try:
        call()
    except SegbenchError as exc:
        assert exc.exit_code == code, (exc, exc.exit_code)
        assert "\n" not in str(exc)


MODEL_KEYS = ["name", "file", "backbone", "dataset", "input_size", "published"]
PUBLISHED_KEYS = ["model", "table", "source", "label", "backbone", "baseline", "deltas", "device", "miou",
                  "latency_ms", "params_m", "gmacs", "latency_stat"]


@FUZZ
@given(key=st.sampled_from(MODEL_KEYS + ["published.miou", "published.device"]), value=junk, top=st.booleans())
def test_random_values_in_a_models_manifest(tmp_path_factory, key, value, top):
    from segbench.models import read_manifest

    folder = tmp_path_factory.mktemp("m")
    entry: dict = {"file": "tiny_seg.onnx", "input_size": [512, 512], "published": {"miou": 1.0}}
    if "." in key:
        entry["published"][key.split(".")[1]] = value
    else:
        entry[key] = value
    data = {"model": value} if top else {"model": [entry]}
    (folder / "manifest.toml").write_text(_toml(data))
    _expect_code(lambda: read_manifest(folder), EXIT_ERROR)


@FUZZ
@given(key=st.sampled_from(PUBLISHED_KEYS), value=junk, top=st.booleans())
def test_random_values_in_published_rows(tmp_path_factory, key, value, top):
    from segbench.report.published import latency_stat, read_published, render_published

    path = tmp_path_factory.mktemp("p") / "manifest.toml"
    row = {"model": "a", "table": "t", "miou": 1.0, "latency_ms": 2.0, key: value}
    base = {"model": "b", "table": "t", "miou": 2.0, "latency_ms": 3.0}
    path.write_text(_toml({"published": value} if top else {"published": [row, base]}))

    def read_and_render():
        rows = read_published(path)
        if rows:
            latency_stat(rows)
            for table in {r.table for r in rows}:
                render_published(rows, table)

    _expect_code(read_and_render, EXIT_ERROR)


SUITE_KEYS = ["models", "threads", "power_modes", "warmup", "repeats", "input", "input_preset", "runtime", "device",
              "include", "exclude", "timeout", "cooldown", "reconnect_wait", "set_aside_after", "split", "launches",
              "name"]


@FUZZ
@given(key=st.sampled_from(SUITE_KEYS), value=junk, wrapped=st.booleans())
def test_random_values_in_a_suite(key, value, wrapped):
    from segbench.sweep import read_suite

    suite = {"models": "m", key: value}
    text = _toml({"suite": suite} if wrapped else suite)
    _expect_code(lambda: read_suite(text, "s.toml"), EXIT_USAGE)


SETTINGS = {"models": "/m", "threads": [1], "power_modes": ["high"], "warmup": 1, "repeats": 2, "timeout": 600.0,
            "cooldown": "none", "reconnect_wait": 90.0, "set_aside_after": 3, "adb_servers": [], "split": "each",
            "launches": 1, "include": [], "exclude": [], "input": None, "device": None}


@FUZZ
@given(key=st.sampled_from(sorted(SETTINGS)), value=json_junk)
def test_random_values_in_run_json_settings(key, value):
    from segbench.sweep import SweepSettings, plan

    def read():
        s = SweepSettings.from_dict({**SETTINGS, key: value}, "run.json: settings")
        plan([], s)

    _expect_code(read, EXIT_ERROR)


RUN_KEYS = ["run_id", "started", "harness_version", "device", "settings", "host", "versions", "git_sha", "finished",
            "status", "cases_total", "devices", "device.id", "device.kind", "device.cores", "device.cpu_max_khz",
            "device.api_level", "device.emulated", "device.memory_mb", "device.extra"]
MEASUREMENT_KEYS = ["run_id", "case_id", "model", "runtime", "status", "threads", "power_mode", "tool", "warmup",
                    "repeats", "count", "latency_ms", "samples_ms", "first_ms", "memory_mb", "temps_before_c",
                    "cpu_khz_before", "throttled", "cooldown_s", "emulated", "error", "extra", "launch",
                    "model.name", "model.sha256", "model.companions", "latency_ms.median", "device_id"]


def _set(d: dict, key: str, value: object) -> dict:
    d = json.loads(json.dumps(d))
    head, _, tail = key.partition(".")
    if tail:
        d[head] = {**d[head], tail: value} if isinstance(d[head], dict) else d[head]
    else:
        d[head] = value
    return d


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    reports, run = _one_run(tmp_path_factory.mktemp("stored"))
    return reports, run, json.loads((run / "run.json").read_text()), json.loads((run / "results.jsonl").read_text())


@FUZZ
@given(key=st.sampled_from(RUN_KEYS), value=json_junk)
def test_random_values_in_run_json(stored, tmp_path_factory, key, value):
    from segbench.store import RunDir

    _, _, info, record = stored
    run = RunDir(tmp_path_factory.mktemp("runs") / "r1")
    run.path.mkdir()
    run.info_path.write_text(json.dumps(_set(info, key, value)))
    run.results_path.write_text(json.dumps(record) + "\n")

    def read_and_summarise():
        from segbench.report.tables import render_summary

        render_summary(run.measurements(), run.info())

    _expect_code(read_and_summarise, EXIT_ERROR)


@FUZZ
@given(key=st.sampled_from(MEASUREMENT_KEYS), value=json_junk)
def test_random_values_in_a_record_and_a_baseline(stored, tmp_path_factory, key, value):
    from segbench.baselines import Baselines, Key
    from segbench.report.tables import render_summary, summary
    from segbench.store import RunDir

    _, _, info, record = stored
    bad = _set(record, key, value)
    run = RunDir(tmp_path_factory.mktemp("runs") / "r1")
    run.path.mkdir()
    run.info_path.write_text(json.dumps(info))
    run.results_path.write_text(json.dumps(record) + "\n" + json.dumps(bad) + "\n")

    def read_and_summarise():
        records = run.measurements()
        summary(records)
        render_summary(records, run.info())

    _expect_code(read_and_summarise, EXIT_ERROR)
    key_ = Key("host x", "onnxruntime", "1")
    baselines = Baselines(run.path)
    path = baselines.root / key_.file_name()
    path.parent.mkdir()
    path.write_text(json.dumps({"schema": "segbench.baseline/1", "device_kind": "host x", "tool": "onnxruntime",
                                "tool_version": "1", "run_id": "r", "saved": "now", "records": [record, bad]}))
    _expect_code(lambda: baselines.load(key_), EXIT_ERROR)


TOOL_KEYS = ["runtime", "binary", "abi", "version", "source", "get", "libs", "sha256", "variant", "url"]


@FUZZ
@given(key=st.sampled_from(TOOL_KEYS), value=junk, top=st.booleans())
def test_random_values_in_device_assets_manifest(tmp_path_factory, key, value, top):
    from segbench.assets import read_manifest

    folder = tmp_path_factory.mktemp("a")
    tool = {"runtime": "tflite", "binary": "benchmark_model", "abi": "arm64-v8a", key: value}
    (folder / "manifest.toml").write_text(_toml({"tool": value} if top else {"tool": [tool]}))
    _expect_code(lambda: read_manifest(folder), EXIT_ERROR)


@FUZZ
@given(name=st.sampled_from(["throttle", "latency", "slow", "drop-after", "disk-full", "crash", "drop-during"]),
       value=st.one_of(st.text(max_size=8), st.sampled_from(["inf", "-inf", "nan", "1e308", "-1", "0", "1e-320"])))
def test_random_fault_specs_and_ports(name, value):
    from segbench.devices.adb import server_address
    from segbench.emulator.faults import parse_faults

    _expect_code(lambda: parse_faults(f"{name}={value}"), EXIT_USAGE)
    _expect_code(lambda: server_address(f"127.0.0.1:{value}"), EXIT_USAGE)
    old = os.environ.get("ANDROID_ADB_SERVER_PORT")
    try:
        os.environ["ANDROID_ADB_SERVER_PORT"] = value.replace("\x00", "") or "0"  # an environment holds no NUL
        _expect_code(server_address, EXIT_USAGE)
    finally:
        if old is None:
            os.environ.pop("ANDROID_ADB_SERVER_PORT", None)
        else:
            os.environ["ANDROID_ADB_SERVER_PORT"] = old


# ---------------------------------------------------------------- a sample through the real CLI

CLI_SAMPLE = settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                            HealthCheck.function_scoped_fixture])


@CLI_SAMPLE
@given(key=st.sampled_from(SUITE_KEYS), value=junk)
def test_random_suite_values_through_the_cli(tmp_path_factory, key, value):
    tmp = tmp_path_factory.mktemp("cli")
    (tmp / "empty").mkdir()
    suite = {"models": str(tmp / "empty"), key: value}  # a valid suite ends at "no model files": exit 2 either way
    (tmp / "suite.toml").write_text(_toml({"suite": suite}))
    r = run_cli("run", "--suite", str(tmp / "suite.toml"), "--reports", str(tmp / "reports"))
    _only_error(r, EXIT_USAGE)


@CLI_SAMPLE
@given(key=st.sampled_from(RUN_KEYS + ["results." + k for k in MEASUREMENT_KEYS]), value=json_junk)
def test_random_run_values_through_the_cli(stored, tmp_path_factory, key, value):
    reports, run, info, record = stored
    mine = tmp_path_factory.mktemp("cli") / "reports"
    copy = mine / "runs" / run.name
    shutil.copytree(run, copy)
    if key.startswith("results."):
        (copy / "results.jsonl").write_text(json.dumps(_set(record, key.removeprefix("results."), value)) + "\n")
    else:
        (copy / "run.json").write_text(json.dumps(_set(info, key, value)))
    r = run_cli("report", "--run", run.name, "--reports", str(mine))
    assert "Traceback" not in r.err, r.err
    assert r.code in (0, EXIT_ERROR), r.err
    if r.code == EXIT_ERROR:
        _only_error(r, EXIT_ERROR)


def test_the_errors_the_readers_raise_carry_the_documented_codes():
    assert UsageError("x").exit_code == EXIT_USAGE and StoreError("x").exit_code == EXIT_ERROR
