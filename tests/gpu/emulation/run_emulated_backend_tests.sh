#!/usr/bin/env bash
# Runs the CUDA backend's tests (tests/gpu/test_backend_gpu.cpp, test_golden_parity_gpu.cpp)
# against the CPU emulation of the kernels (emu.h, see run_emulated_tests.sh), with the CUDA
# runtime calls of engine/cuda served from host memory (runtime_emu.cpp) and cuBLASLt replaced by
# plain loops (matmul_host_emu.cpp). For machines without a GPU: it checks the backend's wiring
# (dtypes, scratch, argument order, both compute modes) and every non-GEMM kernel in bf16 and
# fp32 end to end through the model. About 2 minutes on 2 cores, build included; .ci/run runs
# it, ctest does not.
#
# usage: tests/gpu/emulation/run_emulated_backend_tests.sh [build dir] [catch filter]
#   the build dir must hold the host libraries (bert_engine and below); default: build.
#   Objects are reused while their source is older; BERT_EMU_REBUILD=1 recompiles everything
#   (needed after a header change).
set -euo pipefail
root="$(cd "$(dirname "$0")/../../.." && pwd)"
build="$(cd "${1:-$root/build}" && pwd)"
filter="${2:-}"
out="${BERT_EMU_DIR:-/tmp/bert_cuda_backend_emulation}"
# shellcheck source=tests/gpu/emulation/emulation_common.sh
source "$root/tests/gpu/emulation/emulation_common.sh"
sources=("${emulated_kernels[@]}")
sources+=("$root/engine/cuda/device_memory.cpp" "$root/engine/cuda/pinned_host.cpp" "$root/engine/cuda/cuda_backend_base.cpp"
          "$root/engine/cuda/cuda_backend_ops.cpp" "$root/engine/cuda/cuda_backend_registration.cpp"
          "$root/tests/gpu/backend_twins.cpp" "$root/tests/gpu/test_backend_gpu.cpp" "$root/tests/gpu/test_side_updates_gpu.cpp"
          "$root/tests/gpu/test_op_cases_gpu.cpp" "$root/tests/ops/op_case.cpp" "$root/tests/ops/op_cases_dense.cpp"
          "$root/tests/ops/op_cases_sequence.cpp" "$root/tests/ops/op_runner.cpp"
          "$root/tests/gpu/test_golden_parity_gpu.cpp" "$root/tests/engine/golden_model.cpp"
          "$root/tests/test_support.cpp" "$root/tests/tolerance.cpp" "$root/tests/shared_data.cpp" "$root/tests/shared_data_main.cpp"
          "$root/tests/gpu/emulation/emu_stubs.cpp" "$root/tests/gpu/emulation/runtime_emu.cpp"
          "$root/tests/gpu/emulation/matmul_host_emu.cpp")
reuse=1 compile_objects "${sources[@]}"
libs=(engine/libbert_engine.a comm/libbert_comm.a logging/libbert_logging.a io/libbert_io.a data/libbert_data.a
      tokenizer/libbert_tokenizer.a kernels/libbert_ops_ref.a core/libbert_core.a)
# bert_comm carries the MPI communicator when the build found MPI.
mpi_link=()
if grep -q 'MPI_mpi_LIBRARY:FILEPATH=/' "$build/CMakeCache.txt" 2>/dev/null; then
  read -r -a mpi_link < <(mpicxx --showme:link)
fi
g++ -pthread "${link_flags[@]}" "${objects[@]}" "${libs[@]/#/$build/}" "${mpi_link[@]}" -lopenblas -lsimdjson -lsentencepiece -lz \
  -o "$out/test_backend_emulated"
"$out/test_backend_emulated" ${filter:+"$filter"}
