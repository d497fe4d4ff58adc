"""Paddle Lite benchmark_bin stand-in (HEAD flags: gflags --name=value or --name value). Runs .nb models and
converts --model_file programs (saving the .nb to --optimized_model_file) with paddlelite where it is installed
(the emulator's Python must then be 3.10); otherwise,
or on a model Paddle Lite cannot load, aborts as the real tool does (glog fatal, SIGABRT, rc 134). Prints
the sectioned report incl. Device Info."""

from __future__ import annotations

import os
import shutil
import sys
import time

from segbench.emulator.tools.common import Busy, apply_fault, record, reported_s, state_dir

TOOL = "benchmark_bin"
_DEFAULTS = {"optimized_model_file": "", "model_file": "", "param_file": "", "uncombined_model_dir": "",
             "input_shape": "", "input_data_path": "", "warmup": "0", "repeats": "1", "power_mode": "0",
             "threads": "1", "backend": "", "result_path": "", "cpu_precision": "fp32"}
_USAGE = "Usage: benchmark_bin --optimized_model_file=<model.nb> --input_shape=1,3,224,224 --backend=arm ..."


def _parse(argv: list[str]) -> dict[str, str]:
    flags, i = dict(_DEFAULTS), 0
    while i < len(argv):
        name, eq, value = argv[i].lstrip("-").partition("=")
        if not eq and i + 1 < len(argv) and not argv[i + 1].startswith("--"):
            value, i = argv[i + 1], i + 1
        flags[name] = value
        i += 1
    return flags


def _props() -> dict[str, str]:
    d = state_dir()
    text = (d / "props").read_text() if d else ""
    return {k: v for k, _, v in (ln[1:-1].partition("]: [") for ln in text.splitlines() if ln.startswith("["))}


def perf_lines(init: float, first: float, lat: list[float]) -> list[str]:
    # ss.precision(3) fixed, left-justified in setw(12): values carry trailing spaces.
    vals = (("init  = ", init), ("first = ", first), ("min   = ", min(lat)), ("max   = ", max(lat)),
            ("avg   = ", sum(lat) / len(lat)))
    return ["Time(unit: ms):"] + [f"{k}{v:<12.3f}" for k, v in vals]


def run(argv: list[str]) -> int:
    f = _parse(argv)
    model = f["optimized_model_file"]
    if not (model or f["model_file"] or f["uncombined_model_dir"]):
        print("No model path is set!", file=sys.stderr)
        print(_USAGE)
        return 0  # the real tool exits 0 on usage errors
    if not f["backend"]:
        print("Must set --backend option!", file=sys.stderr)
        print(_USAGE)
        return 0
    if not f["input_shape"]:
        print("Must set --input_shape option!", file=sys.stderr)
        print(_USAGE)
        return 0
    # A program (--model_file) is converted first and the .nb saved to --optimized_model_file, as the real tool does.
    source = f["model_file"] or model
    if source and not os.path.exists(source):
        print(f"Mode file[{source}] not exist!", file=sys.stderr, flush=True)
        os.abort()
    from segbench.errors import SegbenchError
    from segbench.runners.host_paddlelite import PaddleLiteSession

    def fatal(where: str, why: str) -> None:
        stamp = time.strftime("%m/%d %H:%M:%S")
        print(f"[F {stamp}. 0 ...lite/{where}] Check failed: {why}", file=sys.stderr, flush=True)
        os.abort()

    import numpy as np

    t0 = time.perf_counter()
    try:
        sess = PaddleLiteSession(source, int(f["threads"]))
    except SegbenchError as exc:  # no paddlelite on the emulator's host, or Paddle Lite stopped on the model
        fatal("api/paddle_api.cc:375 CreatePaddlePredictor", f"cannot load {source}: {exc.message}")
    if f["model_file"] and model:
        shutil.copyfile(sess.nb_path, model)
    init = (time.perf_counter() - t0) * 1000
    shape = [int(x) for x in f["input_shape"].split(":")[0].split(",")]
    data = np.ones(shape, np.float32)
    if f["input_data_path"]:
        # As the real tool reads it (`ifstream >> value` per element): extra numbers are ignored, missing ones
        # are not an error (here zeros), and a file it cannot open is said and the run goes on with 1.0.
        try:
            with open(f["input_data_path"]) as fh:
                tokens = fh.read().split()[:data.size]
        except OSError:
            print(f"Open input image {f['input_data_path']} error.", file=sys.stderr, flush=True)
        else:
            values = []
            for token in tokens:  # the stream stops at the first token that is not a number
                try:
                    values.append(float(token))
                except ValueError:
                    break
            data = np.zeros(data.size, np.float32)
            data[:len(values)] = values
            data = data.reshape(shape)
    try:
        sess.set_inputs([data])
        apply_fault(TOOL, print)
        with Busy():
            times = [reported_s(sess.run_once() / 1000) * 1000 for _ in range(int(f["warmup"]) + int(f["repeats"]))]
        out = sess.outputs()[0].astype(np.float32)
    except SegbenchError as exc:  # e.g. an --input_shape the model does not take
        fatal("core/program.cc:798 Run", exc.message)
    finally:
        sess.close()
    lat = times[int(f["warmup"]):]
    p = _props()
    lines = ["", "======= Device Info =======", f"Brand: {p.get('ro.product.vendor.brand', '')}",
             f"Device: {p.get('ro.product.vendor.device', '')}", f"Model: {p.get('ro.product.vendor.model', '')}",
             f"Android Version: {p.get('ro.build.version.release', '')}",
             f"Android API Level: {p.get('ro.build.version.sdk', '')}", "", "======= Model Info =======",
             f"optimized_model_file: {model}", f"input_data_path: {f['input_data_path'] or 'All 1.f'}",
             f"input_shape: {f['input_shape']}", "output tensor num: 1", "--- output tensor 0 ---",
             "output shape(NCHW): " + " ".join(map(str, out.shape)), f"output tensor 0 elem num: {out.size}",
             f"output tensor 0 mean value: {out.mean():g}", f"output tensor 0 standard deviation: {out.std():g}",
             "", "======= Runtime Info =======", "benchmark_bin version: segbench-emulator",
             f"threads: {f['threads']}", f"power_mode: {f['power_mode']}", f"warmup: {f['warmup']}",
             f"repeats: {f['repeats']}", f"result_path: {f['result_path']}", "", "======= Backend Info =======",
             f"backend: {f['backend']}", f"cpu precision: {f['cpu_precision']}", "", "======= Perf Info =======",
             *perf_lines(init, times[0], lat)]
    print("\n".join(lines), flush=True)
    record(TOOL, argv, threads=int(f["threads"]), warmup=int(f["warmup"]), repeats=len(lat), init_ms=init,
           first_ms=times[0], latencies_ms=lat)
    return 0
