// libFuzzer target: build_windows over one or two examples made from arbitrary bytes, with
// answer positions anywhere in the context. Input layout: byte 0 picks max_seq_length
// (5..68), byte 1 doc_stride, bytes 2-3 the answer's first code point and length, byte 4 the
// lower-casing and whether a second question shares the context; the rest is
// "question \0 context". The answer is the context's slice at those code points (as read_squad
// guarantees). build_windows must return windows or throw InputError (a question leaving no
// room), and every window must hold: at most max_seq_length tokens, [CLS] question [SEP]
// context-part [SEP] with token types 0 then 1, context offsets inside the context, labels
// inside the window, and the answer's tokens covering its characters when it is labelled
// inside the context; start <= end but in run_qa.py's two edge cases (check_window).
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "data/json_diagnose.h"
#include "data/windows.h"
#include "core/error.h"
#include "tokenizer/wordpiece.h"

namespace {

const bert::WordPieceTokenizer& tokenizer(bool lower) {
  static const auto uncased = std::make_unique<bert::WordPieceTokenizer>(BERT_VOCAB_FILE, true);
  static const auto cased = std::make_unique<bert::WordPieceTokenizer>(BERT_VOCAB_FILE, false);
  return lower ? *uncased : *cased;
}

// Byte offset of each code point of valid UTF-8 text, plus its end.
std::vector<size_t> code_point_bytes(std::string_view text) {
  std::vector<size_t> bytes;
  for (size_t i = 0; i < text.size(); ++i)
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) bytes.push_back(i);
  bytes.push_back(text.size());
  return bytes;
}

void check_window(const bert::Window& w, const bert::SquadExample& example, const bert::WordPieceTokenizer& wordpiece,
                  int32_t max_seq_length, int32_t context_code_points) {
  const int32_t length = w.length();
  // [CLS] [SEP] [SEP] at least: a question or context of control characters alone has no tokens.
  if (length > max_seq_length || length < 3) __builtin_trap();
  if (static_cast<int32_t>(w.token_type_ids.size()) != length || static_cast<int32_t>(w.offsets.size()) != length)
    __builtin_trap();
  if (w.input_ids[0] != wordpiece.cls_id() || w.input_ids[length - 1] != wordpiece.sep_id()) __builtin_trap();
  int32_t first_context = -1;
  for (int32_t t = 0; t < length; ++t) {
    if (w.input_ids[t] < 0 || w.input_ids[t] >= wordpiece.vocab_size()) __builtin_trap();
    const bool context = w.token_type_ids[t] == 1 && t < length - 1;
    if (w.token_type_ids[t] == 1 && first_context < 0) first_context = t;
    if (w.token_type_ids[t] == 0 && first_context >= 0) __builtin_trap();  // types 0 then 1
    const auto [begin, end] = w.offsets[t];
    if (!context && (begin != -1 || end != -1)) __builtin_trap();
    if (context && (begin < 0 || begin > end || end > context_code_points)) __builtin_trap();
  }
  if (first_context < 2 || w.input_ids[first_context - 1] != wordpiece.sep_id()) __builtin_trap();
  if (w.start_position < 0 || w.end_position < 0 || w.start_position >= length || w.end_position >= length)
    __builtin_trap();
  if (w.start_position == 0 && w.end_position == 0) return;  // not inside this window
  const bert::SquadAnswer& first_answer = example.answers.at(0);
  if (w.start_position == length - 1) {
    // run_qa.py's edge case, kept for parity: an answer starting in the window's last context
    // token walks the start past it, onto the final [SEP] (its offsets (0, 0) pass the
    // `offset <= start_char` test), so start can exceed end. Only that token may cause it.
    if (w.offsets[length - 2].first < 0 || w.offsets[length - 2].first > first_answer.start_char) __builtin_trap();
    return;
  }
  if (w.start_position < first_context || w.end_position < first_context) __builtin_trap();
  // Labelled inside the context: the start token begins at or before the answer, the end
  // token ends at or after it.
  const bert::SquadAnswer& answer = first_answer;
  const int32_t answer_end = answer.start_char + static_cast<int32_t>(code_point_bytes(answer.text).size() - 1);
  const bert::TokenSpan start = w.offsets[w.start_position], end = w.offsets[w.end_position];
  if (start.first >= 0 && start.first > answer.start_char) __builtin_trap();
  if (end.second >= 0 && end.second < answer_end) __builtin_trap();
  // run_qa.py's other edge case, kept for parity: start is the LAST token beginning at or before
  // the answer and end the FIRST of the trailing tokens ending at or after it, so when one
  // character becomes several tokens with the same offsets (a Hangul syllable lower-cased into
  // its jamo), start can pass end. Then every token from end to start covers the whole answer.
  if (w.start_position > w.end_position)
    for (int32_t t = w.end_position; t <= w.start_position; ++t)
      if (w.offsets[t].first > answer.start_char || w.offsets[t].second < answer_end) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 6) return 0;
  const int32_t max_seq_length = 5 + data[0] % 64;
  const int32_t doc_stride = data[1] % max_seq_length;
  const uint8_t start_pick = data[2], length_pick = data[3], flags = data[4];
  const std::string_view rest(reinterpret_cast<const char*>(data + 5), size - 5);
  const size_t split = rest.find('\0');
  if (split == std::string_view::npos) return 0;
  const std::string_view question = rest.substr(0, split), context = rest.substr(split + 1);
  if (question.empty() || context.empty() || bert::find_invalid_utf8(rest)) return 0;
  const std::vector<size_t> bytes = code_point_bytes(context);
  const int32_t code_points = static_cast<int32_t>(bytes.size() - 1);

  bert::SquadExample example;
  example.id = "q0";
  example.question = std::string(question);
  example.context = std::string(context);
  const int32_t start = start_pick % code_points;
  const int32_t length = 1 + length_pick % (code_points - start);
  example.answers.push_back({std::string(context.substr(bytes[start], bytes[start + length] - bytes[start])), start});
  bert::SquadDataset dataset;
  dataset.path = "fuzz.json";
  dataset.examples.push_back(example);
  if (flags & 2) {  // a second question on the same context, without an answer (v2.0 style)
    example.id = "q1";
    example.answers.clear();
    example.is_impossible = true;
    dataset.examples.push_back(example);
  }
  const bert::WordPieceTokenizer& wordpiece = tokenizer(flags & 1);
  std::vector<bert::Window> windows;
  try {
    windows = bert::build_windows(dataset, wordpiece, bert::WindowConfig{max_seq_length, doc_stride});
  } catch (const bert::InputError&) {
    return 0;
  }
  if (windows.empty()) __builtin_trap();
  for (const bert::Window& window : windows) {
    if (window.example_index < 0 || static_cast<size_t>(window.example_index) >= dataset.examples.size())
      __builtin_trap();
    check_window(window, dataset.examples[window.example_index], wordpiece, max_seq_length, code_points);
  }
  return 0;
}
