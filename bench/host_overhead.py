"""Harness overhead on the host: segbench's in-process timing vs a bare loop, same runtime, same process.

    python bench/host_overhead.py [MODEL ...] [--repeats 200] [--threads 1]

Paddle models (.pdmodel with its .pdiparams, or .nb) need Python 3.10 with the paddle extra; their harness
path is the worker process (segbench.runners.host_paddlelite), the bare loop runs in this process.

For each model, alternates blocks of (a) the harness's own measurement path
(InProcessBackend.measure) and (b) a bare loop timing the same runtime call the plainest
way, and prints the ratio of medians. The goal is a ratio within 1.00 +/- 0.05.
Run on demand (not a test): timings on a shared 2-core machine are noisy.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from segbench.execute import InProcessBackend  # noqa: E402
from segbench.model import RUNTIME_FOR_FORMAT, Case  # noqa: E402
from segbench.models import describe  # noqa: E402
from segbench.runners.host import random_input  # noqa: E402


def bare_onnxruntime(path: str, threads: int, repeats: int) -> list[float]:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    feeds = {i.name: random_input(_info(i)) for i in sess.get_inputs()}
    for _ in range(10):
        sess.run(None, feeds)
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        sess.run(None, feeds)
        out.append((time.perf_counter() - t0) * 1e3)
    return out


def _info(i):
    from segbench.model import TensorInfo
    from segbench.runners.host_onnxruntime import _ORT_TYPES

    return TensorInfo(i.name, tuple(i.shape), _ORT_TYPES[i.type])


def bare_litert(path: str, threads: int, repeats: int) -> list[float]:
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=path, num_threads=threads)
    it.allocate_tensors()
    for d in it.get_input_details():
        it.set_tensor(d["index"], random_input(_litert_info(d)))
    for _ in range(10):
        it.invoke()
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        it.invoke()
        out.append((time.perf_counter() - t0) * 1e3)
    return out


def _litert_info(d):
    import numpy as np

    from segbench.model import TensorInfo

    return TensorInfo(d["name"], tuple(int(x) for x in d["shape"]), np.dtype(d["dtype"]).name)


def bare_paddlelite(path: str, threads: int, repeats: int) -> list[float]:
    """In process, as segbench did before its worker: so the ratio shows what the worker process costs (Python
    3.10 with the paddle extra; OMP_NUM_THREADS is fixed for this process by its first load)."""
    import os

    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    from paddlelite import lite

    from segbench.modelinfo.io import read_io
    from segbench.runners.host_paddlelite import _optimize

    nb = Path(path) if path.endswith(".nb") else _optimize(lite, Path(path))
    config = lite.MobileConfig()
    config.set_model_from_file(str(nb))
    predictor = lite.create_paddle_predictor(config)
    predictor.get_input(0).from_numpy(random_input(read_io(path)[0][0]))
    for _ in range(10):
        predictor.run()
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        predictor.run()
        out.append((time.perf_counter() - t0) * 1e3)
    return out


BARE = {"onnxruntime": bare_onnxruntime, "tflite": bare_litert, "paddlelite": bare_paddlelite}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*", default=[str(ROOT / "tests/fixtures/models/selfie_segmentation.tflite"),
                                                  str(ROOT / "tests/fixtures/models/tiny_seg.onnx")])
    ap.add_argument("--repeats", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    backend = InProcessBackend()
    print(f"{'model':<32} {'harness median':>15} {'bare median':>12} {'ratio':>7}")
    for path in args.models:
        ref = describe(Path(path)).ref
        runtime = RUNTIME_FOR_FORMAT[ref.format]
        case = Case(ref, runtime, args.threads, "no_bind", 10, args.repeats)
        harness, bare = [], []
        for _ in range(args.rounds):  # interleave so drift hits both equally
            m, _log = backend.measure(case, "bench")
            harness += list(m.samples_ms or ())
            bare += BARE[runtime](path, args.threads, args.repeats)
        h, b = statistics.median(harness), statistics.median(bare)
        print(f"{ref.name:<32} {h:>12.3f} ms {b:>9.3f} ms {h / b:>7.3f}")


if __name__ == "__main__":
    main()
