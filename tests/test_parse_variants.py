"""The vendor tools' real logs as they reach segbench by other routes: through `adb logcat` in each of its
formats, coloured by a terminal or by the tool's own logger, cut, mixed with stderr. Every variant must give the
figures the plain log gives (tests/test_vendor_parsers.py holds those to hand-checked numbers)."""

from __future__ import annotations

import pytest

from conftest import LOGS
from segbench.runners import benchmark_model, tools

# Every log of a supported tool that holds a run (Paddle Lite's precision profile is none).
ALL_LOGS = sorted(p for p in LOGS.glob("*/*.log")
                  if p.parent.name not in ("ncnn", "mnn") and p.name != "docs_precision_profiler.log")


def _figures(text: str) -> list[tuple]:
    """What a record says, without where in the text it is (a wrapper may add lines)."""
    return [(r.tool, r.status, r.error, r.latency_ms, r.count, r.first_ms, r.init_ms, r.threads, r.warmup,
             r.repeats, r.memory_mb, r.ops_by_type, r.samples_ms, r.model_path, r.backend, r.tool_version)
            for r in tools.parse_any(text)]


def _each_line(text: str, fmt: str) -> str:
    """Each line wrapped, the text's last line break kept (a last line without one is read as maybe cut)."""
    end = "\n" if text.endswith("\n") else ""
    return "\n".join(fmt.format(ln) if ln.strip() else ln for ln in text.splitlines()) + end


# `adb logcat -v FORMAT` of one line printed by the tool (liblog's logprint formats and modifiers).
LOGCAT = {
    "brief": "I/tflite  ( 5395): {}",
    "time": "07-08 15:33:55.768 I/tflite  ( 5395): {}",
    "threadtime": "07-08 15:33:55.768  5395  5395 I tflite  : {}",
    "tag": "I/tflite  : {}",
    "thread": "I( 5395: 5395) {}",
    "process": "I( 5395) {}  (tflite)",
    "process,uid": "I(shell: 5395) {}  (tflite)",
    "process,uid numeric": "I(10123: 5395) {}  (tflite)",
    "year,usec": "2024-07-08 15:33:55.768123  5395  5395 I tflite  : {}",
    "zone,nsec": "07-08 15:33:55.768123456 +0800  5395  5395 I tflite  : {}",
    "epoch": "1720425235.768  5395  5395 I tflite  : {}",
    "monotonic": "  4711.025  5395  5395 I tflite  : {}",
    "threadtime,uid": "07-08 15:33:55.768 shell  5395  5395 I tflite  : {}",
    "threadtime,uid numeric": "07-08 15:33:55.768 10123  5395  5395 I tflite  : {}",
    "time,uid": "07-08 15:33:55.768 I/tflite  (shell: 5395): {}",
    "epoch,brief": "1720425235.768 I/tflite  ( 5395): {}",
    "color": "\x1b[38;5;40m07-08 15:33:55.768  5395  5395 I tflite  : {}\x1b[0m",
}


@pytest.mark.parametrize("fmt", list(LOGCAT), ids=list(LOGCAT))
@pytest.mark.parametrize("path", ALL_LOGS, ids=lambda p: p.name)
def test_logcat_formats_give_the_plain_logs_figures(path, fmt):
    text = path.read_text(encoding="utf-8")
    plain = _figures(text)
    assert plain, path
    assert _figures(_each_line(text, LOGCAT[fmt])) == plain


@pytest.mark.parametrize("path", ALL_LOGS, ids=lambda p: p.name)
def test_logcat_long_format_headers_are_not_lines_of_the_log(path):
    """-v long: a "[ time pid:tid I/tag ]" header line above each message, and a blank line after it. A message
    that is a multi-line text (a table) stands under one header, as the tool logged it."""
    text = path.read_text(encoding="utf-8")
    long = "".join(f"[ 07-08 15:33:55.768  5395: 5395 I/tflite   ]\n{block}\n\n" for block in text.split("\n\n"))
    assert _figures(long) == _figures(text)


@pytest.mark.parametrize("path", ALL_LOGS, ids=lambda p: p.name)
def test_terminal_colours_are_not_part_of_the_text(path):
    text = path.read_text(encoding="utf-8")
    coloured = _each_line(text, "\x1b[0;32m{}\x1b[0m")
    bold_erase = _each_line(text, "\x1b]0;adb shell\x07\x1b[1m{}\x1b[K\x1b[m")
    plain = _figures(text)
    assert _figures(coloured) == plain
    assert _figures(bold_erase) == plain


