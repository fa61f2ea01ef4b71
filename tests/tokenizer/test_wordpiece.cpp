// WordPiece against the Hugging Face fast tokenizer's output for every dev text
// (golden/tokenizer.jsonl.gz), plus hand cases: cased mode, offsets through NFD and CJK
// handling, vocabulary errors, invalid UTF-8.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <unistd.h>

#include <simdjson.h>

#include "core/error.h"
#include "core/file_io.h"
#include "tests/test_support.h"
#include "tokenizer/wordpiece.h"

namespace bert {
namespace {

const char* const kVocab = "data/bert-base-uncased/vocab.txt";

// A small vocabulary exercising pieces, continuations and the special tokens.
std::vector<std::string> tiny_vocab() {
  return {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "hello", "world", "un", "##aff", "##able",
          "Hello", "cafe", "café", "e", "##e", "!", ",", "中", "文", "i", "##stanbul", "s",
          "##t", "##s", "a", "##b", "##c", "Σ", "σ", "ς"};
}

std::vector<std::string> pieces(const Tokenizer& t, const Encoding& e) {
  std::vector<std::string> out;
  for (int32_t id : e.ids) out.push_back(t.id_to_token(id));
  return out;
}

std::string describe(const std::vector<int32_t>& ids, const std::vector<TokenSpan>& offsets,
                     size_t around) {
  std::ostringstream s;
  const size_t from = around > 3 ? around - 3 : 0;
  for (size_t i = from; i < ids.size() && i < around + 4; ++i) {
    s << " [" << i << "]" << ids[i] << "@(" << offsets[i].first << "," << offsets[i].second
      << ")";
  }
  return s.str();
}

std::string temp_file(const std::string& name, const std::string& text) {
  const std::string path = "/tmp/bert_test_wordpiece_" + std::to_string(::getpid()) + "_" + name;
  write_file_atomic(path, text);
  return path;
}

}  // namespace

TEST_CASE("WordPiece matches Hugging Face on every golden text", "[tokenizer][golden]") {
  if (!test::have_shared_file(kVocab, "WordPiece golden") ||
      !test::have_shared_file("golden/tokenizer.jsonl.gz", "WordPiece golden")) {
    return;
  }
  const WordPieceTokenizer tokenizer(test::shared_path(kVocab), true);
  REQUIRE(tokenizer.token_to_id("hello") == 7592);  // the README's sanity check
  REQUIRE(tokenizer.token_to_id("world") == 2088);
  REQUIRE(tokenizer.vocab_size() == 30522);
  REQUIRE(tokenizer.cls_id() == 101);
  REQUIRE(tokenizer.sep_id() == 102);
  REQUIRE(tokenizer.pad_id() == 0);
  REQUIRE(tokenizer.unk_id() == 100);

  const std::vector<std::string> lines = read_lines(test::shared_path("golden/tokenizer.jsonl.gz"));
  REQUIRE(lines.size() == 12634);
  struct Case {
    std::string text;
    std::vector<int32_t> ids;
    std::vector<TokenSpan> offsets;
  };
  std::vector<Case> cases(lines.size());
  simdjson::dom::parser parser;
  size_t text_bytes = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    simdjson::dom::element doc = parser.parse(lines[i]);
    cases[i].text = std::string(std::string_view(doc["text"]));
    text_bytes += cases[i].text.size();
    for (int64_t id : doc["ids"].get_array()) cases[i].ids.push_back(static_cast<int32_t>(id));
    for (simdjson::dom::array pair : doc["offsets"].get_array()) {
      cases[i].offsets.push_back({static_cast<int32_t>(int64_t(pair.at(0))),
                                  static_cast<int32_t>(int64_t(pair.at(1)))});
    }
    REQUIRE(cases[i].ids.size() == cases[i].offsets.size());
  }

  std::vector<Encoding> got(cases.size());
  const auto t0 = std::chrono::steady_clock::now();
  for (size_t i = 0; i < cases.size(); ++i) got[i] = tokenizer.encode(cases[i].text);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << "WordPiece: " << cases.size() << " texts, " << text_bytes / 1e6 << " MB in "
            << seconds << " s\n";

