// The checkpoint-N directories of an output_dir: naming, listing (only what train_squad wrote),
// saving through a temporary directory renamed when complete, rotation (save_total_limit) and
// the removal of temporaries left by dead processes. What a checkpoint holds:
// engine/training_state.h.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/bert_qa_model.h"
#include "engine/optimizer.h"
#include "engine/training_state.h"

namespace bert {

std::string checkpoint_dir_name(int64_t step);  // "checkpoint-12"

struct CheckpointEntry {
  int64_t step = 0;
  std::string path;
  bool has_state = false;  // written with training state (checkpoint_written_with_state; a
                           // model-only checkpoint or an older one holds only the model)
};
// The checkpoints train_squad wrote in output_dir, by increasing step (none if it is absent):
// directories named checkpoint-<step> exactly as checkpoint_dir_name writes them (not
// "checkpoint-0042") that hold training_state.json (or, written before 2026-12-07,
// trainer_state.json) or model.safetensors and nothing but
// checkpoint files (is_checkpoint_file_name). Anything else named checkpoint-* is someone
// else's: never resumed, rotated or deleted.
std::vector<CheckpointEntry> list_checkpoints(const std::string& output_dir);
// The files a checkpoint directory holds: the model directory's (config.json,
// model.safetensors, vocab.txt or a SentencePiece model, tokenizer_config.json), the training
// state, checksums.json, and temporaries "<one of those>.tmp.<pid>".
bool is_checkpoint_file_name(const std::string& name);
// The newest checkpoint with training state, or "" when there is none.
std::string find_latest_checkpoint(const std::string& output_dir);

// Writes the model files of a checkpoint into the (temporary) directory it is given.
using WriteModelFn = std::function<void(const std::string& dir)>;

// Everything a checkpoint holds, in host memory: written by write_checkpoint on any thread
// while training goes on (engine/checkpoint_writer.h).
struct CheckpointContents {
  TrainerState state;
  WriteModelFn write_model;  // writes the model files; null: none
  // The captured master weights and, unless model_only, both moments (training_state.safetensors
  // is written from them then). Shared: write_model may read them too. Null: model_only, and
  // write_model has its own values.
  std::shared_ptr<TrainingTensors> tensors;
  bool model_only = false;   // --save_only_model: model files and checksums.json alone
  // Hugging Face's trainer_state.json for this step and the metrics log's lines up to it
  // (trainer_log.jsonl), both also in a model-only checkpoint; "": not written.
  std::string hf_trainer_state, metrics_log;
};

// Writes output_dir/checkpoint-<state.global_step> (model files, training tensors, trainer
// state) through a temporary directory, replacing an existing checkpoint of the same step,
// then deletes the oldest checkpoints beyond save_total_limit (> 0; the new one and the best,
// state.best_global_step, are always kept, as transformers keeps its best_model_checkpoint).
// Returns the checkpoint's path. On failure the temporary directory is removed and nothing
// under a final name has changed. A model_only checkpoint is listed (has_state false) but
// never resumed.
std::string write_checkpoint(const std::string& output_dir, const CheckpointContents& contents,
                             int64_t save_total_limit);

// write_checkpoint of the model's and the optimizer's tensors now (write_model runs during the
// write: it must read values that stay put until this returns).
std::string save_checkpoint(const std::string& output_dir, const TrainerState& state, BertQaModel& model,
                            AdamWOptimizer& optimizer, const WriteModelFn& write_model, int64_t save_total_limit,
                            bool model_only = false);

// Deletes the oldest checkpoints (by step) until at most `keep` remain, never those of
// `protect_steps`. keep <= 0: deletes nothing. Each is first renamed to a temporary name
// (checkpoint-N.old.tmp-<pid>), so a crash during the deletion leaves a stale temporary,
// never a checkpoint-N missing some of its files.
void rotate_checkpoints(const std::string& output_dir, int64_t keep, const std::vector<int64_t>& protect_steps);
// A directory named checkpoint-<step> as checkpoint_dir_name writes it that is not empty and
// holds only checkpoint files, but neither training state nor model.safetensors: what an
// interrupted deletion of a checkpoint (before rotate_checkpoints renamed first) left.
bool is_incomplete_checkpoint(const std::string& output_dir, const std::string& name);
// What interrupted runs left directly in output_dir, removed when a run starts there (before
// it writes anything, holding output_dir's lock): "*.tmp-<pid>" directories (only the lock's
// holder writes them), "*.tmp.<pid>" files whose process no longer runs (ended or a zombie) or
// is this one (an earlier process with the same pid, such as pid 1 in a container, left it),
// and incomplete checkpoints. Returns how many.
int remove_stale_temporaries(const std::string& output_dir);

}  // namespace bert
