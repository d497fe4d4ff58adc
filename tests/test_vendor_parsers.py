"""Parsers of the vendor tools' logs, against real logs (tests/fixtures/logs) with hand-checked numbers.

Every expected number below was read off the log by eye (and converted by hand: TFLite prints
microseconds, ORT seconds for percentiles and session creation).
"""

from __future__ import annotations

import json

import pytest

from conftest import LOGS
from segbench.model import Latency, Measurement, ModelRef
from segbench.runners import benchmark_bin, benchmark_model, onnxruntime_perf_test, tools


def _log(rel: str) -> str:
    return (LOGS / rel).read_text(encoding="utf-8")


def _one(rel: str, module=None):
    runs = (module.parse_log if module else tools.parse_any)(_log(rel))
    assert len(runs) == 1, runs
    return runs[0]


# ---------------------------------------------------------------------------------------------
# Paddle Lite benchmark_bin


def test_pp_mobileseg_log_on_mi9():
    r = _one("paddle_lite/paddleseg_ppmobileseg_mi9_android9_e79b4b6.log", benchmark_bin)
    assert (r.runtime, r.tool, r.status, r.error) == ("paddlelite", "benchmark_bin", "ok", None)
    assert r.latency_ms == Latency(avg=267.246, min=265.450, max=271.217)
    assert (r.first_ms, r.init_ms) == (314.619, 33.071)
    assert (r.threads, r.power_mode, r.warmup, r.repeats, r.count) == (1, "high", 20, 50, 50)
    assert (r.device.brand, r.device.model, r.device.android_version, r.device.api_level) == ("Xiaomi", "MI 9", "9", 28)
    assert r.device.device == "cepheus"
    assert r.tool_version == "e79b4b6" and r.backend == "arm"
    # The helper script's header names the model; the .nb path is kept too.
    assert r.model_name == "MV3_4stage_AAMSx8_valid_0321"
    assert r.model_path.endswith("MV3_4stage_AAMSx8_valid_0321/opt.nb")
    assert r.extra["input_shape"] == "1,3,512,512"
    assert r.lines == (1, 44)


@pytest.mark.parametrize("rel, version, init, first, lo, hi, avg, warmup, repeats, backend, model", [
    ("paddle_lite/docs_mi9_cepheus_android10_acf6614.log", "acf6614", 15.305, 43.670, 32.577, 32.895, 32.723, 10, 20,
     "arm", None),
    ("paddle_lite/docs_armlinux_acf6614.log", "acf6614", 15.305, 43.670, 32.577, 32.895, 32.723, 10, 20, "arm", None),
    ("paddle_lite/docs_linux_x86_380d8d0.log", "380d8d0", 18.135, 80.052, 31.982, 38.947, 33.918, 10, 20, "x86", None),
    ("paddle_lite/docs_macos_x86_380d8d004.log", "380d8d004", 11.410, 53.964, 53.964, 53.964, 53.964, 0, 1, "x86",
     "MobileNetV1"),
])
def test_paddle_reports(rel, version, init, first, lo, hi, avg, warmup, repeats, backend, model):
    r = _one(rel, benchmark_bin)
    assert r.status == "ok" and r.tool_version == version and r.backend == backend
    assert r.latency_ms == Latency(avg=avg, min=lo, max=hi)
    assert (r.init_ms, r.first_ms, r.warmup, r.repeats, r.count) == (init, first, warmup, repeats, repeats)
    assert (r.threads, r.power_mode) == (1, "high")
    assert r.model_name == model


def test_paddle_device_section_only_on_android():
    android = _one("paddle_lite/docs_mi9_cepheus_android10_acf6614.log", benchmark_bin)
    linux = _one("paddle_lite/docs_armlinux_acf6614.log", benchmark_bin)
    assert (android.device.model, android.device.android_version, android.device.api_level) == ("MI 9", "10", 29)
    assert not linux.device.known


def test_paddle_accuracy_report_fragment():
    r = _one("paddle_lite/docs_precision_eval_accuracy_info.log", benchmark_bin)
    assert r.status == "ok"
    assert r.latency_ms == Latency(avg=7.785, min=6.472, max=9.091)
    assert (r.init_ms, r.first_ms) == (11.925, 119.312)
    assert r.extra["top1_accuracy"] == 0.739 and r.extra["top2_accuracy"] == 0.121
    assert r.repeats is None and r.count is None  # the fragment does not say


def test_old_result_file_has_swapped_min_max():
    runs = benchmark_bin.parse_log(_log("paddle_lite/docs_v2.9_result_txt_armv8_armv7.log"))
    assert len(runs) == 30  # 2 ABIs x 3 thread counts x 5 models
    first = runs[0]
    # "mnasnet  min = 19.83500  max = 19.38500  average = 19.65503": the labels are swapped.
    assert first.model_name == "mnasnet" and first.latency_ms == Latency(avg=19.65503, min=19.385, max=19.835)
    assert (first.threads, first.warmup, first.repeats, first.count) == (1, 10, 30, 30)
    assert first.extra["abi"] == "arm64-v8a" and "swapped" in first.notes[0]
    shuffle_t2 = runs[8]  # "shufflenetv2  min = 6.67200  max = 6.58300  average = 6.63400" under Threads=2
    assert shuffle_t2.model_name == "shufflenetv2" and shuffle_t2.threads == 2
    assert shuffle_t2.latency_ms == Latency(avg=6.634, min=6.583, max=6.672)
    last = runs[-1]  # armv7, Threads=4, squeezenet
    assert (last.model_name, last.threads, last.extra["abi"]) == ("squeezenet", 4, "armeabi-v7a")
    assert last.latency_ms == Latency(avg=8.19, min=8.106, max=8.27)
    assert all(r.latency_ms.min <= r.latency_ms.avg <= r.latency_ms.max for r in runs)


