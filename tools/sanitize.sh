#!/usr/bin/env bash
# Builds the host code and the CPU test suite with AddressSanitizer + UndefinedBehaviorSanitizer
# in a separate build directory, and runs the tests under them: any leak, out-of-bounds
# access, use-after-free or undefined behaviour fails the test that triggered it.
#
#   bash tools/sanitize.sh                 # everything the CPU suite has
#   bash tools/sanitize.sh 'test_resume|test_train_failures'   # a ctest -R regex: builds and
#                                                              # runs only those tests
#
# BUILD_DIR (default build-san) and JOBS (default 2) override the defaults. CUDA is off (the
# sanitizers instrument host code), and so is MPI: Open MPI's own allocations at MPI_Init/
# MPI_Finalize are reported as leaks by LeakSanitizer, which would drown ours.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build-san}
jobs=${JOBS:-2}
tests=${1:-}
generator=()
if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi

cmake -S . -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DBERT_SANITIZE=ON -DBERT_ENABLE_CUDA=OFF -DBERT_ENABLE_MPI=OFF >/dev/null
if [ -z "$tests" ]; then
  cmake --build "$build_dir" -j "$jobs"
else
  # Only the test binaries the regex selects (and what they depend on, train_squad included).
  mapfile -t selected < <(ctest --test-dir "$build_dir" -N -R "$tests" | sed -n 's/^ *Test *#[0-9]*: //p')
  targets=()
  for name in "${selected[@]}"; do  # a test named like a target runs that binary; others are scripts
    if cmake --build "$build_dir" --target "$name" -- -n >/dev/null 2>&1; then targets+=("$name"); fi
  done
  if [ ${#targets[@]} -gt 0 ]; then cmake --build "$build_dir" -j "$jobs" --target "${targets[@]}"; fi
fi

# halt_on_error makes UBSan findings fatal (by default it reports and continues);
# print_stacktrace says where. detect_leaks is on by default on Linux; said here for clarity.
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1
ctest_args=(--test-dir "$build_dir" --output-on-failure -j "$jobs")
if [ -n "$tests" ]; then ctest_args+=(-R "$tests"); fi
ctest "${ctest_args[@]}"
