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
};

// $BERT_GOLDEN_DIR, else <shared_dir>/golden/tiny-bert-qa.
DataDir golden_dir();
// True when <golden_dir>/golden.safetensors exists; a missing one skips or fails as
// have_data_file says.
bool have_golden();
GoldenModel read_golden_model(const std::string& dir);

// atol = max(atol_fraction · max|ref| of the tensor, atol_floor): the floor covers tensors whose
// true value is zero (a key bias cannot change the softmax, so its gradient is rounding noise).
struct Tolerance {
  double rtol, atol_fraction, atol_floor;
};
CloseReport compare_scaled(const std::vector<double>& got, const std::vector<double>& ref, const Tolerance& tol);

// REQUIREs the model's hidden states and start/end logits (after a forward on golden.batch)
// to match the golden's within `tol`.
void check_golden_activations(BertQaModel& model, const GoldenModel& golden, const Tolerance& tol);

}  // namespace bert::test
