#!/usr/bin/env bash
# Fine-tunes the real pretrained all-MiniLM-L6-v2 on SQuAD v1.1 dev articles 0-37 with our
# train_squad and with Hugging Face BertForQuestionAnswering, side by side from the same
# weights, data and hyperparameters, and scores all of them on the held-out articles 38-47.
#
#   bash benchmarks/real_model/compare.sh --device cpu|cuda [options]
#
# Options (defaults: cpu = 1 epoch, seed 42; cuda = 3 epochs, seeds 42 43, bf16 on both sides):
#   --epochs N          epochs of both sides
#   --seeds "S ..."     one run per seed per side (spaces or commas between them)
#   --model DIR         a model directory (default: get_minilm.sh into WORK/minilm)
#   --squad FILE        SQuAD v1.1 JSON to split (default: ../shared/data/squad/dev-v1.1.json)
#   --train_articles A:B, --eval_articles A:B   the split (default 0:38 and 38:48)
#   --bin DIR           our binaries (default: build/apps)
#   --work DIR          scratch and results (default: /tmp/bert_real_model)
#   --skip_hf, --skip_ours   one side only (the table then has no verdict)
#   --hf_threads N      torch threads on the CPU (default: torch's choice)
#   --hf_loss_positions padded|real   Hugging Face's loss over the padded batch (its own,
#                       the default) or over real tokens only, as ours
#   --qa_head shared|own   shared (the default): for each seed, transformers draws the qa_outputs
#                       head once (hf_qa.py init) and both sides start from that same model; own:
#                       each side draws its own head from the seed (ours: train_squad's
#                       initialiser). With --skip_hf the head is always our own. A 1-epoch run of
#                       this small model moves by several F1 points with the head's draw alone
#                       (benchmarks/RESULTS.md), so only a shared head compares the two trainers.
#
# Both sides: max_seq_length 384, doc_stride 128, per-device batch 32, learning rate 5e-5,
# warmup_ratio 0.1, weight_decay 0.01 (not on biases and LayerNorm), clipping 1.0, dropout from
# config.json, and Trainer's --group_by_length order on both sides (megabatches of 50 batches
# sorted by length). Hugging Face trains on our prepare_squad windows, each batch padded to its
# longest window; ours packs the windows without padding.
# Hugging Face's model is scored twice: by our eval_squad and by hf_qa.py (transformers'
# forward + utils_qa's span selection + the official metric in Python); the two must agree.
# The untrained model (pretrained encoder, qa_outputs drawn from the first seed) is scored too.
# Writes WORK/compare.json and prints one table. Exit 0 on PASS (each of our mean EM and F1
# within 1.5 points of Hugging Face's, both 10+ points above the untrained model, the two
# scorings of Hugging Face's model within 0.3), 1 on FAIL or an error.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
device=""; epochs=""; seeds=""; model=""; squad="$root/../shared/data/squad/dev-v1.1.json"
train_articles="0:38"; eval_articles="38:48"; bin="$root/build/apps"; work=/tmp/bert_real_model
skip_hf=0; skip_ours=0; hf_threads=0; hf_loss_positions=padded; qa_head=shared
while [ $# -gt 0 ]; do
  case "$1" in
    --device) device=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --seeds) seeds=${2//,/ }; shift 2 ;;  # "42 43" or "42,43"
    --model) model=$2; shift 2 ;;
    --squad) squad=$2; shift 2 ;;
    --train_articles) train_articles=$2; shift 2 ;;
    --eval_articles) eval_articles=$2; shift 2 ;;
    --bin) bin=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --skip_hf) skip_hf=1; shift ;;
    --skip_ours) skip_ours=1; shift ;;
    --hf_threads) hf_threads=$2; shift 2 ;;
    --hf_loss_positions) hf_loss_positions=$2; shift 2 ;;
    --qa_head) qa_head=$2; shift 2 ;;
    *) echo "compare.sh: unknown argument '$1' (see the header of $0)" >&2; exit 2 ;;
  esac
done
case "$device" in
  cpu) epochs=${epochs:-1}; seeds=${seeds:-42}; bf16=() ;;
  cuda) epochs=${epochs:-3}; seeds=${seeds:-"42 43"}; bf16=(--bf16) ;;
  *) echo "compare.sh: give --device cpu or --device cuda" >&2; exit 2 ;;
esac
case "$qa_head" in
  shared|own) ;;
  *) echo "compare.sh: --qa_head is shared or own, got '$qa_head'" >&2; exit 2 ;;
esac
[ "$skip_hf" = 1 ] && qa_head=own  # drawing a shared head needs transformers
[ -f "$squad" ] || { echo "compare.sh: error: $squad: SQuAD file not found (--squad)" >&2; exit 1; }
for tool in train_squad eval_squad prepare_squad; do
  [ -x "$bin/$tool" ] || { echo "compare.sh: error: $bin/$tool not built (--bin)" >&2; exit 1; }
done
mkdir -p "$work"
exec > >(tee "$work/compare.log") 2>&1
echo "[compare] $(date -u +%FT%TZ) device $device, epochs $epochs, seeds $seeds, qa_head $qa_head, commit" \
     "$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown), $(nproc) cores"

