#!/usr/bin/env bash
# Runs comm_failure_probe under mpirun and checks that the job fails, within a time bound,
# and (optionally) with the expected message: a dead or stalled peer must end the job, not
# hang it.
# usage: run_failure_probe.sh <mpiexec> <probe> <stall|exit> <timeout_s> <max_seconds> [<regex>]
set -u
mpiexec=$1 probe=$2 mode=$3 timeout_s=$4 max_seconds=$5 pattern=${6:-}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
start_ms=$(( $(date +%s%N) / 1000000 ))
# timeout(1) is the last guard; ctest's TIMEOUT the one after it.
timeout -k 5 $((max_seconds + 20)) "$mpiexec" --allow-run-as-root --oversubscribe -np 2 \
  "$probe" "$mode" "$timeout_s" >"$log" 2>&1
status=$?
elapsed_ms=$(( $(date +%s%N) / 1000000 - start_ms ))
elapsed="$((elapsed_ms / 1000)).$(printf %03d $((elapsed_ms % 1000)))"
cat "$log"
echo "run_failure_probe: mode $mode, exit status $status after ${elapsed} s (bound ${max_seconds} s)"
if [ "$status" -eq 0 ]; then echo "FAIL: the job succeeded although rank 1 failed"; exit 1; fi
if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then echo "FAIL: the job hung until timeout(1) killed it"; exit 1; fi
if [ "$elapsed_ms" -gt $((max_seconds * 1000)) ]; then echo "FAIL: took longer than ${max_seconds} s"; exit 1; fi
if [ -n "$pattern" ] && ! grep -Eq "$pattern" "$log"; then echo "FAIL: no line matches /$pattern/"; exit 1; fi
echo "PASS"
