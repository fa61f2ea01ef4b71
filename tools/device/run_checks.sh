#!/usr/bin/env bash
# The one device call: runs ON the GPU machine from the repository root with device_carry/
# (tools/device/build_carry.sh) carried beside the working tree:
#   run(command="bash tools/device/run_checks.sh", carry=["device_carry"], timeout_s=420)
# Stages, each under its own `timeout` and all under one deadline (BUDGET_S, default 390 s: the
# call's timeout_s less 30 s for the summary; a later call sets BUDGET_S from status's
# budget_left_s, since the tool cuts a call's limit to the device time left), continuing past a
# failing stage:
#   info      nvidia-smi (card, driver, clocks), the bundle's commit, libraries that do not resolve
#   test_gpu  every [gpu] test (Catch2), again with BERT_PROGRAMMATIC_LAUNCH=1 (unless the first
#             run timed out: a hang would only repeat), then any other
#             GPU test binary carried (names with gpu/cuda), each exiting 77 = skipped; the GPU
#             golden test also on tests/fixtures/golden-drawn-config
#   golden_sweep  tools/golden/sweep.sh with the GPU golden test: GOLDEN_SWEEP_COUNT (default 6)
#             BERT configurations drawn by make_golden.py (hidden a multiple of 4), each against
#             transformers in float64 there, bf16 and fp32 compute. Only when named
#             (STAGES="... golden_sweep"): not part of "all"
#   bench     bench_kernels: every kernel at bert-base shapes, SQuAD-like and uniform-384 batches;
#             then benchmarks/attention_baseline.py: PyTorch SDPA (cuDNN, flash, efficient) on the
#             same batches, appended to bench_kernels.md; FAIL when a kernel failed its check
#   hf        tools/device/hf_parity.py: 50-step loss parity and windows/s, ours vs Hugging Face
#   app       tools/device/app_checks.py: resume bit-identical, mpirun -np 1 (NCCL) == plain run, OOM message, model sizes (refusal, head_dim 26)
#   golden    golden_parity (the CPU engine against the HF golden: a sanity check of the bundle)
#   real_model  benchmarks/real_model/compare.sh --device cuda on the pretrained all-MiniLM-L6-v2
#             (bf16), when device_carry/minilm-bf16.tar.xz was carried (CARRY_MINILM=1 bash
#             tools/device/build_carry.sh): ours and Hugging Face side by side, 3 epochs, 2 seeds
#             each; compare.json/compare.log come back in $OUT
#   e2e       benchmarks/e2e_speed.py (issue 13): train_squad's step against Hugging Face eager and
#             torch.compile, padded to 384 and to the longest, batches 32 and 64, dropout 0.1, same
#             windows; windows/s, tokens/s, MFU; then eval_squad's model time over all 10,784 dev
#             windows. Only when named (STAGES="e2e"): not part of "all"
#   profile   tools/device/profile_step.sh: one train_squad step (bert-base shapes, PROFILE_LAYERS
#             layers, default 2; batch 32, dropout 0.1, real windows) under Nsight Compute: per
#             kernel, cuBLASLt's included, occupancy, throughputs, tensor-pipe use and the top warp
#             stall reasons; profile.md and profile_raw.csv.xz come back in $OUT. Only when named
#             (STAGES="profile"): not part of "all"
# The named stages run in this order: profile (bounded, a minute or two) before e2e, whose
# Hugging Face side can take all that is left.
# STAGES (default "all") picks stages by the names above, e.g. STAGES=real_model BUDGET_S=540; an
# unknown name stops the run before anything starts (exit 2), so a typo costs no device time.
# STAGE_CAP (seconds) caps each stage's timeout. Extra flags: BENCH_ARGS for bench_kernels (e.g.
# "--repeats 100 --flush_l2 false"), HF_ARGS for hf_parity.py (e.g. "--steps 100"), E2E_ARGS,
# REAL_MODEL_ARGS: word lists split at spaces (no quoted values holding spaces; a list value
# is comma-separated, e.g. REAL_MODEL_ARGS="--seeds 42,43 --epochs 2"). Everything goes to $OUT, of which the device tool brings back
# at most 8 files: results.md (summary and tables), run.log, bench_kernels.md/.json,
# hf_parity.json, compare.json, e2e_speed.json, profile.md, and the stages' logs (tests.log,
# hf_parity.log, app_checks.log, ...) packed into logs.tar.xz when there would be more than 8.
# The summary table is printed last, so that it is inside what the tool shows of the output.
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root" || exit 1
out="${OUT:-$root/device_out}"
work="${WORK_DIR:-/tmp/bert_device_run}"
budget="${BUDGET_S:-390}"
mkdir -p "$out" "$work"
started="$(date +%s)"
deadline=$((started + budget))
runlog="$out/run.log"
: > "$runlog"
tests_log="$out/tests.log"  # test_gpu starts it; golden and golden_sweep append to it

