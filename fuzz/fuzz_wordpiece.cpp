// libFuzzer target: WordPiece encode (bert-base-uncased vocab, lower-cased and cased) of
// arbitrary bytes. Invalid UTF-8 must throw InputError; valid text must give one offset per
// id, ids inside the vocabulary and offsets [start, end) inside the text's code points with
// non-decreasing starts. Anything else is a finding.
#include <cstdint>
#include <memory>
#include <string_view>

#include "core/error.h"
#include "tokenizer/wordpiece.h"

namespace {

const bert::WordPieceTokenizer& tokenizer(bool lower) {
  static const auto uncased = std::make_unique<bert::WordPieceTokenizer>(BERT_VOCAB_FILE, true);
  static const auto cased = std::make_unique<bert::WordPieceTokenizer>(BERT_VOCAB_FILE, false);
  return lower ? *uncased : *cased;
}

int64_t code_points(std::string_view text) {
  int64_t count = 0;
  for (unsigned char c : text) count += (c & 0xC0) != 0x80;
  return count;
}

void check(const bert::WordPieceTokenizer& wordpiece, std::string_view text) {
  bert::Encoding encoding;
  try {
    encoding = wordpiece.encode(text);
  } catch (const bert::InputError&) {
    return;
  }
  if (encoding.ids.size() != encoding.offsets.size()) __builtin_trap();
  const int64_t length = code_points(text);
  int32_t previous_start = 0;
  for (size_t i = 0; i < encoding.ids.size(); ++i) {
    const int32_t id = encoding.ids[i];
    const auto [start, end] = encoding.offsets[i];
    if (id < 0 || id >= wordpiece.vocab_size()) __builtin_trap();
    if (start < previous_start || start > end || end > length) __builtin_trap();
    previous_start = start;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  check(tokenizer(true), text);
  check(tokenizer(false), text);
  return 0;
}
