"""The device backend's parts that need no phone: cooldown settings, throttling, error lines, vendor tool
assets, and what it does when the phone is gone for good."""

import threading
from pathlib import Path

import pytest

from conftest import FIXTURES
from segbench.assets import Tool, find_tool, read_manifest
from segbench.devices import Completed
from segbench.errors import DeviceGone, SegbenchError, UsageError
from segbench.ondevice import (
    Cooldown,
    DeviceBackend,
    Frame,
    Framed,
    PushStats,
    _throttled,
    cpu_zones,
    parse_cooldown,
)

MODELS = FIXTURES / "models"


@pytest.mark.parametrize(("text", "expected"), [
    ("none", Cooldown()), ("30s", Cooldown("pause", 30.0)), ("2.5s", Cooldown("pause", 2.5)),
    ("45C", Cooldown("below", 45.0)), ("45c", Cooldown("below", 45.0)),
])
def test_cooldown_forms(text, expected):
    assert parse_cooldown(text) == expected


@pytest.mark.parametrize("text", ["hot", "45", "-3s", "5C", "500C", "30 minutes"])
def test_bad_cooldowns_are_usage_errors(text):
    with pytest.raises(UsageError):
        parse_cooldown(text)


def test_cpu_zones_prefer_cpu_sensors():
    temps = {"cpu-0-0-usr": 41.0, "cpu-1-2-usr": 47.5, "battery": 30.0, "quiet_therm": 35.0}
    assert cpu_zones(temps) == {"cpu-0-0-usr": 41.0, "cpu-1-2-usr": 47.5}
    assert cpu_zones({"battery": 30.0}) == {"battery": 30.0}


def test_throttled_looks_only_at_bound_cpus():
    before = {"cpu0": 1785600, "cpu4": 2419200, "cpu7": 2841600}
    after = {"cpu0": 300000, "cpu4": 2419200, "cpu7": 1996800}
    assert _throttled(before, after, [4, 5, 6, 7]) is True
    assert _throttled(before, after, [4, 5, 6]) is False
    assert _throttled(before, {**after, "cpu7": 2600000}, [7]) is False  # within 10%
    assert _throttled({}, after, [7]) is None


def test_push_stats_summary():
    s = PushStats()
    s.add(True, 2_000_000)
    s.add(False, 500_000)
    s.add(False, 500_000)
    assert s.describe() == "pushed 1 file(s), 2.0 MB; 2 file(s), 1.0 MB already on the device"


def _assets(tmp_path: Path, sha: str = "") -> Path:
    (tmp_path / "manifest.toml").write_text(
        '[[tool]]\nruntime = "onnxruntime"\nbinary = "onnxruntime_perf_test"\nversion = "1.23.2"\nabi = "arm64-v8a"\n'
        'libs = ["libonnxruntime.so"]\nget = """build with ./build.sh --android\nthen copy it"""\n'
        f'source = "https://example.org/ort"\nsha256 = "{sha}"\n'
    )
    return tmp_path


def test_tool_found_with_its_libraries(tmp_path):
    assets = _assets(tmp_path)
    (assets / "arm64-v8a").mkdir()
    (assets / "arm64-v8a" / "onnxruntime_perf_test").write_bytes(b"\x7fELF tool")
    (assets / "arm64-v8a" / "libonnxruntime.so").write_bytes(b"\x7fELF lib")
    tool = find_tool(assets, "arm64-v8a", "onnxruntime")
    assert tool.binary.name == "onnxruntime_perf_test" and [f.name for f in tool.files] == [
        "onnxruntime_perf_test", "libonnxruntime.so"]
    assert tool.version == "1.23.2" and len(tool.sha256) == 64
    assert read_manifest(assets)[("onnxruntime", "arm64-v8a", "")].libs == ("libonnxruntime.so",)


def test_missing_tool_says_where_to_put_it_and_get_it(tmp_path):
    assets = _assets(tmp_path)
    with pytest.raises(SegbenchError) as err:
        find_tool(assets, "arm64-v8a", "onnxruntime")
    text = str(err.value)
    assert "arm64-v8a/onnxruntime_perf_test" in text and "build with ./build.sh --android" in text
    assert "https://example.org/ort" in text and "then copy it" not in text
    with pytest.raises(SegbenchError, match="no tflite tool for arm64-v8a"):
        find_tool(assets, "arm64-v8a", "tflite")
    with pytest.raises(SegbenchError, match="no onnxruntime tool for armeabi-v7a"):
        find_tool(assets, "armeabi-v7a", "onnxruntime")
    (assets / "arm64-v8a").mkdir()
    (assets / "arm64-v8a" / "onnxruntime_perf_test").write_bytes(b"tool")
    with pytest.raises(SegbenchError, match="needs libonnxruntime.so"):
        find_tool(assets, "arm64-v8a", "onnxruntime")


