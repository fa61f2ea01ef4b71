#!/usr/bin/env bash
# Configure, build (CUDA too when nvcc is on PATH) and run the whole CPU test suite.
# GPU tests run where a GPU exists and are reported as skipped elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}
generator=()
if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi
cmake -S . -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release
cmake --build "$build_dir" -j "${JOBS:-$(nproc)}"
ctest --test-dir "$build_dir" --output-on-failure -j "${JOBS:-$(nproc)}"
