"""Arbitrary and mutated logs into every parser: no exception escapes, and every record is well-formed."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import LOGS
from segbench.model import Measurement, ModelRef
from segbench.runners import tools

REAL_LOGS = sorted(p.read_text(encoding="utf-8") for p in LOGS.glob("*/*.log"))
REAL_LINES = sorted({ln for text in REAL_LOGS for ln in text.splitlines()})
PARSERS = [*(t.parse_log for t in tools.TOOLS), tools.parse_any]
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _check(text: str) -> None:
    n_lines = max(1, len(text.splitlines()))
    for parse in PARSERS:
        for run in parse(text):
            assert run.status in ("ok", "failed")
            assert run.status == "failed" or run.latency_ms.avg is not None
            assert run.status == "ok" or (isinstance(run.error, str) and run.error)
            assert 1 <= run.lines[0] <= run.lines[1] <= n_lines
            json.dumps(run.to_json(), allow_nan=False)  # no inf/nan, nothing unserialisable
            base = Measurement(run_id="r", case_id="c", model=ModelRef("m", "m", "onnx"), runtime=run.runtime,
                               status="failed")
            json.dumps(tools.to_measurement(run, base).to_dict(), allow_nan=False)
    for tool in tools.TOOLS:
        tools.looks_like(tool, text)
        assert tools.parse_case_log(tool, text).status in ("ok", "failed")
    tools.detect(text)
    tools.foreign_tool(text)


@FUZZ
@given(st.text(max_size=3000))
def test_arbitrary_text(text):
    _check(text)


@FUZZ
@given(st.lists(st.sampled_from(REAL_LINES), max_size=80))
def test_real_lines_in_any_order(lines):
    _check("\n".join(lines))


# One mutation of a line: drop it, double it, cut it, change a digit, or put noise into it.
_MUTATION = st.tuples(st.sampled_from(["drop", "dup", "cut", "digit", "noise", "swap"]), st.integers(0, 10**6),
                      st.text(max_size=20))


def _mutate(text: str, mutations: list[tuple[str, int, str]]) -> str:
    lines = text.splitlines()
    for op, k, junk in mutations:
        if not lines:
            break
        i = k % len(lines)
        line = lines[i]
        if op == "drop":
            del lines[i]
        elif op == "dup":
            lines.insert(i, line)
        elif op == "cut":
            lines[i] = line[: k % (len(line) + 1)]
        elif op == "digit" and any(c.isdigit() for c in line):
            pos = [j for j, c in enumerate(line) if c.isdigit()][k % sum(c.isdigit() for c in line)]
            lines[i] = line[:pos] + (junk[:1] or "9") + line[pos + 1:]
        elif op == "noise":
            lines[i] = line[: k % (len(line) + 1)] + junk + line[k % (len(line) + 1):]
        elif op == "swap":
            j = (k // 7) % len(lines)
            lines[i], lines[j] = lines[j], lines[i]
    return "\n".join(lines)


@FUZZ
@given(st.sampled_from(REAL_LOGS), st.lists(_MUTATION, max_size=12), st.integers(0, 10**6))
def test_mutated_real_logs(text, mutations, cut):
    mutated = _mutate(text, mutations)
    _check(mutated)
    _check(mutated[: cut % (len(mutated) + 1)])  # truncated anywhere


_JSON = st.recursive(st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=10),
                     lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
                     max_leaves=30)
_EVENT = st.fixed_dictionaries({"cat": st.sampled_from(["Node", "Session", "x"]),
                                "name": st.sampled_from(["model_run", "a_kernel_time", "b"]),
                                "ts": st.integers(-5, 50) | st.floats(), "dur": st.integers(-5, 50) | st.floats(),
                                "args": st.fixed_dictionaries({"op_name": st.sampled_from(["Conv", "Relu"]) | _JSON})})


@FUZZ
@given(_JSON | st.lists(_EVENT, max_size=20), st.integers(0, 3))
def test_ort_profile_only_raises_parse_error(value, skip):
    from segbench.errors import ParseError
    from segbench.runners import onnxruntime_perf_test

    try:
        ops = onnxruntime_perf_test.parse_profile(json.dumps(value), skip_runs=skip)
    except ParseError:
        return
    json.dumps(ops, allow_nan=False)
