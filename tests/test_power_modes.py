"""Power modes that mean the same silicon for every tool (issue 19): the cluster modes and cpus:LIST mapped from the
real topology (the SD855's, a one-cluster host's), applied alike to every tool (benchmark_bin told NO_BIND under the
mask), recorded per record, a mode the machine lacks skipped; Paddle Lite's own binding in its own modes recorded;
the report's note on rows of one power mode that ran on different cores. End to end on the emulated MI 9."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from conftest import FIXTURES, run_cli
from segbench import power
from segbench.errors import UsageError
from segbench.model import Case, DeviceInfo, Latency, Measurement, ModelRef
from segbench.runners import benchmark_bin, benchmark_model, tools

# The MI 9's cpufreq (Snapdragon 855: silver 0-3 @1.785 GHz, gold 4-6 @2.42, prime 7 @2.84): silver 0-3, gold 4-6, prime 7.
SD855 = {**{c: 1785600 for c in range(4)}, **{c: 2419200 for c in range(4, 7)}, 7: 2841600}
ONE_CLUSTER = {0: 3000000, 1: 3000000}
TWO_CLUSTERS = {**{c: 1766400 for c in range(4)}, **{c: 2803200 for c in range(4, 8)}}


@pytest.mark.parametrize("mode, mask", [("prime", "80"), ("gold", "70"), ("silver", "f"), ("big", "f0"),
                                        ("cpus:4-7", "f0"), ("cpus:0,7", "81")])
def test_explicit_modes_on_the_sd855(mode, mask):
    b = power.binding(mode, SD855)
    assert (b.mask, b.explicit, b.lacking) == (mask, True, None)


def test_paddle_lite_modes_keep_their_cluster_masks_for_the_other_tools():
    masks = {m: power.binding(m, SD855) for m in ("high", "low", "full", "no_bind")}
    assert {m: b.mask for m, b in masks.items()} == {"high": "f0", "low": "f", "full": "ff", "no_bind": None}
    assert not any(b.explicit for b in masks.values())


@pytest.mark.parametrize("mode", ["prime", "gold", "silver", "big"])
def test_a_one_cluster_host_lacks_every_cluster_mode(mode):
    b = power.binding(mode, ONE_CLUSTER)
    assert b.cpus is None and f"no {mode} cluster: one cluster here (all 0-1 @3.00 GHz)" == b.lacking
    unknown = power.binding(mode, {}, [0, 1])  # cpufreq unreadable: never guessed
    assert unknown.cpus is None and "clusters here are unknown" in unknown.lacking
    # Paddle Lite's own modes bind every CPU there, as before
    assert power.binding("high", ONE_CLUSTER).mask == "3"


def test_cpus_lists_on_a_one_cluster_host():
    assert power.binding("cpus:1", ONE_CLUSTER).mask == "2"
    assert power.binding("cpus:0-3", ONE_CLUSTER).lacking == "no CPU 2-3 here (CPUs 0-1)"
    assert power.binding("cpus:0", {}, [0, 1]).mask == "1"  # no topology needed for a CPU list


def test_two_clusters_have_gold_but_no_prime():
    assert power.binding("gold", TWO_CLUSTERS).mask == power.binding("big", TWO_CLUSTERS).mask == "f0"
    assert power.binding("prime", TWO_CLUSTERS).lacking.startswith("no prime cluster: two clusters here (silver 0-3")


def test_power_mode_lists():
    assert power.parse_power_modes("prime, big,cpus:7,4-6,high,cpus:4-7") == ["prime", "big", "cpus:4-7", "high"]
    assert power.parse_power_modes("cpus:0,2-3") == ["cpus:0,2-3"]
    for bad, said in [("turbo", "unknown power mode 'turbo'"), ("cpus:", "power mode 'cpus:': '' is not a list of CPU numbers"),
                      ("cpus:7-4", "not a list of CPU numbers"), ("cpus:a", "not a list of CPU numbers"), (" , ", "empty")]:
        with pytest.raises(UsageError, match=said):
            power.parse_power_modes(bad)


def test_paddle_lites_own_binding_on_the_sd855():
    assert power.paddle_binding("high", 1, SD855) == power.ToolBinding((7,), 1)  # the prime core, not f0
    assert power.paddle_binding("high", 2, SD855).cpus == (6, 7)
    eight = power.paddle_binding("high", 8, SD855)
    assert (eight.cpus, eight.threads) == ((4, 5, 6, 7), 4) and "truncate thread num to 4" in eight.note
    assert power.paddle_binding("low", 2, SD855).cpus == (0, 1)
    assert power.paddle_binding("no_bind", 16, SD855) == power.ToolBinding(None, 8)  # threads capped at the CPUs
    assert power.paddle_binding("rand_high", 1, SD855).cpus is None  # random: not known in advance


def _tc(mode: str, mask: str | None, runtime: str = "paddlelite") -> tools.ToolCase:
    model = ModelRef("m", "/d/m.nb", "paddle-nb") if runtime == "paddlelite" else ModelRef("m", "/d/m.tflite", "tflite")
    return tools.ToolCase(case=Case(model, runtime, 1, mode, 1, 2), tool_path="/d/tool", model_path=model.path,
                          input_shapes=((1, 3, 8, 8),), cpu_mask=mask)


def test_benchmark_bin_runs_an_explicit_set_under_taskset_with_no_bind():
    assert tools.taskset_mask(benchmark_bin, "80", "prime") == "80"
    assert tools.taskset_mask(benchmark_bin, "f0", "high") is None  # its own mode: it binds by itself
    assert tools.taskset_mask(benchmark_model, "80", "prime") == "80"
    argv = benchmark_bin.build_command(_tc("prime", "80"))
    assert argv[:2] == ["taskset", "80"] and "--power_mode=3" in argv
    assert "--power_mode=0" in benchmark_bin.build_command(_tc("high", None))
    with pytest.raises(UsageError, match="no cpu_mask was given"):
        benchmark_bin.build_command(_tc("cpus:4-7", None))
    assert benchmark_model.build_command(_tc("prime", "80", "tflite"))[:2] == ["taskset", "80"]


def test_benchmark_bins_log_says_how_many_threads_it_ran():
    log = (FIXTURES / "logs/paddle_lite/docs_mi9_cepheus_android10_acf6614.log").read_text()
    said = ("[E  5/ 6 12: 0: 0.100 ...e/device_info.cc:1080 RequestPowerHighMode] Request thread num: 8, exceed the "
            "big cores size: 4, truncate thread num to 4\n")
    [run] = benchmark_bin.parse_log(said + log)
    assert run.status == "ok" and run.extra["threads_run"] == 4 and "truncate" in run.extra["binding_said"][0]
    [plain] = benchmark_bin.parse_log(log)
    assert "threads_run" not in plain.extra


def _m(runtime: str, mode: str, mask: str | None, threads: int = 1, model: str = "m") -> Measurement:
    return Measurement(run_id="r", case_id=f"{model}-{runtime}-{mode}-{threads}", model=ModelRef(model, f"{model}.x", "x"),
                       runtime=runtime, status="ok", threads=threads, power_mode=mode, cpu_mask=mask, device_id="mi9",
                       latency_ms=Latency(avg=10.0), count=1)


def test_the_report_says_when_one_power_mode_ran_on_different_cores():
    from segbench.report.tables import summary

    rows = summary([_m("paddlelite", "high", "80"), _m("tflite", "high", "f0"), _m("paddlelite", "prime", "80"),
                    _m("tflite", "prime", "80"), _m("tflite", "high", "f0", threads=2)]).to_dict("records")
    notes = {(r["runtime"], r["power_mode"], r["threads"]): r["notes"] for r in rows}
    assert notes[("paddlelite", "high", 1)] == ("power mode high ran on CPUs 7 here, other rows of it on other cores "
                                                "(tflite on CPUs 4-7)")
    assert "(paddlelite on CPUs 7)" in notes[("tflite", "high", 1)]
    assert notes[("paddlelite", "prime", 1)] == notes[("tflite", "prime", 1)] == ""
    assert notes[("tflite", "high", 2)] == ""  # nothing else ran high at 2 threads
    over = replace(_m("tflite", "prime", "80", threads=2), extra={"oversubscribed": "2 threads on 1 CPU"})
    assert summary([over]).iloc[0]["notes"] == "2 threads on 1 CPU"


def test_the_different_cores_note_is_made_once_per_mask_not_per_pair_of_rows(monkeypatch):
    """A farm's history holds thousands of rows of one power mode (every night's file is a row): the note is made
    per mask of the group, not by comparing every row with every other (which took minutes at 100k rows)."""
    import segbench.power
    from segbench.report.tables import summary

    calls = []
    real = segbench.power.cpus_of_mask
    monkeypatch.setattr(segbench.power, "cpus_of_mask", lambda mask: calls.append(mask) or real(mask))
    rows = [_m(runtime, "high", mask, model=f"m{k}") for k in range(300)
            for runtime, mask in (("paddlelite", "80"), ("tflite", "f0"))]
    notes = summary(rows)["notes"].tolist()
    assert notes[0] == "power mode high ran on CPUs 7 here, other rows of it on other cores (tflite on CPUs 4-7)"
    assert notes[1] == "power mode high ran on CPUs 4-7 here, other rows of it on other cores (paddlelite on CPUs 7)"
    assert notes[2::2] == notes[:1] * 299 and notes[3::2] == notes[1:2] * 299
    assert len(calls) <= 8, len(calls)
    # records of one case on other cores (another topology) are other rows, never pooled
    assert len(summary([_m("tflite", "big", "f0"), _m("tflite", "big", "f00")])) == 2


def test_host_runs_bind_the_set_and_skip_what_the_host_lacks(tmp_path):
    from segbench.execute import InProcessBackend
    from segbench.models import sha256_file

    path = FIXTURES / "models" / "tiny_seg.onnx"
    model = ModelRef("tiny", str(path), "onnx", sha256_file(path))
    backend = InProcessBackend(DeviceInfo(id="host", kind="host", cpu_max_khz={0: 3000000}))
    backend.workdir = tmp_path
    prime, _ = backend.measure(Case(model, "onnxruntime", 1, "prime", 1, 2), "r")
    assert prime.status == "skipped" and prime.error == ("power mode prime: no prime cluster: one cluster here "
                                                          "(all 0 @3.00 GHz) on this machine")
    one, log = backend.measure(Case(model, "onnxruntime", 2, "cpus:0", 1, 2), "r")
    assert one.status == "ok" and one.cpu_mask == "1", one.error
    assert one.extra["cpus"] == "0" and one.extra["oversubscribed"] == "2 threads on 1 CPU"
    assert b"cpus: 0" in log


# -- end to end on the emulated MI 9 ---------------------------------------------------------------------------------

ADB_PORTS = range(31037, 31100)
PHONE_PORTS = range(31100, 32000)


def _records(reports: Path) -> list[dict]:
    return [json.loads(line) for run in sorted((reports / "runs").iterdir())
            for line in (run / "results.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_cluster_modes_on_the_emulated_mi9_give_every_tool_the_same_cores(adb_port, assets, tmp_path):
    from segbench.emulator import EmulatedPhone
    from segbench.emulator.phone import free_port

    models = tmp_path / "models"
    models.mkdir()
    (models / "seg.tflite").write_bytes((FIXTURES / "models" / "selfie_segmentation.tflite").read_bytes())
    paddle = _paddle_model(models)
    reports = tmp_path / "reports"
    with EmulatedPhone(port=free_port(PHONE_PORTS), adb_port=adb_port) as phone:
        r = run_cli("run", "--device", phone.serial, "--assets", str(assets), "--reports", str(reports),
                    "--models", str(models), "--power-mode", "prime,big,high", "--threads", "1", "--warmup", "1",
                    "--repeats", "2", env={"ANDROID_ADB_SERVER_PORT": str(adb_port)}, timeout=600)
        ran = phone.tool_runs()
    assert r.code == (0 if paddle else 3), r.err
    recs = {(x["runtime"], x["power_mode"]): x for x in _records(reports)}
    for mode, mask, cpus in (("prime", "80", [7]), ("big", "f0", [4, 5, 6, 7])):
        x = recs[("tflite", mode)]
        assert x["status"] == "ok" and x["cpu_mask"] == mask and x["extra"]["bound_by"] == "taskset", x["error"]
        assert x["extra"]["command"].startswith(f"taskset {mask} ")
        p = recs[("paddlelite", mode)]  # the same mask, and benchmark_bin told not to bind over it
        assert p["cpu_mask"] == mask and p["extra"]["bound_by"] == "taskset"
        assert p["extra"]["command"].startswith(f"taskset {mask} ") and "--power_mode=3" in p["extra"]["command"]
        # what the emulated tools' threads were allowed on: the recorded cores, the same for both tools
        argv_mode = [t for t in ran if t["tool"] == "benchmark_model" and t["cpumask"] == mask]
        assert argv_mode and all(t["cpus"] == cpus for t in argv_mode)
        if paddle:
            [bin_run] = [t for t in ran if t["tool"] == "benchmark_bin" and t["cpumask"] == mask]
            assert bin_run["cpus"] == cpus
    # Paddle Lite's own mode: it binds by itself, and the record says where (1 thread: the prime core)
    high = recs[("paddlelite", "high")]
    assert high["cpu_mask"] == "80" and high["extra"]["bound_by"] == "benchmark_bin --power_mode"
    assert "taskset" not in high["extra"]["command"] and "--power_mode=0" in high["extra"]["command"]
    assert recs[("tflite", "high")]["cpu_mask"] == "f0"
    if paddle:
        [own] = [t for t in ran if t["tool"] == "benchmark_bin" and t["cpumask"] is None]
        assert own["cpus"] == [7]
        report = run_cli("report", "--reports", str(reports), "--format", "markdown")
        assert report.code == 0, report.err
        assert "power mode high ran on CPUs 7 here, other rows of it on other cores (tflite on CPUs 4-7)" in report.out


def _paddle_model(models: Path) -> bool:
    """A Paddle program beside the TFLite model where paddlelite is installed (Python 3.10: the emulated
    benchmark_bin runs it); elsewhere a file it cannot load, whose failed records still carry their binding."""
    try:
        import paddlelite  # noqa: F401
    except ImportError:
        (models / "broken.nb").write_bytes(b"not a model")
        (models / "manifest.toml").write_text('[[model]]\nfile = "broken.nb"\nname = "broken"\n'
                                              'input_size = [64, 64]\n')
        return False
    from paddle_build import real_mobilenet_v2

    real_mobilenet_v2(models, "mnv2", scale=0.1)
    return True
