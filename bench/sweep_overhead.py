"""A device sweep's wall time against the tool commands it runs, on the emulated phone: paired, alternating.

    python bench/sweep_overhead.py [--rounds 5] [--repeats 20] [--threads 1,2,4]

The phone runs in a process of its own behind an adb server of its own (bench/emulated.py). A sweep is
`segbench run --device` of the fixture models (tests/fixtures/models: a TFLite and an ONNX model) at each thread
count, called in this process (interpreter start-up and imports are bench/startup.py's business; the in-memory
hash cache is emptied before each sweep, as a new process has it). A first sweep, untimed, pushes the files and
warms the server, so the timed ones push nothing (as a nightly's). The tool commands are the ones the phone
logged during a sweep (the words that run a tool, without the readings and result file its command carries),
replayed one after another with `adb shell`,
a process each, as the plainest script would run them. Each round runs the sweep and the replay, in alternating
order (sweep first in even rounds). Printed: each side's seconds, median and range, the per-round ratio sweep /
tool commands (goal <= 1.1), and the shell commands a sweep sends per case besides its tools. Run on demand
(not a test): timings on a shared machine are noisy.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
import time
from pathlib import Path

from emulated import ROOT, emulated_phone, spread

from segbench import models
from segbench.cli import cli
from segbench.emulator import stub_assets


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--threads", default="1,2,4")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp, emulated_phone(Path(tmp)) as phone:
        assets = stub_assets(Path(tmp) / "assets", ROOT / "device_assets" / "manifest.toml")
        os.environ["ANDROID_ADB_SERVER_PORT"] = str(phone.adb_port)
        runs = iter(range(10**6))

        def sweep() -> tuple[float, list[str]]:
            """Seconds of one `segbench run --device` and the shell commands the phone got meanwhile."""
            seen = len(phone.shell_commands())
            models._DIGESTS.clear()
            argv = ["run", "--device", phone.serial, "--models", str(ROOT / "tests/fixtures/models"), "--threads",
                    args.threads, "--warmup", "2", "--repeats", str(args.repeats), "--assets", str(assets),
                    "--reports", f"{tmp}/reports{next(runs)}", "-q"]
            with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
                t = time.perf_counter()
                code = cli.main(args=argv, prog_name="segbench", standalone_mode=False)
                seconds = time.perf_counter() - t
            if code not in (0, None):
                raise SystemExit(f"segbench run exited {code}")
            return seconds, phone.shell_commands()[seen:]

        _, commands = sweep()  # pushes the tools, models and inputs; warms the server and the page cache
        _, commands = sweep()
        # A tool's command also carries the readings around it and its result file (ondevice.Frame): the replay
        # runs only the tool's own words, as the plainest script would.
        framed = [c for c in commands if " & echo $! > " in c]
        tools = [next(p for p in c.split("; ") if " & echo $! > " in p).split(" & echo $! > ")[0] for c in framed]

        def replay() -> float:
            t = time.perf_counter()
            for command in tools:
                done = phone.adb("shell", command)
                if done.returncode != 0:
                    raise SystemExit(f"`adb shell {command}` failed: {done.stderr.decode(errors='replace')}")
            return time.perf_counter() - t

        walls, bare, ratios = [], [], []
        for r in range(args.rounds):
            if r % 2 == 0:
                s, commands = sweep()
                b = replay()
            else:
                b = replay()
                s, commands = sweep()
            walls.append(s)
            bare.append(b)
            ratios.append(s / b)
    others = len(commands) - len(framed)
    print(f"sweep of {len(tools)} cases ({args.threads} threads x 2 models, {args.repeats} repeats), "
          f"{args.rounds} rounds (alternating order), after an untimed sweep that pushed the files")
    print(f"segbench run --device      {spread(walls)} s  median (range)")
    print(f"its tool commands (adb shell) {spread(bare)} s")
    print(f"sweep / tool commands      {spread(ratios)}  (goal <= 1.1)")
    print(f"shell commands besides the tools: {others} for {len(tools)} cases")


if __name__ == "__main__":
    main()
