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
#include <atomic>
#include <exception>
#include <iterator>
#include <string>
#include <thread>

#include "core/error.h"
#include "core/host_cores.h"
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

std::string describe_example(const SquadDataset& dataset, const SquadExample& example) {
  const std::string place = example.row >= 0
                                ? row_location(example.row, example.json_line, dataset.row_sources)
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

// The first answer's characters [start_char, end_char) in the context, what every window of
// the question is labelled by (measured once per question: an answer may be long, its context
// cut into thousands of windows).
struct AnswerChars {
  bool present = false;
  int32_t start_char = 0, end_char = 0;
};

AnswerChars first_answer_chars(const SquadExample& example) {
  AnswerChars chars;
  if (example.answers.empty()) return chars;
  const SquadAnswer& answer = example.answers[0];
  chars.present = true;
  chars.start_char = answer.start_char;
  chars.end_char = answer.start_char + code_point_length(answer.text);
  return chars;
}

// prepare_train_features' labelling of one window: token indices of the first answer's
// start and end, or 0/0 ([CLS]) when the answer is not wholly inside the window's context.
void label_window(const AnswerChars& answer, const RawOffsets& offsets, int32_t first_context,
                  int32_t last_context, Window& window) {
  window.start_position = window.end_position = 0;
  if (!answer.present || last_context < first_context) return;
  const int32_t start_char = answer.start_char, end_char = answer.end_char;
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
Window make_window(const AnswerChars& answer, int32_t example_index, const Tokenizer& tokenizer,
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
  label_window(answer, RawOffsets{question, context, part_begin, length}, first_context, length - 2,
               window);
  return window;
}

// Windows of examples [begin, end), appended to `out` in order.
void append_windows(const SquadDataset& dataset, const Tokenizer& tokenizer,
                    const WindowConfig& config, size_t begin, size_t end,
                    std::vector<Window>* out) {
  Encoding context;
  const SquadExample* context_owner = nullptr;  // whose context `context` encodes
  for (size_t index = begin; index < end; ++index) {
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
      throw_input_error(dataset.path, describe_example(dataset, example),
                        "the question has " + std::to_string(question_tokens) +
                            " tokens, leaving " + std::to_string(budget) +
                            " context tokens per window at max_seq_length " +
                            std::to_string(config.max_seq_length) +
                            "; expected more than doc_stride " + std::to_string(config.doc_stride) +
                            " (use a larger max_seq_length or smaller doc_stride)");
    const int32_t step = budget - config.doc_stride;
    const AnswerChars answer = first_answer_chars(example);
    for (int32_t part_begin = 0;; part_begin += step) {
      const int32_t part_end = std::min(part_begin + budget, context_tokens);
      out->push_back(make_window(answer, static_cast<int32_t>(index), tokenizer, question, context,
                                 part_begin, part_end));
      if (part_end >= context_tokens) break;
    }
  }
}

// Where the pieces of work start: about `pieces` equal runs of examples, each start moved
// forward to the next paragraph's first question (so no context is tokenized twice), ending
// with examples.size().
std::vector<size_t> piece_starts(const SquadDataset& dataset, size_t pieces) {
  const size_t count = dataset.examples.size();
  std::vector<size_t> starts = {0};
  for (size_t p = 1; p < pieces; ++p) {
    size_t start = std::max(starts.back() + 1, count * p / pieces);
    while (start < count && dataset.examples[start].context == dataset.examples[start - 1].context)
      ++start;
    if (start >= count) break;
    starts.push_back(start);
  }
  starts.push_back(count);
  return starts;
}

}  // namespace

int window_threads(int requested) {
  return std::min(requested > 0 ? requested : available_cores(), kMaxWindowThreads);
}

std::vector<Window> build_windows(const SquadDataset& dataset, const Tokenizer& tokenizer,
                                  const WindowConfig& config, int threads) {
  if (config.max_seq_length < 4 || config.doc_stride < 0)
    throw_input_error(dataset.path, "window settings",
                      "expected max_seq_length >= 4 and doc_stride >= 0, got max_seq_length " +
                          std::to_string(config.max_seq_length) + ", doc_stride " +
                          std::to_string(config.doc_stride));
  threads = window_threads(threads);
  // Pieces of at least ~256 questions (a thread's start-up is tens of microseconds), several
  // per thread so that one slow piece (long contexts) does not hold the others up.
  constexpr size_t kMinPiece = 256;
  const size_t wanted =
      std::min<size_t>(size_t(threads) * 8, dataset.examples.size() / kMinPiece + 1);
  const std::vector<size_t> starts = piece_starts(dataset, wanted);
  const size_t pieces = starts.size() - 1;
  std::vector<std::vector<Window>> parts(pieces);
  std::vector<std::exception_ptr> errors(pieces);
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t p = next++; p < pieces; p = next++) {
      try {
        append_windows(dataset, tokenizer, config, starts[p], starts[p + 1], &parts[p]);
      } catch (...) {
        errors[p] = std::current_exception();
      }
    }
  };
  std::vector<std::thread> helpers;
  for (int t = 1; t < threads && size_t(t) < pieces; ++t) helpers.emplace_back(work);
  work();
  for (std::thread& helper : helpers) helper.join();
  for (const std::exception_ptr& error : errors)
    if (error) std::rethrow_exception(error);  // the first bad question in file order
  size_t total = 0;
  for (const auto& part : parts) total += part.size();
  std::vector<Window> windows;
  windows.reserve(total);
  for (auto& part : parts) std::move(part.begin(), part.end(), std::back_inserter(windows));
  return windows;
}

}  // namespace bert
