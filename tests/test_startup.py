"""What the CLI imports at start: heavy libraries only where a command needs them (bench/startup.py times it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("numpy", "pandas", "matplotlib", "onnx", "onnxruntime", "tabulate", "scipy", "importlib.metadata")
# Modules `segbench report` of a small run once imported and no longer needs: each is imported where it is used (run
# ids, atomic writes, cache hashes, appends, listing the commands, manifests, published tables, core bindings, model
# readers), so a top-level import of one of them again puts its cost back on every report (bench/startup.py).
OFF_REPORT_PATH = ("tempfile", "shutil", "random", "secrets", "hashlib", "bz2", "lzma", "pkgutil", "tomllib",
                   "fcntl", "segbench.power", "segbench.models", "segbench.report.published", "segbench.columns",
                   "segbench.modelinfo.io")


def imported_after(args: list[str] | None) -> set[str]:
    """The modules loaded once `segbench ARGS` has run (in a fresh interpreter); None: after `import click` alone,
    what this interpreter (its site, click) loads whatever segbench does."""
    run = ("from segbench.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
           if args is not None else "import click\n")
    code = f"import sys, json\n{run}print('\\n' + json.dumps(sorted(sys.modules)))\n"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", code, *(args or [])], capture_output=True, text=True, env=env,
                         timeout=120)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_help_imports_nothing_heavy():
    loaded = imported_after(["--help"])
    assert "segbench.cli.cmd_run" in loaded  # the check can fail: the commands were loaded
    assert not {m for m in HEAVY if m in loaded}


def test_version_is_still_printed():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-m", "segbench", "--version"], capture_output=True, text=True, env=env,
                         timeout=60)
    assert out.returncode == 0
    assert out.stdout.startswith("segbench, version ")


def _small_store(root: Path) -> None:
    """Two runs of a few records and an eval run (the mIoU join), written by the store."""
    from segbench.model import Accuracy, DeviceInfo, Measurement, ModelRef, RunInfo
    from segbench.store import Store

    phone = DeviceInfo(id="R58M12ABCDE", kind="android", brand="Xiaomi", model="MI 9", soc="SM8150",
                       android_version="11", api_level=30)
    tiny = ModelRef("tiny_seg", "/m/tiny_seg.tflite", "tflite", "a" * 64)
    store = Store(root)
    for r in range(2):
        run_id = f"20260101-00000{r}-000-bench"
        info = RunInfo(run_id=run_id, started="2026-01-01T00:00:00+00:00", harness_version="t", device=phone,
                       settings={"warmup": 1, "repeats": 30}, versions={}, status="completed")
        store.import_run(info, [Measurement(
            run_id=run_id, case_id=f"tiny_seg__tflite__t{t}__high", model=tiny, runtime="tflite", status="ok",
            threads=t, power_mode="high", device_id=phone.id, tool="benchmark_model", tool_version="2.16",
            cpu_mask="f0", warmup=1, repeats=30, count=30,
            samples_ms=tuple(20.0 + ((t * 7 + k * 13) % 17) * 0.25 for k in range(30))) for t in (1, 2, 4)])
    run = store.create_run(RunInfo(run_id="20260101-000000-500-eval", started="2026-01-01T00:00:00+00:00",
                                   harness_version="t", device=phone, settings={"command": "eval"}, versions={},
                                   status="completed"))
    run.append(Accuracy(run_id=run.run_id, case_id="eval", model=tiny, runtime="tflite", status="ok", miou=0.3625,
                        images=8, dataset={"name": "ADE20K", "split": "validation"}, finished="2026-01-01T00:00:01"))


def test_report_of_a_small_store_imports_no_pandas_nor_numpy(tmp_path):
    """`segbench report` of the latest run (markdown, the default) prints its table without pandas or numpy, whose
    import costs several times a bare reader of the run (bench/startup.py)."""
    _small_store(tmp_path)
    args = ["report", "--reports", str(tmp_path), "--manifest", str(tmp_path / "none.toml")]
    loaded = imported_after(args)
    assert "segbench.cli.cmd_report" in loaded and "segbench.report.tables" in loaded  # the report was made
    assert not {m for m in HEAVY if m in loaded}
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-m", "segbench", *args], capture_output=True, text=True, env=env,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "| tiny_seg | tflite    | 4         | high" in out.stdout and "36.250" in out.stdout


def test_report_of_a_small_store_leaves_what_it_does_not_need(tmp_path):
    """Modules the small report once imported at the top of store, model, cli and the report's helpers stay off its
    path (OFF_REPORT_PATH), and `segbench --help` imports no tempfile (cmd_parse spools stdin with it). The second
    report is watched: the first one writes the store's accuracy index (atomically: tempfile), later ones read it."""
    _small_store(tmp_path)
    args = ["report", "--reports", str(tmp_path), "--manifest", str(tmp_path / "none.toml")]
    assert "tempfile" in imported_after(args)  # the index written
    loaded = imported_after(args)
    assert "segbench.store" in loaded and "segbench.report.accuracy" in loaded  # the report was made
    baseline = imported_after(None)  # an interpreter whose own start-up loads one of them cannot tell: left out
    watched = set(OFF_REPORT_PATH) - baseline
    assert {"tempfile", "hashlib", "pkgutil", "segbench.models"} <= watched  # the check is live here
    assert not watched & loaded, sorted(watched & loaded)
    listed = imported_after(["--help"])
    assert "pkgutil" in listed and "segbench.cli.cmd_parse" in listed  # listing the commands does use it
    assert "tempfile" not in listed or "tempfile" in baseline


def test_a_command_is_found_by_its_file_and_a_wrong_name_is_still_one_error_line():
    """Naming a command imports its module straight away (no listing of the package); a misspelt or odd name gets
    click's suggestion from the full list, exit 2."""
    loaded = imported_after(["report", "--help"])
    assert "segbench.cli.cmd_report" in loaded
    assert "pkgutil" not in loaded and "segbench.cli.cmd_run" not in loaded
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    for name, said in (("reprt", "Did you mean 'report'?"), ("../x", "No such command '../x'"),
                       ("a.b", "No such command 'a.b'")):
        out = subprocess.run([sys.executable, "-m", "segbench", name], capture_output=True, text=True, env=env,
                             timeout=60)
        assert out.returncode == 2, out.stderr
        assert said in out.stderr and "Traceback" not in out.stderr
        assert len(out.stderr.strip().splitlines()) == 1
