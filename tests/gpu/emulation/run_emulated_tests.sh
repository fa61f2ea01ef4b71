#!/usr/bin/env bash
# Runs the GPU tests (tests/gpu/test_*_gpu.cpp, except matmul: cuBLASLt) against the CUDA kernels
# executed by a CPU emulation (emu.h): one fiber per CUDA thread, blocks in sequence.
# For machines without a GPU: it checks indexing, tiling, barriers, masks and the math of the
# kernels against the CPU references, not timing, the memory model or warp-synchronous tricks.
# About 3 minutes on 2 cores, build included; .ci/run runs it, ctest does not.
#
# usage: tests/gpu/emulation/run_emulated_tests.sh [build dir with bert_ops_ref] [catch filter]
#   e.g. tests/gpu/emulation/run_emulated_tests.sh build "[attention]" (default: build)
#   EMU_SANITIZE=1 in front: built with AddressSanitizer + UBSan (emulation_common.sh)
set -euo pipefail
root="$(cd "$(dirname "$0")/../../.." && pwd)"
build="$(cd "${1:-$root/build}" && pwd)"
filter="${2:-}"
out="${BERT_EMU_DIR:-/tmp/bert_cuda_emulation}"
# shellcheck source=tests/gpu/emulation/emulation_common.sh
source "$root/tests/gpu/emulation/emulation_common.sh"
sources=("${emulated_kernels[@]}")
for t in elementwise layernorm embedding attention loss_optim; do
  sources+=("$root/tests/gpu/test_${t}_gpu.cpp")
done
sources+=("$root/tests/gpu/gpu_test_util.cpp" "$root/tests/test_support.cpp" "$root/tests/tolerance.cpp"
          "$root/tests/catch_main.cpp" "$root/tests/gpu/emulation/emu_stubs.cpp")
compile_objects "${sources[@]}"
g++ -pthread "${link_flags[@]}" "${objects[@]}" "$build/kernels/libbert_ops_ref.a" "$build/core/libbert_core.a" \
  -lopenblas -lz -o "$out/test_gpu_emulated"
"$out/test_gpu_emulated" ${filter:+"$filter"}
