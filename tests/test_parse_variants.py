"""The vendor tools' real logs as they reach segbench by other routes: through `adb logcat` in each of its
formats, coloured by a terminal or by the tool's own logger, cut, mixed with stderr. Every variant must give the
figures the plain log gives (tests/test_vendor_parsers.py holds those to hand-checked numbers)."""

from __future__ import annotations

import pytest

from conftest import LOGS
from segbench.runners import tools

# Every log of a supported tool that holds a run (Paddle Lite's precision profile is none).
ALL_LOGS = sorted(p for p in LOGS.glob("*/*.log")
                  if p.parent.name not in ("ncnn", "mnn") and p.name != "docs_precision_profiler.log")


def _figures(text: str) -> list[tuple]:
    """What a record says, without where in the text it is (a wrapper may add lines)."""
    return [(r.tool, r.status, r.error, r.latency_ms, r.count, r.first_ms, r.init_ms, r.threads, r.warmup,
             r.repeats, r.memory_mb, r.ops_by_type, r.samples_ms, r.model_path, r.backend, r.tool_version)
            for r in tools.parse_any(text)]


def _each_line(text: str, fmt: str) -> str:
    return "\n".join(fmt.format(ln) if ln.strip() else ln for ln in text.splitlines())


# `adb logcat -v FORMAT` of one line printed by the tool (liblog's logprint formats and modifiers).
LOGCAT = {
    "brief": "I/tflite  ( 5395): {}",
    "time": "07-08 15:33:55.768 I/tflite  ( 5395): {}",
    "threadtime": "07-08 15:33:55.768  5395  5395 I tflite  : {}",
    "tag": "I/tflite  : {}",
    "thread": "I( 5395: 5395) {}",
    "process": "I( 5395) {}  (tflite)",
    "process,uid": "I(shell: 5395) {}  (tflite)",
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
