#!/usr/bin/env bash
# Times `segbench zoo export --all` in each format and quantisation (issue 23), into a scratch directory.
# Usage: bench/zoo_export_all.sh [PYTHON3.11] [PYTHON3.10]   (defaults: .venv/bin/python, .venv310/bin/python)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${1:-.venv/bin/python}
PY310=${2:-.venv310/bin/python}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
for spec in "onnx none" "onnx int8" "tflite none" "tflite int8"; do
    set -- $spec
    start=$(date +%s)
    "$PY" -m segbench zoo export --all --format "$1" --quant "$2" -o "$OUT/$1-$2" -q
    echo "$1 $2: $(( $(date +%s) - start )) s"
done
if [ -x "$PY310" ]; then
    for fmt in paddle nb; do
        start=$(date +%s)
        "$PY310" -m segbench zoo export --all --format "$fmt" -o "$OUT/$fmt" -q
        echo "$fmt none: $(( $(date +%s) - start )) s"
    done
fi