def test_result_file_after_another_tool_keeps_its_settings():
    session = _log("tflite/lp6m_mi11_tf2.4.0_int8_cpu4t.log") + _log("paddle_lite/docs_v2.9_result_txt_armv8_armv7.log")
    runs = tools.parse_any(session)
    assert [r.tool for r in runs] == ["benchmark_model"] + ["benchmark_bin"] * 30
    assert (runs[1].threads, runs[1].repeats, runs[1].extra["abi"]) == (1, 30, "arm64-v8a")


@pytest.mark.parametrize("rel, first, t2_mobilenet_v1, last, abi", [
    # "-- mnasnet  avg = 159.8427 ms" ... armv8 Threads=4 "-- squeezenet_v11  avg = 412.9046 ms"
    ("paddle_lite/docs_v2.2_result_txt_avg_only_armv7_armv8.log", 159.8427, 121.6029, 412.9046, "armeabi-v7a"),
    ("paddle_lite/rk3399_notes_result_avg_only_adb_pull.log", 92.8641, 69.6253, 426.768, None),
])
def test_oldest_result_file_average_only(rel, first, t2_mobilenet_v1, last, abi):
    runs = tools.parse_any(_log(rel))
    assert len(runs) == 30 and all(r.tool == "benchmark_bin" and r.status == "ok" for r in runs)
    assert [(r.model_name, r.threads) for r in runs[:6]] == [
        ("mnasnet", 1), ("mobilenet_v1", 1), ("mobilenet_v2", 1), ("shufflenet_v2", 1), ("squeezenet_v11", 1),
        ("mnasnet", 2)]
    assert runs[0].latency_ms == Latency(avg=first) and runs[6].latency_ms.avg == t2_mobilenet_v1
    assert runs[-1].latency_ms.avg == last and runs[-1].threads == 4
    assert (runs[0].warmup, runs[0].repeats, runs[0].count, runs[0].extra.get("abi")) == (10, 30, 30, abi)
    assert runs[0].extra["format"] == "result file (v2.0-v2.2, average only)"


def test_old_result_row_with_right_labels_is_left_alone():
    r = benchmark_bin.parse_log("Threads=4 Warmup=10 Repeats=30\nm  min = 1.50000  max = 2.50000  average = 2.00000\n")
    assert r[0].latency_ms == Latency(avg=2.0, min=1.5, max=2.5) and r[0].notes == ()


def test_paddle_profiler_tables_sum_by_operator_type():
    detailed = _one("paddle_lite/docs_profiler_detailed_dispatch.log", benchmark_bin)
    # conv2d: 0.735 + 1.370 + 1.256 + 2.436 + 1.218 + 2.371 + 1.207 + 2.358 + 2.351 + 2.360 + 2.356 + 2.361
    #         + 1.263 + 2.441 = 26.083 (14 rows); fc 0.287; softmax 0.006.
    assert detailed.ops_by_type["conv2d"] == pytest.approx(26.083)
    assert detailed.ops_by_type["fc"] == pytest.approx(0.287)
    assert detailed.ops_by_type["softmax"] == pytest.approx(0.006)
    assert detailed.status == "failed" and "only a per-operator profile" in detailed.error
    concise = _one("paddle_lite/docs_profiler_concise_create_dispatch.log", benchmark_bin)
    # The Dispatch table, not the Create one: conv2d 25.381 + 0.727 = 26.108.
    assert concise.ops_by_type == pytest.approx(
        {"conv2d": 26.108, "depthwise_conv2d": 1.855, "fc": 0.285, "pool2d": 0.013, "softmax": 0.006})
    assert concise.extra["ops_source"] == "Concise Dispatch Profiler Summary"


def test_precision_profile_is_paddle_but_not_a_run():
    text = _log("paddle_lite/docs_precision_profiler.log")
    assert tools.detect(text) is benchmark_bin
    assert tools.parse_any(text) == []


def test_paddle_v29_summary_block():
    text = ("[I  4/20 10:11:12.123 ...lite/api/benchmark.cc:270 Run] --------Summary information--------\n"
            "[I  4/20 10:11:12.123 ...lite/api/benchmark.cc:271 Run] model_path: /data/local/tmp/mv2\n"
            "[I  4/20 10:11:12.123 ...lite/api/benchmark.cc:273 Run] threads: 2\n"
            "[I  4/20 10:11:12.123 ...lite/api/benchmark.cc:274 Run] power_mode: 1\n"
            "[I  4/20 10:11:12.123 ...lite/api/benchmark.cc:277 Run] warmup: 10\n"
            "[I  4/20 10:11:12.123 ...lite/api/benchmark.cc:278 Run] repeats: 30\n"
            "[I  4/20 10:11:12.123 ...lite/api/benchmark.cc:280 Run] latency(ms): 22.28623\n")
    (r,) = benchmark_bin.parse_log(text)
    assert (r.status, r.latency_ms.avg, r.threads, r.power_mode, r.warmup, r.repeats) == ("ok", 22.28623, 2, "low",
                                                                                            10, 30)
    assert r.model_name == "mv2"