if [ -z "$model" ]; then
  model="$work/minilm"
  [ -f "$model/model.safetensors" ] || bash "$here/get_minilm.sh" "$model"
fi
python3 "$here/split_squad.py" --input_file "$squad" --train_articles "$train_articles" \
  --eval_articles "$eval_articles" --train_file "$work/train.json" --eval_file "$work/eval.json"
for part in train eval; do
  "$bin/prepare_squad" --vocab_file "$model/vocab.txt" --input_file "$work/$part.json" \
    --max_seq_length 384 --doc_stride 128 --output_file "$work/$part.jsonl" >/dev/null
done
echo "[compare] windows: $(wc -l < "$work/train.jsonl") train, $(wc -l < "$work/eval.jsonl") eval"

results="$work/results.jsonl"
: > "$results"
record() {  # side seed epochs em f1 seconds windows_per_second [hf_em hf_f1]
  printf '{"side": "%s", "seed": %s, "epochs": %s, "exact_match": %s, "f1": %s, "train_seconds": %s, "windows_per_second": %s, "python_exact_match": %s, "python_f1": %s}\n' \
    "$1" "$2" "$3" "$4" "$5" "$6" "$7" "${8:-null}" "${9:-null}" >> "$results"
}
json_field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }
our_eval() {  # model_dir out_dir -> "em f1"
  "$bin/eval_squad" --model_name_or_path "$1" --validation_file "$work/eval.json" --output_dir "$2" \
    --device "$device" --per_device_eval_batch_size 64 >/dev/null || return 1
  echo "$(json_field "$2/eval_results.json" eval_exact_match) $(json_field "$2/eval_results.json" eval_f1)"
}
scores() {  # model_dir out_dir: sets em and f1, or stops the comparison naming what failed
  local both
  both="$(our_eval "$1" "$2")" && [ -n "$both" ] ||
    { echo "compare.sh: error: eval_squad on $1 failed (its output: $2)" >&2; exit 1; }
  read -r em f1 <<< "$both"
}

start_model() {  # seed -> the model directory both sides start from
  if [ "$qa_head" = own ]; then echo "$model"; return; fi
  local init="$work/init-seed$1"
  [ -f "$init/model.safetensors" ] || python3 "$here/hf_qa.py" init --model "$model" --seed "$1" \
    --output_dir "$init" >&2
  echo "$init"
}

first_seed=${seeds%% *}
scores "$(start_model "$first_seed")" "$work/untrained"
record untrained "$first_seed" 0 "$em" "$f1" null null
echo "[compare] untrained (qa_outputs from seed $first_seed): EM $em F1 $f1"

common=(--per_device_train_batch_size 32 --learning_rate 5e-5 --num_train_epochs "$epochs"
        --warmup_ratio 0.1 --weight_decay 0.01 --max_grad_norm 1.0)
for seed in $seeds; do
  start=$(start_model "$seed")
  if [ "$skip_ours" = 0 ]; then
    out="$work/ours-seed$seed"
    "$bin/train_squad" --model_name_or_path "$start" --train_file "$work/train.json" --do_train \
      --output_dir "$out" --overwrite_output_dir --device "$device" --max_seq_length 384 --doc_stride 128 \
      "${common[@]}" --group_by_length --seed "$seed" --logging_steps 10 --save_steps 0 2>&1 | tr '\r' '\n' | grep -v '^step' || true
    [ -f "$out/train_results.json" ] || { echo "compare.sh: error: our training (seed $seed) failed" >&2; exit 1; }
    scores "$out" "$out/eval"
    record ours "$seed" "$epochs" "$em" "$f1" "$(json_field "$out/train_results.json" train_runtime)" \
      "$(json_field "$out/train_results.json" train_samples_per_second)"
    echo "[compare] ours seed $seed: EM $em F1 $f1"
  fi
  if [ "$skip_hf" = 0 ]; then
    out="$work/hf-seed$seed"
    python3 "$here/hf_qa.py" train --model "$start" --windows "$work/train.jsonl" --output_dir "$out" \
      --device "$device" "${bf16[@]}" --threads "$hf_threads" "${common[@]}" --seed "$seed" \
      --loss_positions "$hf_loss_positions"
    scores "$out" "$out/eval"
    python3 "$here/hf_qa.py" predict --model "$out" --windows "$work/eval.jsonl" --eval_file "$work/eval.json" \
      --output_dir "$out/eval_python" --device "$device" "${bf16[@]}" --threads "$hf_threads" >/dev/null
    record hf "$seed" "$epochs" "$em" "$f1" "$(json_field "$out/train_log.json" seconds)" \
      "$(json_field "$out/train_log.json" windows_per_second)" \
      "$(json_field "$out/eval_python/eval_results.json" exact_match)" \
      "$(json_field "$out/eval_python/eval_results.json" f1)"
    echo "[compare] hf seed $seed: EM $em F1 $f1 (Python scoring: $(cat "$out/eval_python/eval_results.json"))"
  fi
done

python3 "$here/compare_table.py" "$results" --device "$device" --output "$work/compare.json"
