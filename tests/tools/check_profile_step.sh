#!/usr/bin/env bash
# tools/device/profile_step.sh without a GPU: a stand-in `ncu` runs the profiled command as
# given (train_squad on the CPU: the flags must be ones it takes) and answers --import with a
# small raw CSV, so the script's plumbing (model directory, train_squad's flags,
# BERT_PROFILE_STEP, the report's import, ncu_summary.py, the files written) is checked where a
# mistake costs nothing instead of a device call.
#
# usage: check_profile_step.sh REPO_ROOT BIN_DIR
set -euo pipefail
root=$1
bin=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "check_profile_step: FAIL: $*" >&2; exit 1; }

mkdir -p "$work/fake"
cat > "$work/fake/ncu" << 'FAKE'
#!/usr/bin/env bash
# Stand-in for Nsight Compute: --version, --import (a canned raw CSV), or the profiled run.
log="$(dirname "$0")/calls.log"
echo "ncu $* | BERT_PROFILE_STEP=${BERT_PROFILE_STEP:-unset}" >> "$log"
[[ "${1:-}" == --version ]] && { echo "fake ncu 0.0"; exit 0; }
if [[ " $* " == *" --import "* ]]; then
  [[ " $* " == *" --page raw "* ]] || exit 1  # as if this ncu had no details page
  printf '%s\n' '==PROF== fake' '"ID","Kernel Name","gpu__time_duration.sum","launch__grid_size"' \
    '"","","usecond",""' '"0","void bert::k<1>(int)","12.5","96"' '"1","void bert::k<1>(int)","7.5","96"'
  exit 0
fi
export_to=""
while (($#)); do
  case "$1" in
    --export) export_to=$2; shift 2 ;;
    --profile-from-start | --clock-control | --section) shift 2 ;;
    --*) shift ;;
    *) break ;;
  esac
done
[[ -n "$export_to" ]] && : > "$export_to.ncu-rep"
exec "$@"
FAKE
chmod +x "$work/fake/ncu"

rc=0
NCU="$work/fake/ncu" PROFILE_DEVICE=cpu PROFILE_LAYERS=1 PROFILE_BATCH=4 PROFILE_STEP=2 \
  bash "$root/tools/device/profile_step.sh" "$bin" "$root/data/samples/squad-mini.json" \
  "$root/data/samples/tiny-bert-uncased/vocab.txt" "$work/run" "$work/out" > "$work/out.log" 2>&1 || rc=$?
((rc == 0)) || { tail -30 "$work/out.log"; fail "profile_step.sh exited $rc"; }

calls="$work/fake/calls.log"
grep -q -- "--profile-from-start off .*train_squad .* | BERT_PROFILE_STEP=2$" "$calls" ||
  { cat "$calls"; fail "the profiled run: profiling off at the start, BERT_PROFILE_STEP=2"; }
grep -q -- "--max_steps 2 .*--device cpu" "$calls" || { cat "$calls"; fail "train_squad's flags"; }
grep -q "^| \`k<1>\` | 2 | 20.0 | 100.0% | 10.0 | 96 × – |" "$work/out/profile.md" ||
  { cat "$work/out/profile.md"; fail "profile.md's row"; }
grep -q "^PROFILE: PASS 1 kernel rows" "$work/out.log" || { tail "$work/out.log"; fail "PASS line"; }
[[ -s "$work/out/profile_raw.csv.xz" || -s "$work/out/profile_raw.csv.gz" ]] || fail "the raw CSV kept"
python3 -c "import json,sys; c=json.load(open(sys.argv[1])); assert c['num_hidden_layers'] == 1" \
  "$work/run/model/config.json" || fail "PROFILE_LAYERS in config.json"

# No ncu anywhere: skipped (77), nothing run.
rc=0
NCU="" PATH=/usr/bin:/bin bash "$root/tools/device/profile_step.sh" "$bin" x y "$work/none" "$work/none_out" \
  > "$work/none.log" 2>&1 || rc=$?
if [[ -x /usr/local/cuda/bin/ncu ]] || compgen -G "/opt/nvidia/nsight-compute/*/ncu" > /dev/null; then
  echo "check_profile_step: this machine has ncu: the no-ncu case is not checked"
else
  if ((rc != 77)) || ! grep -q "PROFILE: SKIPPED" "$work/none.log"; then
    cat "$work/none.log"
    fail "without ncu: exit 77"
  fi
fi
echo "check_profile_step: OK"