def test_a_binary_other_than_the_vetted_one_is_refused(tmp_path):
    assets = _assets(tmp_path, sha="ab" * 32)
    (assets / "arm64-v8a").mkdir()
    for name in ("onnxruntime_perf_test", "libonnxruntime.so"):
        (assets / "arm64-v8a" / name).write_bytes(b"x")
    with pytest.raises(SegbenchError, match="not the binary the manifest vetted"):
        find_tool(assets, "arm64-v8a", "onnxruntime")


def test_the_shipped_manifest_describes_all_three_tools_and_the_litert_one():
    from conftest import ROOT

    specs = read_manifest(ROOT / "device_assets")
    assert set(specs) == {("paddlelite", "arm64-v8a", ""), ("tflite", "arm64-v8a", ""),
                          ("onnxruntime", "arm64-v8a", ""), ("tflite", "arm64-v8a", "litert")}
    assert specs[("onnxruntime", "arm64-v8a", "")].libs == ("libonnxruntime.so",)
    litert = specs[("tflite", "arm64-v8a", "litert")]
    assert litert.relpath == "litert/benchmark_model"
    assert litert.download_url() == (f"https://storage.googleapis.com/litert/binaries/{litert.version}"
                                     "/android_arm64/benchmark_model")
    assert all(s.source for s in specs.values())


def test_manifest_errors(tmp_path):
    with pytest.raises(UsageError):
        read_manifest(tmp_path)
    (tmp_path / "manifest.toml").write_text("[[tool]\n")
    with pytest.raises(SegbenchError, match="cannot read"):
        read_manifest(tmp_path)
    (tmp_path / "manifest.toml").write_text('[[tool]]\nruntime = "tflite"\n')
    with pytest.raises(SegbenchError, match=r"manifest.toml: \[\[tool\]\] 1: binary must be a non-empty string, not missing"):
        read_manifest(tmp_path)


class _GonePhone:
    """A phone that was unplugged for good: every command loses its connection."""

    serial = "gone:5555"

    def __init__(self) -> None:
        self.commands: list[str] = []

    def shell(self, command: str, timeout: float = 30.0) -> Completed:
        self.commands.append(command)
        return Completed(None, b"", b"connection reset", disconnected=True)

    def push(self, local: str, remote: str, digest: str | None = None, mode: int | None = None) -> bool:
        raise DeviceGone(f"push of {local} to {self.serial}:{remote} broke off: connection reset")

    def thermal_c(self) -> dict[str, float]:
        return {}

    def cur_khz(self) -> dict[str, int]:
        return {}


def test_a_phone_that_never_comes_back_is_waited_for_once_then_cases_fail_fast(tmp_path):
    from segbench.model import Case, DeviceInfo, ModelRef

    waits: list[float] = []
    tool = Tool("onnxruntime", tmp_path / "onnxruntime_perf_test", (tmp_path / "onnxruntime_perf_test",), "1.0", "")
    backend = DeviceBackend(
        phone=_GonePhone(), device=DeviceInfo(id="gone:5555", kind="android", cpu_max_khz={0: 1000, 1: 2000}),
        tools={"onnxruntime": tool}, workdir=tmp_path, reconnect=lambda s: waits.append(s) or False,
        reconnect_wait_s=90.0)
    model = ModelRef("tiny_seg", str(MODELS / "tiny_seg.onnx"), "onnx", "ab" * 32)
    first, _ = backend.measure(Case(model, "onnxruntime", 1, "high", 1, 3), "run")
    second, log = backend.measure(Case(model, "onnxruntime", 2, "high", 1, 3), "run")
    assert first.status == second.status == "failed"
    assert "did not come back" in first.error and "did not come back" in second.error
    assert b"broke off" in log
    assert waits == [90.0, 5.0]  # one long wait for the first loss, then a glance per case


