"""Every console example of README.md and docs/*.md, run as written (issue 24), so the docs stay true.

Each ```console block's `$ ...` lines are run in order through bash, one document per working directory: a fresh
copy of what a clone holds (the manifests, bench/, tests/fixtures/models) plus the few input files the examples name
(INPUTS), never the repository itself. The README comes first and its tour runs top to bottom in one directory, as
a newcomer would after its set-up commands. What is checked is the output's shape, not its numbers:

- the exit code: 0, or the one the docs give (`# exit N` on the command or its output, an `echo $?` line after it);
- the first line the docs show after the command: its leading words (`run`, `wrote`, `mIoU`, ...) are in a line of
  stdout or stderr (leading numbers aside; a line of no words, such as a serial, by its first token);
- every table header the docs show (a `|` row followed by `|---`) is a header of the output, cell for cell;
- every `segbench: error:` line shown starts the same way in the output.

`segbench emulator` runs until stopped, so it is started in the background (as the docs' `&` says) and its serial
line awaited; every emulator a document started is stopped after its last example. `ANDROID_ADB_SERVER_PORT` points
at an adb server of this test's own, so the docs' default server is a private one. The ports the docs name (an
emulator's 16020, a second adb server's 15043) become free ports of this run's own, in commands and in the output
they show (Session.ports), so two runs of the suite can share a machine. Placeholders a reader fills in (RUN, BASE_RUN,
CANDIDATE_RUN) become the newest runs of the working directory (see Session.substitute). Lines that are not segbench (ls, adb, python
bench/...) and examples that cannot run here are listed below with the reason, and reported as skipped."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import ASTRONAUT, FIXTURES, LOGS, ROOT, start_adb_server, stop_adb_server

pytestmark = pytest.mark.slow

ADB_PORTS = range(36037, 36100)
# Where the ports the docs name are moved to; even ports (adb probes odd 5555-5585 for emulators), tried in a
# random order so two suites on one machine are unlikely to reach for the same one at once.
DOC_PORTS = range(40000, 48000, 2)
_PORT_IN_DOCS = re.compile(r"(?<=127\.0\.0\.1:)\d{4,5}\b|(?<=--port )\d{4,5}\b|(?<=--adb-port )\d{4,5}\b"
                           r"|(?<=ANDROID_ADB_SERVER_PORT=)\d{4,5}\b")
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

# (document, start of the command) -> why it cannot run in this test. Keep it short: fix an example rather than
# adding it here.
SKIP = {
    ("README.md", "segbench run --device 127.0.0.1:16020 --models models_dir"):
        "the seed flow needs PP-MobileSeg's PaddleSeg exports in models_dir and the paddle extra (Python 3.10); "
        "tests/test_seed_flow.py runs these three commands on 128x128 exports",
    ("README.md", "segbench report --format markdown\n"):
        "the seed flow's report of the run above (tests/test_seed_flow.py)",
    ("README.md", "segbench assets fetch"): "downloads LiteRT's benchmark_model from a URL (tests/test_assets_fetch.py "
                                            "serves it locally)",
    ("README.md", "segbench zoo export --all --format paddle,nb"):
        "PaddleSeg's classes and Paddle Lite's opt need Python 3.10 with the paddle extra (tests/test_zoo_paddle.py)",
    ("docs/device.md", "segbench run --device auto --models models --threads 1,4"):
        "times a Paddle model with benchmark_bin: the paddle extra (Python 3.10); tests/test_paddle_lite.py",
    ("docs/eval.md", "segbench eval --model models/onehot32.tflite"):
        "the ADE20K-32 one-hot model and dataset and the phone are the ones tests/test_eval_device.py builds",
    ("docs/farm.md", "segbench run --suite bench/sota_ade20k.toml --device all"):
        "the comparison's 7 zoo models under its protocol (20 + 50 runs each): tens of minutes on an emulated "
        "phone; the README's farm example runs a farm of three",
    ("docs/farm.md", "segbench zoo export --all"): "16 zoo exports, minutes (bench/zoo_export_all.sh times them)",
    ("docs/farm.md", "segbench zoo export mlperf_deeplabv3_mnv2 --format tflite"):
        "the nightly suite's TFLite files at their published 512x512 through litert-torch, minutes; the README's "
        "topformer_tiny example exports tflite and int8 at 64x64",
    ("docs/farm.md", "segbench zoo export pp_mobileseg_tiny --head argmax --format nb"):
        "Paddle Lite's opt needs Python 3.10 with the paddle extra (tests/test_zoo_paddle.py)",
    ("docs/farm.md", "segbench run --suite bench/nightly.toml --device 3a1f0c2e,R58M41XXXXX"):
        "serials of real phones",
    ("docs/farm.md", "segbench run ... --device all --adb-server"): "`...` and a second host, lab2, are placeholders",
    ("docs/zoo.md", "segbench zoo export --all"): "16 zoo exports, minutes (bench/zoo_export_all.sh times them)",
    ("docs/inspect.md", "segbench inspect pd/model.pdmodel"):
        "pd/ is the small Paddle program with BatchNorm that tests/test_inspect_paddle.py writes",
}
# Lines that are not segbench commands: not run here, and why.
NOT_SEGBENCH = {
    "ls": "shows the seed's export folder, which the skipped seed flow needs",
    "adb": "the adb binary is the adbutils wheel's, not on PATH (tests/test_emulator.py runs these)",
    "python": "a benchmark script of bench/ (minutes), run by hand",
    "bench/nightly.sh": "the nightly job on a phone farm (tests/test_nightly.py runs it on emulated phones)",
}

# Files the examples name, made from the fixtures (name in the working directory -> how to make it).
INPUTS = {
    "mobileseg_mi9.log": LOGS / "paddle_lite" / "paddleseg_ppmobileseg_mi9_android9_e79b4b6.log",
    "tflite_cpu4t.log": LOGS / "tflite" / "dhruv_android_adb_cpu4t_xnnpack_default.log",
    "tflite_nnapi_dsp.log": LOGS / "tflite" / "lp6m_mi11_tf2.4.0_int8_nnapi_qti-dsp_FAIL.log",
    "models": FIXTURES / "models",
    "other/manifest.toml": ROOT / "models_dir" / "manifest.toml",  # report --published --manifest other/...
}


def _damaged(clone: Path) -> None:
    """docs/inspect.md's files that cannot be inspected: cut, not a model, a .nb, a program without its weights."""
    selfie = (FIXTURES / "models" / "selfie_segmentation.tflite").read_bytes()
    (clone / "half.tflite").write_bytes(selfie[: len(selfie) // 2])
    (clone / "words.onnx").write_text("these are words, not a model\n")
    (clone / "lite.nb").write_bytes(b"\x00" * 64)
    shutil.copy(FIXTURES / "paddle" / "mobilenet_v2_paddleclas.pdmodel", clone / "orphan.pdmodel")


@dataclass
class Example:
    doc: str
    line: int
    command: str
    shown: list[str] = field(default_factory=list)
    exit_code: int = 0

    @property
    def id(self) -> str:
        return f"{self.doc}:{self.line} {self.command.splitlines()[0][:70]}"


def _exit_in(text: str) -> int | None:
    found = re.search(r"#\s*exit (\d+)\s*$", text)  # a comment that is only `# exit N`
    return int(found.group(1)) if found else None


def parse(path: Path) -> list[Example]:
    """The `$ ` lines of each ```console block with the output lines the docs show under them."""
    text = path.read_text(encoding="utf-8")
    doc = str(path.relative_to(ROOT))
    out: list[Example] = []
    for block in re.finditer(r"^```console\n(.*?)^```", text, re.S | re.M):
        first = text[: block.start()].count("\n") + 2
        lines = block.group(1).splitlines()
        i = 0
        current: Example | None = None
        while i < len(lines):
            line = lines[i]
            if line.startswith("$ "):
                start = i
                command = line[2:]
                while command.endswith("\\") and i + 1 < len(lines):  # a continued command
                    i += 1
                    command = command[:-1] + " " + lines[i].strip()
                if command.strip() == "echo $?" and current is not None:
                    current.exit_code = int(lines[i + 1].strip())
                    i += 2
                    continue
                current = Example(doc, first + start, command)
                out.append(current)
            elif current is not None:
                current.shown.append(line)
            i += 1
    for ex in out:
        code = _exit_in(ex.command)
        if code is None:
            code = next((c for c in map(_exit_in, ex.shown) if c is not None), None)
        if code is not None:
            ex.exit_code = code
    return out


EXAMPLES = [ex for doc in DOCS for ex in parse(doc)]


def _skip_reason(ex: Example) -> str | None:
    for (doc, start), why in SKIP.items():
        if ex.doc == doc and (ex.command + "\n").startswith(start):
            return why
    return None


# ------------------------------------------------------------------ the working directory and its processes

def _make_clone(where: Path) -> Path:
    """What a fresh clone holds that the examples read, plus INPUTS; none of it is the repository's own file."""
    clone = where / "clone"
    for rel in ("models_dir/manifest.toml", "device_assets/manifest.toml", "device_assets/README.md"):
        (clone / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / rel, clone / rel)
    shutil.copytree(ROOT / "bench", clone / "bench")
    shutil.copytree(FIXTURES / "models", clone / "tests" / "fixtures" / "models")
    for name, source in INPUTS.items():
        (clone / name).parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if source.is_dir() else shutil.copy)(source, clone / name)
    from PIL import Image

    Image.open(ASTRONAUT).convert("RGB").save(clone / "image1.jpg", quality=95)  # the seed's input image
    _damaged(clone)
    return clone


def _free_port(taken: set[str]) -> int:
    import random
    import socket

    for port in random.sample(DOC_PORTS, len(DOC_PORTS)):
        if str(port) in taken:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError(f"no free port in {DOC_PORTS.start}-{DOC_PORTS.stop - 1}")


class Session:
    """One document's working directory, environment and background emulators."""

    def __init__(self, where: Path, adb_port: int) -> None:
        self.where = where
        self.adb_port = adb_port
        self.doc: str | None = None
        self.background: list[subprocess.Popen] = []
        self.last_code: int | None = None
        self.ports: dict[str, str] = {}  # a port the docs name -> this run's

    def local(self, text: str) -> str:
        """``text`` with each port the docs name replaced by this run's own (a free one, the same one each time)."""

        def moved(found: re.Match) -> str:
            if found.group() not in self.ports:
                self.ports[found.group()] = str(_free_port(set(self.ports.values())))
            return self.ports[found.group()]

        return _PORT_IN_DOCS.sub(moved, text)

    def enter(self, doc: str) -> None:
        if doc == self.doc:
            return
        self.stop_background()
        self.doc = doc
        self.dir = _make_clone(self.where / re.sub(r"\W", "_", doc))
        bindir = self.where / "bin"
        bindir.mkdir(exist_ok=True)
        wrapper = bindir / "segbench"  # the `segbench` of the docs: this checkout's package
        wrapper.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m segbench "$@"\n')
        wrapper.chmod(0o755)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("ANDROID_")}
        self.env.update(PATH=f"{bindir}{os.pathsep}{os.environ['PATH']}", PYTHONPATH=str(ROOT),
                        ANDROID_ADB_SERVER_PORT=str(self.adb_port), COLUMNS="400")

    def substitute(self, command: str) -> str:
        command = self.local(command)
        runs = sorted(p.name for p in (self.dir / "reports" / "runs").glob("*")) if (self.dir / "reports").is_dir() else []
        # RUN: the newest. BASE_RUN the newest and CANDIDATE_RUN the one before: in the README's tour that is the
        # phone run (8 cases) against the host run (4 of them), so the regression its `# exit 4` shows is there
        # whatever the timing noise (a candidate missing cases never passes).
        for word, index in (("BASE_RUN", -1), ("CANDIDATE_RUN", -2), ("RUN", -1)):
            if re.search(rf"\b{word}\b", command):
                assert len(runs) >= -index, f"{word}: the working directory has {len(runs)} run(s)"
                command = re.sub(rf"\b{word}\b", runs[index], command)
        return command

    def run(self, command: str) -> tuple[int, str]:
        proc = subprocess.run(["bash", "-c", command], cwd=self.dir, env=self.env, capture_output=True, text=True,
                              timeout=900)
        return proc.returncode, proc.stdout + proc.stderr

    def start(self, command: str) -> tuple[int, str]:
        """A `segbench emulator` line: in the background until the document ends; returns what it printed first."""
        command = re.sub(r"&\s*(#.*)?$", "", command.split("  #")[0]).strip()
        log = self.where / f"emulator{len(self.background)}.err"
        with open(log, "w") as err:
            proc = subprocess.Popen(["bash", "-c", f"exec {command}"], cwd=self.dir, env=self.env,
                                    stdout=subprocess.PIPE, stderr=err, text=True, start_new_session=True)
        self.background.append(proc)
        serial = proc.stdout.readline()  # its first line, once it listens (or nothing: it ended)
        if not serial:
            return proc.wait(timeout=60), log.read_text()
        return 0, log.read_text() + serial

    def stop_background(self) -> None:
        for proc in self.background:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.background:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.background = []


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory):
    port = start_adb_server(ADB_PORTS)
    s = Session(tmp_path_factory.mktemp("docs"), port)
    try:
        yield s
    finally:
        s.stop_background()
        stop_adb_server(port)