  size_t mismatches = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    const Encoding& e = got[i];
    if (e.ids == c.ids && e.offsets == c.offsets) continue;
    if (mismatches++ > 0) continue;  // report the first, count the rest
    size_t at = 0;
    while (at < c.ids.size() && at < e.ids.size() && c.ids[at] == e.ids[at] &&
           c.offsets[at] == e.offsets[at]) {
      ++at;
    }
    std::cout << "first mismatch: line " << i + 1 << " text \"" << c.text.substr(0, 300)
              << "\" at token " << at << "\n  expected (" << c.ids.size() << " tokens)"
              << describe(c.ids, c.offsets, at) << "\n  got      (" << e.ids.size()
              << " tokens)" << describe(e.ids, e.offsets, at) << "\n";
  }
  INFO(mismatches << " of " << cases.size() << " texts differ (first one printed above)");
  REQUIRE(mismatches == 0);
}

TEST_CASE("WordPiece greedy longest match, continuations and [UNK]", "[tokenizer]") {
  const WordPieceTokenizer t(tiny_vocab(), true, "tiny vocab");
  Encoding e = t.encode("unaffable hello, WORLD!");
  REQUIRE(pieces(t, e) ==
          std::vector<std::string>{"un", "##aff", "##able", "hello", ",", "world", "!"});
  REQUIRE(e.offsets == std::vector<TokenSpan>{{0, 2}, {2, 5}, {5, 9}, {10, 15}, {15, 16},
                                              {17, 22}, {22, 23}});
  // No piece for "x" inside the word: the whole word is one [UNK].
  e = t.encode("abx abc");
  REQUIRE(pieces(t, e) == std::vector<std::string>{"[UNK]", "a", "##b", "##c"});
  REQUIRE(e.offsets == std::vector<TokenSpan>{{0, 3}, {4, 5}, {5, 6}, {6, 7}});
  // 101 characters is over the limit even when every piece exists.
  const std::string long_word = "s" + std::string(100, 't');
  e = t.encode("a " + long_word);
  REQUIRE(pieces(t, e) == std::vector<std::string>{"a", "[UNK]"});
  REQUIRE(e.offsets[1] == TokenSpan{2, 103});
  e = t.encode(long_word.substr(0, 100));
  REQUIRE(e.ids.size() == 100);
  REQUIRE(t.encode("").ids.empty());
  REQUIRE(t.encode(" \t\n\xE2\x80\x8B ").ids.empty());  // whitespace and a zero-width space
}

TEST_CASE("WordPiece offsets follow the original text through normalisation", "[tokenizer]") {
  const WordPieceTokenizer t(tiny_vocab(), true, "tiny vocab");
  // "Cafe\u0301" (combining acute, dropped) and "café" precomposed (NFD, accent dropped).
  Encoding e = t.encode("Cafe\xCC\x81 caf\xC3\xA9!");
  REQUIRE(pieces(t, e) == std::vector<std::string>{"cafe", "cafe", "!"});
  REQUIRE(e.offsets == std::vector<TokenSpan>{{0, 4}, {6, 10}, {10, 11}});  // mark dropped
  // U+0130 "İ" decomposes to I + U+0307; the mark is stripped, "I" lower-cased.
  e = t.encode("\xC4\xB0stanbul");
  REQUIRE(pieces(t, e) == std::vector<std::string>{"i", "##stanbul"});
  REQUIRE(e.offsets == std::vector<TokenSpan>{{0, 1}, {1, 8}});
  // CJK characters are words of their own even without spaces; controls vanish.
  e = t.encode("a\x01中文\xEF\xBF\xBD" "e");
  REQUIRE(pieces(t, e) == std::vector<std::string>{"a", "中", "文", "e"});
  REQUIRE(e.offsets == std::vector<TokenSpan>{{0, 1}, {2, 3}, {3, 4}, {5, 6}});
  // Σ lower-cases to σ (no final-sigma rule, as Rust's char::to_lowercase).
  e = t.encode("a\xCE\xA3");
  REQUIRE(pieces(t, e) == std::vector<std::string>{"[UNK]"});
  e = t.encode("\xCE\xA3");
  REQUIRE(pieces(t, e) == std::vector<std::string>{"σ"});
}

