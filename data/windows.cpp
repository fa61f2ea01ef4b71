// build_windows: Hugging Face run_qa.py's sliding windows and labels.
//
// Per example: the question is left-stripped (Python str.lstrip) and tokenized; the context
// is tokenized once per paragraph. With Q question tokens there is room for
// B = max_seq_length - Q - 3 context tokens per window. A context of N <= B tokens gives one
// window; otherwise parts [s, min(s + B, N)) start at s = 0, B - doc_stride, 2(B - doc_stride),
// ... and stop with the first part that reaches N (the last part may be shorter than B).
// This is the stepping of tokenizers' Encoding::truncate before 0.23 (see
// shared/golden/README.md), which gives the 10,784 dev windows run_qa.py reports.
//
// Labels follow prepare_train_features literally, over the window's raw offsets where the
// special tokens have (0, 0) and question tokens carry their question offsets. That includes
// run_qa.py's edge case: an answer starting in a window's last context token gets the final
// [SEP] as its start (HF's padded batches give the last pad instead); no dev window hits it.
#include "data/windows.h"

#include <algorithm>
#include <string>

#include "core/error.h"
#include "tokenizer/unicode.h"

namespace bert {
namespace {

// Python's str.lstrip(): drops leading code points for which str.isspace() is true.
std::string_view python_lstrip(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    const size_t length = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
    std::u32string cp;
    if (!unicode::decode_utf8(text.substr(i, length), &cp, nullptr) || cp.size() != 1 ||
        !unicode::python_isspace(cp[0]))
      break;
    i += length;
  }
  return text.substr(i);
}

int32_t code_point_length(std::string_view text) {
  int32_t count = 0;
  for (char c : text) count += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return count;
}

std::string describe_example(const SquadExample& example) {
  const std::string place = example.row >= 0 ? row_location(example.row, example.json_line)
                                             : "data[" + std::to_string(example.article) + "].paragraphs[" +
                                                   std::to_string(example.paragraph) + "]";
  return place + " question id \"" + example.id + "\"";
}

// The offsets prepare_train_features sees for a window [CLS] question [SEP] part [SEP]:
// special tokens (0, 0), question tokens their question offsets, context tokens theirs.
struct RawOffsets {
  const Encoding& question;
  const Encoding& context;
  int32_t part_begin;
  int32_t length;
  TokenSpan operator[](int32_t t) const {
    const int32_t q = static_cast<int32_t>(question.offsets.size());
    if (t == 0 || t == q + 1 || t == length - 1) return {0, 0};
    if (t <= q) return question.offsets[t - 1];
    return context.offsets[part_begin + t - (q + 2)];
  }
};

// prepare_train_features' labelling of one window: token indices of the first answer's
// start and end, or 0/0 ([CLS]) when the answer is not wholly inside the window's context.
void label_window(const SquadExample& example, const RawOffsets& offsets, int32_t first_context,
                  int32_t last_context, Window& window) {
  window.start_position = window.end_position = 0;
  if (example.answers.empty() || last_context < first_context) return;
  const SquadAnswer& answer = example.answers[0];
  const int32_t start_char = answer.start_char;
  const int32_t end_char = start_char + code_point_length(answer.text);
  if (!(offsets[first_context].first <= start_char && offsets[last_context].second >= end_char))
    return;
  int32_t start = first_context;
  while (start < offsets.length && offsets[start].first <= start_char) ++start;
  int32_t end = last_context;
  while (end > 0 && offsets[end].second >= end_char) --end;
  window.start_position = start - 1;
  window.end_position = end + 1;
}

// [CLS] question [SEP] context[part_begin, part_end) [SEP], labelled.
Window make_window(const SquadExample& example, int32_t example_index, const Tokenizer& tokenizer,
                   const Encoding& question, const Encoding& context, int32_t part_begin,
                   int32_t part_end) {
  const int32_t q = static_cast<int32_t>(question.ids.size());
  const int32_t first_context = q + 2;
  const int32_t length = first_context + (part_end - part_begin) + 1;
  Window window;
  window.example_index = example_index;
  window.input_ids.resize(length);
  int32_t* ids = window.input_ids.data();
  ids[0] = tokenizer.cls_id();
  std::copy(question.ids.begin(), question.ids.end(), ids + 1);
  ids[q + 1] = tokenizer.sep_id();
  std::copy(context.ids.begin() + part_begin, context.ids.begin() + part_end, ids + first_context);
  ids[length - 1] = tokenizer.sep_id();
  window.token_type_ids.assign(first_context, 0);
  window.token_type_ids.resize(length, 1);
  // What callers see: offsets only for context tokens.
  window.offsets.assign(length, TokenSpan{-1, -1});
  std::copy(context.offsets.begin() + part_begin, context.offsets.begin() + part_end,
            window.offsets.begin() + first_context);
  label_window(example, RawOffsets{question, context, part_begin, length}, first_context, length - 2,
               window);
  return window;
}

}  // namespace

std::vector<Window> build_windows(const SquadDataset& dataset, const Tokenizer& tokenizer,
                                  const WindowConfig& config) {
  if (config.max_seq_length < 4 || config.doc_stride < 0)
    throw_input_error(dataset.path, "window settings",
                      "expected max_seq_length >= 4 and doc_stride >= 0, got max_seq_length " +
                          std::to_string(config.max_seq_length) + ", doc_stride " +
                          std::to_string(config.doc_stride));
  std::vector<Window> windows;
  windows.reserve(dataset.examples.size() * 5 / 4);
  Encoding context;
  const SquadExample* context_owner = nullptr;  // whose context `context` encodes
  for (size_t index = 0; index < dataset.examples.size(); ++index) {
    const SquadExample& example = dataset.examples[index];
    // Questions of one paragraph share its context: tokenize it once.
    if (!context_owner || context_owner->context != example.context) {
      context = tokenizer.encode(example.context);
      context_owner = &example;
    }
    const Encoding question = tokenizer.encode(python_lstrip(example.question));
    const int32_t question_tokens = static_cast<int32_t>(question.ids.size());
    const int32_t context_tokens = static_cast<int32_t>(context.ids.size());
    const int32_t budget = config.max_seq_length - question_tokens - 3;
    if (budget < 1 || (context_tokens > budget && budget <= config.doc_stride))
      throw_input_error(
          dataset.path, describe_example(example),
          "the question has " + std::to_string(question_tokens) + " tokens, leaving " +
              std::to_string(budget) + " context tokens per window at max_seq_length " +
              std::to_string(config.max_seq_length) + "; expected more than doc_stride " +
              std::to_string(config.doc_stride) + " (use a larger max_seq_length or smaller doc_stride)");
    const int32_t step = budget - config.doc_stride;
    for (int32_t part_begin = 0;; part_begin += step) {
      const int32_t part_end = std::min(part_begin + budget, context_tokens);
      windows.push_back(make_window(example, static_cast<int32_t>(index), tokenizer, question, context,
                                    part_begin, part_end));
      if (part_end >= context_tokens) break;
    }
  }
  return windows;
}

}  // namespace bert