class _RecordingPhone(_GonePhone):
    """A phone that takes every push (and remembers where each file went)."""

    def __init__(self) -> None:
        super().__init__()
        self.pushed: list[tuple[str, str]] = []

    def push(self, local: str, remote: str, digest: str | None = None, mode: int | None = None) -> bool:
        self.pushed.append((local, remote))
        return True


def test_one_program_with_two_sets_of_weights_gets_two_directories_on_the_phone(tmp_path):
    # PaddleSeg exports every model as model.pdmodel + model.pdiparams: same program bytes, other weights.
    from segbench.model import DeviceInfo, ModelRef

    refs = []
    for name, weights in (("ade", b"\1" * 64), ("city", b"\2" * 64)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "model.pdmodel").write_bytes(b"same program")
        (tmp_path / name / "model.pdiparams").write_bytes(weights)
        refs.append(ModelRef(name, str(tmp_path / name / "model.pdmodel"), "paddle", "cd" * 32,
                             (str(tmp_path / name / "model.pdiparams"),)))
    phone = _RecordingPhone()
    backend = DeviceBackend(phone=phone, device=DeviceInfo(id="p", kind="android", cpu_max_khz={0: 1000}),
                            tools={}, workdir=tmp_path)
    dirs = [backend.push_model(ref)[0] for ref in refs]
    assert dirs[0] != dirs[1]
    assert backend.push_model(refs[0])[0] == dirs[0]  # content-keyed: the same files, the same place
    assert {remote.rsplit("/", 1)[0] for _, remote in phone.pushed} == set(dirs)


class _ReadingPhone(_RecordingPhone):
    """A phone whose reading rides in the tool's command (facts_command): each reading it prints is the next number,
    read back as the temperature of a zone "cpu"; its tool prints a log line and exits 0."""

    facts_command = "READ"

    def __init__(self) -> None:
        super().__init__()
        self.readings = 0

    def _reading(self, mark: str, where: str) -> bytes:
        self.readings += 1
        return f"{self.readings}\n{mark} {where}\n".encode()

    def shell(self, command: str, timeout: float = 30.0) -> Completed:
        import re

        self.commands.append(command)
        mark = re.search(r"##segbench-[0-9a-f]{16}", command).group(0)
        out = self._reading(mark, "start") if f"READ; echo '{mark} start'" in command else b""
        out += f"a log line\n{mark} tool 0\n".encode()
        if f"READ; echo '{mark} after'" in command:
            out += self._reading(mark, "after")
        return Completed(0, out, b"")

    @staticmethod
    def read_facts(text: str):
        from segbench.devices import Facts

        return Facts({"cpu": float(text)}, {}, {})


@pytest.mark.parametrize(("shared_s", "temps"), [
    (3600.0, [(1, 2), (2, 3), (3, 4)]),  # one reading per boundary: a case's end is the next one's start
    (-1.0, [(1, 2), (3, 4), (5, 6)]),  # as if each case started long after the last ended: a reading of its own
])
def test_a_case_boundary_is_one_reading_unless_time_passed_since(tmp_path, monkeypatch, shared_s, temps):
    from segbench import ondevice
    from segbench.model import Case, DeviceInfo, ModelRef

    monkeypatch.setattr(ondevice, "FACTS_SHARED_S", shared_s)
    (tmp_path / "benchmark_model").write_bytes(b"tool")
    tool = Tool("tflite", tmp_path / "benchmark_model", (tmp_path / "benchmark_model",), "1.0", "")
    phone = _ReadingPhone()
    backend = DeviceBackend(phone=phone, device=DeviceInfo(id="p", kind="android", cpu_max_khz={0: 1000, 1: 2000}),
                            tools={"tflite": tool}, workdir=tmp_path)
    model = ModelRef("selfie", str(MODELS / "selfie_segmentation.tflite"), "tflite", "ab" * 32)
    seen = [backend.measure(Case(model, "tflite", t, "high", 1, 3), "run")[0] for t in (1, 2, 4)]
    assert [(m.temps_before_c["cpu"], m.temps_after_c["cpu"]) for m in seen] == temps
    assert len(phone.commands) == 3  # the readings rode in the tools' commands either way