known_stages=" all info test_gpu golden_sweep bench hf app golden real_model e2e profile "
for stage in ${STAGES:-all}; do
  if [[ "$known_stages" != *" $stage "* ]]; then
    echo "run_checks.sh: unknown stage '$stage' in STAGES (known:$known_stages)" | tee -a "$runlog"
    exit 2
  fi
done

note() { printf '[run_checks %3ds] %s\n' "$(($(date +%s) - started))" "$*" | tee -a "$runlog"; }

if [[ ! -f device_carry/bin.tar.xz || ! -f device_carry/lib.tar.xz ]]; then
  echo "device_carry/ is missing: run 'bash tools/device/build_carry.sh' on the build machine and name" \
    "device_carry in the call's carry list" | tee -a "$runlog"
  exit 1
fi
# shellcheck source=tools/device/carry_env.sh
BERT_CARRY="$root/device_carry" BERT_UNPACK_DIR="$work/carry" source tools/device/carry_env.sh ||
  { echo "could not unpack device_carry/*.tar.xz" | tee -a "$runlog"; exit 1; }
bin="$BERT_CARRY_BIN"

stages=" ${STAGES:-all} "
want() { [[ "$stages" == *" all "* || "$stages" == *" $1 "* ]]; }

declare -a summary=()   # "stage|status|detail" lines for the final table
add_summary() { summary+=("$1|$2|$3"); }

# run_stage NAME DEFAULT_TIMEOUT LOGFILE COMMAND...: the timeout shrinks to what the deadline
# leaves (less a reserve for the summary); sets stage_rc (124 = timed out, 125 = no time left).
stage_rc=0
run_stage() {
  local name="$1" limit="$2" logfile="$3"
  shift 3
  local left=$((deadline - $(date +%s) - 15))
  if ((left < 20)); then
    note "$name: skipped, only ${left}s left of the ${budget}s budget"
    stage_rc=125
    return
  fi
  ((limit > left)) && limit=$left
  # STAGE_CAP (seconds) caps every stage, so that one hanging stage cannot eat a short budget.
  if [[ -n "${STAGE_CAP:-}" ]] && ((limit > STAGE_CAP)); then limit=$STAGE_CAP; fi
  note "$name: start (timeout ${limit}s): $*"
  local began
  began="$(date +%s)"
  {
    printf '\n===== %s: %s\n' "$name" "$*"
    timeout -k 10 "$limit" "$@"
  } >> "$logfile" 2>&1
  stage_rc=$?
  local took=$(($(date +%s) - began))
  # Killed by -k 10 after ignoring SIGTERM: timeout exits 137, still a timeout.
  if ((stage_rc == 137 && took >= limit)); then stage_rc=124; fi
  note "$name: exit $stage_rc after ${took}s$([[ $stage_rc == 124 ]] && echo ' (TIMED OUT)')"
}

# Catch2 v2's closing line -> "passed/failed/total test cases" text.
catch_counts() {  # logfile
  local line
  line="$(grep -E '^(All tests passed|test cases:)' "$1" | tail -1)"
  if [[ "$line" == "All tests passed"* ]]; then
    sed -E 's/All tests passed \(([0-9]+) assertions? in ([0-9]+) test cases?\)/\2 passed, 0 failed (\1 assertions)/' <<< "$line"
  elif [[ -n "$line" ]]; then
    sed -E 's/test cases: *([0-9]+) \| *([0-9]+) passed \| *([0-9]+) failed.*/\2 passed, \3 failed of \1/' <<< "$line"
  else
    grep -m1 -E 'SKIPPED|error' "$1" || echo "no Catch2 summary"
  fi
}
status_of() {  # rc
  case "$1" in 0) echo PASS ;; 77) echo SKIPPED ;; 124) echo TIMEOUT ;; 125) echo "NOT RUN" ;; *) echo "FAIL ($1)" ;; esac
}

