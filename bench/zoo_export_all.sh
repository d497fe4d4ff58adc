#!/usr/bin/env bash
# Issue 23's done-when command, timed: `segbench zoo export --all --format onnx,tflite,paddle --quant none,int8`,
# run as typed under each interpreter into one scratch models directory (torch formats on Python 3.11, paddle on
# Python 3.10; each skips, with a note, the formats whose converter it lacks). Prints every line the command
# prints, its wall time, and per format/quant: files written, files whose entry carries a passed check, the summed
# per-file export time (build, convert, check, inspect) and the check figures (float: max |runtime - source| for
# logits heads, near-tie label pixels for label heads; int8: argmax agreement on the calibration images and its
# chance-corrected form, Cohen's kappa, which the check's floor is on).
# Usage: bench/zoo_export_all.sh [PYTHON3.11|-] [PYTHON3.10|-]   (defaults .venv/bin/python, .venv310/bin/python;
#        '-' leaves that interpreter out). KEEP=DIR keeps the models directory there instead of a temporary one.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${1:-.venv/bin/python}
PY310=${2:-.venv310/bin/python}
if [ -n "${KEEP:-}" ]; then
    OUT=$KEEP
    mkdir -p "$OUT"
else
    OUT=$(mktemp -d)
    trap 'rm -rf "$OUT"' EXIT
fi
echo "host: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) at start"
for py in "$PY" "$PY310"; do
    [ "$py" = "-" ] && continue
    [ -x "$py" ] || { echo "skipping $py: not found"; continue; }
    log="$OUT/.log-$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
    echo "\$ segbench zoo export --all --format onnx,tflite,paddle --quant none,int8 -o DIR   # $("$py" -V)"
    start=$(date +%s.%N)
    rc=0
    "$py" -m segbench zoo export --all --format onnx,tflite,paddle --quant none,int8 -o "$OUT/models" \
        >"$log" 2>&1 || rc=$?
    end=$(date +%s.%N)
    sed "s|$OUT/models|DIR|g" "$log"
    printf 'exit %d, wall %.0f s, load average %s at end\n' "$rc" "$(echo "$end - $start" | bc)" \
        "$(cut -d' ' -f1-3 /proc/loadavg)"
done
# The summary reads the manifest the exports wrote (each entry's check) and the progress lines (each file's time).
if [ "$PY" = "-" ]; then SUMMARY_PY=$PY310; else SUMMARY_PY=$PY; fi
"$SUMMARY_PY" - "$OUT/models" "$OUT"/.log-* <<'EOF'
import re
import sys
from pathlib import Path

from segbench.compat import tomllib

models, logs = Path(sys.argv[1]), sys.argv[2:]
seconds: dict[tuple[str, str], float] = {}
for log in logs:
    for line in Path(log).read_text().splitlines():
        m = re.match(r"\[\d+/\d+\] .*, (\w+) (none|int8), \d+x\d+; .*; ([\d.]+) s$", line)
        if m:
            key = (m[1], m[2])
            seconds[key] = seconds.get(key, 0.0) + float(m[3])
entries = tomllib.loads((models / "manifest.toml").read_text())["model"] if (models / "manifest.toml").exists() else []
print("\n| format | quant | files written | checked | export time (s, summed) | check figures |")
print("|---|---|---|---|---|---|")
for fmt in ("onnx", "tflite", "paddle"):
    for quant in ("none", "int8"):
        mine = [e for e in entries if e["format"] == fmt and e["quant"] == quant and (models / e["file"]).exists()]
        checks = [e["zoo"]["check"] for e in mine]
        checked = [c for c in checks if {"max_abs_diff", "label_mismatches", "argmax_agreement"} & set(c)]
        if quant == "int8":
            spread = lambda xs: f"min {xs[0]:.3f}, median {xs[len(xs) // 2]:.3f}, max {xs[-1]:.3f}"  # noqa: E731
            agree = sorted(c["argmax_agreement"] for c in checked)
            kappa = sorted(c["kappa"] for c in checked if "kappa" in c)
            figure = "; ".join([f"argmax agreement {spread(agree)}"] * bool(agree)
                               + [f"kappa {spread(kappa)}"] * bool(kappa)) or "-"
        else:
            diffs = [c["max_abs_diff"] for c in checked if "max_abs_diff" in c]
            ties = [c["label_mismatches"] for c in checked if "label_mismatches" in c]
            parts = [f"logits max abs error {max(diffs):.1e} ({len(diffs)} files)"] if diffs else []
            parts += [f"labels equal but {min(ties)}-{max(ties)} near-tie pixels ({len(ties)} files)"] if ties else []
            figure = "; ".join(parts) or "-"
        print(f"| {fmt} | {quant} | {len(mine)} | {len(checked)} | {seconds.get((fmt, quant), 0):.0f} | {figure} |")
EOF