class _BashPhone(_RecordingPhone):
    """A phone whose shell is this machine's bash in a directory of its own (device paths under /d map into it), for
    the framed tool command: its tool writes the result file ``data`` (None: none) and prints a log line."""

    def __init__(self, root: Path, data: bytes | None, rc: int = 0) -> None:
        super().__init__()
        self.root, self.data, self.rc = root, data, rc
        (root / "d").mkdir(parents=True, exist_ok=True)
        (root / "data/local/tmp/segbench").mkdir(parents=True, exist_ok=True)

    def shell(self, command: str, timeout: float = 30.0) -> Completed:
        import subprocess

        self.commands.append(command)
        text = command.replace("/d/", f"{self.root}/d/").replace("/data/", f"{self.root}/data/")
        done = subprocess.run(["bash", "-c", text], capture_output=True, timeout=timeout, check=False)
        return Completed(done.returncode, done.stdout.replace(str(self.root).encode(), b""), done.stderr)

    def tool(self, remote: str) -> list[str]:
        """argv of a tool that prints a line without a newline at its end and writes ``remote``."""
        source = self.root / "result.src"  # outside /d/ and /data/: not mapped
        if self.data is not None:
            source.write_bytes(self.data)
        write = f"cp {source} {remote}; " if self.data is not None else ""  # mapped by shell() as any path
        return ["bash", "-c", f"{write}printf 'log line'; exit {self.rc}"]


def _framed_file(tmp_path: Path, data: bytes | None, remote: str = "/d/perf_x.txt") -> tuple[bytes | None, bytes]:
    from segbench.model import DeviceInfo

    phone = _BashPhone(tmp_path / "phone", data)
    backend = DeviceBackend(phone=phone, device=DeviceInfo(id="p", kind="android", cpu_max_khz={0: 1000}),
                            tools={}, workdir=tmp_path)
    (tmp_path / "phone" / remote.lstrip("/")).write_bytes(b"stale, from an earlier run")
    done, framed = backend.run_framed(phone.tool(remote), None, remote, read_back=True)
    assert done.returncode == 0 and done.stdout == b"log line"  # the tool's own bytes, not the frame's
    assert not (tmp_path / "phone" / remote.lstrip("/")).exists()  # read once, then removed
    return framed.file, done.stdout


def test_the_result_file_comes_back_in_the_tools_own_command_and_a_stale_one_never(tmp_path):
    rows = b"m,0.001,5,1,0\nm,0.002,5,1,1\n"
    assert _framed_file(tmp_path / "a", rows)[0] == rows
    assert _framed_file(tmp_path / "b", None)[0] is None  # the stale file was removed before the tool ran


def test_per_run_times_from_the_result_file_fill_what_the_summary_lacks(tmp_path):
    from segbench.model import DeviceInfo, Latency, Measurement, ModelRef
    from segbench.runners.onnxruntime_perf_test import read_result_file

    m = Measurement(run_id="r", case_id="c", model=ModelRef("m", "/m.onnx", "onnx"), runtime="onnxruntime",
                    status="ok", count=3, latency_ms=Latency(avg=2.0, min=1.0, max=3.0, median=2.0))
    backend = DeviceBackend(phone=_RecordingPhone(), device=DeviceInfo(id="p", kind="android", cpu_max_khz={0: 1000}),
                            tools={}, workdir=tmp_path)
    rows = b"m,0.001,5,1,0\nm,0.002,5,1,1\nm,0.003,5,1,2\n\nMin Latency is 0.001 sec\n"
    got = backend._with_samples(m, "/d/perf_x.txt", read_result_file, rows)
    assert got.samples_ms == (1.0, 2.0, 3.0) and got.latency_ms.std == pytest.approx(1.0)  # std from the samples
    assert got.latency_ms.avg == 2.0 and got.latency_ms.median == 2.0  # the tool's own figures stay
    short = backend._with_samples(m, "/d/p.txt", read_result_file, b"m,0.001,5,1,0\n")
    assert short.samples_ms is None and "holds 1 run(s) for 3" in short.extra["samples"]
    gone = backend._with_samples(m, "/d/p.txt", read_result_file, None)
    assert gone.samples_ms is None and "could not be read" in gone.extra["samples"]