# ------------------------------------------------------------------ the output's shape

def _lead(line: str) -> str:
    """The leading words of a line, after any leading numbers (`run`, `2 cases on`, `regression(s) of`): up to the
    next token with a digit, a path or a bracket; a line of no such words (a serial) is its first token."""
    tokens = line.split()
    while tokens and re.fullmatch(r"[\d.,%]+", tokens[0]):
        tokens = tokens[1:]
    words = []
    for token in tokens:
        if not re.fullmatch(r"[A-Za-z][A-Za-z_'-]*(\(s\))?[:,]?", token):
            break
        words.append(token)
    return " ".join(words) or line.split()[0]


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _headers(lines: list[str]) -> list[list[str]]:
    return [_cells(a) for a, b in zip(lines, lines[1:]) if a.lstrip().startswith("|") and re.fullmatch(r"\s*\|[-|: ]+\|\s*", b)]


def check_shape(shown: list[str], output: str) -> None:
    got = output.splitlines()
    meant = [ln for ln in shown if ln.strip() and ln.strip() not in ("...", "(the table)")]
    text_lines = [ln for ln in meant if not ln.lstrip().startswith("|")]
    if text_lines:
        lead = _lead(text_lines[0])
        assert any(lead in g for g in got), f"no output line has {lead!r}:\n{output}"
    for header in _headers(meant):
        assert header in _headers(got), f"table header {header} not in the output:\n{output}"
    for line in meant:
        if line.startswith("segbench: error:"):
            lead = _lead(line)
            assert any(g.startswith(lead) for g in got), f"no error line starting {lead!r}:\n{output}"


