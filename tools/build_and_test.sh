#!/usr/bin/env bash
# Installs what is missing (tools/install_deps.sh: as root through apt-get, otherwise it prints
# the command to run), configures, builds (CUDA too when nvcc is on PATH) and runs the whole CPU
# test suite. GPU tests run where a GPU exists and are reported as skipped elsewhere; so are
# the tests on ../shared (goldens, dev set) where it is absent, and the checks that need Python
# packages (kfp, tensorboard) unless PYTHON3 names a Python that has them (.ci/run makes one).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install_deps.sh
build_dir=${BUILD_DIR:-build}
generator=()
if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi
python=()
if [ -n "${PYTHON3:-}" ]; then python=(-DPython3_EXECUTABLE="$PYTHON3"); fi
cmake -S . -B "$build_dir" "${generator[@]}" "${python[@]}" -DCMAKE_BUILD_TYPE=Release
# A directory configured CPU-only before (by hand) keeps that setting: said, since the CUDA code
# then goes unbuilt and untested on a machine that could build it.
if grep -qiE '^BERT_ENABLE_CUDA:BOOL=(OFF|0|FALSE|NO|N)$' "$build_dir/CMakeCache.txt" &&
  command -v nvcc > /dev/null; then
  echo "build_and_test.sh: $build_dir is configured with -DBERT_ENABLE_CUDA=OFF: the CUDA code is" \
    "not built (cmake -DBERT_ENABLE_CUDA=ON $build_dir, or another BUILD_DIR, builds it)" >&2
fi
cmake --build "$build_dir" -j "${JOBS:-$(nproc)}"
ctest --test-dir "$build_dir" --output-on-failure -j "${JOBS:-$(nproc)}"
