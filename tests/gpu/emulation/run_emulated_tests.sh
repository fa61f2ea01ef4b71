#!/usr/bin/env bash
# Runs the GPU tests (tests/gpu/test_*_gpu.cpp, except matmul: cuBLASLt) against the CUDA kernels
# executed by a CPU emulation (emu.h): one std::thread per CUDA thread, blocks in sequence.
# For machines without a GPU: it checks indexing, tiling, barriers, masks and the math of the
# kernels against the CPU references, not timing, the memory model or warp-synchronous tricks.
# Slow (minutes); not part of ctest.
#
# usage: tests/gpu/emulation/run_emulated_tests.sh [build dir with bert_ops_ref] [catch filter]
#   e.g. tests/gpu/emulation/run_emulated_tests.sh build-cuda "[attention]"
set -euo pipefail
root="$(cd "$(dirname "$0")/../../.." && pwd)"
build="$(cd "${1:-$root/build-cuda}" && pwd)"
filter="${2:-}"
out="${BERT_EMU_DIR:-/tmp/bert_cuda_emulation}"
cuda_include="${CUDA_INCLUDE:-/usr/local/cuda/include}"
jobs="${JOBS:-2}"

mkdir -p "$out/obj"
python3 "$root/tests/gpu/emulation/make_emulated_sources.py" "$root" "$out/gen"
# The generated tree first, so "kernels/device_buffer.h" and the rewritten .cuh files win.
flags=(-std=c++17 -O2 -w -pthread -I"$out/gen" -I"$root" -I"$cuda_include"
       -DBERT_DEFAULT_SHARED_DIR="\"$root/../shared\"" -DBERT_SOURCE_DIR="\"$root\"")
sources=()
for f in "$out"/gen/kernels/*_emu.cpp; do
  [[ "$f" == *matmul* ]] || sources+=("$f")
done
for t in elementwise layernorm embedding attention loss_optim; do
  sources+=("$root/tests/gpu/test_${t}_gpu.cpp")
done
sources+=("$root/tests/gpu/gpu_test_util.cpp" "$root/tests/test_support.cpp"
          "$root/tests/catch_main.cpp" "$root/tests/gpu/emulation/emu_stubs.cpp")
objects=()
for src in "${sources[@]}"; do
  obj="$out/obj/$(basename "${src%.*}").o"
  objects+=("$obj")
  g++ "${flags[@]}" -c "$src" -o "$obj" &
  while (( $(jobs -rp | wc -l) >= jobs )); do wait -n; done
done
wait
g++ -pthread "${objects[@]}" "$build/kernels/libbert_ops_ref.a" "$build/engine/core/libbert_core.a" \
  -lopenblas -lz -o "$out/test_gpu_emulated"
"$out/test_gpu_emulated" $filter
