// build_windows on handmade examples with a tiny vocabulary where every letter is one token,
// so window boundaries and labels can be worked out by hand.
#include <atomic>
#include <catch2/catch.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "data/windows.h"
#include "tokenizer/wordpiece.h"

namespace {

// [PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3, then a..z = 4..29, "?" = 30.
bert::WordPieceTokenizer letter_tokenizer() {
  std::vector<std::string> tokens = {"[PAD]", "[UNK]", "[CLS]", "[SEP]"};
  for (char c = 'a'; c <= 'z'; ++c) tokens.push_back(std::string(1, c));
  tokens.push_back("?");
  return bert::WordPieceTokenizer(tokens, true, "letters");
}
int32_t id_of(char letter) { return 4 + (letter - 'a'); }

// "a b c ..." with n letters; letter k starts at code point 2k.
std::string letters(int n) {
  std::string text;
  for (int k = 0; k < n; ++k) {
    if (k) text += ' ';
    text += static_cast<char>('a' + k);
  }
  return text;
}

bert::SquadDataset one_example(const std::string& question, const std::string& context,
                               std::vector<bert::SquadAnswer> answers) {
  bert::SquadDataset data;
  data.path = "handmade.json";
  bert::SquadExample example;
  example.id = "x1";
  example.question = question;
  example.context = context;
  example.answers = std::move(answers);
  data.examples.push_back(example);
  return data;
}

// The context token indices of a window's part.
std::vector<int32_t> part_of(const bert::Window& window) {
  std::vector<int32_t> part;
  for (size_t t = 0; t < window.offsets.size(); ++t)
    if (window.offsets[t].first >= 0) part.push_back(window.offsets[t].first / 2);
  return part;
}

}  // namespace

TEST_CASE("a short context gives one window", "[data][windows]") {
  const auto tokenizer = letter_tokenizer();
  // Python's lstrip drops the leading spaces, tab and U+3000 ideographic space.
  const auto data = one_example(" \t\u3000q?", "a b c", {{"b", 2}});
  const auto windows = bert::build_windows(data, tokenizer, {384, 128});
  REQUIRE(windows.size() == 1);
  const bert::Window& w = windows[0];
  CHECK(w.input_ids == std::vector<int32_t>{2, id_of('q'), 30, 3, id_of('a'), id_of('b'), id_of('c'), 3});
  CHECK(w.token_type_ids == std::vector<int32_t>{0, 0, 0, 0, 1, 1, 1, 1});
  CHECK(w.offsets == std::vector<bert::TokenSpan>{{-1, -1}, {-1, -1}, {-1, -1}, {-1, -1},
                                                  {0, 1}, {2, 3}, {4, 5}, {-1, -1}});
  CHECK(w.start_position == 5);
  CHECK(w.end_position == 5);
  CHECK(w.example_index == 0);
}

TEST_CASE("windows step by B - doc_stride and the last one ends at the context's end",
          "[data][windows]") {
  const auto tokenizer = letter_tokenizer();
  // max_seq_length 10, one question token: B = 10 - 1 - 3 = 6 context tokens, step 6 - 2 = 4.
  const bert::WindowConfig config{10, 2};
  SECTION("13 tokens: [0,6) [4,10) [8,13)") {
    const auto windows = bert::build_windows(one_example("q", letters(13), {}), tokenizer, config);
    REQUIRE(windows.size() == 3);
    CHECK(part_of(windows[0]) == std::vector<int32_t>{0, 1, 2, 3, 4, 5});
    CHECK(part_of(windows[1]) == std::vector<int32_t>{4, 5, 6, 7, 8, 9});
    CHECK(part_of(windows[2]) == std::vector<int32_t>{8, 9, 10, 11, 12});
    CHECK(windows[2].length() == 9);
    for (const auto& w : windows) CHECK((w.start_position == 0 && w.end_position == 0));
  }
  SECTION("14 tokens: the third part ends exactly at the end") {
    const auto windows = bert::build_windows(one_example("q", letters(14), {}), tokenizer, config);
    REQUIRE(windows.size() == 3);
    CHECK(part_of(windows[2]) == std::vector<int32_t>{8, 9, 10, 11, 12, 13});
  }
  SECTION("6 tokens fit in one window; 7 need two") {
    CHECK(bert::build_windows(one_example("q", letters(6), {}), tokenizer, config).size() == 1);
    const auto windows = bert::build_windows(one_example("q", letters(7), {}), tokenizer, config);
    REQUIRE(windows.size() == 2);
    CHECK(part_of(windows[1]) == std::vector<int32_t>{4, 5, 6});
  }
}