# ---- info ------------------------------------------------------------------------------------
{
  echo "# Device run $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo
  echo '```'
  sed -n '1,4p' device_carry/MANIFEST.txt 2> /dev/null
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem,power.limit,temperature.gpu \
    --format=csv 2>&1
  nvidia-smi 2>&1 | sed -n '1,12p'
  echo "host: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)," \
    "$(. /etc/os-release 2> /dev/null && echo "$PRETTY_NAME"), glibc $(ldd --version 2>&1 | head -1 | awk '{print $NF}')"
  echo "carried fallback libraries used: ${BERT_CARRY_FALLBACK_USED:-none}"
  # ncu cannot read counters on some runtimes (gVisor): seen here before the profile stage runs.
  echo "kernel $(uname -r); $(if command -v ncu > /dev/null; then ncu --version 2>&1 | tail -1; else echo 'no ncu in PATH'; fi)"
  for exe in "$bin"/*; do
    ldd "$exe" 2>&1 | grep -q "not found" && echo "UNRESOLVED in $(basename "$exe"): $(ldd "$exe" | grep 'not found' | tr -s ' \t' ' ' | tr '\n' ';')"
  done
  echo '```'
} > "$work/info.md" 2>&1
tee -a "$runlog" < "$work/info.md"
gpu_name="$(nvidia-smi --query-gpu=name --format=csv,noheader 2> /dev/null | head -1)"

# ---- GPU tests -------------------------------------------------------------------------------
if want test_gpu; then
  # The GPU tests find their fixtures through the build machine's absolute source path.
  if [[ ! -e /work/main && -w / ]]; then mkdir -p /work && ln -s "$root" /work/main; fi
  : > "$tests_log"
  if [[ -x "$bin/test_gpu" ]]; then
    run_stage test_gpu 180 "$tests_log" "$bin/test_gpu" --durations yes
    add_summary "test_gpu" "$(status_of $stage_rc)" "$(catch_counts "$tests_log")"
    # Every kernel against its CPU reference again, launched with programmatic dependent launch
    # (kernels/kernel_launch.cuh), the candidate that overlaps each kernel's start with the end
    # of the one before.
    if ((stage_rc == 124)); then
      add_summary "test_gpu (BERT_PROGRAMMATIC_LAUNCH=1)" "NOT RUN" "test_gpu timed out: see tests.log"
    else
      part="$work/test_gpu_programmatic.log"
      : > "$part"
      run_stage test_gpu_programmatic 180 "$part" env BERT_PROGRAMMATIC_LAUNCH=1 "$bin/test_gpu"
      cat "$part" >> "$tests_log"
      add_summary "test_gpu (BERT_PROGRAMMATIC_LAUNCH=1)" "$(status_of $stage_rc)" "$(catch_counts "$part")"
    fi
  else
    add_summary "test_gpu" "MISSING" "not in device_carry/bin"
  fi
  for exe in "$bin"/*; do
    name="$(basename "$exe")"
    [[ "$name" == test_gpu || "$name" == bench_kernels ]] && continue
    [[ "$name" =~ (gpu|cuda) ]] || continue
    part="$work/$name.log"
    : > "$part"
    run_stage "$name" 120 "$part" "$exe"
    cat "$part" >> "$tests_log"
    add_summary "$name" "$(status_of $stage_rc)" "$(catch_counts "$part")"
  done
  # The GPU golden test again on the repository's golden of another shape (heads of 16, three
  # token types, layer_norm_eps 1e-3, padding ids among the real tokens).
  drawn="$root/tests/fixtures/golden-drawn-config"
  if [[ -x "$bin/test_golden_parity_gpu" && -f "$drawn/golden.safetensors" ]]; then
    part="$work/golden_drawn_gpu.log"
    : > "$part"
    run_stage golden_parity_gpu_drawn 60 "$part" env BERT_GOLDEN_DIR="$drawn" "$bin/test_golden_parity_gpu"
    cat "$part" >> "$tests_log"
    add_summary "test_golden_parity_gpu (drawn config)" "$(status_of $stage_rc)" "$(catch_counts "$part")"
  fi
fi

# ---- GPU golden test on drawn configurations (needs the machine's torch + transformers) -------
if [[ "$stages" == *" golden_sweep "* ]]; then
  if [[ -x "$bin/test_golden_parity_gpu" ]]; then
    part="$work/golden_sweep.log"  # appended to tests.log: the tool brings back at most 8 files
    : > "$part"
    # Each configuration starts python3 with torch afresh (10-20 s): 6 fit the cap.
    run_stage golden_sweep 240 "$part" env GOLDEN_PARITY="$bin/test_golden_parity_gpu" MAKE_ARGS="--hidden_multiple 4" \
      PYTHON=python3 bash tools/golden/sweep.sh 2000 "${GOLDEN_SWEEP_COUNT:-6}"
    cat "$part" >> "$tests_log"
    add_summary "golden_sweep (GPU)" "$(status_of $stage_rc)" "$(grep -E 'configurations pass' "$part" | tail -1)"
  else
    add_summary "golden_sweep (GPU)" "MISSING" "test_golden_parity_gpu not in device_carry/bin"
  fi
fi

# ---- kernel benchmark ------------------------------------------------------------------------
if want bench; then
  if [[ -x "$bin/bench_kernels" ]]; then
    # shellcheck disable=SC2086  # BENCH_ARGS is a word list on purpose
    run_stage bench_kernels 180 "$runlog" bash -c \
      "'$bin/bench_kernels' --json '$out/bench_kernels.json' ${BENCH_ARGS:-} > '$out/bench_kernels.md'"
    add_summary "bench_kernels" "$(status_of $stage_rc)" \
      "$(grep -c '^| ' "$out/bench_kernels.md" 2> /dev/null) table rows, $(grep -c '| WRONG | WRONG | WRONG |' "$out/bench_kernels.md" 2> /dev/null) kernel rows WRONG; $(grep -aoE '\[check\] [0-9]+ .*' "$runlog" | tail -1)"
    # The library baseline on the same batches (PyTorch SDPA: cuDNN, flash, efficient), appended
    # to bench_kernels.md.
    if [[ -f "$out/bench_kernels.json" ]]; then
      run_stage attention_baseline 90 "$runlog" bash -c \
        "python3 benchmarks/attention_baseline.py --json '$out/bench_kernels.json' >> '$out/bench_kernels.md'"
      add_summary "attention_baseline" "$(status_of $stage_rc)" \
        "$(grep -cE '^\| (squad|uniform) \| 12x(64|32) \| (cudnn|flash|efficient) \| (jagged|padded)' "$out/bench_kernels.md" 2> /dev/null) SDPA rows"
    fi
  else
    add_summary "bench_kernels" "MISSING" "not in device_carry/bin"
  fi
fi

# ---- Hugging Face parity and speed -----------------------------------------------------------
if want hf; then
  # shellcheck disable=SC2086  # HF_ARGS is a word list on purpose
  run_stage hf_parity 240 "$out/hf_parity.log" env PYTHONUNBUFFERED=1 python3 tools/device/hf_parity.py \
    --carry device_carry --work "$work/hf" --out "$out" --ours_timeout 150 ${HF_ARGS:-}
  hf_status="$(status_of $stage_rc)"
  if ((stage_rc == 0)) && grep -q '^PARITY: SKIPPED' "$out/hf_parity.log"; then hf_status=SKIPPED; fi
  hf_detail="$(grep -E '^PARITY:' "$out/hf_parity.log" | tail -1 | sed 's/^PARITY: [A-Z]* //')"
  add_summary "hf_parity" "$hf_status" "${hf_detail:-see hf_parity.log}"
fi

# ---- train_squad on the GPU: resume, mpirun -np 1 (NCCL), out of memory ---------------------
if want app; then
  run_stage app_checks 150 "$out/app_checks.log" env PYTHONUNBUFFERED=1 python3 tools/device/app_checks.py \
    --work "$work/app" --bert_base_model "$work/hf/model"
  add_summary "app_checks" "$(status_of $stage_rc)" \
    "$(grep -E '^APP: ' "$out/app_checks.log" 2> /dev/null | sed 's/^APP: //' | cut -c1-60 | tr '\n' ';')"
fi

# ---- CPU golden parity (sanity of the bundle and the carried data) ----------------------------
if want golden; then
  if [[ -x "$bin/golden_parity" ]]; then
    part="$work/golden_parity.log"
    : > "$part"
    run_stage golden_parity 60 "$part" "$bin/golden_parity"
    cat "$part" >> "$tests_log"
    add_summary "golden_parity (CPU)" "$(status_of $stage_rc)" "$(catch_counts "$part")"
  fi
fi

# ---- the real pretrained model, side by side with Hugging Face ---------------------------------
if want real_model; then
  if [[ -f device_carry/minilm-bf16.tar.xz ]]; then
    mkdir -p "$work/minilm"
    bert_unpack device_carry/minilm-bf16.tar.xz "$work/minilm"  # from carry_env.sh (xz or Python)
    run_stage real_model 480 "$out/real_model.log" env PYTHONUNBUFFERED=1 bash benchmarks/real_model/compare.sh \
      --device cuda --model "$work/minilm" --bin "$bin" --squad "$BERT_SHARED_DIR/data/squad/dev-v1.1.json" \
      --work "$work/real_model" ${REAL_MODEL_ARGS:-}
    cp "$work/real_model/compare.json" "$out/" 2> /dev/null
    add_summary "real_model" "$(status_of $stage_rc)" \
      "$(grep -E '^COMPARISON:' "$out/real_model.log" 2> /dev/null | tail -1)"
  else
    add_summary "real_model" "NOT CARRIED" "CARRY_MINILM=1 bash tools/device/build_carry.sh"
  fi
fi

# ---- one training step under Nsight Compute (named only) ---------------------------------------
if [[ "$stages" == *" profile "* ]]; then
  run_stage profile 240 "$out/profile.log" bash tools/device/profile_step.sh "$bin" \
    "$BERT_SHARED_DIR/data/squad/dev-v1.1.json" "$BERT_SHARED_DIR/data/bert-base-uncased/vocab.txt" \
    "$work/profile" "$out"
  add_summary "profile (ncu)" "$(status_of $stage_rc)" \
    "$(grep -E '^PROFILE:' "$out/profile.log" 2> /dev/null | tail -1 | sed 's/^PROFILE: [A-Z]* //')"
fi

# ---- end-to-end speed against Hugging Face (named only) -------------------------------------
if [[ "$stages" == *" e2e "* ]]; then
  # shellcheck disable=SC2086  # E2E_ARGS is a word list on purpose
  run_stage e2e_speed 420 "$out/e2e_speed.log" env PYTHONUNBUFFERED=1 python3 benchmarks/e2e_speed.py \
    --carry device_carry --bin "$bin" --work "$work/e2e" --out "$out" ${E2E_ARGS:-}
  # From e2e_speed.json, which holds every row as soon as it is measured (a timeout keeps them).
  e2e_detail="$(python3 - "$out/e2e_speed.json" << 'EOF' 2> /dev/null
import json, sys
r = json.load(open(sys.argv[1]))
parts = ["b%d %.0f win/s" % (x["batch"], x["windows_per_second"]) for x in r.get("rows", [])
         if x.get("side") == "ours" and x.get("status") == "ok"]
e = r.get("eval", {})
if e.get("status") == "ok":
    parts.append("eval: model %.3f s (%.0f windows/s)" % (e["model_seconds"], e["model_windows_per_second"]))
print("; ".join(parts))
EOF
)"
  add_summary "e2e_speed" "$(status_of $stage_rc)" "${e2e_detail:-no rows: see e2e_speed.log}"
fi

# ---- results.md and the summary table --------------------------------------------------------
key_rows() {  # the kernel rows worth a glance, from bench_kernels.md
  grep -E '^\| (squad|uniform|params|ceiling|overlap) \| (attention( mma_one_pass| mma_lean| mma_one_pass_lean)? \(dropout|layernorm|residual|bias\+gelu|gemm ffn1 768|adamw|gemm 8192|device-to-device|forward GEMMs|both)' \
    "$out/bench_kernels.md" 2> /dev/null | grep -vE '^\| [a-z]+ \| [^|]+ \| [^|]+ \| #' | awk -F'|' '{printf "| %s | %s | %s | %s µs | %s |\n", $2, $3, $4, $5, $7}' | sed 's/  */ /g'
}
gemm_fastest() {  # bench_kernels' survey: each GEMM's fastest cuBLASLt candidate against #0
  sed -n '/^| batch | gemm | role | fastest/,/^$/p' "$out/bench_kernels.md" 2> /dev/null
}
speed_rows() {
  python3 - "$out/hf_parity.json" << 'EOF' 2> /dev/null
import json, sys
r = json.load(open(sys.argv[1]))
s = r.get("speed", {})
for k in ("hf_sdpa_longest", "hf_sdpa_384"):
    if k in s:
        print("| %s | %.1f windows/s | %.1f ms/step, padded to %d |" % (k, s[k]["windows_per_second"], s[k]["ms_per_step"], s[k]["padded_length"]))
if "ours_median_windows_per_second" in s:
    print("| ours (train_squad --device %s) | %.1f windows/s | median per step |" % (r["settings"]["device"], s["ours_median_windows_per_second"]))
if "ours_over_hf_longest" in s:
    print("| ours / HF (longest) | %.2fx | |" % s["ours_over_hf_longest"])
EOF
}
{
  cat "$work/info.md"
  echo
  echo "## Summary"
  echo
  echo "| stage | status | detail |"
  echo "| --- | --- | --- |"
  for row in "${summary[@]}"; do IFS='|' read -r a b c <<< "$row"; echo "| $a | $b | $c |"; done
  echo
  echo "## Speed on the parity batch"
  echo
  echo "| what | rate | note |"
  echo "| --- | --- | --- |"
  speed_rows
  echo
  echo "## Kernels (bench_kernels.md has every row)"
  echo
  sed -n '/^| batch | estimated step/,/^$/p' "$out/bench_kernels.md" 2> /dev/null
  echo "cuBLASLt's candidates (bench_kernels.md's last tables): the fastest of each GEMM"
  echo
  gemm_fastest
  echo
  echo "| batch | op | pass | median | rate |"
  echo "| --- | --- | --- | --- | --- |"
  key_rows
  echo
  echo "## Loss parity (hf_parity.log has every step)"
  echo
  grep -E '^\| (step|---|[0-9]+ )' "$out/hf_parity.log" 2> /dev/null | awk 'NR <= 7 || NR % 10 == 2'
  if [[ -f "$out/profile.md" ]]; then
    echo
    sed -n '1,40p' "$out/profile.md"
  fi
  if [[ -f "$out/real_model.log" ]]; then
    echo
    echo "## Real model (all-MiniLM-L6-v2, real_model.log has the whole run)"
    echo
    echo '```'
    sed -n '/^| side |/,/^COMPARISON/p' "$out/real_model.log"
    echo '```'
  fi
} > "$out/results.md"