def test_paddle_memory_profile_and_failure():
    report = _log("paddle_lite/paddleseg_ppmobileseg_mi9_android9_e79b4b6.log")
    with_memory = (report.replace("Time(unit: ms):", "cpu usage ratio: 100.0%\ncpu usage ratio: 105.5%\nTime(unit: ms):")
                   + "\nMemory Usage(unit: MB):\ninit  = 12          \npeak  = 96          \n")
    (r,) = benchmark_bin.parse_log(with_memory)
    assert (r.memory_mb.init, r.memory_mb.peak, r.cpu_usage_pct) == (12.0, 96.0, 102.75)
    assert r.latency_ms.avg == 267.246 and r.init_ms == 33.071  # the memory block's init is not the time init
    # A missing .nb: stderr line then abort (the shell says Aborted); exit codes are not trusted.
    (bad,) = benchmark_bin.parse_log("Mode file[/data/local/tmp/x.nb] not exist!\nAborted \n")
    assert bad.status == "failed" and bad.error == "Mode file[/data/local/tmp/x.nb] not exist!; Aborted"
    # Cut before the figures: failed, saying so.
    (cut,) = benchmark_bin.parse_log(report.split("======= Perf Info")[0])
    assert cut.status == "failed" and "ends before" in cut.error and cut.threads == 1


# ---------------------------------------------------------------------------------------------
# TFLite benchmark_model


def test_tflite_recent_build_with_percentiles():
    r = _one("tflite/dhruv_android_adb_cpu4t_xnnpack_default.log", benchmark_model)
    assert (r.runtime, r.tool, r.status) == ("tflite", "benchmark_model", "ok")
    # count=50 first=591245 curr=917186 min=502355 max=2270688 avg=699438 std=325425 p5=502674 median=576856 p95=1373207
    assert r.latency_ms == Latency(avg=699.438, min=502.355, max=2270.688, std=325.425, median=576.856, p95=1373.207)
    # Init: 102320, First inference: 670083 (us)
    assert (r.count, r.init_ms, r.first_ms, r.threads, r.warmup, r.repeats) == (50, 102.32, 670.083, 4, 1, 50)
    assert (r.memory_mb.init, r.memory_mb.overall) == (98.0977, 99.2031)
    assert r.model_path == "/data/local/tmp/mask_estimator_phy.tflite" and r.model_name == "mask_estimator_phy"
    assert r.lines == (1, 22)  # line 1 is the Windows prompt with the command: it starts the run


def test_tflite_two_delegates():
    r = _one("tflite/dhruv_android_adb_gpu_plus_nnapi_2delegates.log", benchmark_model)
    assert r.latency_ms == Latency(avg=309.35, min=305.938, max=333.03, std=4.411, median=307.968, p95=315.711)
    assert (r.init_ms, r.first_ms, r.threads, r.backend) == (5664.363, 328.14, 2, "gpu")
    assert r.extra["warmup_count"] == 2 and r.extra["warmup_avg_ms"] == 319.036  # warmup ran twice in 0.5 s
    assert r.memory_mb.overall == 375.48


@pytest.mark.parametrize("rel, init, first, warm, avg, lo, hi, std, mem_init, mem_overall", [
    ("tflite/lp6m_mi11_tf2.4.0_fp32_cpu4t.log", 16.242, 360.262, 304.586, 249.684, 247.067, 254.474, 1.442,
     4.92969, 138.809),
    ("tflite/lp6m_mi11_tf2.4.0_fp32_nnapi_qti-gpu.log", 404.292, 188.086, 175.313, 156.669, 149.738, 161.935, 2.352,
     6.80469, 61.0078),
    ("tflite/lp6m_mi11_tf2.4.0_fp32_nnapi_qti-gpu_fp16.log", 365.972, 120.877, 108.605, 92.5712, 89.745, 96.719,
     1.638, 6.90625, 61.0547),
    ("tflite/lp6m_mi11_tf2.4.0_int8_cpu4t.log", 1.779, 152.949, 110.690, 95.7883, 93.066, 99.49, 1.284, 5.15625,
     36.9883),
])
def test_tflite_2_4_tails(rel, init, first, warm, avg, lo, hi, std, mem_init, mem_overall):
    r = _one(rel, benchmark_model)
    assert r.status == "ok" and r.count == 50
    assert r.latency_ms == Latency(avg=avg, min=lo, max=hi, std=std)
    assert (r.init_ms, r.first_ms, r.extra["warmup_avg_ms"]) == (init, first, warm)
    assert (r.memory_mb.init, r.memory_mb.overall, r.memory_mb.peak) == (mem_init, mem_overall, None)


@pytest.mark.parametrize("rel, error", [
    ("tflite/lp6m_mi11_tf2.4.0_int8_nnapi_qti-default_FAIL.log",
     "Failed to apply NNAPI delegate. (NN API returned error ANEURALNETWORKS_OP_FAILED at line 3779 while "
     "completing NNAPI compilation.)"),
    ("tflite/lp6m_mi11_tf2.4.0_int8_nnapi_qti-dsp_FAIL.log",
     "Failed to apply NNAPI delegate. (NN API returned error ANEURALNETWORKS_BAD_DATA at line 1068 while adding "
     "operation.)"),
])
def test_tflite_failures(rel, error):
    r = _one(rel, benchmark_model)
    assert (r.status, r.error) == ("failed", error)
    assert r.latency_ms == Latency() and r.threads == 4 and r.backend == "nnapi"
    assert r.model_path == "/data/local/tmp/yolov5s_int8_640.tflite"


def test_tflite_v2_8_scientific_notation_and_op_profile():
    r = _one("tflite/meta-tflite_qemuriscv64_v2.8_opprofile.log", benchmark_model)
    # avg=2.95034e+06 us in both the stat line and "Inference (avg): 2.95034e+06"
    assert r.latency_ms == Latency(avg=2950.34, min=2727.568, max=3189.954, std=109.798)
    assert (r.first_ms, r.init_ms, r.count, r.threads, r.warmup, r.repeats) == (3512.391, 17.187, 50, 4, 1, 50)
    assert (r.memory_mb.init, r.memory_mb.overall) == (4.21094, 46.0859)
    # The regular runs' "Summary by node type", not the initialisation one (AllocateTensors 1.356).
    assert r.ops_by_type == {"CONV_2D": 2651.853, "DEPTHWISE_CONV_2D": 296.919, "AVERAGE_POOL_2D": 0.869,
                             "SOFTMAX": 0.232, "SQUEEZE": 0.016}


