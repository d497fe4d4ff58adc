"""`segbench report --view ...`: the comparison merged from measured runs and a published table, sweep and
per-operator tables, footer, plots, in every format; the HTML opened in headless Chromium."""

from __future__ import annotations

import atexit
import csv
import io
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from report_runs import phone_run

from conftest import FIXTURES, assert_one_line_error, published_manifest, run_cli

pytestmark = pytest.mark.oldlibs  # run on numpy 1.x / pandas 2.x too (README: the Python 3.10 tests)

_TABLES = Path(tempfile.mkdtemp(prefix="segbench-manifest-"))
atexit.register(shutil.rmtree, _TABLES, True)  # made at import (the constants below): removed when the tests end
# The repository's published tables (never its [[model]] entries, which `zoo export -o models_dir` rewrites).
PUBLISHED = published_manifest(_TABLES / "published")
# The same with no latency_stat: their latency column is then the median (the tests below were written around the
# synthetic runs' medians); test_the_published_statistic_fills_the_column uses the real one.
MANIFEST = published_manifest(_TABLES / "median", keep=lambda line: not line.startswith("latency_stat"))
FORMATS = ("markdown", "csv", "json", "html", "latex")
PLOTS = ("latency_vs_miou", "params_vs_latency", "thread_scaling", "power_modes", "ops_stacked")


def _cells(markdown: str, title: str) -> list[list[str]]:
    """Rows of the markdown table under the '## title' heading."""
    block = markdown.split(f"## {title}", 1)[1].split("\n## ", 1)[0]
    return [[c.strip() for c in line.strip().strip("|").split("|")] for line in block.splitlines()
            if line.startswith("|") and not line.startswith("|--")]


def _row(rows: list[list[str]], model: str) -> list[str]:
    return next(r for r in rows if r[0] == model)


@pytest.fixture(scope="module")
def phone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    reports = tmp_path_factory.mktemp("phone")
    phone_run(reports)
    return reports


def _report(reports: Path, *args: str):
    return run_cli("report", "--reports", str(reports), "--manifest", str(MANIFEST), *args)


def test_comparison_prefers_measured_cells_and_marks_every_source(phone: Path):
    res = _report(phone, "--view", "comparison")
    assert res.code == 0, res.err
    rows = _cells(res.out, "Comparison")
    assert rows[0] == ["Model", "Backbone", "mIoU (%)", "latency (ms)", "params (M)"]
    # Measured at 1 thread, high: 200.0 vs SeaFormer-Tiny's measured 400.0 -> -50.0%; mIoU and params are the
    # published ones (36.70 - 35.0 = +1.7; 1.44 / 1.61 - 1 = -10.6%).
    assert _row(rows, "PP-MobileSeg-Tiny") == ["PP-MobileSeg-Tiny", "MobileSegNet-T", "36.70 (+1.7) [1]",
                                               "200.0 (-50.0%) [3] (published 215.3 [2], -7.1%)", "1.44 (-10.6%) [1]"]
    assert _row(rows, "SeaFormer-Tiny")[3] == "400.0 [3] (published 459 [2], -12.9%)"
    # Not measured: the published latency, with the table's own delta (265.5 / 465.4 - 1 = -43.0%).
    assert _row(rows, "PP-MobileSeg-Base")[3] == "265.5 (-43.0%) [2]"
    assert "- [3] measured on Xiaomi MI 9 (SM8150, Android 11): paddlelite (benchmark_bin v2.14), 1 thread(s), " \
           "power mode high, median of" in res.out
    assert "- [2] published: PaddleSeg configs/pp_mobileseg/README.md, Compare with SOTA on Xiaomi MI 9" in res.out


