"""Peak memory of `segbench parse` against the size of the log: a farm's logs concatenated, many runs in one file.

    python bench/parse_memory.py [--mb 8 32] [--tool benchmark_model] [--against CHECKOUT]

The log is the fixture logs of one tool (tests/fixtures/logs, real output of benchmark_model by default;
``--tool mixed``: of all three) concatenated again and again, in a shuffled order, to each size asked (at most the
64 MB parse accepts). One tool's logs are one stretch of the text for parse (a stretch ends where another tool's
output begins), the case the whole-text parser held whole. Each is read by, in a fresh process each:

- ``segbench parse FILE --json`` (the CLI, which reads a block at a time and parses as the lines stream by),
- the whole-text way (what parse did before): the file read and decoded whole, then ``tools.parse_any`` of the
  text, which holds the text and its lines,
- with ``--against CHECKOUT``: ``segbench parse FILE --json`` of another checkout of segbench (an older one, to
  see what streaming changed),
- a baseline: ``segbench parse`` of one small log (interpreter, imports, one run).

Whatever reads the log keeps the runs it parsed (they are printed at the end, after any error lines): with logs of
one short run each, as here, they weigh more than the text itself.

Printed for each: peak RSS (the child's ru_maxrss) and (peak - baseline) / file size. Run on demand (not a test):
the numbers depend on the machine; the ratio is what to compare.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from segbench.runners import tools  # noqa: E402

LOGS = ROOT / "tests" / "fixtures" / "logs"
WHOLE_TEXT = ("import sys\nfrom pathlib import Path\nfrom segbench.runners import tools\n"
              "runs = tools.parse_any(Path(sys.argv[1]).read_bytes().decode('utf-8-sig', errors='replace'))\n"
              "print(len(runs))\n")
# Runs the command given and prints its peak RSS in KiB (a fresh measuring process per command: RUSAGE_CHILDREN
# is the largest of every child the process has waited for).
MEASURE = ("import resource, subprocess, sys\n"
           "p = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE)\n"
           "assert p.returncode in (0, 3), p.stderr.decode()[-500:]\n"
           "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, p.stdout.count(b'\\n'))\n")


def fixture_logs(tool: str) -> list[bytes]:
    """The fixture logs that hold runs of ``tool`` alone (any supported tool for "mixed")."""
    out = []
    for path in sorted(p for p in LOGS.rglob("*") if p.is_file()):
        data = path.read_bytes()
        found = {r.tool for r in tools.parse_any(data.decode("utf-8", errors="replace"))}
        if found and (tool == "mixed" or found == {tool}):
            out.append(data)
    return out


def build(path: Path, size: int, logs: list[bytes], seed: int = 1) -> None:
    rng = random.Random(seed)
    written = 0
    with open(path, "wb") as f:
        while written < size:
            data = rng.choice(logs)
            f.write(data if data.endswith(b"\n") else data + b"\n")
            written += len(data) + 1


def peak_kib(argv: list[str], env: dict[str, str]) -> tuple[int, int]:
    # From the root directory: `python -m` puts the working directory first on the path, before PYTHONPATH.
    out = subprocess.run([sys.executable, "-c", MEASURE, *argv], capture_output=True, text=True, env=env,
                         check=True, cwd="/").stdout.split()
    return int(out[0]), int(out[1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, nargs="+", default=[8.0, 32.0], help="log sizes (MB)")
    ap.add_argument("--tool", default="benchmark_model", choices=[*(t.TOOL for t in tools.TOOLS), "mixed"])
    ap.add_argument("--against", type=Path, metavar="CHECKOUT", help="also time `segbench parse` of this checkout")
    args = ap.parse_args()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    logs = fixture_logs(args.tool)
    cli = [sys.executable, "-m", "segbench", "parse", "--json"]
    with tempfile.TemporaryDirectory(prefix="segbench-parse-memory-") as tmp:
        small = Path(tmp) / "one.log"
        small.write_bytes(logs[0])
        base, _ = peak_kib([*cli, str(small)], env)
        print(f"{len(logs)} fixture logs of {args.tool}; python {sys.version.split()[0]}; baseline (parse of one {len(logs[0])} B "
              f"log): peak {base / 1024:.1f} MB")
        print("| log | runs | reader | peak RSS | (peak - baseline) / log size |")
        print("| --- | --- | --- | --- | --- |")
        for mb in args.mb:
            path = Path(tmp) / f"farm-{mb:g}MB.log"
            build(path, int(mb * 2**20), logs)
            size = path.stat().st_size
            readers = [("segbench parse --json (streaming)", [*cli, str(path)], env),
                       ("whole text + tools.parse_any", [sys.executable, "-c", WHOLE_TEXT, str(path)], env)]
            if args.against:
                readers.append((f"segbench parse --json of {args.against}", [*cli, str(path)],
                                {**os.environ, "PYTHONPATH": str(args.against.resolve())}))
            for name, argv, where in readers:
                peak, lines = peak_kib(argv, where)
                runs = lines if "segbench" in name else "-"
                print(f"| {size / 2**20:.1f} MB | {runs} | {name} | {peak / 1024:.1f} MB | "
                      f"{(peak - base) * 1024 / size:.2f} |")


if __name__ == "__main__":
    main()