def test_litert_result_message_fills_median_p5_p95_and_a_bad_file_is_only_a_warning(tmp_path):
    from segbench.model import DeviceInfo, Latency, Measurement, ModelRef
    from segbench.runners.benchmark_model import read_result_proto, write_result_proto

    m = Measurement(run_id="r", case_id="c", model=ModelRef("m", "/m.tflite", "tflite"), runtime="tflite",
                    status="ok", count=3, latency_ms=Latency(avg=2.0, min=1.0, max=3.0, std=0.8))
    backend = DeviceBackend(phone=_RecordingPhone(), device=DeviceInfo(id="p", kind="android", cpu_max_khz={0: 1000}),
                            tools={}, workdir=tmp_path)
    data = write_result_proto({"avg_ms": 9.0, "median_ms": 2.25, "p5_ms": 1.5, "p95_ms": 2.75, "num_runs": 3})
    # A binary message survives the trip through the tool's command byte for byte.
    back, _ = _framed_file(tmp_path / "phone_pb", data, "/d/perf_x.pb")
    assert back == data
    got = backend._with_result_proto(m, "/d/perf_x.pb", read_result_proto, back)
    assert (got.latency_ms.median, got.latency_ms.p95, got.extra["p5_ms"]) == (2.25, 2.75, 1.5)
    assert got.latency_ms.avg == 2.0 and got.latency_ms.std == 0.8  # the log's figures stay
    assert got.extra["result_file"] == "read: median_ms, p5_ms, p95_ms" and got.status == "ok"
    logged = Measurement(**{**m.__dict__, "latency_ms": Latency(avg=2.0, median=2.0), "extra": {"p5_ms": 1.0}})
    kept = backend._with_result_proto(logged, "/d/p.pb", read_result_proto, data)
    assert (kept.latency_ms.median, kept.latency_ms.p95, kept.extra["p5_ms"]) == (2.0, 2.75, 1.0)
    for bad, says in ((None, "no such file"), (b"\x0a\xff", "not a LiteRT benchmark result file"),
                      (b"", "holds no figures")):
        warned = backend._with_result_proto(m, "/d/p.pb", read_result_proto, bad)
        assert warned.status == "ok" and warned.latency_ms == m.latency_ms
        assert warned.extra["result_file"].startswith("warning: /d/p.pb could not be read") and says in \
            warned.extra["result_file"]


def test_the_tools_exit_status_and_a_cut_frame_are_kept(tmp_path):
    from segbench.model import DeviceInfo

    phone = _BashPhone(tmp_path / "phone", None, rc=3)
    backend = DeviceBackend(phone=phone, device=DeviceInfo(id="p", kind="android"), tools={}, workdir=tmp_path)
    done, _ = backend.run_framed(phone.tool("/d/x"), None, "/d/x", read_back=True)
    assert done.returncode == 3 and done.stdout == b"log line"
    # The link went while the tool ran: no marker, no exit status; what came is the tool's, and nothing else is read.
    frame = Frame("ab" * 8, "/d/x", None, "grep")
    cut, framed = frame.split(Completed(None, b"half a log", b"", disconnected=True))
    assert cut.stdout == b"half a log" and cut.disconnected and framed == Framed()


class _SlowToStartPhone:
    """A tool that hangs; the first kill comes before the tool wrote its pid (and misses), a later one hits."""

    serial = "slow:5555"

    def __init__(self) -> None:
        self.commands: list[str] = []
        self.started, self.killed = threading.Event(), threading.Event()

    def shell(self, command: str, timeout: float = 30.0) -> Completed:
        self.commands.append(command)
        if " & echo $! > " in command:  # the tool, started in the background of its command
            self.started.set()
            self.killed.wait(20)
            return Completed(137, b"", b"Killed")
        if command.startswith("kill -9") and sum(c.startswith("kill -9") for c in self.commands) >= 2:
            self.killed.set()
        return Completed(0, b"", b"")


def test_close_kills_a_phone_workers_tool_until_it_stops_and_no_tool_starts_after_it():
    from segbench.model import DeviceInfo

    phone = _SlowToStartPhone()
    backend = DeviceBackend(phone=phone, device=DeviceInfo(id=phone.serial, kind="android"), tools={})
    outcome: list[object] = []

    def work() -> None:
        try:
            outcome.append(backend.run_tool(["tool"], False))
        except KeyboardInterrupt as exc:  # what execute() takes as "interrupted": the case is not recorded
            outcome.append(exc)

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    assert phone.started.wait(20)
    backend.close()  # Ctrl-C in the main thread while a phone's worker runs its tool
    worker.join(20)
    assert not worker.is_alive() and phone.killed.is_set()
    assert len(outcome) == 1 and isinstance(outcome[0], KeyboardInterrupt)  # not a failed case (exit 137)
    with pytest.raises(KeyboardInterrupt):  # a case prepared meanwhile does not start its tool
        backend.run_tool(["tool"], False)
    assert sum(" & echo $! > " in c for c in phone.commands) == 1
