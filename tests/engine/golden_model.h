// Reads a golden directory produced like ../shared/golden/tiny-bert-qa (config.json,
// model.safetensors, golden.safetensors with inputs, activations, gradients and the
// parameters after a few AdamW steps) into plain host structures for the parity tests.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "engine/bert_qa_model.h"
#include "io/bert_config.h"
#include "engine/optimizer.h"
#include "engine/packed_batch.h"
#include "tests/shared_data.h"
#include "tests/test_support.h"
#include "tests/tolerance.h"

namespace bert::test {

struct GoldenModel {
  std::string dir;
  BertConfig config;
  std::map<std::string, std::vector<float>> initial_params;  // canonical names
  PackedBatch batch;                                          // real tokens only
  std::vector<int> real_rows;        // for each packed token, its row in the padded [B*S] layout
  std::map<std::string, std::string> metadata;
  std::map<std::string, std::vector<double>> tensors;        // every golden.safetensors float tensor
  int steps = 0;
  OptimizerConfig optimizer;  // the AdamW settings the golden steps were made with (metadata)

  // Picks the packed (real-token) rows of a padded golden tensor [B, S, width].
  std::vector<double> packed(const std::string& name, int width) const;

  // The largest |gradient| of parameter `name` at the first step (golden "grad.<name>").
  double gradient_max(const std::string& name) const;
  // True when that gradient is exactly zero in theory (its golden is below 1e-12 of the first
  // step's norm): the key bias, the last LayerNorm bias, the QA bias.
  bool zero_gradient(const std::string& name) const;
  // Per-element absolute tolerances for the parameters after the golden's Adam steps: `atol`,
  // raised to lr per step (Adam's largest move) where the update's sign is rounding: every
  // element of a zero-gradient tensor, and elements whose gradient is at most
  // noise_fraction of the tensor's largest.
  std::vector<double> adam_update_atol(const std::string& name, double atol, double noise_fraction) const;
};

// $BERT_GOLDEN_DIR, else <shared_dir>/golden/tiny-bert-qa.
DataDir golden_dir();
// True when <golden_dir>/golden.safetensors exists; a missing one skips or fails as
// have_data_file says.
bool have_golden();
GoldenModel read_golden_model(const std::string& dir);

// REQUIREs the model's hidden states and start/end logits (after a forward on golden.batch)
// to match the golden's within `tol` (tests/tolerance.h).
void check_golden_activations(BertQaModel& model, const GoldenModel& golden, const Tolerance& tol);

}  // namespace bert::test
