# shellcheck shell=bash
# Sourced (not run) by run_checks.sh on the GPU machine and by build_carry.sh's self-test here.
# Unpacks device_carry/bin.tar.xz and lib.tar.xz into $BERT_UNPACK_DIR (default
# /tmp/bert_device_carry; never into the repository, whose carried size is limited) and exports
#   BERT_CARRY        absolute path of device_carry/
#   BERT_CARRY_BIN    the unpacked bin/
#   BERT_SHARED_DIR   device_carry/shared (the tests' stand-in for ../shared, which does not travel)
#   LD_LIBRARY_PATH   the carried libraries first, then the CUDA toolkit's library folders
# lib/ holds libraries the GPU machine lacks (always used). lib/fallback/ holds libraries it may
# already have (Open MPI and its dependencies): each is linked into the search path only when
# `ldconfig -p` does not know it, so a system MPI and its plugins are never mixed with ours.
#
# usage: BERT_CARRY=/path/to/device_carry [BERT_UNPACK_DIR=/tmp/x] source tools/device/carry_env.sh

bert_unpack() {  # archive dest
  mkdir -p "$2"
  if command -v xz > /dev/null; then
    xz -dc "$1" | tar -C "$2" -xf -
  else  # python3's tarfile reads xz through lzma
    python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$1" "$2"
  fi
}

bert_carry_env() {
  local carry="${BERT_CARRY:?set BERT_CARRY to the device_carry folder}"
  carry="$(cd "$carry" && pwd)"
  local unpack="${BERT_UNPACK_DIR:-/tmp/bert_device_carry}"
  rm -rf "${unpack:?}/bin" "${unpack:?}/lib" "${unpack:?}/search"
  bert_unpack "$carry/bin.tar.xz" "$unpack" || return 1
  bert_unpack "$carry/lib.tar.xz" "$unpack" || return 1
  unpack="$(cd "$unpack" && pwd)"
  # One search folder: the always-used libraries plus the fallbacks this machine lacks.
  mkdir -p "$unpack/search"
  local file name known
  for file in "$unpack"/lib/*; do
    [[ -f "$file" ]] && ln -sf "$file" "$unpack/search/$(basename "$file")"
  done
  known="$(ldconfig -p 2> /dev/null | awk 'NR > 1 {print $1}' || true)"
  BERT_CARRY_FALLBACK_USED=""
  for file in "$unpack"/lib/fallback/*; do
    [[ -f "$file" ]] || continue
    name="$(basename "$file")"
    if ! grep -qxF "$name" <<< "$known"; then
      ln -sf "$file" "$unpack/search/$name"
      BERT_CARRY_FALLBACK_USED+="$name "
    fi
  done
  export BERT_CARRY="$carry"
  export BERT_CARRY_BIN="$unpack/bin"
  export BERT_SHARED_DIR="$carry/shared"
  export BERT_CARRY_FALLBACK_USED
  local cuda_dirs="" dir
  for dir in /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/local/cuda-13.0/targets/x86_64-linux/lib; do
    [[ -d "$dir" ]] && cuda_dirs+=":$dir"
  done
  export LD_LIBRARY_PATH="$unpack/search$cuda_dirs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
}

bert_carry_env
