#!/usr/bin/env bash
# Builds the libFuzzer targets in fuzz/ with clang (every library instrumented for coverage,
# ASan and UBSan) and runs each for a bounded time, starting from the seeds in
# fuzz/corpus/<target>/ (and the dictionary fuzz/<target>.dict when there is one). Findings (crash, leak, UB, timeout) stop that target and are saved
# as <build>/fuzz-artifacts/<target>-crash-<hash>; reproduce one with
#   <build>/fuzz/<target> <that file>
#
#   bash tools/fuzz.sh           # 60 s per target
#   bash tools/fuzz.sh 20        # 20 s per target (CI)
#
# Needs clang and its libFuzzer runtime (Debian: clang, libclang-rt-dev). BUILD_DIR (default
# build-fuzz) and JOBS (default 2) override the defaults. Exit status: 0 when no target found
# anything, 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
build_dir=${BUILD_DIR:-build-fuzz}
jobs=${JOBS:-2}
targets=(fuzz_squad_reader fuzz_wordpiece fuzz_safetensors fuzz_torch_checkpoint fuzz_windows fuzz_postprocess)
cxx=${FUZZ_CXX:-clang++}
cc=${FUZZ_CC:-clang}
generator=()
if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi

cmake -S . -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_C_COMPILER="$cc" -DBERT_BUILD_FUZZERS=ON \
  -DBERT_BUILD_TESTS=OFF -DBERT_ENABLE_CUDA=OFF -DBERT_ENABLE_MPI=OFF >/dev/null
cmake --build "$build_dir" -j "$jobs" --target "${targets[@]}"

export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=detect_leaks=1
mkdir -p "$build_dir/fuzz-artifacts"
failed=()
for target in "${targets[@]}"; do
  # The working corpus grows in the build directory; the committed seeds stay untouched.
  corpus="$build_dir/fuzz-corpus/$target"
  mkdir -p "$corpus"
  dict=()
  if [ -f "fuzz/$target.dict" ]; then dict=(-dict="fuzz/$target.dict"); fi
  echo "== $target: ${seconds} s"
  if ! "$build_dir/fuzz/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -max_len=8192 -print_final_stats=1 -artifact_prefix="$build_dir/fuzz-artifacts/$target-" \
      "${dict[@]}" "$corpus" "fuzz/corpus/$target" 2>"$build_dir/fuzz-artifacts/$target.log"; then
    failed+=("$target")
    tail -n 60 "$build_dir/fuzz-artifacts/$target.log"
  else
    grep -E "^stat::(number_of_executed_units|new_units_added)|^Done" "$build_dir/fuzz-artifacts/$target.log" || true
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: findings in: ${failed[*]} (see $build_dir/fuzz-artifacts/)" >&2
  exit 1
fi
echo "fuzz.sh: no findings (${#targets[@]} targets, ${seconds} s each)"
