// Sliding windows over SQuAD examples, identical to Hugging Face run_qa.py's
// prepare_train_features / prepare_validation_features (question left-stripped, only the
// context truncated, doc_stride tokens of overlap, labels from the first answer).
#pragma once

#include <cstdint>
#include <vector>

#include "data/squad.h"
#include "tokenizer/tokenizer.h"

namespace bert {

struct WindowConfig {
  int32_t max_seq_length = 384;
  int32_t doc_stride = 128;
};

// One model input: [CLS] question [SEP] context-part [SEP], unpadded.
struct Window {
  int32_t example_index = 0;  // into SquadDataset::examples
  std::vector<int32_t> input_ids;       // [length]
  std::vector<int32_t> token_type_ids;  // [length]
  std::vector<TokenSpan> offsets;       // [length]; {-1,-1} outside the context (null in JSON)
  int32_t start_position = 0;  // token index of the answer start; 0 ([CLS]) when not inside
  int32_t end_position = 0;
  int32_t length() const { return static_cast<int32_t>(input_ids.size()); }
};

// Throws InputError (naming the file and question id) when a question leaves fewer than one
// context token per window, or no more than doc_stride when the context needs several windows.
//
// `threads` host threads tokenize (0: available_cores(), at most kMaxWindowThreads), each a run
// of whole paragraphs at a time: the windows, their order and the error thrown (the first bad
// question's) are the same for every count. The tokenizer's encode() must be thread-safe (it
// is const; WordPiece and SentencePiece hold no mutable state).
std::vector<Window> build_windows(const SquadDataset& dataset, const Tokenizer& tokenizer,
                                  const WindowConfig& config, int threads = 0);

constexpr int kMaxWindowThreads = 64;
// The thread count build_windows runs on for a requested one (<= 0: available_cores()), at
// most kMaxWindowThreads.
int window_threads(int requested);

}  // namespace bert
