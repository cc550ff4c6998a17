#!/usr/bin/env bash
# make test's stages, timed: `scripts/stages.sh docs-check test-unit 'molecule|lint,sanity' test-serial`
# runs `make <stage>` for each argument in turn. An argument with `|` is a group of lanes that run at
# once (stages in a lane, split by `,`, one after another): the first lane prints as it goes, the
# others into .cache/stages/lane-<lane>.log, printed when the group ends. It prints the time of every
# stage and the wall time at the end, also when one fails (the run stops after the first group with
# a failure and exits with its code). Each stage's output is also kept in .cache/stages/<stage>.log; for a
# stage that failed, the end of the output names why (its failed tasks and tests, a few lines each), so the
# last screen of a CI log says what broke.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOGS="$ROOT/.cache/stages"
mkdir -p "$LOGS"
report="$LOGS/times" status=0 begin=$(date +%s)
: >"$report"

# one lane: its stages in turn, each line "<stage> <seconds> <exit code>" appended to the report
lane() {
    local stage start rc
    for stage in ${1//,/ }; do
        start=$(date +%s)
        make --no-print-directory -C "$ROOT" "$stage" 2>&1 | tee "$LOGS/$stage.log"
        rc=${PIPESTATUS[0]}
        echo "$stage $(( $(date +%s) - start )) $rc" >>"$report"
        [ "$rc" -eq 0 ] || return "$rc"
    done
}

for group in "$@"; do
    IFS='|' read -r -a lanes <<<"$group"
    pids=() logs=()
    for i in "${!lanes[@]}"; do
        if [ "$i" -eq 0 ]; then
            lane "${lanes[0]}" & pids+=($!) logs+=("")
        else
            log="$LOGS/lane-${lanes[i]//,/-}.log"
            lane "${lanes[i]}" >"$log" 2>&1 & pids+=($!) logs+=("$log")
        fi
    done
    for i in "${!pids[@]}"; do
        wait "${pids[i]}"
        rc=$?
        [ "$rc" -eq 0 ] || status=$rc
    done
    for log in "${logs[@]}"; do
        [ -n "$log" ] || continue
        echo "---- $(basename "$log" .log | sed "s/^lane-//") (ran beside the lane above) ----"
        cat "$log"
    done
    [ "$status" -eq 0 ] || break
done

# why STAGE failed, from its log: Ansible's failed tasks (fatal/FAILED! and what follows), pytest's failed
# tests and their assertion lines, molecule's and make's errors; colours dropped, lines cut, at most $2 lines
why_failed() {
    sed 's/\x1b\[[0-9;]*m//g' "$LOGS/$1.log" \
        | grep -E -A8 'fatal: \[|FAILED!|failed: \[|^FAILED |^ERROR |^E  +[A-Za-z]|ERROR +Ansible return code' \
        | grep -v -E '^(--)?$' | cut -c1-300 | head -n "$2"
}

wall=$(( $(date +%s) - begin ))
# 40 lines for all the failed stages together (two lanes can fail at once): the tail of a log shows them
failed=$(awk '$3 != 0' "$report" | wc -l)
while read -r stage seconds rc; do
    [ "$rc" -ne 0 ] || continue
    echo "---- why $stage failed (from .cache/stages/$stage.log) ----"
    why_failed "$stage" $(( 40 / failed ))
done <"$report"
echo "make test: time per stage (stages of one group ran at once)"
while read -r stage seconds rc; do
    printf '  %-18s %5d s (%d min %02d s)%s\n' "$stage" "$seconds" $(( seconds / 60 )) $(( seconds % 60 )) \
        "$([ "$rc" -ne 0 ] && echo ", FAILED (exit $rc)")"
done <"$report"
printf '  %-18s %5d s (%d min %02d s)%s\n' "wall time" "$wall" $(( wall / 60 )) $(( wall % 60 )) \
    "$([ "$status" -ne 0 ] && echo ", FAILED")"
exit "$status"
