// Helpers shared by the communicator tests: a tiny BERT config and synthetic training windows.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "data/windows.h"
#include "io/bert_config.h"

namespace bert::test {

inline BertConfig tiny_config(float dropout) {
  BertConfig config;
  config.vocab_size = 60;
  config.hidden_size = 16;
  config.num_hidden_layers = 2;
  config.num_attention_heads = 2;
  config.intermediate_size = 24;
  config.max_position_embeddings = 24;
  config.hidden_dropout_prob = dropout;
  config.attention_probs_dropout_prob = dropout;
  return config;
}

// Windows of the given lengths with deterministic ids, token types and labels.
inline std::vector<Window> make_windows(const std::vector<int>& lengths, int vocab_size, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Window> windows;
  for (size_t w = 0; w < lengths.size(); ++w) {
    Window window;
    window.example_index = static_cast<int32_t>(w);
    for (int t = 0; t < lengths[w]; ++t) {
      window.input_ids.push_back(static_cast<int32_t>(rng() % static_cast<uint64_t>(vocab_size)));
      window.token_type_ids.push_back(t > lengths[w] / 2 ? 1 : 0);
      window.offsets.push_back({-1, -1});
    }
    window.start_position = static_cast<int32_t>(rng() % static_cast<uint64_t>(lengths[w]));
    window.end_position = static_cast<int32_t>(rng() % static_cast<uint64_t>(lengths[w]));
    windows.push_back(window);
  }
  return windows;
}

// Largest |a - b| / (atol + rtol·|b|) over the arrays: <= 1 means close (as compare_close).
inline double worst_ratio(const std::vector<double>& a, const std::vector<double>& b, double atol, double rtol) {
  if (a.size() != b.size()) return INFINITY;
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double ratio = std::fabs(a[i] - b[i]) / (atol + rtol * std::fabs(b[i]));
    if (!(ratio <= worst)) worst = std::isnan(ratio) ? INFINITY : ratio;
  }
  return worst;
}

}  // namespace bert::test
