// Reads a golden directory produced like ../shared/golden/tiny-bert-qa (config.json,
// model.safetensors, golden.safetensors with inputs, activations, gradients and the
// parameters after a few AdamW steps) into plain host structures for the parity tests.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "engine/io/bert_config.h"
#include "engine/packed_batch.h"

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
  double learning_rate = 0, beta1 = 0, beta2 = 0, eps = 0, weight_decay = 0, max_grad_norm = 0;

  // Picks the packed (real-token) rows of a padded golden tensor [B, S, width].
  std::vector<double> packed(const std::string& name, int width) const;
};

// $BERT_GOLDEN_DIR, else ../shared/golden/tiny-bert-qa.
std::string golden_dir();
GoldenModel read_golden_model(const std::string& dir);

}  // namespace bert::test
