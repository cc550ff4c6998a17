#!/usr/bin/env bash
# make test's stages, one after another, each timed: `scripts/stages.sh docs-check test-unit ...`
# runs `make <stage>` for each and prints the time of every stage at the end, also when one fails
# (the run stops at the first failure and exits with its code).
set -uo pipefail
names=() seconds=() status=0
for stage in "$@"; do
    start=$(date +%s)
    make --no-print-directory "$stage"
    rc=$?
    names+=("$stage") seconds+=($(( $(date +%s) - start )))
    if [ "$rc" -ne 0 ]; then
        status=$rc
        break
    fi
done
total=0
echo "make test: time per stage"
for i in "${!names[@]}"; do
    total=$(( total + seconds[i] ))
    printf '  %-18s %5d s (%d min %02d s)\n' "${names[i]}" "${seconds[i]}" $(( seconds[i] / 60 )) $(( seconds[i] % 60 ))
done
printf '  %-18s %5d s (%d min %02d s)%s\n' total "$total" $(( total / 60 )) $(( total % 60 )) \
    "$([ "$status" -ne 0 ] && echo ", FAILED in ${names[-1]}")"
exit "$status"