def test_tflite_readme_old_summary_line():
    r = _one("tflite/litert_readme_opprofile_example_oldformat.log", benchmark_model)
    # "Average inference timings in us: Warmup: 83235, Init: 38467, Inference: 79760.9"
    assert r.status == "ok" and r.latency_ms == Latency(avg=79.7609)
    assert (r.init_ms, r.first_ms, r.extra["warmup_avg_ms"]) == (38.467, None, 83.235)
    assert r.ops_by_type == {"CONV_2D": 1.406, "DEPTHWISE_CONV_2D": 0.169, "SOFTMAX": 0.0, "RESHAPE": 0.0,
                             "AVERAGE_POOL_2D": 0.0}


def test_tflite_nnapi_op_profile_tail():
    r = _one("tflite/lp6m_mi11_tf2.4.0_nnapi_opprofile.log", benchmark_model)
    # Init profile (ModifyGraphWithDelegate 413.346, AllocateTensors 316.045) is not counted.
    assert r.ops_by_type == {"TfLiteNnapiDelegate": 149.483, "STRIDED_SLICE": 8.347, "RESIZE_NEAREST_NEIGHBOR": 0.879}
    # Only the profiler's output: its regular-run line "Timings (microseconds): count=50 first=164033
    # curr=158560 min=146535 max=166638 avg=158715 std=2931" is the figure, not the init one (count=1 curr=729391).
    assert (r.status, r.error, r.count) == ("ok", None, 50)
    assert r.latency_ms == Latency(avg=158.715, min=146.535, max=166.638, std=2.931)
    assert r.first_ms is None and r.extra["latency_source"] == "op profiler"
    assert any("op profiler's 'Timings (microseconds)'" in n for n in r.notes)


def test_tflite_profiler_timings_beside_a_summary_stay_extra():
    r = _one("tflite/litert_readme_opprofile_example_oldformat.log", benchmark_model)
    # The summary's "Inference: 79760.9" stays the figure; the profiler's avg=79732 is kept apart.
    assert r.latency_ms.avg == 79.7609 and "latency_source" not in r.extra
    assert r.extra["profiler_timings_ms"] == {"avg": 79.732, "min": 77.385, "max": 88.213, "std": 1.929, "count": 50}


def test_profiler_timings_from_the_description():
    text = ("Operator-wise Profiling Info for Regular Benchmark Runs:\n"
            "============================== Summary by node type ==============================\n"
            "\t [Node type]\t  [count]\t  [avg ms]\t    [avg %]\t    [cdf %]\t  [mem KB]\t[times called]\n"
            "\t     CONV_2D\t       10\t    12.500\t    100.000%\t   100.000%\t     0.000\t       10\n\n"
            "Timings (microseconds): count=20 first=13001 curr=12480 min=12302 max=13950 avg=12611.5 std=402\n")
    (r,) = benchmark_model.parse_log(text)
    assert r.status == "ok" and r.latency_ms == Latency(avg=12.6115, min=12.302, max=13.95, std=0.402)
    assert r.ops_by_type == {"CONV_2D": 12.5} and r.count == 20


def test_litert_results_block_real_log():
    r = _one("tflite/litert_build_doc_blazeface_linux_x86.log", benchmark_model)
    assert (r.status, r.tool_version) == ("ok", "LiteRT 2.x")
    # Block: init 5.76, first 2.12, warmup avg 0.95 (526 runs), avg 0.95 (1054 runs); the stat line
    # "count=1054 first=1015 curr=942 min=910 max=1102 avg=947.132 std=23 p5=915 median=942 p95=991" (us).
    assert r.latency_ms == Latency(avg=0.95, min=0.91, max=1.102, std=0.023, median=0.942, p95=0.991)
    assert (r.count, r.first_ms, r.init_ms, r.threads) == (1054, 2.12, 5.76, 4)
    assert (r.memory_mb.init, r.memory_mb.overall, r.memory_mb.peak) == (4.06, 7.07, None)
    assert (r.extra["warmup_avg_ms"], r.extra["warmup_count"], r.extra["throughput_mb_s"]) == (0.95, 526, 197.97)
    assert r.model_name == "blaze_face_short_range"


def test_litert_results_block_alone_and_constructed_session():
    text = _log("tflite/litert_android_sd855_signature_constructed.log")
    ok, empty = tools.parse_any(text)
    assert (ok.status, ok.tool_version, ok.extra["signature"], ok.extra["cpu_mask"]) == (
        "ok", "LiteRT 2.x", "serving_default", "f0")
    assert ok.latency_ms == Latency(avg=40.82, min=39.877, max=44.26, std=0.846, median=40.688, p95=43.177)
    assert (ok.memory_mb.init, ok.memory_mb.overall, ok.memory_mb.peak) == (9.52, 31.77, 36.4)
    assert (ok.first_ms, ok.init_ms, ok.warmup, ok.repeats, ok.count) == (71.8, 48.91, 5, 30, 30)
    assert (empty.status, empty.error, empty.latency_ms.avg, empty.count) == (
        "failed", "No inference runs were performed.", None, 0)
    # The block alone, as pasted without the tool's other lines or prefixes: its own figures in ms.
    block = text[text.index("========== BENCHMARK RESULTS"):text.index("cepheus", 10)]
    block = "\n".join(ln.split("] ", 1)[-1] if ln.startswith("INFO: [") else ln for ln in block.splitlines())
    (alone,) = tools.parse_any(block)
    assert alone.latency_ms == Latency(avg=40.82, min=39.88, max=44.26, std=0.85)
    assert (alone.count, alone.first_ms, alone.init_ms, alone.tool_version) == (30, 71.8, 48.91, "LiteRT 2.x")


