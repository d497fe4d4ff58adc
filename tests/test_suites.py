"""The shipped suites: PP-MobileSeg's Compare-with-SOTA protocol and the nightly sweep."""

from __future__ import annotations

from conftest import ROOT, assert_one_line_error, run_cli
from segbench.compat import tomllib
from segbench.model import ModelRef
from segbench.sweep import SweepSettings, plan, read_suite
from segbench.zoo import registry

SOTA = ROOT / "bench" / "sota_ade20k.toml"
NIGHTLY = ROOT / "bench" / "nightly.toml"


def _settings(path) -> SweepSettings:
    given = read_suite(path.read_text(), str(path))
    return SweepSettings.from_dict(given)


def _comparison() -> list[str]:
    manifest = tomllib.loads((ROOT / "models_dir" / "manifest.toml").read_text())
    return [p["model"] for p in manifest["published"] if p["table"] == "Compare with SOTA"]


def test_sota_suite_is_the_published_comparison_under_its_protocol():
    s = _settings(SOTA)
    assert (s.threads, s.power_modes, s.warmup, s.repeats) == ((1,), ("high",), 20, 50)
    assert sorted(s.include) == sorted(_comparison())  # every row of the table, baselines included
    # The names are the zoo's titles (what `segbench zoo export` names the models in the manifest).
    titles = {m.title for m in registry.MODELS}
    assert set(s.include) <= titles and {"SeaFormer-Tiny", "SeaFormer-Base"} <= set(s.include)
    models = [ModelRef(t, f"/m/{t}.onnx", "onnx") for t in sorted(titles)]
    cases = plan(models, s)
    assert len(cases) == 7 and all((c.threads, c.power_mode, c.warmup, c.repeats) == (1, "high", 20, 50)
                                   for c in cases)
    assert "TopFormer-Tiny" not in {c.model.name for c in cases}  # in the zoo, not in this table


def test_nightly_suite_sweeps_threads_and_power_modes():
    s = _settings(NIGHTLY)
    assert (s.threads, s.power_modes, s.reconnect_wait, s.set_aside_after) == ((1, 4), ("high", "low"), 120, 3)
    models = [ModelRef(t, f"/m/{t}.onnx", "onnx") for t in _comparison()]
    models += [ModelRef("DeepLabv3-MobileNetV2 (MLPerf)", "/m/d.tflite", "tflite"),
               ModelRef("DeepLabv3-MobileNetV2 (MLPerf) int8", "/m/d_int8.tflite", "tflite"),
               ModelRef("PP-MobileSeg-Tiny [argmax] (nb)", "/m/p.nb", "paddle-nb")]
    cases = plan(models, s)
    assert len(cases) == 10 * 2 * 2 * s.launches and s.launches >= 5  # ONNX, TFLite and Paddle Lite; launches
    assert [c.launch for c in cases[:40]] == [1] * 40  # interleaved: launch 1 of every case first
    assert {c.runtime for c in cases} == {"onnxruntime", "tflite", "paddlelite"}


def test_a_suite_whose_models_are_absent_says_so(tmp_path):
    r = run_cli("run", "--suite", str(SOTA), "--models", str(ROOT / "tests" / "fixtures" / "models"),
                "--reports", str(tmp_path))
    assert_one_line_error(r, 2)
    assert "no models matching the suite's include/exclude in" in r.err


def test_bad_farm_settings_in_a_suite_are_usage_errors(tmp_path):
    models = ROOT / "tests" / "fixtures" / "models"
    for line, message in (("set_aside_after = 0", "set_aside_after must be a whole number >= 1, not 0"),
                          ('reconnect_wait = "soon"', "reconnect_wait must be a number of seconds >= 0, not 'soon'")):
        suite = tmp_path / "suite.toml"
        suite.write_text(f'[suite]\nmodels = "{models}"\n{line}\n')
        r = run_cli("run", "--suite", str(suite), "--device", "all", "--reports", str(tmp_path))
        assert_one_line_error(r, 2)
        assert message in r.err
