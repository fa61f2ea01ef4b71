#!/usr/bin/env bash
# tools/device/run_checks.sh without a GPU: its plumbing, where a mistake costs nothing instead of
# the one device call. A copy of tools/device/ in a scratch root, with a device_carry/ whose bin/
# holds a stand-in golden_parity (Catch2's closing line) and whose lib/ is empty:
#   - an unknown STAGES name stops the script before anything runs (exit 2, naming it);
#   - STAGES="info golden" runs the stand-in, and with more than 8 files in $OUT the stages' logs
#     are packed into one archive (the tool returns 8), run.log and results.md kept;
#   - the stage table is the last thing printed.
#
# usage: check_run_checks.sh REPO_ROOT
set -euo pipefail
repo=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "check_run_checks: FAIL: $*" >&2; exit 1; }

root="$work/root"
mkdir -p "$root/tools" "$work/carry/bin" "$work/carry/lib" "$root/device_carry/shared" "$work/out"
cp -r "$repo/tools/device" "$root/tools/device"
cat > "$work/carry/bin/golden_parity" << 'FAKE'
#!/usr/bin/env bash
echo "All tests passed (12 assertions in 3 test cases)"
FAKE
chmod +x "$work/carry/bin/golden_parity"
# Python writes the xz archives: a fresh machine need not have the xz program.
for part in bin lib; do
  python3 -c 'import sys, tarfile; t = tarfile.open(sys.argv[1], "w:xz"); t.add(sys.argv[2], arcname=sys.argv[3]); t.close()' \
    "$root/device_carry/$part.tar.xz" "$work/carry/$part" "$part"
done
printf 'device_carry (stand-in)\ncommit check_run_checks\n' > "$root/device_carry/MANIFEST.txt"

export WORK_DIR="$work/run" OUT="$work/out"
set +e
STAGES="info bench_kernels" bash "$root/tools/device/run_checks.sh" > "$work/typo.log" 2>&1
rc=$?
set -e
[[ $rc == 2 ]] || fail "an unknown stage exited $rc, expected 2: $(cat "$work/typo.log")"
grep -q "unknown stage 'bench_kernels'" "$work/typo.log" || fail "no message naming the unknown stage"
[[ ! -e "$work/run/carry" ]] || fail "an unknown stage still unpacked the carry"

# Eight files a longer run would leave, then the run itself adds results.md.
for name in tests.log hf_parity.log app_checks.log real_model.log e2e_speed.log bench_kernels.md \
  bench_kernels.json hf_parity.json; do
  echo "from an earlier stage" > "$OUT/$name"
done
STAGES="info golden" bash "$root/tools/device/run_checks.sh" > "$work/run.out" 2>&1 ||
  fail "run_checks.sh exited $?: $(cat "$work/run.out")"
grep -q '^| golden_parity (CPU) | PASS | 3 passed, 0 failed (12 assertions) |$' "$work/run.out" ||
  fail "no golden_parity row in: $(cat "$work/run.out")"
[[ "$(tail -1 "$work/run.out")" == "| golden_parity (CPU) | PASS |"* ]] ||
  fail "the stage table is not printed last: $(tail -3 "$work/run.out")"
count=$(find "$OUT" -maxdepth 1 -type f | wc -l)
((count <= 8)) || fail "$count files in \$OUT: $(ls "$OUT")"
archive=$(find "$OUT" -maxdepth 1 -name 'logs.tar.*' | head -1)
[[ -n "$archive" ]] || fail "no logs archive in: $(ls "$OUT")"
for kept in run.log results.md bench_kernels.md bench_kernels.json hf_parity.json; do
  [[ -f "$OUT/$kept" ]] || fail "$kept was packed or lost"
done
packed=$(tar -tf "$archive" | sort | tr '\n' ' ')
[[ "$packed" == "app_checks.log e2e_speed.log hf_parity.log real_model.log tests.log " ]] ||
  fail "packed: $packed"
tar -xOf "$archive" tests.log | grep -q "All tests passed (12 assertions" ||
  fail "golden_parity's output did not reach tests.log"
echo "check_run_checks: OK"