TEST_CASE("labels follow prepare_train_features", "[data][windows]") {
  const auto tokenizer = letter_tokenizer();
  const bert::WindowConfig config{10, 2};  // parts [0,6) [4,10) [8,13) as above
  SECTION("an answer inside two windows is labelled in both; outside it is 0/0") {
    // "e f" = tokens 4..5, at code points 8..11.
    const auto windows = bert::build_windows(one_example("q", letters(13), {{"e f", 8}}), tokenizer, config);
    REQUIRE(windows.size() == 3);
    CHECK(windows[0].start_position == 3 + 4);  // [CLS] q [SEP] then token 4
    CHECK(windows[0].end_position == 3 + 5);
    CHECK(windows[1].start_position == 3 + 0);
    CHECK(windows[1].end_position == 3 + 1);
    CHECK(windows[2].start_position == 0);
    CHECK(windows[2].end_position == 0);
  }
  SECTION("an answer crossing a window edge is labelled only where it is whole") {
    // "f g" = tokens 5..6: window 0 ends at 5, window 1 holds both.
    const auto windows = bert::build_windows(one_example("q", letters(13), {{"f g", 10}}), tokenizer, config);
    CHECK(windows[0].start_position == 0);
    CHECK(windows[0].end_position == 0);
    CHECK(windows[1].start_position == 3 + 1);
    CHECK(windows[1].end_position == 3 + 2);
  }
  SECTION("an answer in the last context token: HF's start loop runs over [SEP]") {
    // run_qa.py's "edge case": [SEP]'s (0, 0) offset passes `offsets[i][0] <= start_char`,
    // so start lands on the final [SEP] (on the last pad in HF's padded batches).
    const auto windows = bert::build_windows(one_example("q", letters(13), {{"f", 10}}), tokenizer, config);
    CHECK(windows[0].start_position == windows[0].length() - 1);
    CHECK(windows[0].end_position == 3 + 5);
    CHECK(windows[1].start_position == 3 + 1);
    CHECK(windows[1].end_position == 3 + 1);
  }
  SECTION("a character that becomes two tokens: start passes end, as run_qa.py labels it") {
    // Lower-casing decomposes the Hangul syllable U+B4C0 into the jamo U+1103 U+1172: two
    // tokens, both at code points (0, 1). run_qa.py's start is the LAST token beginning at or
    // before the answer (the second jamo), its end the FIRST of the trailing tokens ending at or
    // after it (the first jamo): start = end + 1 (found by fuzz_windows; the seed
    // fuzz/corpus/fuzz_windows/answer_in_split_character.bin).
    std::vector<std::string> tokens = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "q", "a", "\u1103", "##\u1172"};
    const bert::WordPieceTokenizer jamo(tokens, true, "jamo");
    const auto windows = bert::build_windows(one_example("q", "\uB4C0 a", {{"\uB4C0", 0}}), jamo, config);
    REQUIRE(windows.size() == 1);
    REQUIRE(windows[0].input_ids == std::vector<int32_t>{2, 4, 3, 6, 7, 5, 3});
    CHECK(windows[0].offsets[3] == bert::TokenSpan{0, 1});
    CHECK(windows[0].offsets[4] == bert::TokenSpan{0, 1});
    CHECK(windows[0].start_position == 4);
    CHECK(windows[0].end_position == 3);
  }
  SECTION("only the first answer counts") {
    const auto windows =
        bert::build_windows(one_example("q", letters(6), {{"a", 0}, {"c", 4}}), tokenizer, config);
    CHECK(windows[0].start_position == 3);
    CHECK(windows[0].end_position == 3);
  }
  SECTION("an answer ending inside a token extends to the token's end") {
    // Context "ab c": WordPiece gives one [UNK] for "ab" (not in the vocabulary), covering 0..2.
    const auto windows = bert::build_windows(one_example("q", "ab c", {{"a", 0}}), tokenizer, config);
    CHECK(windows[0].input_ids[3] == 1);
    CHECK(windows[0].start_position == 3);
    CHECK(windows[0].end_position == 3);
  }
}

TEST_CASE("build_windows indexes examples and reuses a paragraph's context", "[data][windows]") {
  const auto tokenizer = letter_tokenizer();
  bert::SquadDataset data = one_example("q", letters(13), {{"l", 22}});
  data.examples.push_back(data.examples[0]);
  data.examples[1].id = "x2";
  data.examples[1].answers = {{"a", 0}};
  const auto windows = bert::build_windows(data, tokenizer, {10, 2});
  REQUIRE(windows.size() == 6);
  CHECK(windows[2].example_index == 0);
  CHECK(windows[2].start_position == 3 + 3);  // "l" = token 11, part [8,13)
  CHECK(windows[3].example_index == 1);
  CHECK(windows[3].start_position == 3);
}

TEST_CASE("build_windows rejects settings that cannot make progress", "[data][windows][errors]") {
  const auto tokenizer = letter_tokenizer();
  auto message_of = [&](const bert::SquadDataset& data, bert::WindowConfig config) -> std::string {
    try {
      bert::build_windows(data, tokenizer, config);
    } catch (const bert::InputError& e) {
      return e.what();
    }
    return "no error";
  };
  SECTION("a question longer than max_seq_length") {
    const std::string message = message_of(one_example(letters(20), "a b", {}), {16, 4});
    INFO(message);
    CHECK(message.find("handmade.json") != std::string::npos);
    CHECK(message.find("question id \"x1\"") != std::string::npos);
    CHECK(message.find("the question has 20 tokens") != std::string::npos);
  }
  SECTION("B <= doc_stride with a context that needs several windows") {
    // B = 10 - 3 - 3 = 4 <= doc_stride 4: the windows would never advance.
    const std::string message = message_of(one_example("q r s", letters(8), {}), {10, 4});
    INFO(message);
    CHECK(message.find("expected more than doc_stride 4") != std::string::npos);
    // The same question is fine when the context fits in one window (as in Hugging Face).
    CHECK(bert::build_windows(one_example("q r s", letters(4), {}), tokenizer, {10, 4}).size() == 1);
  }
  SECTION("nonsensical settings") {
    CHECK(message_of(one_example("q", "a", {}), {3, 0}).find("max_seq_length >= 4") != std::string::npos);
    CHECK(message_of(one_example("q", "a", {}), {10, -1}).find("doc_stride >= 0") != std::string::npos);
  }
}