# ------------------------------------------------------------------ the examples

def test_examples_are_found_and_every_skip_names_one():
    assert len(EXAMPLES) > 80 and any(ex.doc == "README.md" for ex in EXAMPLES)
    for doc, start in SKIP:
        assert any(ex.doc == doc and (ex.command + "\n").startswith(start) for ex in EXAMPLES), (doc, start)


@pytest.mark.parametrize("ex", EXAMPLES, ids=[ex.id for ex in EXAMPLES])
def test_example(ex: Example, session: Session):
    session.enter(ex.doc)
    words = shlex.split(ex.command, comments=True)
    program = next((w for w in words if not re.fullmatch(r"[A-Z_]+=\S*", w)), "")
    if words[:1] == ["export"]:
        name, _, value = words[1].partition("=")
        session.env[name] = session.local(f"{name}={value}").partition("=")[2]
        return
    if program != "segbench":
        pytest.skip(f"not a segbench command: {NOT_SEGBENCH[program]}")
    why = _skip_reason(ex)
    if why:
        pytest.skip(why)
    command = session.substitute(ex.command)
    started = time.monotonic()
    if words[1:2] == ["emulator"]:
        code, output = session.start(command)
    else:
        code, output = session.run(command)
    assert code == ex.exit_code, f"exit {code}, the docs imply {ex.exit_code} ({time.monotonic() - started:.0f} s):\n{output}"
    check_shape([session.local(line) for line in ex.shown], output)
