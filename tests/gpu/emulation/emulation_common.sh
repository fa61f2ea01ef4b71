# shellcheck shell=bash
# Sourced by run_emulated_tests.sh and run_emulated_backend_tests.sh after they set root, build
# and out: regenerates the emulated kernel sources (make_emulated_sources.py) into $out/gen and
# defines what both compile with.
#   flags                 g++ flags (the generated tree first, so "kernels/device_buffer.h" and
#                         the rewritten .cuh files win over the originals)
#   emulated_kernels      every generated kernels/*_emu.cpp but matmul's and matmul_context's
#                         (cuBLASLt: the backend script serves them from matmul_host_emu.cpp, the
#                         kernel tests skip them)
#   compile_objects SRC…  compiles each source into $out/obj (JOBS at a time, default 2) and sets
#                         objects=(…); with reuse=1 an object newer than its source is kept
#                         (BERT_EMU_REBUILD=1 recompiles anyway, needed after a header change)
#   link_flags            what the final link adds (the sanitizers' runtimes under EMU_SANITIZE=1)
# EMU_SANITIZE=1 builds everything with AddressSanitizer + UBSan (out gets "-sanitize" appended):
# the kernel tests' device buffers are exact-size host allocations there, so a kernel that reads
# or writes past the end of a tensor stops with the offending line, as it would not on a GPU.
cuda_include="${CUDA_INCLUDE:-/usr/local/cuda/include}"
jobs="${JOBS:-2}"
link_flags=()
sanitize_flags=()
if [[ "${EMU_SANITIZE:-0}" == 1 ]]; then
  out="$out-sanitize"
  sanitize_flags=(-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g)
  link_flags=(-fsanitize=address,undefined)
fi
mkdir -p "$out/obj"
python3 "$root/tests/gpu/emulation/make_emulated_sources.py" "$root" "$out/gen"
flags=(-std=c++17 -O2 -w -pthread -I"$out/gen" -I"$root" -I"$cuda_include" "${sanitize_flags[@]}"
       -DBERT_DEFAULT_SHARED_DIR="\"$root/../shared\"" -DBERT_SOURCE_DIR="\"$root\"")
emulated_kernels=()
for f in "$out"/gen/kernels/*_emu.cpp; do
  case "$(basename "$f")" in
    matmul_emu.cpp | matmul_context_emu.cpp) ;;
    *) emulated_kernels+=("$f") ;;
  esac
done

compile_objects() {
  objects=()
  local src obj
  for src in "$@"; do
    obj="$out/obj/$(basename "${src%.*}").o"
    objects+=("$obj")
    if [[ "${reuse:-0}" != 1 || ! -f "$obj" || "$src" -nt "$obj" || -n "${BERT_EMU_REBUILD:-}" ]]; then
      g++ "${flags[@]}" -c "$src" -o "$obj" &
    fi
    while (( $(jobs -rp | wc -l) >= jobs )); do wait -n; done
  done
  wait
}