def test_ort_coloured_logger_lines_are_read():
    """ORT's console log sink wraps warnings in yellow and errors in red (\\x1b[0;93m / \\x1b[1;31m ... \\x1b[m):
    an error line that stops the tool is still its failure line."""
    red = ("\x1b[1;31m2024-05-21 10:02:11.407318 [E:onnxruntime:, inference_session.cc:1981 operator()] Exception "
           "during initialization: bad allocation\x1b[m")
    yellow = ("\x1b[0;93m2024-05-21 10:02:11.201 [W:onnxruntime:, session_state.cc:1166 "
              "VerifyEachNodeIsAssignedToAnEp] Some nodes were not assigned to the preferred execution providers\x1b[m")
    (r,) = tools.parse_any(f"{yellow}\n{red}\n")
    assert (r.tool, r.status) == ("onnxruntime_perf_test", "failed")
    assert r.error.startswith("2024-05-21 10:02:11.407318 [E:onnxruntime:") and "\x1b" not in r.error


def test_tflite_delegate_internal_profile_is_not_added_to_the_graphs_ops():
    """The profiler's "Delegate internal:" part lists the ops inside the XNNPACK node, whose time the graph's
    tables already count as TfLiteXNNPackDelegate: summing both would count 36 ms twice."""
    (r,) = tools.parse_any((LOGS / "tflite/xnnpack_delegate_internal_profile_constructed.log").read_text())
    assert r.status == "ok" and r.latency_ms.avg == 41.4026
    assert r.ops_by_type == {"TfLiteXNNPackDelegate": 37.798, "RESIZE_BILINEAR": 2.631, "ARG_MAX": 0.855}
    assert [n["type"] for n in r.extra["ops_by_node"]] == [
        "TfLiteXNNPackDelegate", "RESIZE_BILINEAR", "TfLiteXNNPackDelegate", "ARG_MAX"]
    assert r.extra["delegate_ops_by_type"] == {"Convolution (NHWC, F32) IGEMM": 21.188,
                                               "Convolution (NHWC, F32) DWConv": 7.871, "Add (ND, F32)": 4.41,
                                               "Convolution (NHWC, F32) GEMM": 3.141}
    # The graph's own profiler line, not the delegate's (36.610 ms).
    assert r.extra["profiler_timings_ms"]["avg"] == 41.5524


@pytest.mark.parametrize("rel, line_start", [
    ("paddle_lite/docs_mi9_cepheus_android10_acf6614.log", "avg   = "),
    ("tflite/dhruv_android_adb_cpu4t_xnnpack_default.log", "INFO: Inference timings in us:"),
    ("tflite/lp6m_mi11_tf2.4.0_fp32_cpu4t.log", "Inference timings in us:"),
])
def test_log_cut_in_the_middle_of_its_average_gives_no_wrong_average(rel, line_start):
    """A tool killed with its output buffered leaves a log that stops mid-line: "avg   = 3" of 32.723 ms, a TFLite
    summary ending "Inference (avg): 2" of 249684 us. The cut number is never read: Paddle Lite's run has no other
    average (failed, saying where the log was cut); TFLite's regular runs' stat line gives the same average in full."""
    text = (LOGS / rel).read_text(encoding="utf-8")
    start = text.index(line_start)
    avg_at = text.index("avg", start) if "avg   =" in line_start else text.index("Inference (avg): ", start) + 17
    cut = text[:text.index("=", avg_at) + 4 if "avg   =" in line_start else avg_at + 1]
    (r,) = tools.parse_any(cut)
    (whole,) = tools.parse_any(text[:text.index("\n", len(cut)) + 1])
    assert whole.status == "ok" and whole.latency_ms.avg is not None
    if rel.startswith("paddle"):
        assert r.status == "failed" and r.latency_ms.avg is None
        assert "ends mid-number (line" in r.error and "avg   = 3" in r.error
    else:
        assert r.status == "ok" and r.latency_ms.avg == whole.latency_ms.avg
        assert any("ends mid-number" in n for n in r.notes)
        assert any("stat line" in n for n in r.notes)


