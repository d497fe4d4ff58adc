"""Which processors a Paddle Lite ``.nb`` was optimised for (a leaf: no segbench imports).

opt writes each op's chosen kernel into the ``.nb`` as a key ``op/alias/target/precision/layout`` (e.g.
``conv2d/def/4/1/1``), the target being Paddle Lite's TargetType number. A ``.nb`` made for ARM (PaddleSeg's lite
guide, benchmark_bin's ``opt.nb`` on the phone) is loaded by the x86 build without complaint and then computes
nothing meaningful in almost no time (docs/zoo.md), so a runner asks first whether this machine can run it.
"""

from __future__ import annotations

import platform
import re
from pathlib import Path

# Paddle Lite's TargetType (lite/api/paddle_place.h); "host" kernels (feed, fetch, reshape) run anywhere.
TARGETS = {1: "host", 2: "x86", 3: "cuda", 4: "arm", 5: "opencl", 7: "fpga", 8: "npu", 9: "xpu", 10: "bm",
           11: "mlu", 12: "rknpu", 13: "apu", 14: "huawei_ascend_npu", 15: "imagination_nna", 16: "intel_fpga",
           17: "metal", 18: "nnadapter"}
_KERNEL_KEY = re.compile(rb"(?<![A-Za-z0-9_])[a-z][a-z0-9_]+/[a-z][a-z0-9_]*/(\d{1,2})/(\d{1,2})/(\d{1,2})(?!\d)")
_MACHINES = {"x86_64": "x86", "amd64": "x86", "i386": "x86", "i686": "x86", "aarch64": "arm", "arm64": "arm",
             "armv7l": "arm", "armv8l": "arm"}


def kernel_targets(path: str | Path) -> set[str]:
    """The targets of the kernels recorded in a .nb ({"arm", "host"}); empty when it records none we can read."""
    data = Path(path).read_bytes()
    return {TARGETS.get(int(m.group(1)), f"target {int(m.group(1))}") for m in _KERNEL_KEY.finditer(data)}


def foreign_targets(path: str | Path, machine: str | None = None) -> list[str]:
    """The targets of a .nb's kernels that Paddle Lite on ``machine`` (this one by default) cannot run, sorted."""
    here = _MACHINES.get((machine or platform.machine()).lower())
    if here is None:
        return []  # a machine we do not know: let Paddle Lite decide
    return sorted(kernel_targets(path) - {"host", here})


def this_machine() -> str:
    return platform.machine() or "this"