def test_tflite_logcat_prefixes_give_the_same_numbers():
    plain = _one("tflite/dhruv_android_adb_cpu4t_xnnpack_default.log", benchmark_model)
    lines = _log("tflite/dhruv_android_adb_cpu4t_xnnpack_default.log").splitlines()[1:]
    brief = "".join(f"07-08 15:33:55.768 I/tflite  ( 5395): {ln}\n" for ln in lines)
    threadtime = "".join(f"07-08 15:33:55.768  5395  5395 I tflite  : {ln}\n" for ln in lines)
    for text in (brief, threadtime):
        (r,) = benchmark_model.parse_log(text)
        assert (r.latency_ms, r.first_ms, r.init_ms, r.count, r.memory_mb) == (
            plain.latency_ms, plain.first_ms, plain.init_ms, plain.count, plain.memory_mb)


def test_tflite_count_larger_than_asked_and_peak_memory():
    text = _log("tflite/dhruv_android_adb_cpu4t_xnnpack_default.log").replace("INFO: count=50 ", "INFO: count=520 ")
    text += "INFO: Overall peak memory footprint (MB) via periodic monitoring: 123.5\n"
    (r,) = benchmark_model.parse_log(text)
    assert (r.count, r.repeats, r.memory_mb.peak) == (520, 50, 123.5)
    assert any("ran 520 times, not the 50 asked" in n for n in r.notes)


def test_tflite_fatal_and_truncated():
    (fatal,) = benchmark_model.parse_log("INFO: STARTING!\nINFO: Graph: [/d/m.tflite]\n"
                                         "FATAL: The size of /d/in.raw is 12 bytes. It should be 786432 bytes.\n"
                                         "Aborted\n")
    assert fatal.status == "failed"
    assert fatal.error.startswith("FATAL: The size of /d/in.raw is 12 bytes. It should be 786432 bytes.")
    cut = _log("tflite/dhruv_android_adb_cpu4t_xnnpack_default.log").split("INFO: Running benchmark for at least 50")[0]
    (r,) = benchmark_model.parse_log(cut)
    assert r.status == "failed" and "ends before" in r.error
    assert r.first_ms == 670.083  # the single warmup run was seen


# ---------------------------------------------------------------------------------------------
# onnxruntime_perf_test


def test_ort_newer_format():
    r = _one("onnxruntime/spacemit_k1_newer_avg_cost_total.log", onnxruntime_perf_test)
    assert (r.runtime, r.tool, r.status) == ("onnxruntime", "onnxruntime_perf_test", "ok")
    # Average inference time cost total: 7.270205 ms; Min/Max/P50/P90/P95 Latency in seconds
    assert r.latency_ms == Latency(avg=7.270205, min=7.20383, max=7.30163, median=7.27787, p90=7.30163, p95=7.30163)
    # Session creation time cost: 0.169475 s; First inference time cost: 109 ms; Total inference requests: 10
    assert (r.init_ms, r.first_ms, r.count, r.threads, r.warmup, r.repeats) == (169.475, 109.0, 10, 1, 1, 10)
    # Peak working set size: 91336704 bytes = 87.105 MiB; Avg CPU usage: 62 %
    assert (r.memory_mb.peak, r.cpu_usage_pct) == (87.105, 62.0)
    assert r.extra["peak_working_set_bytes"] == 91336704 and r.extra["throughput_per_s"] == 137.435
    assert r.backend == "spacemit"


def test_ort_older_average_line_and_threads():
    r = _one("onnxruntime/spacemit_k1_yolov6_x4_profile.log", onnxruntime_perf_test)
    assert r.latency_ms == Latency(avg=44.6395, min=42.9274, max=49.022, median=44.6158, p90=49.022, p95=49.022)
    assert (r.init_ms, r.first_ms, r.count, r.threads) == (708.476, 60.0, 10, 4)
    assert (r.memory_mb.peak, r.cpu_usage_pct) == (51.086, 48.0)  # 53567488 bytes


def test_ort_oldest_format_with_cut_last_line():
    r = _one("onnxruntime/ort_readme_sample_output_oldest_format.log", onnxruntime_perf_test)
    assert r.latency_ms == Latency(avg=58.8053, min=55.9777, max=62.3472, median=58.7108, p90=59.9845, p95=60.5676)
    assert (r.count, r.first_ms, r.warmup) == (1000, None, None)
    assert r.extra["p99_ms"] == 61.9517 and r.extra["p999_ms"] == 62.3472  # "0.0623472se" (cut in the source)


def test_ort_fails_before_measuring():
    load, data = tools.parse_any(_log("onnxruntime/perf_test_fails_before_measuring_constructed.log"))
    assert (load.tool, load.status, load.threads, load.model_name) == (
        "onnxruntime_perf_test", "failed", 4, "pp_mobileseg_tiny")
    assert load.error == "Load model from models/pp_mobileseg_tiny.onnx failed:Protobuf parsing failed."
    assert (data.status, data.error) == ("failed", "Run failed:there is no test data for model pp_mobileseg_tiny")
    # The tool's own line alone (no command, no other output) is a failed run, not "no run found".
    for line in ("Load model from m.onnx failed:Load model m.onnx failed. File doesn't exist",
                 "[ONNXRuntimeError] : 7 : INVALID_PROTOBUF : Load model from m.onnx failed:Protobuf parsing failed.",
                 "See 'onnxruntime_perf_test --help'."):
        (r,) = tools.parse_any(line + "\n")
        assert (r.tool, r.status, r.error) == ("onnxruntime_perf_test", "failed", line)


