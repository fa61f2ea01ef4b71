#!/usr/bin/env bash
# One training step under Nsight Compute: why each kernel takes the time it takes (issue 13).
# bench_kernels says how long each kernel runs against its roofline; this says what holds it
# back (occupancy, stall reasons, DRAM and tensor-pipe use), for every kernel of a real step,
# cuBLASLt's GEMMs included.
#
# train_squad trains a bert-base-shaped model (hidden 768, 12 heads of 64, FFN 3072; randomly
# initialised, dropout 0.1) with PROFILE_LAYERS layers (default 2: every per-layer kernel of
# bert-base at its shape, a sixth of the launches; AdamW and the gradient norm then cover that
# smaller model) on real SQuAD windows, batch PROFILE_BATCH (32), for PROFILE_STEP (3) steps.
# BERT_PROFILE_STEP brackets the last one (Backend::profile_range -> cudaProfilerStart/Stop),
# and ncu, started with --profile-from-start off, profiles just its kernels. Writes to OUT_DIR:
#   profile.md           the table of tools/device/ncu_summary.py (and ncu's rules for the
#                        costliest kernels)
#   profile_raw.csv.xz   every metric ncu collected, one row per launch
#
# usage: profile_step.sh BIN_DIR SQUAD_JSON VOCAB_TXT WORK_DIR OUT_DIR
# NCU names the profiler (default: ncu on PATH, /usr/local/cuda/bin/ncu, then
# /opt/nvidia/nsight-compute/*/ncu); PROFILE_DEVICE (default cuda) is train_squad's --device.
# Exit: 0 done, 77 no ncu here, else the failing step's status.
set -uo pipefail
if (($# != 5)); then
  sed -n '2,24p' "$0" >&2
  exit 2
fi
bin=$1 squad=$2 vocab=$3 work=$4 out=$5
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
layers=${PROFILE_LAYERS:-2}
batch=${PROFILE_BATCH:-32}
step=${PROFILE_STEP:-3}

ncu_bin=${NCU:-}
if [[ -z "$ncu_bin" ]]; then
  for candidate in "$(command -v ncu 2> /dev/null)" /usr/local/cuda/bin/ncu /opt/nvidia/nsight-compute/*/ncu; do
    [[ -n "$candidate" && -x "$candidate" ]] && { ncu_bin=$candidate; break; }
  done
fi
if [[ -z "$ncu_bin" ]]; then
  echo "PROFILE: SKIPPED no ncu on this machine (set NCU)"
  exit 77
fi

rm -rf "$work"
mkdir -p "$work/model" "$out" || exit 1
cp "$vocab" "$work/model/vocab.txt" || exit 1
cat > "$work/model/config.json" << EOF
{"model_type": "bert", "architectures": ["BertForQuestionAnswering"], "vocab_size": 30522,
 "hidden_size": 768, "num_hidden_layers": $layers, "num_attention_heads": 12, "intermediate_size": 3072,
 "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
 "max_position_embeddings": 512, "type_vocab_size": 2, "initializer_range": 0.02,
 "layer_norm_eps": 1e-12, "pad_token_id": 0}
EOF

echo "profile: $ncu_bin ($("$ncu_bin" --version 2>&1 | tail -1)); step $step of train_squad, layers: $layers, batch $batch"
# Enough questions for the steps (a question gives one window or more).
BERT_PROFILE_STEP=$step "$ncu_bin" --profile-from-start off --clock-control none \
  --section SpeedOfLight --section LaunchStats --section Occupancy --section WarpStateStats \
  --section SchedulerStats --section ComputeWorkloadAnalysis --section MemoryWorkloadAnalysis \
  --export "$work/profile" --force-overwrite \
  "$bin/train_squad" --model_name_or_path "$work/model" --train_file "$squad" --do_train \
  --output_dir "$work/run" --max_steps "$step" --per_device_train_batch_size "$batch" \
  --max_train_samples $((step * batch + batch)) --max_seq_length 384 --doc_stride 128 \
  --learning_rate 5e-5 --save_steps 0 --logging_steps 1 --report_to none --seed 42 \
  --device "${PROFILE_DEVICE:-cuda}"
rc=$?
if ((rc != 0)); then
  echo "PROFILE: FAIL ncu or train_squad exited $rc"
  exit "$rc"
fi
report="$work/profile.ncu-rep"
"$ncu_bin" --import "$report" --csv --page raw > "$work/profile_raw.csv" || { echo "PROFILE: FAIL ncu --import (raw)"; exit 1; }
"$ncu_bin" --import "$report" --csv --page details > "$work/profile_details.csv" 2> /dev/null ||
  : > "$work/profile_details.csv"  # only the rules come from it
python3 "$here/ncu_summary.py" "$work/profile_raw.csv" --details "$work/profile_details.csv" \
  --title "train_squad step $step: bert-base shapes, layers: $layers, batch $batch, dropout 0.1" > "$out/profile.md" ||
  { echo "PROFILE: FAIL ncu_summary.py"; exit 1; }
if ! { command -v xz > /dev/null && xz -9 -c "$work/profile_raw.csv" > "$out/profile_raw.csv.xz"; }; then
  rm -f "$out/profile_raw.csv.xz"  # none half-written beside the gzip one
  gzip -9 -c "$work/profile_raw.csv" > "$out/profile_raw.csv.gz"
fi
cat "$out/profile.md"
echo "PROFILE: PASS $(grep -cE '^\| `' "$out/profile.md") kernel rows"
