"""A run folder is made whole or not at all (a full disk leaves nothing behind), and a folder without run.json that
an older segbench left is named by the readers, which go on with the real runs."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from report_runs import phone_run

from conftest import assert_one_line_error, run_cli
from segbench import store as store_module
from segbench.errors import StoreError
from segbench.model import DeviceInfo, RunInfo
from segbench.store import RunDir, Store

HALF = "20991231-000000-000-dead"  # newer than any run: what `report` would have shown


def _info(run_id: str, **settings) -> RunInfo:
    return RunInfo(run_id=run_id, started="2026-11-21T00:00:00+00:00", harness_version="t",
                   device=DeviceInfo(id="host", kind="host", cpu_max_khz={0: 100}), settings={"warmup": 1, **settings})


def test_a_failed_run_json_leaves_no_folder(tmp_path, monkeypatch):
    def full(path, content):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(store_module, "write_atomic", full)
    store = Store(tmp_path)
    with pytest.raises(StoreError, match="disk full while writing .*run.json"):
        store.create_run(_info("r1"))
    assert list((tmp_path / "runs").iterdir()) == []


def test_a_full_disk_leaves_no_folder(tiny_disk):
    store = Store(tiny_disk)
    store.create_run(_info("r0"))
    big = "x" * 4096
    made = 0
    with pytest.raises(StoreError, match="disk full while"):
        for i in range(64):  # a run.json of ~40 KiB a time: the 64 KiB disk fills within a few
            store.create_run(_info(f"r{i + 1}", note=big * 10))
            made += 1
    names = sorted(p.name for p in (tiny_disk / "runs").iterdir())
    assert names == sorted(["r0", *(f"r{i + 1}" for i in range(made))])  # no half-made folder, no temp folder
    assert all((tiny_disk / "runs" / n / "run.json").is_file() for n in names)


def test_an_existing_run_is_not_replaced(tmp_path):
    store = Store(tmp_path)
    store.create_run(_info("r1"))
    with pytest.raises(StoreError, match="run r1 already exists"):
        store.create_run(_info("r1", other=1))
    assert store.run("r1").info().settings == {"warmup": 1}
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["r1"]


def test_report_names_a_half_made_folder_and_goes_on(tmp_path):
    reports = tmp_path / "reports"
    phone_run(reports, "20261130-000000-000-0001")
    (reports / "runs" / HALF / "logs").mkdir(parents=True)  # as an older segbench left it on a full disk
    half = reports / "runs" / HALF
    for args in (["report"], ["report", "--all", "--format", "csv"]):
        r = run_cli(*args, "--reports", str(reports))
        assert r.code == 0, r.err
        assert "PP-MobileSeg-Tiny" in r.out
        assert r.err.splitlines() == [f"segbench: warning: {half} has no run.json: a run whose creation failed (a "
                                      "full disk?), not a run: skipped (delete the folder)"], r.err


@pytest.mark.parametrize("args", [["report", "--run", HALF], ["run", "--resume", HALF],
                                  ["compare", "20261130-000000-000-0001", HALF]])
def test_asking_for_a_half_made_folder_is_one_error_naming_it(tmp_path, args):
    reports = tmp_path / "reports"
    phone_run(reports, "20261130-000000-000-0001")
    (reports / "runs" / HALF / "logs").mkdir(parents=True)
    r = run_cli(*args, "--reports", str(reports))
    assert_one_line_error(r, 1)
    assert r.err.strip() == (f"segbench: error: {reports / 'runs' / HALF} has no run.json: a run whose creation failed "
                             "(a full disk?), not a run (delete the folder; it holds no run to report or resume)")
    assert Path(reports / "runs" / HALF).is_dir()  # named, never deleted behind the user's back


def test_a_run_folder_in_the_making_is_no_run(tmp_path):
    """create_run writes run.json into a hidden folder before renaming it into place: a reader listing the runs at
    that moment (another segbench's report, a farm's) must not take it for a run, nor for a half-made one."""
    store = Store(tmp_path)
    store.create_run(_info("20260101-000000-000-real"))
    making = tmp_path / "runs" / ".20991231-000000-000-next.abc123.tmp"
    (making / "logs").mkdir(parents=True)
    RunDir(making).write_info(_info("20991231-000000-000-next"))
    seen: list[Path] = []
    assert store.run_ids(seen.append) == ["20260101-000000-000-real"] and seen == []
    assert store.latest(seen.append).run_id == "20260101-000000-000-real" and seen == []