def test_ort_total_cpu_usage_iterations_and_failure():
    text = ("Session creation time cost: 0.5 s\nFirst inference time cost: 20 ms\n"
            "iteration:1,time_cost:0.0101\niteration:2,time_cost:0.0099\n"
            "Total inference requests: 2\nAverage inference time cost: 10 ms\nTotal CPU usage: 382 %\n")
    (r,) = onnxruntime_perf_test.parse_log(text)
    assert r.samples_ms == (10.1, 9.9) and r.cpu_usage_pct is None and r.extra["total_cpu_usage_pct"] == 382.0
    (bad,) = onnxruntime_perf_test.parse_log(
        "Run failed:Load model from /d/m.onnx failed:Protobuf parsing failed.\n")
    assert bad.status == "failed" and bad.error == "Run failed:Load model from /d/m.onnx failed:Protobuf parsing failed."


def test_ort_result_file_rows_are_the_per_run_times():
    # One row a timed run (model,time_cost_s,peak_workingset_bytes,avg_cpu,run_index), then with -s the
    # latency block, which is not read; a model name may hold commas.
    text = ("deeplab,v3,0.0123,271122432,11,0\ndeeplab,v3,0.0111,271122432,11,1\ndeeplab,v3,1.5e-02,271122432,11,2\n"
            "\nMin Latency is 0.0111 sec\nMax Latency is 0.015 sec\nP50 Latency is 0.0123 sec\n")
    assert onnxruntime_perf_test.read_result_file(text) == (12.3, 11.1, 15.0)
    # Rows out of order are put in run order; a missing run or no rows at all give nothing.
    assert onnxruntime_perf_test.read_result_file("m,0.002,1,0,1\nm,0.001,1,0,0\n") == (1.0, 2.0)
    assert onnxruntime_perf_test.read_result_file("m,0.002,1,0,1\n") == ()
    assert onnxruntime_perf_test.read_result_file("Run failed:failed to initialize.\n") == ()


# ---------------------------------------------------------------------------------------------
# Sessions, detection, records


def test_pasted_session_of_three_tools_in_order():
    session = "\n".join([
        "$ adb shell /data/local/tmp/benchmark_model --graph=/data/local/tmp/m.tflite",
        _log("tflite/lp6m_mi11_tf2.4.0_fp32_cpu4t.log"),
        "$ adb shell /data/local/tmp/onnxruntime_perf_test -m times -r 10 -x 1 -I m.onnx",
        _log("onnxruntime/spacemit_k1_newer_avg_cost_total.log"),
        _log("paddle_lite/paddleseg_ppmobileseg_mi9_android9_e79b4b6.log"),
        _log("tflite/lp6m_mi11_tf2.4.0_int8_cpu4t.log"),
        _log("paddle_lite/docs_mi9_cepheus_android10_acf6614.log"),
    ])
    runs = tools.parse_any(session)
    assert runs[1].backend == "spacemit"  # "using SpaceMITExecutionProvider" stays with its run
    assert [(r.tool, r.latency_ms.avg) for r in runs] == [
        ("benchmark_model", 249.684), ("onnxruntime_perf_test", 7.270205), ("benchmark_bin", 267.246),
        ("benchmark_model", 95.7883), ("benchmark_bin", 32.723)]
    assert runs[0].lines == (1, 5)  # line numbers refer to the whole session; the echoed command starts a run
    assert all(a.lines[1] < b.lines[0] for a, b in zip(runs, runs[1:]))


def test_other_programs_output_makes_no_record():
    noise_before = ("PS C:\\work> adb push benchmark_model /data/local/tmp/\n"
                    "benchmark_model: 1 file pushed, 0 skipped. 38.1 MB/s (6329448 bytes in 0.158s)\n"
                    "PS C:\\work> adb shell chmod +x /data/local/tmp/benchmark_model\n"
                    "PS C:\\work> adb shell rm /data/local/tmp/old.log\n"
                    "rm: /data/local/tmp/old.log: No such file or directory\n")
    noise_between = ("$ adb shell ls -l /data/local/tmp/onnxruntime_perf_test\n"
                     "-rwxr-xr-x 1 shell shell 1234 2024-01-01 10:00 /data/local/tmp/onnxruntime_perf_test\n"
                     "$ adb pull /data/local/tmp/r.txt\n"
                     "adb: error: failed to stat remote object '/data/local/tmp/r.txt': No such file or directory\n")
    noise_after = ("$ adb shell md5sum /data/local/tmp/benchmark_model\n"
                   "9e107d9d372bb6826bd81d3542a419d6  /data/local/tmp/benchmark_model\n"
                   "Error: something unrelated failed\n")
    session = (noise_before + _log("tflite/lp6m_mi11_tf2.4.0_fp32_cpu4t.log") + noise_between
               + _log("onnxruntime/spacemit_k1_newer_avg_cost_total.log") + noise_between
               + _log("paddle_lite/rk3399_notes_result_avg_only_adb_pull.log") + "\n" + noise_between
               + _log("tflite/litert_build_doc_blazeface_linux_x86.log") + noise_after)
    runs = tools.parse_any(session)
    assert all(r.status == "ok" for r in runs), [(r.tool, r.lines, r.error) for r in runs if r.status != "ok"]
    assert [r.tool for r in runs] == (["benchmark_model", "onnxruntime_perf_test"] + ["benchmark_bin"] * 30
                                      + ["benchmark_model"])
    assert runs[0].lines[0] == noise_before.count("\n") + 1  # the push/chmod lines did not start the run
    assert tools.echoed_command("adb shell chmod +x /data/local/tmp/benchmark_model", "benchmark_model") is None
    assert tools.echoed_command("adb push benchmark_bin /data/local/tmp", "benchmark_bin") is None
    cmd = tools.echoed_command('adb shell "cd /d && LD_LIBRARY_PATH=. taskset f0 ./benchmark_model --graph=a.tflite '
                               '2>&1"', "benchmark_model")
    assert cmd == tools.EchoedCommand("f0", ("--graph=a.tflite",))