@pytest.mark.parametrize("rel, prefix, kept", [
    ("tflite/dhruv_android_adb_cpu4t_xnnpack_default.log", "Inference timings in us: Init: ", "init_ms"),
    ("tflite/dhruv_android_adb_cpu4t_xnnpack_default.log", "First inference: ", "first_ms"),
    ("tflite/lp6m_mi11_tf2.4.0_fp32_cpu4t.log", "Inference timings in us: Init: ", None),
    ("tflite/lp6m_mi11_tf2.4.0_fp32_cpu4t.log", "First inference: ", None),
    ("tflite/dhruv_android_adb_cpu4t_xnnpack_default.log", "overall=", None),
    ("tflite/litert_android_sd855_signature_constructed.log", "Overall footprint:", None),
    ("onnxruntime/spacemit_k1_newer_avg_cost_total.log", "Average inference time cost total: ", "latency_ms.avg"),
    ("onnxruntime/spacemit_k1_newer_avg_cost_total.log", "Session creation time cost: ", None),
    ("onnxruntime/spacemit_k1_newer_avg_cost_total.log", "First inference time cost: ", None),
])
def test_a_figure_cut_mid_number_is_confirmed_by_the_run_or_dropped_with_a_note(rel, prefix, kept):
    """Cut one digit into each figure: it is never the cut digit. Either the same figure comes from another line of
    the run (the session line's init, the warmup stat line's first run, ORT's total / requests) or it is absent, and
    a note says where the log was cut."""
    text = (LOGS / rel).read_text(encoding="utf-8")
    at = text.index(prefix) + len(prefix)
    at += len(text[at:]) - len(text[at:].lstrip())
    cut = text[:at + 1]
    (whole,) = [r for r in tools.parse_any(text[:text.index("\n", at) + 1]) if r.lines[0] <= cut.count("\n") + 1][-1:]
    (r,) = tools.parse_any(cut)[-1:]
    assert any("ends mid-number" in n for n in r.notes) or "ends mid-number" in (r.error or "")
    figures = {"init_ms": (r.init_ms, whole.init_ms), "first_ms": (r.first_ms, whole.first_ms),
               "latency_ms.avg": (r.latency_ms.avg, whole.latency_ms.avg)}
    if kept is not None:
        got, want = figures[kept]
        assert got == pytest.approx(want, rel=1e-3)
    cut_digit = float(text[at])
    for got, _ in figures.values():
        assert got is None or got not in (cut_digit, cut_digit * 1000, cut_digit / 1000)
    assert r.memory_mb.overall != float(text[at]) and r.memory_mb.overall is None or prefix not in ("overall=", "Overall footprint:")


def test_log_without_its_last_line_break_loses_only_its_last_number():
    """A log saved without its last line break cannot be told from one cut mid-number: its last number (here the
    memory line's overall=99.2031) is dropped with a note, every other figure stays."""
    text = (LOGS / "tflite/dhruv_android_adb_cpu4t_xnnpack_default.log").read_text(encoding="utf-8")
    (whole,), (cut,) = tools.parse_any(text), tools.parse_any(text.rstrip("\n"))
    assert (cut.status, cut.latency_ms, cut.first_ms, cut.init_ms) == (whole.status, whole.latency_ms, whole.first_ms,
                                                                       whole.init_ms)
    assert (cut.memory_mb.init, cut.memory_mb.overall) == (whole.memory_mb.init, None)
    assert whole.memory_mb.overall == 99.2031
    assert any("ends mid-number" in n and "overall=" in n for n in cut.notes)


def test_tflite_stat_line_cut_before_min_is_not_the_all_same_form():
    """"count=50 first=164033 curr=158560 min=" is a cut line, not "count=N curr=C" (every run equal)."""
    text = (LOGS / "tflite/lp6m_mi11_tf2.4.0_nnapi_opprofile.log").read_text(encoding="utf-8")
    cut = text[:text.index("min=", text.index("Timings (microseconds): count=50")) + 4]
    (r,) = tools.parse_any(cut)
    assert r.latency_ms.min is None and r.latency_ms.max is None and r.latency_ms.avg != 158.56


def test_cli_reads_a_cut_file_as_it_streams(tmp_path):
    """`segbench parse` reads files a block at a time: the last line's missing break is seen there too, and a CRLF
    log cut mid-average is the same failed record."""
    import json

    from conftest import run_cli

    text = (LOGS / "paddle_lite/docs_mi9_cepheus_android10_acf6614.log").read_text(encoding="utf-8")
    cut = text[:text.index("avg   = ") + 9].replace("\n", "\r\n")
    path = tmp_path / "killed.log"
    path.write_bytes(cut.encode())
    r = run_cli("parse", str(path), "--json")
    assert r.code == 0, r.err
    (rec,) = [json.loads(line) for line in r.out.splitlines()]
    assert (rec["status"], rec["latency_ms"]["avg"], rec["latency_ms"]["min"]) == ("failed", None, 32.577)
    assert "ends mid-number" in rec["error"]


