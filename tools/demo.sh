#!/usr/bin/env bash
# The main job on its built-in default, offline, on a CPU-only machine: builds the apps, then
# fine-tunes a tiny randomly initialised BERT (data/samples/tiny-bert-uncased: 2 layers,
# hidden 128, the bert-base-uncased vocab) on two SQuAD v1.1 dev articles
# (data/samples/squad-mini.json) and evaluates it on the same articles — a fit check that
# exercises every stage (tokenizer, windows, training, checkpoint, span selection, EM/F1).
# Takes about a minute on 2 cores once built. Output: out/demo (model, predictions, logs),
# replaced by every run (--overwrite_output_dir deletes only what train_squad wrote there); stdout
# holds only the scores' JSON line, the build's and the run's log go to stderr.
# It builds in its own directory, build-demo (BUILD_DIR), CPU-only (-DBERT_ENABLE_CUDA=OFF: the
# CUDA kernels take some 25 minutes to compile on 2 cores), or with DEVICE=cuda in
# build-demo-cuda with CUDA, so that tools/build_and_test.sh's build keeps its own settings.
# CMAKE_ARGS adds configure options: one line of words split at spaces (no quoted values).
# On a fresh Debian/Ubuntu machine it first installs the packages the build needs
# (tools/install_deps.sh: as root through apt-get, otherwise it prints the command to run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install_deps.sh >&2
build_dir=${BUILD_DIR:-build-demo}
cuda=(-DBERT_ENABLE_CUDA=OFF)
if [[ "${DEVICE:-auto}" == cuda ]]; then
  build_dir=${BUILD_DIR:-build-demo-cuda}
  cuda=(-DBERT_ENABLE_CUDA=ON)
fi
generator=()
if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi
read -ra extra <<< "${CMAKE_ARGS:-}"
cmake -S . -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release "${cuda[@]}" "${extra[@]}" >&2
cmake --build "$build_dir" -j "${JOBS:-$(nproc)}" --target train_squad eval_squad >&2
"$build_dir/apps/train_squad" \
  --model_name_or_path data/samples/tiny-bert-uncased \
  --train_file data/samples/squad-mini.json \
  --validation_file data/samples/squad-mini.json \
  --do_train --do_eval --device "${DEVICE:-auto}" \
  --per_device_train_batch_size 16 --learning_rate 1e-3 --warmup_steps 0.1 \
  --num_train_epochs "${EPOCHS:-25}" --logging_steps 20 --save_steps 0 --seed 42 \
  --output_dir "${OUTPUT_DIR:-out/demo}" --overwrite_output_dir "$@"