def test_two_runs_of_one_tool_split():
    two = _log("tflite/dhruv_android_adb_cpu4t_xnnpack_default.log") + _log(
        "tflite/dhruv_android_adb_gpu_plus_nnapi_2delegates.log")
    runs = benchmark_model.parse_log(two)
    assert [r.latency_ms.avg for r in runs] == [699.438, 309.35] and [r.threads for r in runs] == [4, 2]


@pytest.mark.parametrize("sub, name", [
    ("ncnn/oneplus7t_sd855plus_cpu4t_cpu1t_vulkan.log", "ncnn benchncnn"),
    ("ncnn/sd8gen2_phone.log", "ncnn benchncnn"),
    ("mnn/mate30pro_kirin990_2020.log", "MNN benchmark.out"),
    ("mnn/huawei_p10_2019_cpu_vulkan.log", "MNN benchmark.out"),
])
def test_ncnn_and_mnn_are_recognised_not_parsed(sub, name):
    text = _log(sub)
    assert tools.detect(text) is None and tools.parse_any(text) == []
    assert tools.foreign_tool(text) == name


def test_every_supported_log_is_detected():
    for sub, module in (("paddle_lite", benchmark_bin), ("tflite", benchmark_model),
                        ("onnxruntime", onnxruntime_perf_test)):
        for path in (LOGS / sub).glob("*.log"):
            assert tools.detect(path.read_text()) is module, path
            assert tools.foreign_tool(path.read_text()) is None, path


def test_json_keys_and_to_measurement():
    r = _one("paddle_lite/paddleseg_ppmobileseg_mi9_android9_e79b4b6.log")
    j = r.to_json()
    assert set(j) >= {"runtime", "tool", "status", "error", "latency_ms", "count", "first_ms", "init_ms", "threads",
                      "power_mode", "warmup", "repeats", "memory_mb", "device", "ops_by_type"}
    assert j["latency_ms"] == {"avg": 267.246, "min": 265.45, "max": 271.217, "std": None, "median": None,
                               "p90": None, "p95": None}
    assert j["device"] == {"brand": "Xiaomi", "model": "MI 9", "android_version": "9", "api_level": 28}
    assert j["memory_mb"] == {"init": None, "overall": None, "peak": None}
    json.dumps(j, allow_nan=False)
    base = Measurement(run_id="r", case_id="c", model=ModelRef("seg", "/m/opt.nb", "paddle-nb"), runtime="paddlelite",
                       status="failed", threads=4, power_mode="high", warmup=20, repeats=50, cpu_mask=None)
    m = tools.to_measurement(r, base)
    assert (m.status, m.latency_ms.avg, m.first_ms, m.init_ms, m.count, m.tool, m.tool_version) == (
        "ok", 267.246, 314.619, 33.071, 50, "benchmark_bin", "e79b4b6")
    assert (m.threads, m.extra["tool_reported"]) == (4, {"threads": 1})  # asked 4, the log says 1
    assert m.memory_mb is None and m.model.name == "seg"
    open_base = Measurement(run_id="r", case_id="c", model=base.model, runtime="paddlelite", status="failed")
    assert tools.to_measurement(r, open_base).threads == 1


def test_case_log_keeps_the_cause_a_pasted_session_drops():
    # One invocation's own log (the device runner's): the ERROR line before the tool's failure line is its cause.
    log = "ERROR: Could not open '/d/m.tflite'.\nFailed to mmap model /d/m.tflite\nBenchmarking failed.\n"
    r = tools.parse_case_log(benchmark_model, log)
    assert (r.status, r.error) == ("failed", "Failed to mmap model /d/m.tflite (Could not open '/d/m.tflite'.)")
    # In a pasted session the same ERROR line with no run open may be anyone's: the failure line stands alone.
    (pasted,) = benchmark_model.parse_log(log)
    assert (pasted.status, pasted.error) == ("failed", "Failed to mmap model /d/m.tflite")


def test_parse_case_log_for_garbage():
    r = tools.parse_case_log(benchmark_model, "Segmentation fault\n")
    assert (r.status, r.error) == ("failed", "Segmentation fault")
    r = tools.parse_case_log(onnxruntime_perf_test, "\x7fELF garbage\n")
    assert r.status == "failed" and "no onnxruntime_perf_test output" in r.error and "garbage" in r.error
    assert tools.tool_for_runtime("tflite") is benchmark_model


def test_echoed_command_lines_fill_what_the_log_does_not_say():
    ort = ("$ adb shell taskset f0 /data/local/tmp/onnxruntime_perf_test -m times -r 10 -x 2 -e cpu -I "
           "'/data/local/tmp/seg model.onnx'\n" + _log("onnxruntime/spacemit_k1_newer_avg_cost_total.log"))
    tfl = ("OnePlus7T:/data/local/tmp # taskset 0f ./benchmark_model --graph=/d/a.tflite --num_threads=1 "
           "--num_runs=50\n" + _log("tflite/lp6m_mi11_tf2.4.0_int8_cpu4t.log"))
    o, t = tools.parse_any(ort + tfl)
    # ORT's report never names the model; its command line does ("-x 2" loses to the log's own "Setting ... to 1").
    assert (o.model_name, o.threads, o.repeats, o.extra["cpu_mask"], o.lines[0]) == ("seg model", 1, 10, "f0", 1)
    assert (t.model_name, t.threads, t.repeats, t.extra["cpu_mask"], t.latency_ms.avg) == ("a", 1, 50, "0f", 95.7883)
    base = Measurement(run_id="r", case_id="c", model=ModelRef("a", "a", "tflite"), runtime="tflite", status="failed")
    assert tools.to_measurement(t, base).cpu_mask == "0f"
    assert tools.echoed_command("benchmark_bin version: e79b4b6", "benchmark_bin") is None
    assert tools.echoed_command("Loaded model /d/benchmark_model.tflite", "benchmark_model") is None


