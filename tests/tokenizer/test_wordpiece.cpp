// WordPiece hand cases: cased mode, offsets through NFD and CJK handling, vocabulary errors,
// invalid UTF-8 (the Hugging Face golden over every dev text: test_wordpiece_golden.cpp).
#include <catch2/catch.hpp>

#include <cstdio>
#include <unistd.h>

#include "core/error.h"
#include "core/file_io.h"
#include "tokenizer/wordpiece.h"

namespace bert {
namespace {

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

std::string temp_file(const std::string& name, const std::string& text) {
  const std::string path = "/tmp/bert_test_wordpiece_" + std::to_string(::getpid()) + "_" + name;
  write_file_atomic(path, text);
  return path;
}

}  // namespace

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

TEST_CASE("WordPiece classes characters as the fast tokenizer does: Unicode 8.0, unassigned kept", "[tokenizer]") {
  // Each expectation is what transformers' BertTokenizerFast (tokenizers 0.22/0.23) gives.
  const WordPieceTokenizer t(tiny_vocab(), true, "tiny vocab");
  const WordPieceTokenizer cased(tiny_vocab(), false, "tiny vocab");
  // U+1FAE8 (an emoji of Unicode 15) and U+0378 are unassigned there: kept inside the word.
  Encoding e = t.encode("a\U0001FAE8b \U0001FAE8 e");
  REQUIRE(pieces(t, e) == std::vector<std::string>{"[UNK]", "[UNK]", "e"});
  REQUIRE(e.offsets == std::vector<TokenSpan>{{0, 3}, {4, 5}, {6, 7}});
  REQUIRE(pieces(t, t.encode("a\u0378b")) == std::vector<std::string>{"[UNK]"});
  // Punctuation, format characters and marks of Unicode 9 and later are letters there:
  // U+2E43 (Po since 9.0), U+0890 (Cf since 14.0), U+07FD (Mn since 11.0).
  for (const char* text : {"a\u2E43b", "a\u0890b", "a\u07FDb"}) {
    INFO(text);
    e = t.encode(text);
    REQUIRE(pieces(t, e) == std::vector<std::string>{"[UNK]"});
    REQUIRE(e.offsets == std::vector<TokenSpan>{{0, 3}});
  }
  // U+1734 was Mn in 8.0 (Mc now): stripped when lower-casing, kept otherwise.
  e = t.encode("a\u1734b");
  REQUIRE(pieces(t, e) == std::vector<std::string>{"a", "##b"});
  REQUIRE(e.offsets == std::vector<TokenSpan>{{0, 1}, {2, 3}});
  REQUIRE(pieces(cased, cased.encode("a\u1734b")) == std::vector<std::string>{"[UNK]"});
  // U+166D was Po in 8.0 (So now): split off as punctuation.
  e = t.encode("a\u166De");
  REQUIRE(pieces(t, e) == std::vector<std::string>{"a", "[UNK]", "e"});
  REQUIRE(e.offsets == std::vector<TokenSpan>{{0, 1}, {1, 2}, {2, 3}});
  // NFD as the Rust crate runs it: Unicode 9.0 data (U+0D3C and U+0C3C, assigned later, are
  // not reordered; the control characters between them are removed before NFD), and canonical
  // ordering moves characters, not alignments, before accents are stripped. U+1E94A (ccc 7,
  // Unicode 9.0) sorts before U+0301/U+0323 and takes the first mark's position.
  e = t.encode("\u0D3C\u0D3C\u0D3C\u0D3C\x1E\x1E\x1E\x1E\x1E\x1E\x1E\x1E\x1E\u0C3C");
  REQUIRE(pieces(t, e) == std::vector<std::string>{"[UNK]"});
  REQUIRE(e.offsets == std::vector<TokenSpan>{{0, 14}});
  e = t.encode("xa\u0301\U0001E94A");
  REQUIRE(e.offsets == std::vector<TokenSpan>{{0, 3}});
  e = t.encode("a\u0301\U0001E94A e");
  REQUIRE(pieces(t, e) == std::vector<std::string>{"[UNK]", "e"});
  REQUIRE(e.offsets == std::vector<TokenSpan>{{0, 2}, {4, 5}});
  // Marks an expansion inserted (the U+0301 of a precomposed á, U+0327 and U+0301 of U+1E09)
  // take the position of the character before them, whatever the sort did.
  REQUIRE(t.encode("\u00E1\U0001E94A e").offsets == std::vector<TokenSpan>{{0, 2}, {3, 4}});
  REQUIRE(t.encode("\u00E1\U0001E94A\u0323 e").offsets == std::vector<TokenSpan>{{0, 2}, {4, 5}});
  REQUIRE(t.encode("\u1E09\U0001E94A e").offsets == std::vector<TokenSpan>{{0, 2}, {3, 4}});
  e = t.encode("e\U0001E94A\u0301\u0323 e");
  REQUIRE(e.offsets == std::vector<TokenSpan>{{0, 2}, {5, 6}});
  // CJK: the Rust normaliser's range starts at U+2B920, so U+2B820 stays inside the word.
  REQUIRE(pieces(t, t.encode("a\U0002B820e")) == std::vector<std::string>{"[UNK]"});
  REQUIRE(pieces(t, t.encode("a\U0002B920e")) == std::vector<std::string>{"a", "[UNK]", "e"});
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

TEST_CASE("vocab.txt lines lose their trailing white space, as tokenizers reads them",
          "[tokenizer]") {
  // "to " (space), "in\t" and "at\u00a0" (no-break space) are "to", "in" and "at"; a leading
  // space stays (tokenizers' trim_end), so " of" is never matched.
  const std::string path = temp_file(
      "spaced_vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nto \nin\t\nat\xC2\xA0\n of\r\n");
  const WordPieceTokenizer t(path, true);
  CHECK(t.encode("to in at").ids == std::vector<int32_t>{5, 6, 7});
  CHECK(t.token_to_id(" of") == 8);
  CHECK(t.encode("of").ids == std::vector<int32_t>{1});
  std::remove(path.c_str());
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
  const std::string bom =
      temp_file("bom_vocab.txt", "\xEF\xBB\xBF[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n");
  REQUIRE_THROWS_WITH(WordPieceTokenizer(bom, true), Catch::Contains(bom) &&
                                                         Catch::Contains("line 1") &&
                                                         Catch::Contains("byte-order mark"));
  std::remove(bom.c_str());
  // Read from a file, [MASK] is required too: transformers adds it past the vocabulary and
  // matches "[MASK]" in the text whole, where it would be split here.
  const std::string no_mask = temp_file("no_mask_vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n");
  REQUIRE_THROWS_WITH(WordPieceTokenizer(no_mask, true),
                      Catch::Contains(no_mask) && Catch::Contains("[MASK]"));
  std::remove(no_mask.c_str());

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
