// The steps train_squad and eval_squad share: turning a SQuAD file into windows (through the
// binary window cache when one is named), choosing a backend, and writing evaluation outputs
// with run_qa.py's names (eval_predictions.json, eval_nbest_predictions.json,
// eval_results.json, all_results.json).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/squad.h"
#include "data/windows.h"
#include "engine/backend.h"
#include "engine/backend_registry.h"
#include "engine/bert_qa_model.h"
#include "engine/evaluator.h"
#include "tokenizer/tokenizer.h"

namespace bert {

struct PreparedSquad {
  SquadDataset dataset;
  std::vector<Window> windows;
};

struct PrepareOptions {
  WindowConfig window;
  bool do_lower_case = true;
  int64_t max_samples = -1;  // > 0: the first N examples, then at most N windows (run_qa.py's rule)
  std::string cache_file;    // optional: read windows from it when its key matches, else write it
  bool overwrite_cache = false;  // rebuild and rewrite cache_file even when it matches (--overwrite_cache)
  bool quiet = false;        // no summary line (ranks other than 0 of a data-parallel run)
};

// Reads the file (refusing SQuAD v2 data, check_squad_v1), windows it (or loads the cache) and
// logs counts and timing to stderr with the label ("train", "eval").
PreparedSquad prepare_squad(const std::string& path, const Tokenizer& tokenizer, const PrepareOptions& options,
                            const std::string& label);

// "cpu", "cuda" or "auto" (cuda when built with CUDA and a device exists, else cpu; one stderr
// line says which and why). Throws InputError for an unknown name or cuda where it is
// unavailable. The CUDA backend computes in bf16 unless BERT_CUDA_COMPUTE=fp32 (or
// cuda_options.fp32_compute, for a future --cuda_compute flag).
std::unique_ptr<Backend> make_backend(const std::string& device);
std::unique_ptr<Backend> make_backend(const std::string& device, const CudaBackendOptions& cuda_options);

// Whether a run fits this machine's memory (physical_memory_bytes), checked before the
// model's buffers are allocated: the float32 copy of the weights read from the model directory
// plus, on a host backend (no native stream: the CPU), the model's buffers
// (model_memory_needed). Empty when it fits; otherwise a message with the sizes, and
// *batch_to_blame says whether the activations of max_tokens (the batch flags) or the
// parameters (config.json) take the most. A CUDA backend's device memory is its own to report.
std::string describe_memory_shortfall(Backend& backend, const BertConfig& config, int64_t max_tokens,
                                      int64_t max_batch, bool training, bool* batch_to_blame);

// Writes eval_predictions.json, eval_nbest_predictions.json (as run_qa.py's
// postprocess_qa_predictions with prefix "eval") and eval_results.json / all_results.json
// (engine/hf_outputs.h eval_metrics; epoch < 0 leaves "epoch" out) into output_dir.
void write_eval_outputs(const std::string& output_dir, const EvalOutcome& outcome, size_t windows, int batch_size,
                        double epoch);

// Refuses SQuAD v2 data (a version "v2.0" file, or questions marked is_impossible), which needs
// --version_2_with_negative; that mode is not implemented yet, so it is refused too. Throws
// InputError naming the file.
void check_squad_v1(const SquadDataset& dataset, const std::string& path, bool version_2_with_negative);

}  // namespace bert