def test_the_published_statistic_fills_the_column(phone: Path):
    """PP-MobileSeg's table is benchmark_bin's min: the measured min fills it, and the title and source say so."""
    from segbench.store import Store

    res = run_cli("report", "--reports", str(phone), "--manifest", str(PUBLISHED), "--view", "comparison")
    assert res.code == 0, res.err
    assert "## Comparison (latency: min of the timed runs, threads=1,power_mode=high)" in res.out
    tiny = next(m for m in Store(phone).run("phone-sweep").measurements()
                if m.model.name == "PP-MobileSeg-Tiny" and m.threads == 1 and m.power_mode == "high")
    cell = _row(_cells(res.out, "Comparison"), "PP-MobileSeg-Tiny")[3]
    fastest = min(tiny.samples_ms)
    assert cell.startswith(f"{fastest:.1f} (") and fastest < 199.0  # the min, not the median (200.0)
    assert "power mode high, min of" in res.out


def test_config_picks_the_latency_and_baseline_override_refuses_a_cross_source_delta(phone: Path):
    res = _report(phone, "--view", "comparison", "--config", "threads=2,power_mode=high")
    assert res.code == 0, res.err
    rows = _cells(res.out, "Comparison")
    # 200 / 1.6 = 125.0 against 400 / 1.25 = 320.0: 125 / 320 - 1 = -60.9%
    assert _row(rows, "PP-MobileSeg-Tiny")[3] == "125.0 (-60.9%) [3] (published 215.3 [2], -41.9%)"
    assert "2 thread(s), power mode high" in res.out
    # LR-ASPP is only published (another phone, another day): no latency delta, and a note saying why.
    res = _report(phone, "--view", "comparison", "--baseline", "PP-MobileSeg-Tiny=LR-ASPP")
    row = _row(_cells(res.out, "Comparison"), "PP-MobileSeg-Tiny")
    assert row[2] == "36.70 (+3.6) [1]" and row[3] == "200.0 [3] (published 215.3 [2], -7.1%)"  # 36.70 - 33.10 = +3.6 (both published)
    assert "PP-MobileSeg-Tiny latency (ms): no delta against LR-ASPP (measured vs published)" in res.out


def test_config_errors(phone: Path):
    assert_one_line_error(_report(phone, "--view", "comparison", "--config", "threads=3"), 2)
    assert_one_line_error(_report(phone, "--view", "comparison", "--config", "speed=fast"), 2)
    assert_one_line_error(_report(phone, "--view", "comparison", "--config", "threads"), 2)


def test_sweep_speedups_cv_and_ci(phone: Path):
    res = _report(phone, "--view", "sweep", "--format", "json")
    assert res.code == 0, res.err
    recs = json.loads(res.out)["sections"]["sweep"]["rows"]
    assert len(recs) == 12
    got = {(r["model"], r["power_mode"], r["threads"]): r for r in recs}
    # Medians: 200 / {1, 1.6, 2.5} (high), x3 on the little cores; speed-up = t1 median / tn median.
    assert got[("PP-MobileSeg-Tiny", "high", 4)]["median_ms"] == pytest.approx(80.0)
    assert got[("PP-MobileSeg-Tiny", "high", 4)]["speedup_vs_1_thread"] == pytest.approx(2.5)
    assert got[("SeaFormer-Tiny", "low", 2)]["median_ms"] == pytest.approx(960.0)
    assert got[("SeaFormer-Tiny", "low", 2)]["speedup_vs_1_thread"] == pytest.approx(1.25)
    for r in recs:
        assert 1.0 < r["cv_pct"] < 3.5  # ~2% log-normal spread
        assert r["ci_low_ms"] < r["median_ms"] < r["ci_high_ms"]
    md = _report(phone, "--view", "sweep").out
    assert any(r[:5] == ["SeaFormer-Tiny", "paddlelite", "high", "4", "200.0"] and r[6] == "2.00x"
               for r in _cells(md, "Sweep"))