echo
sed -n '/^| kernel | launches/,/^$/p' "$out/profile.md" 2> /dev/null | head -22
key_rows
gemm_fastest
sed -n '/^| batch | estimated step/,/^$/p' "$out/bench_kernels.md" 2> /dev/null
sed -n '/^| side |/,/^COMPARISON/p' "$out/real_model.log" 2> /dev/null
grep -E '^SPEED: train_squad' "$out/app_checks.log" 2> /dev/null
speed_rows

# The tool brings back at most 8 files: past that, the stages' logs travel as one archive.
shopt -s nullglob
files=("$out"/*)
if ((${#files[@]} > 8)); then
  packed=()
  for f in "$out"/*.log "$out"/profile_raw.csv.*; do
    [[ "$(basename "$f")" == run.log ]] || packed+=("$(basename "$f")")
  done
  # xz may be missing there (carry_env.sh unpacks with Python then): gzip instead.
  archive=logs.tar.xz
  command -v xz > /dev/null || archive=logs.tar.gz
  if ((${#packed[@]} > 0)) && tar -C "$out" -caf "$out/$archive" "${packed[@]}"; then
    (cd "$out" && rm -f -- "${packed[@]}")
    echo "(more than 8 files: ${packed[*]} packed into \$OUT/$archive)"
  fi
fi
files=("$out"/*)
((${#files[@]} > 8)) && echo "WARNING: \$OUT holds ${#files[@]} files; the tool brings back 8: $(cd "$out" && ls | tr '\n' ' ')"

echo "(full tables: \$OUT/results.md, bench_kernels.md; logs: run.log, tests.log or logs.tar.xz)"
echo "===== SUMMARY: ${gpu_name:-no GPU seen}, $(sed -n '2p' device_carry/MANIFEST.txt 2> /dev/null), $(($(date +%s) - started))s"
echo "| stage | status | detail |"
for row in "${summary[@]}"; do IFS='|' read -r a b c <<< "$row"; echo "| $a | $b | $c |"; done