namespace {

// Counts encode() calls (from every thread) and hands them to the letter tokenizer.
class CountingTokenizer : public bert::Tokenizer {
 public:
  explicit CountingTokenizer(const bert::Tokenizer& inner) : inner_(inner) {}
  bert::Encoding encode(std::string_view text) const override {
    ++encodes_;
    return inner_.encode(text);
  }
  int32_t vocab_size() const override { return inner_.vocab_size(); }
  std::string id_to_token(int32_t id) const override { return inner_.id_to_token(id); }
  int32_t cls_id() const override { return inner_.cls_id(); }
  int32_t sep_id() const override { return inner_.sep_id(); }
  int32_t pad_id() const override { return inner_.pad_id(); }
  int32_t unk_id() const override { return inner_.unk_id(); }
  int encodes() const { return encodes_; }

 private:
  const bert::Tokenizer& inner_;
  mutable std::atomic<int> encodes_{0};
};

// `paragraphs` paragraphs of 1 to 6 questions each over contexts of 5 to 24 letters, answers
// spread over the context: enough questions for build_windows to cut many pieces.
bert::SquadDataset many_paragraphs(int paragraphs) {
  bert::SquadDataset data;
  data.path = "many.json";
  for (int p = 0; p < paragraphs; ++p) {
    const int length = 5 + (p * 7) % 20;
    for (int q = 0; q < 1 + (p * 5 + 3) % 6; ++q) {
      bert::SquadExample example;
      example.id = "p" + std::to_string(p) + "q" + std::to_string(q);
      example.article = p / 10;
      example.paragraph = p % 10;
      example.question = q % 2 ? "q r" : "q";
      example.context = letters(length);
      const int letter = (p + 3 * q) % length;
      example.answers = {{std::string(1, static_cast<char>('a' + letter)), 2 * letter}};
      data.examples.push_back(example);
    }
  }
  return data;
}

bool same_windows(const std::vector<bert::Window>& a, const std::vector<bert::Window>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].example_index != b[i].example_index || a[i].input_ids != b[i].input_ids ||
        a[i].token_type_ids != b[i].token_type_ids || a[i].offsets != b[i].offsets ||
        a[i].start_position != b[i].start_position || a[i].end_position != b[i].end_position)
      return false;
  return true;
}

}  // namespace

TEST_CASE("build_windows gives the same windows on any number of threads",
          "[data][windows][threads]") {
  const auto letters_tokenizer = letter_tokenizer();
  const bert::SquadDataset data = many_paragraphs(1500);
  const bert::WindowConfig config{10, 2};
  int questions = 0, contexts = 0;
  for (size_t i = 0; i < data.examples.size(); ++i) {
    ++questions;
    contexts += i == 0 || data.examples[i].context != data.examples[i - 1].context;
  }
  REQUIRE(questions > 4 * 256);  // several pieces of work
  CountingTokenizer serial_tokenizer(letters_tokenizer);
  const std::vector<bert::Window> serial = bert::build_windows(data, serial_tokenizer, config, 1);
  REQUIRE(serial.size() > data.examples.size());  // some contexts need several windows
  CHECK(serial_tokenizer.encodes() == questions + contexts);
  for (int threads : {2, 3, 8, 64, 1000}) {
    INFO(threads << " threads");
    CountingTokenizer tokenizer(letters_tokenizer);
    CHECK(same_windows(bert::build_windows(data, tokenizer, config, threads), serial));
    // Pieces start at a paragraph's first question: no context is tokenized twice.
    CHECK(tokenizer.encodes() == questions + contexts);
  }
}

TEST_CASE("build_windows on threads throws the first bad question's error",
          "[data][windows][threads][errors]") {
  const auto tokenizer = letter_tokenizer();
  bert::SquadDataset data = many_paragraphs(1500);
  // Questions too long for max_seq_length 10, early and late in the file.
  data.examples[700].question = letters(12);
  data.examples[data.examples.size() - 5].question = letters(12);
  for (int threads : {1, 2, 8}) {
    INFO(threads << " threads");
    try {
      bert::build_windows(data, tokenizer, {10, 2}, threads);
      FAIL("no error");
    } catch (const bert::InputError& e) {
      CHECK(std::string(e.what()).find("question id \"" + data.examples[700].id + "\"") !=
            std::string::npos);
    }
  }
}
