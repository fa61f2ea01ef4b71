#include "engine/packed_batch.h"

#include <algorithm>
#include <string>

#include "core/error.h"

namespace bert {

int PackedBatch::max_length() const {
  int longest = 0;
  for (size_t b = 0; b + 1 < cu_seqlens.size(); ++b)
    longest = std::max(longest, cu_seqlens[b + 1] - cu_seqlens[b]);
  return longest;
}

PackedBatch pack_windows(const std::vector<const Window*>& windows) {
  PackedBatch batch;
  batch.cu_seqlens.push_back(0);
  for (const Window* window : windows) {
    const int length = window->length();
    batch.input_ids.insert(batch.input_ids.end(), window->input_ids.begin(), window->input_ids.end());
    batch.token_type_ids.insert(batch.token_type_ids.end(), window->token_type_ids.begin(),
                                window->token_type_ids.end());
    for (int position = 0; position < length; ++position) batch.position_ids.push_back(position);
    batch.cu_seqlens.push_back(batch.cu_seqlens.back() + length);
    batch.start_positions.push_back(window->start_position);
    batch.end_positions.push_back(window->end_position);
  }
  return batch;
}

void validate_batch(const PackedBatch& batch, int vocab_size, int type_vocab_size, int max_positions) {
  for (int b = 0; b < batch.batch(); ++b) {
    const int begin = batch.cu_seqlens[b], end = batch.cu_seqlens[b + 1];
    const std::string where = "sequence " + std::to_string(b) + " of the batch";
    if (end <= begin) throw_input_error("", where, "empty sequence");
    if (end - begin > max_positions)
      throw_input_error("", where, "length " + std::to_string(end - begin) +
                                       " exceeds max_position_embeddings " + std::to_string(max_positions));
    for (int t = begin; t < end; ++t) {
      if (batch.input_ids[t] < 0 || batch.input_ids[t] >= vocab_size)
        throw_input_error("", where, "token id " + std::to_string(batch.input_ids[t]) +
                                         " outside the vocabulary of " + std::to_string(vocab_size));
      if (batch.token_type_ids[t] < 0 || batch.token_type_ids[t] >= type_vocab_size)
        throw_input_error("", where, "token type " + std::to_string(batch.token_type_ids[t]) +
                                         " outside type_vocab_size " + std::to_string(type_vocab_size));
    }
    const int length = end - begin;
    if (batch.start_positions[b] < 0 || batch.start_positions[b] >= length ||
        batch.end_positions[b] < 0 || batch.end_positions[b] >= length)
      throw_input_error("", where, "answer positions outside the sequence");
  }
}

}  // namespace bert