def test_ops_breakdown_from_a_real_profiled_log(tmp_path: Path):
    log = FIXTURES / "logs" / "paddle_lite" / "docs_profiler_detailed_dispatch.log"
    assert run_cli("parse", str(log), "--store", "--reports", str(tmp_path)).code == 0
    res = _report(tmp_path, "--view", "ops")
    assert res.code == 0, res.err
    rows = _cells(res.out, "Per-operator breakdown")
    # conv2d 26.083 of 26.083 + 1.879 + 0.287 + 0.014 + 0.006 = 28.269 ms -> 92.3%
    assert rows[1][2:] == ["conv2d", "26.083", "92.3"]
    assert [r[2] for r in rows[1:]] == ["conv2d", "depthwise_conv2d", "fc", "pool2d", "softmax"]
    assert rows[2][4] == "6.6"  # 1.879 / 28.269


def test_footer_says_what_the_numbers_mean(phone: Path):
    out = _report(phone, "--view", "comparison").out
    footer = out.split("## What the numbers mean", 1)[1]
    assert "Xiaomi MI 9 (SM8150, Android 11); warmup 10, repeats 41" in footer
    assert "tools: benchmark_bin v2.14" in footer
    assert "on the phone: the vendor tool's own timing of each repeat" in footer
    assert "run `phone-sweep` (completed)" in footer
    assert "timed region: PP-MobileSeg-Tiny, SeaFormer-Tiny: not known" in footer
    assert "published latency (PaddleSeg configs/pp_mobileseg/README.md): Paddle Lite, final argmax included" in footer


def test_timed_region_follows_the_models_head(tmp_path: Path):
    from segbench.report.breakdown import timed_region

    text = timed_region(["A", "B", "C"], {"A": "argmax", "B": "logits"})
    assert text == ("A: upsampling and argmax inside the timed region (head argmax); B: upsampling inside, argmax "
                    "outside the timed region (head logits); C: not known (no head in the model's manifest entry)")


def test_every_format_renders_the_full_report(phone: Path, tmp_path: Path):
    for fmt in FORMATS:
        res = _report(phone, "--view", "all", "--format", fmt, "-o", str(tmp_path / f"r.{fmt}"))
        assert res.code == 0, (fmt, res.err)
    blocks = (tmp_path / "r.csv").read_text().split("\n\n")
    assert [b.splitlines()[0].split(":")[0] for b in blocks] == ["# comparison", "# sweep", "# ops", "# cases"]
    comp = list(csv.DictReader(io.StringIO(blocks[0].split("\n", 1)[1])))
    tiny = next(r for r in comp if r["model"] == "PP-MobileSeg-Tiny")
    assert float(tiny["latency_ms"]) == pytest.approx(200.0) and tiny["latency_ms_source"].startswith("measured on")
    assert float(tiny["latency_ms_delta"]) == pytest.approx(-50.0) and tiny["params_m_source"].startswith("published")
    doc = json.loads((tmp_path / "r.json").read_text())
    assert list(doc["sections"]) == ["comparison", "sweep", "ops", "cases"] and doc["runs"][0]["run_id"] == "phone-sweep"
    tex = (tmp_path / "r.latex").read_text()
    assert tex.count(r"\begin{tabular}") == 4 == tex.count(r"\end{tabular}")
    assert r"200.0 (-50.0\%)\textsuperscript{3}" in tex and "_" not in tex.replace(r"\_", "")


def _chromium_dom(page: Path, tmp_path: Path) -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.skip("chromium is not installed (Debian: apt-get install -y chromium; .ci/run installs it)")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'chromium-profile'}", "--virtual-time-budget=5000", "--dump-dom"]
    res = subprocess.run([exe, *flags, page.as_uri()], capture_output=True, text=True, timeout=120, check=False)
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout


# Appended to a copy of the report: after load, record each image's decoded width and sort the sweep by
# its median column (a click on the header, as a user would), so the dumped DOM shows both worked.
PROBE = """<script>window.addEventListener('load', function () {
  document.body.setAttribute('data-widths', Array.from(document.images).map(function (i) { return i.naturalWidth; }).join(','));
  document.querySelector('#sweep th:nth-child(5)').click();
  document.body.setAttribute('data-sorted', Array.from(document.querySelectorAll('#sweep tbody tr')).map(
    function (r) { return r.cells[4].textContent; }).join(','));
});</script></body>"""