TEST_CASE("WordPiece keeps literal special tokens whole, case-sensitively", "[tokenizer]") {
  const WordPieceTokenizer t(tiny_vocab(), true, "tiny vocab");
  // As Hugging Face's added vocabulary: matched in the raw text, even inside a word.
  Encoding e = t.encode("a[CLS]hello [SEP] [cls] [MASK]");
  REQUIRE(pieces(t, e) == std::vector<std::string>{"a", "[CLS]", "hello", "[SEP]", "[UNK]",
                                                   "[UNK]", "[UNK]", "[UNK]", "[UNK]",
                                                   "[UNK]"});
  REQUIRE(e.offsets[1] == TokenSpan{1, 6});
  REQUIRE(e.offsets[3] == TokenSpan{12, 17});
  REQUIRE(e.offsets[4] == TokenSpan{18, 19});  // "[" of "[cls]": punctuation, no piece
  // Offsets after a special token stay in code points: "é[SEP]e".
  e = t.encode("\xC3\xA9[SEP]e");
  REQUIRE(pieces(t, e) == std::vector<std::string>{"e", "[SEP]", "e"});
  REQUIRE(e.offsets == std::vector<TokenSpan>{{0, 1}, {1, 6}, {6, 7}});
}

TEST_CASE("WordPiece cased mode keeps case and accents", "[tokenizer]") {
  const WordPieceTokenizer t(tiny_vocab(), false, "tiny vocab");
  REQUIRE_FALSE(t.do_lower_case());
  Encoding e = t.encode("Hello café hello");
  REQUIRE(pieces(t, e) == std::vector<std::string>{"Hello", "café", "hello"});
  REQUIRE(e.offsets == std::vector<TokenSpan>{{0, 5}, {6, 10}, {11, 16}});
  e = t.encode("HELLO Cafe\xCC\x81");  // decomposed accent: kept, so no piece matches
  REQUIRE(pieces(t, e) == std::vector<std::string>{"[UNK]", "[UNK]"});
  REQUIRE(e.offsets == std::vector<TokenSpan>{{0, 5}, {6, 11}});
  e = t.encode("\xCE\xA3");
  REQUIRE(pieces(t, e) == std::vector<std::string>{"Σ"});
}

TEST_CASE("WordPiece rejects bad vocabularies and invalid UTF-8", "[tokenizer]") {
  std::vector<std::string> no_unk = tiny_vocab();
  no_unk.erase(no_unk.begin() + 1);
  REQUIRE_THROWS_AS(WordPieceTokenizer(no_unk, true, "my_vocab.txt"), InputError);
  REQUIRE_THROWS_WITH(WordPieceTokenizer(no_unk, true, "my_vocab.txt"),
                      Catch::Contains("my_vocab.txt") && Catch::Contains("[UNK]"));

  const std::string path = temp_file("vocab.txt", "[PAD]\n[UNK]\n[CLS]\nhello\n");
  REQUIRE_THROWS_WITH(WordPieceTokenizer(path, true),
                      Catch::Contains(path) && Catch::Contains("[SEP]"));
  std::remove(path.c_str());
  REQUIRE_THROWS_WITH(WordPieceTokenizer("/nonexistent/vocab.txt", true),
                      Catch::Contains("/nonexistent/vocab.txt"));
  REQUIRE_THROWS_WITH(WordPieceTokenizer(std::vector<std::string>{}, true, "empty.txt"),
                      Catch::Contains("empty.txt"));
  std::vector<std::string> bad_utf8 = tiny_vocab();
  bad_utf8.push_back("ab\xC3");
  REQUIRE_THROWS_WITH(WordPieceTokenizer(bad_utf8, true, "v.txt"),
                      Catch::Contains("v.txt") && Catch::Contains("line 30"));

  const WordPieceTokenizer t(tiny_vocab(), true, "tiny vocab");
  REQUIRE_THROWS_AS(t.encode("hello \xE4\xB8"), InputError);
  REQUIRE_THROWS_WITH(t.encode("hello \xED\xA0\x80 world"),
                      Catch::Contains("invalid UTF-8 at byte 6"));
  REQUIRE(t.token_to_id("##able") == 8);
  REQUIRE(t.token_to_id("able") == -1);
  REQUIRE(t.id_to_token(4) == "hello");
  REQUIRE_THROWS_AS(t.id_to_token(1000), BertError);
}

}  // namespace bert
