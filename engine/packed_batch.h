// A batch of windows packed back to back without padding: token arrays of length
// Σ lengths, cu_seqlens marking where each sequence starts, position ids restarting at 0
// for each sequence. This is the host side of what every backend op consumes.
#pragma once

#include <cstdint>
#include <vector>

#include "data/windows.h"

namespace bert {

struct PackedBatch {
  std::vector<int32_t> input_ids;        // [tokens]
  std::vector<int32_t> token_type_ids;   // [tokens]
  std::vector<int32_t> position_ids;     // [tokens]
  std::vector<int32_t> cu_seqlens;       // [batch+1], cu_seqlens[0] = 0
  std::vector<int32_t> start_positions;  // [batch], index inside the sequence
  std::vector<int32_t> end_positions;    // [batch]
  int tokens() const { return cu_seqlens.empty() ? 0 : cu_seqlens.back(); }
  int batch() const { return cu_seqlens.empty() ? 0 : static_cast<int>(cu_seqlens.size()) - 1; }
  int max_length() const;
};

// Packs windows (in the given order). Labels are taken from the windows.
PackedBatch pack_windows(const std::vector<const Window*>& windows);

// Checks ids against the model's table sizes; throws InputError naming the window.
void validate_batch(const PackedBatch& batch, int vocab_size, int type_vocab_size, int max_positions);

}  // namespace bert