def test_html_in_headless_chromium_has_tables_plots_and_sorts(phone: Path, tmp_path: Path):
    res = _report(phone, "--format", "html", "-o", str(tmp_path / "report.html"))  # html defaults to --view all
    assert res.code == 0, res.err
    html = (tmp_path / "report.html").read_text()
    assert "src=\"http" not in html and "href=\"http" not in html  # self-contained
    page = tmp_path / "probe.html"
    page.write_text(html.replace("</body>", PROBE))
    dom = _chromium_dom(page, tmp_path)
    assert re.findall(r'<table class="sortable" id="(\w+)"', dom) == ["comparison", "sweep", "ops", "cases"]
    assert re.findall(r'<img alt="(\w+)"', dom) == list(PLOTS)
    widths = [int(w) for w in re.search(r'data-widths="([\d,]+)"', dom).group(1).split(",")]
    assert len(widths) == 5 and all(w > 300 for w in widths)  # every PNG decoded
    medians = [float(x) for x in re.search(r'data-sorted="([\d.,]+)"', dom).group(1).split(",")]
    assert medians == sorted(medians) and medians[0] == 80.0  # 200 / 2.5, the fastest cell
    assert "<sup>3</sup>" in dom


def test_plots_written_as_png_and_svg(phone: Path, tmp_path: Path):
    res = _report(phone, "--view", "all", "--plot", str(tmp_path / "plots"))
    assert res.code == 0, res.err
    for stem in PLOTS:
        assert (tmp_path / "plots" / f"{stem}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert "<svg" in (tmp_path / "plots" / f"{stem}.svg").read_text()
    svg = (tmp_path / "plots" / "latency_vs_miou.svg").read_text()
    assert "Pareto front" in svg and "measured" in svg and "published" in svg


def test_published_tables_in_every_format(tmp_path: Path):
    for fmt in FORMATS:
        res = run_cli("report", "--published", "--manifest", str(MANIFEST), "--format", fmt,
                      "-o", str(tmp_path / f"p.{fmt}"))
        assert res.code == 0, (fmt, res.err)
    doc = json.loads((tmp_path / "p.json").read_text())["sections"]["published"]
    tiny = next(r for r in doc["rows"] if r["model"] == "PP-MobileSeg-Tiny")
    assert tiny["latency_ms"] == 215.3 and tiny["latency_ms_printed_delta"] == "-48.2%"
    assert any("prints -48.2%" in n for n in doc["notes"])
    assert "215.3 (-53.1%)" in (tmp_path / "p.html").read_text()
    assert '<img alt="latency_vs_miou"' in (tmp_path / "p.html").read_text()


def test_host_run_measured_params_and_gmacs_beside_published(tmp_path: Path):
    """A real host run of tiny_seg.onnx against a published table carrying GMACs for it."""
    from segbench.modelinfo import inspect_model

    reports = tmp_path / "reports"
    model = FIXTURES / "models" / "tiny_seg.onnx"
    res = run_cli("run", "--models", str(model), "--threads", "1,2", "--warmup", "1", "--repeats", "7",
                  "--reports", str(reports))
    assert res.code == 0, res.err
    manifest = tmp_path / "manifest.toml"
    manifest.write_text('[[published]]\ntable = "T"\nsource = "a paper"\nmodel = "tiny_seg"\nbackbone = "tiny"\n'
                        'miou = 12.5\ngmacs = 0.5\n')
    out = run_cli("report", "--reports", str(reports), "--manifest", str(manifest), "--table", "T",
                  "--view", "comparison", "--plot", str(tmp_path / "plots"))
    assert out.code == 0, out.err
    info = inspect_model(model)
    rows = _cells(out.out, "Comparison")
    assert rows[0] == ["Model", "Backbone", "GMACs", "mIoU (%)", "latency (ms)", "params (M)"]
    gmacs = f"{info.macs / 1e9:.4f}"  # tiny: shown to 4 decimals
    # Markers number sources in order of first use: [1] inspect, [2] the paper, [3] this host.
    assert rows[1][2] == f"{gmacs} [1] (published 0.5 [2], {100 * (float(gmacs) / 0.5 - 1):+.1f}%)" and rows[1][3] == "12.50 [2]"
    assert rows[1][5] == f"{info.params / 1e6:.4f} [1]" and rows[1][4].endswith(" [3]")
    assert "[1] measured: `segbench inspect` of the timed model file" in out.out
    for fmt in FORMATS:
        assert run_cli("report", "--reports", str(reports), "--view", "all", "--format", fmt,
                       "-o", str(tmp_path / f"h.{fmt}")).code == 0


@pytest.mark.slow
def test_report_of_a_real_emulated_phone_run_in_every_format(tmp_path: Path):
    """`segbench run --device` on the emulated MI 9 (real adb server, vendor-tool stand-ins), then every format."""
    from test_run_device import ADB_PORTS, MODELS, PHONE_PORTS

    from conftest import make_device_assets, start_adb_server, stop_adb_server
    from segbench.emulator import EmulatedPhone
    from segbench.emulator.phone import free_port

    assets = make_device_assets(tmp_path / "assets")
    port = start_adb_server(ADB_PORTS)
    reports = tmp_path / "reports"
    try:
        with EmulatedPhone(port=free_port(PHONE_PORTS), adb_port=port) as phone:
            res = run_cli("run", "--device", phone.serial, "--assets", str(assets), "--reports", str(reports),
                          "--models", str(MODELS), "--threads", "1,2", "--power-mode", "high,low", "--warmup", "1",
                          "--repeats", "3", env={"ANDROID_ADB_SERVER_PORT": str(port)}, timeout=600)
    finally:
        stop_adb_server(port)
    assert res.code == 0, res.err
    for fmt in FORMATS:
        out = run_cli("report", "--reports", str(reports), "--view", "all", "--format", fmt,
                      "-o", str(tmp_path / f"e.{fmt}"))
        assert out.code == 0, (fmt, out.err)
    md = (tmp_path / "e.markdown").read_text()
    comparison = _cells(md, "Comparison")
    measured = [r for r in comparison if r[0] in ("tiny_seg", "selfie_segmentation")]
    assert len(measured) == 2
    for row in measured:  # the latency cell is the phone's median at 1 thread, high, with its source marker
        marker = re.fullmatch(r"\d+\.\d+ \[(\d+)\]", row[3]).group(1)
        legend = next(line for line in md.splitlines() if line.startswith(f"- [{marker}] "))
        assert "measured on Xiaomi MI 9" in legend and "1 thread(s), power mode high" in legend
    sweep = _cells(md, "Sweep")
    assert len(sweep) == 1 + 8 and {r[3] for r in sweep[1:]} == {"1", "2"}
    dom = _chromium_dom(tmp_path / "e.html", tmp_path)
    assert len(re.findall(r'<table class="sortable"', dom)) == 3  # comparison, sweep, cases (no profile)
    assert "thread_scaling" in dom and "power_modes" in dom


def test_measured_rows_the_statistic_cannot_fill_are_named_not_dropped(tmp_path: Path):
    """A tool that gives no min (a summary-only record with an avg) under a min table: said, never 'no measured runs'."""
    from segbench.model import Latency, Measurement, ModelRef, RunInfo
    from segbench.store import Store
    from tests.report_runs import PHONE

    info = RunInfo(run_id="avg-only", started="2026-11-30T00:00:00+00:00", harness_version="t", device=PHONE,
                   settings={}, status="completed")
    m = Measurement(run_id="avg-only", case_id="t", model=ModelRef("PP-MobileSeg-Tiny", "/m/t.nb", "paddle-nb", "a" * 64),
                    runtime="paddlelite", status="ok", threads=1, power_mode="high", device_id=PHONE.id,
                    tool="some_tool", count=50, latency_ms=Latency(avg=210.0))
    Store(tmp_path).import_run(info, [m])
    res = run_cli("report", "--reports", str(tmp_path), "--manifest", str(PUBLISHED), "--view", "comparison")
    assert res.code == 0, res.err
    assert "no measured runs" not in res.out
    assert "## Comparison (latency: min of the timed runs, which no measured case gives)" in res.out
    assert "PP-MobileSeg-Tiny (threads=1,power_mode=high,runtime=paddlelite,device=R58M12ABCDE): measured, but " \
           "some_tool gives no min of the timed runs" in res.out


def test_sweep_plots_take_rows_without_a_thread_count(tmp_path: Path):
    """A parsed vendor log that does not say its thread count gives sweep rows with threads None: the power-mode
    bars still show it (from those rows), beside a model whose rows do know theirs, and nothing raises."""
    from segbench.report.plots import plot_sweep

    rows = [{"model": "logged", "runtime": "paddlelite", "power_mode": m, "threads": None, "median_ms": ms,
             "speedup_vs_1_thread": None} for m, ms in (("high", 90.0), ("low", 140.0))]
    rows += [{"model": "run", "runtime": "tflite", "power_mode": m, "threads": t, "median_ms": 10.0 * t,
              "speedup_vs_1_thread": 1.0 if t == 1 else 1.6} for m in ("high", "low") for t in (1, 2)]
    written = plot_sweep(rows, tmp_path)
    assert {p.name for p in written} >= {"power_modes.png", "power_modes.svg", "thread_scaling.png"}
    svg = (tmp_path / "power_modes.svg").read_text()
    assert "logged paddlelite" in svg and "run tflite" in svg


def test_rows_without_a_power_mode_or_threads_in_every_format(tmp_path: Path):
    """A record that does not say its power mode or thread count (a parsed vendor log) beside a sweep: the json is
    strict json (no NaN where the sweep's power mode was missing), the table shows an empty cell, not "nan", and
    the html with its plots is written."""
    from report_runs import PHONE, samples

    from segbench.model import Measurement, ModelRef, RunInfo
    from segbench.store import Store

    phone = tmp_path / "reports"
    phone_run(phone)  # a store of its own: the module's is shared
    info = RunInfo(run_id="parsed", started="2026-12-01T00:00:00+00:00", harness_version="t", device=PHONE,
                   settings={"source": "parse"}, versions={"segbench": "0.1"}, status="completed")
    model = ModelRef("logged", "/m/logged.nb", "paddle-nb", "c" * 64)
    Store(phone).import_run(info, [Measurement(
        run_id="parsed", case_id=f"logged{i}", model=model, runtime="paddlelite", status="ok", threads=threads,
        power_mode=None, device_id=PHONE.id, tool="benchmark_bin", tool_version="2.13",
        samples_ms=samples(ms, 40 + i)) for i, (threads, ms) in enumerate(((1, 90.0), (2, 60.0)))])

    def no_nan(text: str) -> None:
        raise AssertionError(f"{text} in the json")

    res = _report(phone, "--all", "--view", "all", "--format", "json")
    assert res.code == 0, res.err
    sweep = json.loads(res.out, parse_constant=no_nan)["sections"]["sweep"]["rows"]
    assert [r["power_mode"] for r in sweep if r["model"] == "logged"] == [None, None]
    res = _report(phone, "--all", "--view", "sweep")
    assert res.code == 0, res.err
    logged = [r for r in _cells(res.out, "Sweep: threads x power mode") if r[0] == "logged"]
    assert [r[2] for r in logged] == ["", ""] and "nan" not in res.out
    res = _report(phone, "--all", "--format", "html")
    assert res.code == 0 and "Traceback" not in res.err, res.err