def test_windows_exe_log_with_a_cmd_prompt_and_crlf():
    """cmd.exe echoes `C:\\tools\\...\\benchmark_model.exe --graph=C:\\models\\...`: a backslash there is a path
    separator, so the command is read (threads, model) instead of being shell-unescaped into one unknown word."""
    (r,) = tools.parse_any((LOGS / "tflite/windows_exe_cmd_prompt_crlf_constructed.log").read_text(encoding="utf-8"))
    assert (r.status, r.latency_ms.avg, r.first_ms, r.init_ms, r.count) == ("ok", 17.5094, 31.25, 41.733, 57)
    assert (r.threads, r.repeats, r.model_path, r.model_name) == (
        2, 20, "C:\\models\\pp_mobileseg\\model.tflite", "pp_mobileseg")
    assert r.memory_mb.overall == 52.0117


def test_ort_duration_mode_with_stderr_glued_into_its_average():
    """-m duration -t 5: the count is what ran (97), not an -r; -y, -I and -e xnnpack are read. The average line was
    interrupted by a stderr warning after "51.4": that is no figure; total / requests is the tool's own average."""
    (r,) = tools.parse_any((LOGS / "onnxruntime/perf_test_duration_xnnpack_stderr_interleaved_constructed.log")
                           .read_text(encoding="utf-8"))
    assert (r.status, r.count, r.repeats, r.threads, r.backend) == ("ok", 97, 97, 4, "xnnpack")
    assert r.latency_ms.avg == pytest.approx(51.456392) and r.latency_ms.median == pytest.approx(51.3265)
    assert (r.extra["test_mode"], r.extra["duration_s"], r.extra["inter_op_threads"], r.extra["generated_inputs"]) == (
        "duration", 5.0, 2, True)


@pytest.mark.parametrize("text, field", [
    ("INFO: Inference timings in us: Init: 102320, First inference: 67WARNING: an interleaved line\n", "first_ms"),
    ("INFO: count=50 first=591245 curr=917186 min=502355 max=22WARNING: x\n", "latency_ms.max"),
])
def test_tflite_number_glued_to_stderr_text_is_not_a_figure(text, field):
    log = (LOGS / "tflite/dhruv_android_adb_cpu4t_xnnpack_default.log").read_text(encoding="utf-8")
    start = log.index(text.split(":")[1].split("=")[0].strip()[:12])
    line_start = log.rindex("\n", 0, start) + 1
    line_end = log.index("\n", start) + 1
    (r,) = tools.parse_any(log[:line_start] + text + log[line_end:])
    got = r.first_ms if field == "first_ms" else r.latency_ms.max
    assert got not in (0.067, 0.022)


def test_ort_missing_provider_is_its_message():
    (r,) = tools.parse_any((LOGS / "onnxruntime/perf_test_missing_provider_constructed.log").read_text(encoding="utf-8"))
    assert (r.status, r.error, r.backend) == ("failed", "NNAPI is not supported in this build", "nnapi")


def test_tflite_subgraph_tables_are_kept_apart_from_the_primary_graphs_ops():
    """A model with a WHILE loop is profiled one table per subgraph: the primary graph's WHILE node (12.090 ms)
    already holds its body's 11.213 ms and its condition's, so ops_by_type is the primary graph's alone, and the
    body's CONV_2D time is not added to the primary's (27.070 ms, not 35.043)."""
    (r,) = tools.parse_any((LOGS / "tflite/while_subgraphs_op_profile_constructed.log").read_text())
    assert r.status == "ok" and r.latency_ms.avg == 52.1486
    assert r.ops_by_type == {"CONV_2D": 27.07, "WHILE": 12.09, "DEPTHWISE_CONV_2D": 5.395, "RESIZE_BILINEAR": 3.987,
                             "HARD_SWISH": 1.934, "ARG_MAX": 1.213}
    assert r.extra["subgraph_ops_by_type"] == {"1": {"CONV_2D": 8.973, "LOGISTIC": 0.984, "ADD": 0.636, "MUL": 0.62},
                                               "2": {"LESS": 0.009}}
    assert r.extra["subgraph_names"] == {"0": "main", "1": "while_body", "2": "while_cond"}
    assert r.extra["profiled_subgraph"] == 0
    # The primary graph's own nodes and Timings line, not the body's (11.213 ms) nor the initialisation profile's.
    assert len(r.extra["ops_by_node"]) == 11 and r.extra["ops_by_node"][8]["type"] == "WHILE"
    assert r.extra["profiler_timings_ms"] == {"avg": 51.689, "min": 51.402, "max": 53.021, "std": 0.405, "count": 20}


