#!/usr/bin/env bash
# The nightly benchmark job: run the suite on every phone, write the reports, compare with the saved baseline.
# The CI workflow (.github/workflows/nightly.yml) and the test on emulated phones (tests/test_nightly.py) both
# run this script, so what CI does is what is tested.
#
#   bench/nightly.sh                    run, report, compare with the baseline (exit 4 on a regression)
#   bench/nightly.sh --save-baseline    run, report, save the run as the baseline (first night, new phones/tools)
#
# Environment (defaults in brackets):
#   SEGBENCH     the command [segbench]            SUITE      suite file [bench/nightly.toml]
#   DEVICES      --device [all]                    ADB_SERVERS  HOST:PORT ... (space-separated) [the local server]
#   ASSETS       --assets [device_assets]          REPORTS    --reports; keep it between nights [reports]
#   OUT          artifacts: report.{md,html,json}, compare.md, junit.xml, run.log [nightly]
#   THRESHOLD    compare --threshold [5%]
#   MAX_LAUNCHES launches per case that unclear verdicts may grow the run to [20]
#   BASELINE_LAUNCHES  launches per case of a run saved as the baseline (--save-baseline) [MAX_LAUNCHES]
# Exit status: 4 regression, 3 a case failed or was not run (and no regression), 1 error (e.g. no baseline for a
# kind of phone), 0 all well.
set -uo pipefail

read -ra SEGBENCH <<< "${SEGBENCH:-segbench}"
SUITE=${SUITE:-bench/nightly.toml}
DEVICES=${DEVICES:-all}
ASSETS=${ASSETS:-device_assets}
REPORTS=${REPORTS:-reports}
OUT=${OUT:-nightly}
THRESHOLD=${THRESHOLD:-5%}
MAX_LAUNCHES=${MAX_LAUNCHES:-20}
BASELINE_LAUNCHES=${BASELINE_LAUNCHES:-$MAX_LAUNCHES}
SAVE=0
case "${1:-}" in
  --save-baseline) SAVE=1 ;;
  "") ;;
  *) echo "usage: bench/nightly.sh [--save-baseline]" >&2; exit 2 ;;
esac

servers=()
for s in ${ADB_SERVERS:-}; do servers+=(--adb-server "$s"); done
mkdir -p "$OUT"

# 1. The suite on every phone. Exit 3 (a case failed, a phone was set aside) still has results to publish.
# Progress (stderr) goes to the job's log and to run.log; the results table (stdout) to summary.md.
"${SEGBENCH[@]}" run --suite "$SUITE" --device "$DEVICES" "${servers[@]}" --assets "$ASSETS" \
  --reports "$REPORTS" 2>&1 > "$OUT/summary.md" | tee "$OUT/run.log" >&2
rc_run=${PIPESTATUS[0]}
RUN=$(sed -n 's/^run \([0-9a-f-]*\): .*/\1/p' "$OUT/run.log" | head -n 1)
if [ -z "$RUN" ]; then
  echo "nightly: no run was started (segbench run exit $rc_run)" >&2
  exit "$rc_run"
fi

# 2. Keep it as the baseline, or compare with the baseline of each kind of phone and tool. A baseline is saved once
#    and compared with every night, so it gets its launches then: BASELINE_LAUNCHES per case, so that an outlier
#    launch of its own cannot keep a comparison unsure. A verdict compare finds unclear (a change past the threshold
#    that the launches cannot yet confirm) gets more evidence: the run's launches are doubled (up to MAX_LAUNCHES)
#    and it is compared again, as Chromium's Pinpoint adds repeats to a comparison it cannot yet decide
#    (docs/report.md).
launches_of_run() {
  sed -n 's/.*"launches": *\([0-9][0-9]*\).*/\1/p' "$REPORTS/runs/$RUN/run.json" | head -n 1
}
more_launches() {  # resume the run with $1 launches per case
  "${SEGBENCH[@]}" run --resume "$RUN" --launches "$1" "${servers[@]}" --assets "$ASSETS" \
    --reports "$REPORTS" 2>&1 > "$OUT/summary.md" | tee -a "$OUT/run.log" >&2
  rc_run=${PIPESTATUS[0]}
  case "$rc_run" in 0|3) ;; *) exit "$rc_run" ;; esac  # interrupted or broken: what was taken stays in the run
}
rc_cmp=0
if [ "$SAVE" = 1 ]; then
  have=$(launches_of_run)
  if [ -n "$have" ] && [ "$have" -lt "$BASELINE_LAUNCHES" ]; then
    echo "nightly: the baseline gets $BASELINE_LAUNCHES launches per case (it had $have)" >&2
    more_launches "$BASELINE_LAUNCHES"
  fi
else
  while :; do
    "${SEGBENCH[@]}" compare --baseline "$RUN" --reports "$REPORTS" --threshold "$THRESHOLD" \
      --junit "$OUT/junit.xml" > "$OUT/compare.md"
    rc_cmp=$?
    grep -q '^| [^|]* | [^|]* | [^|]* | [^|]* | unclear ' "$OUT/compare.md" || break
    have=$(launches_of_run)
    [ -n "$have" ] && [ "$have" -lt "$MAX_LAUNCHES" ] || break
    more=$(( have * 2 < MAX_LAUNCHES ? have * 2 : MAX_LAUNCHES ))
    echo "nightly: unclear verdicts with $have launch(es) per case: resuming run $RUN with $more" >&2
    more_launches "$more"
  done
fi

# 3. Reports of this run (with every launch it took), for people (markdown, HTML) and machines (JSON).
for fmt in markdown html json; do
  ext=${fmt/markdown/md}
  "${SEGBENCH[@]}" report --run "$RUN" --reports "$REPORTS" --format "$fmt" -o "$OUT/report.$ext" || exit $?
done

if [ "$SAVE" = 1 ]; then
  "${SEGBENCH[@]}" baseline save "$RUN" --reports "$REPORTS" | tee "$OUT/baseline.txt" || exit $?
  exit "$rc_run"
fi
cat "$OUT/compare.md"
if [ "$rc_cmp" != 0 ]; then exit "$rc_cmp"; fi
exit "$rc_run"
