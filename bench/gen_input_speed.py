"""How long gen-input takes to write a 1x3x512x512 float32 tensor in each format.

Run: python bench/gen_input_speed.py. Prints seconds per format and the ratio to raw; paddle-txt
(formatting 786,432 floats) is the slow one and should stay well under a second.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from segbench import inputs
from segbench.model import TensorInfo

ASTRONAUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "images" / "astronaut.png"


def main() -> None:
    spec = TensorInfo("x", (1, 3, 512, 512), "float32", "nchw")
    start = time.perf_counter()
    prepared = inputs.prepare(ASTRONAUT, spec, inputs.PRESETS["paddleseg"])
    print(f"transform   {time.perf_counter() - start:7.3f} s")
    times = {}
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in inputs.FORMATS:
            start = time.perf_counter()
            inputs.write_one(prepared, fmt, Path(tmp) / f"t{inputs.SUFFIX[fmt]}")
            times[fmt] = time.perf_counter() - start
    for fmt, seconds in times.items():
        print(f"{fmt:11} {seconds:7.3f} s  {seconds / times['raw']:6.1f}x raw")


if __name__ == "__main__":
    main()