def test_tflite_single_run_and_no_warmup():
    text = ("INFO: STARTING!\nINFO: Num threads: [1]\nINFO: Graph: [/d/m.tflite]\n"
            "INFO: Running benchmark for at least 0 iterations and at least 0 seconds but terminate if exceeding "
            "86400 seconds.\n\n"
            "INFO: Running benchmark for at least 1 iterations and at least 0 seconds but terminate if exceeding "
            "86400 seconds.\n"
            "INFO: count=1 curr=3512391 p5=3512391 median=3512391 p95=3512391\n\n"
            "INFO: Inference timings in us: Init: 17187, First inference: 0, Warmup (avg): 0, "
            "Inference (avg): 3.51239e+06\n")
    (r,) = benchmark_model.parse_log(text)
    assert (r.status, r.warmup, r.repeats, r.count) == ("ok", 0, 1, 1)
    # One sample: min = max = median = the sample; "First inference: 0" means no warmup ran.
    assert r.latency_ms == Latency(avg=3512.39, min=3512.391, max=3512.391, std=0.0, median=3512.391, p95=3512.391)
    assert r.first_ms == 3512.391


def test_ort_profile_ops_by_type():
    text = (LOGS / "onnxruntime" / "tiny_seg_ort1.32.0_profile.json").read_text()
    # Three model_run events; kernel times (us) per run: Conv 199+108+24, 65+57+20, 66+65+19;
    # Upsample 390, 96, 95; ReorderOutput 304, 90, 45.
    assert onnxruntime_perf_test.parse_profile(text, skip_runs=0) == pytest.approx(
        {"Conv": 623 / 3000, "Upsample": 581 / 3000, "ReorderOutput": 439 / 3000}, abs=1e-6)
    # perf_test profiles its warm-up run too: by default the first run is left out.
    assert onnxruntime_perf_test.parse_profile(text) == {"Conv": 0.146, "Upsample": 0.0955, "ReorderOutput": 0.0675}


@pytest.mark.parametrize("text, message", [
    ("not json", "not JSON"), ("{}", "not a list"), ("[1, 2]", "not a list"), ("[]", "without a model_run"),
    ('[{"cat": "Session", "name": "model_run", "ts": NaN, "dur": 1}]', "without a model_run"),
])
def test_ort_profile_garbage(text, message):
    from segbench.errors import ParseError

    with pytest.raises(ParseError, match=message):
        onnxruntime_perf_test.parse_profile(text)


def test_ort_profile_from_a_live_session(tmp_path):
    import numpy as np
    import onnxruntime as ort

    from conftest import FIXTURES

    so = ort.SessionOptions()
    so.enable_profiling, so.profile_file_prefix = True, str(tmp_path / "prof")
    sess = ort.InferenceSession(str(FIXTURES / "models" / "tiny_seg.onnx"), so, providers=["CPUExecutionProvider"])
    x = np.zeros((1, 3, 128, 128), dtype=np.float32)
    for _ in range(4):
        sess.run(None, {sess.get_inputs()[0].name: x})
    text = open(sess.end_profiling()).read()
    ops = onnxruntime_perf_test.parse_profile(text)
    runs = [e["dur"] / 1000 for e in json.loads(text) if e.get("name") == "model_run"][1:]
    assert ops and all(v > 0 for v in ops.values())
    assert sum(ops.values()) <= sum(runs) / len(runs)  # kernels run inside model_run


@pytest.mark.parametrize("rel, n, first, last, total_ms", [
    # The per-node avg times add up to the profile's own "Timings (microseconds): ... avg=" line.
    ("tflite/meta-tflite_qemuriscv64_v2.8_opprofile.log", 31,
     {"node": "[MobilenetV1/MobilenetV1/Conv2d_0/Relu6]:0", "type": "CONV_2D", "avg_ms": 60.957},
     {"node": "[MobilenetV1/Predictions/Reshape_1]:30", "type": "SOFTMAX", "avg_ms": 0.233}, 2949.9),
    ("tflite/lp6m_mi11_tf2.4.0_nnapi_opprofile.log", 11,
     {"node": "[model/tf.strided_slice/StridedSlice]:0", "type": "STRIDED_SLICE", "avg_ms": 2.118},
     {"node": "[Identity, Identity_1, Identity_2]:233", "type": "TfLiteNnapiDelegate", "avg_ms": 56.058}, 158.715),
])
def test_tflite_per_node_profile(rel, n, first, last, total_ms):
    nodes = _one(rel, benchmark_model).extra["ops_by_node"]
    assert (len(nodes), nodes[0], nodes[-1]) == (n, first, last)
    assert sum(x["avg_ms"] for x in nodes) == pytest.approx(total_ms, abs=0.01)


def test_tflite_profile_without_the_start_column():
    # Newer builds (TF 2.15+) drop [start] from the per-node tables; the same log without it parses the same.
    text = _log("tflite/meta-tflite_qemuriscv64_v2.8_opprofile.log")
    newer = "\n".join("\t".join(f for i, f in enumerate(ln.split("\t")) if i != 2) if ln.count("\t") == 9 else ln
                      for ln in text.splitlines())
    assert "[start]" not in newer
    old, new = _one("tflite/meta-tflite_qemuriscv64_v2.8_opprofile.log", benchmark_model), benchmark_model.parse_log(newer)[0]
    assert new.extra["ops_by_node"] == old.extra["ops_by_node"] and new.ops_by_type == old.ops_by_type