def test_tflite_signature_run_profiles_the_signatures_subgraph():
    """--signature_to_run_for=segment runs subgraph 1 alone: its tables (under a "Subgraph (index: 1, ...)" header,
    with its Timings line prefixed by the same words) are the run's ops."""
    (r,) = tools.parse_any((LOGS / "tflite/signature_run_op_profile_constructed.log").read_text())
    assert r.status == "ok" and r.latency_ms.avg == 40.2339 and r.extra["signature"] == "segment"
    assert r.ops_by_type == {"CONV_2D": 27.289, "DEPTHWISE_CONV_2D": 5.362, "RESIZE_BILINEAR": 3.99, "ARG_MAX": 1.23}
    assert r.extra["profiled_subgraph"] == 1 and "subgraph_ops_by_type" not in r.extra
    assert r.extra["profiler_timings_ms"]["avg"] == 37.871
    assert [n["node"] for n in r.extra["ops_by_node"]][-1] == "[segment/argmax]:7"


def test_tflite_subgraphs_without_the_primary_take_the_one_named_by_the_signature_or_the_largest():
    def log(signature: str) -> str:
        head = (f"INFO: STARTING!\nINFO: Graph: [m.tflite]\nINFO: Signature to run: [{signature}]\n"
                "INFO: Inference timings in us: Init: 900, First inference: 9000, Warmup (avg): 9000, "
                "Inference (avg): 8000\nINFO: Operator-wise Profiling Info for Regular Benchmark Runs:\n")
        body = ""
        for index, name, op, ms in ((1, "body", "ADD", "1.000"), (2, "decode", "CALL_ONCE", "7.500")):
            body += (f"Subgraph (index: {index}, name: {name}) profile:\n"
                     "============================== Summary by node type ==============================\n"
                     "\t [Node type]\t  [count]\t  [avg ms]\t    [avg %]\t    [cdf %]\t  [mem KB]\t[times called]\n"
                     f"\t {op}\t        1\t    {ms}\t    100.000%\t   100.000%\t     0.000\t       1\n\n"
                     f"Subgraph (index: {index}, name: {name}) Timings (microseconds): count=10 curr={ms[0]}000\n\n")
        return head + body

    (named,) = benchmark_model.parse_log(log("body"))
    assert named.ops_by_type == {"ADD": 1.0} and named.extra["subgraph_ops_by_type"] == {"2": {"CALL_ONCE": 7.5}}
    (largest,) = benchmark_model.parse_log(log(""))
    assert largest.ops_by_type == {"CALL_ONCE": 7.5} and largest.extra["profiled_subgraph"] == 2
    assert any("largest Timings average" in n for n in largest.notes)


def test_tflite_list_signatures_is_a_record_of_no_benchmark():
    """--list_signatures prints the model's signatures and stops before the first run ("Benchmarking failed."):
    a failed record that says so, not a timing and not the generic failure line."""
    (r,) = tools.parse_any((LOGS / "tflite/list_signatures_constructed.log").read_text())
    assert r.tool == "benchmark_model" and r.status == "failed"
    assert r.latency_ms.avg is None and r.ops_by_type is None and r.count is None
    assert r.error == ("no benchmark in the log: benchmark_model only listed the model's signatures "
                       "(--list_signatures): logits, segment")
    assert r.extra["signatures"] == ["logits", "segment"]


def test_tflite_multi_signature_model_without_a_signature_names_them():
    text = ("INFO: STARTING!\nINFO: Graph: [m.tflite]\nINFO: Signature to run: []\nINFO: Loaded model m.tflite\n"
            "ERROR: Signature not specified or incorrect. Pass one of the following to the flag "
            "\"--signature_to_run_for\"\nERROR:  #> Signature key: logits\nERROR:  #> Signature key: segment\n"
            "ERROR: Benchmarking failed.\n")
    (r,) = benchmark_model.parse_log(text)
    assert r.status == "failed" and r.error.startswith("Signature not specified or incorrect.")
    assert r.error.endswith("(the model's signatures: logits, segment)")
