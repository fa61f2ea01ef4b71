// bert::unicode against values Python 3.11 (Unicode 14) gives; the tables themselves were
// checked exhaustively against Python when generated (tools/gen_unicode_tables.py).
#include <catch2/catch.hpp>

#include "core/error.h"
#include "tokenizer/unicode.h"

namespace u = bert::unicode;

namespace {
std::u32string lower_of(char32_t cp) {
  std::u32string out;
  u::python_lower(cp, &out);
  return out;
}
}  // namespace

TEST_CASE("decode_utf8 accepts valid text and reports the first bad byte", "[unicode]") {
  REQUIRE(u::utf8_to_u32("a\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80") ==
          std::u32string{U'a', 0xE9, 0x4E2D, 0x1F600});
  struct Bad {
    std::string text;
    size_t offset;
  };
  const Bad cases[] = {
      {"ab\x80", 2},                 // stray continuation byte
      {"a\xC0\xAF", 1},              // overlong '/'
      {"\xE0\x80\xAF", 0},           // overlong 3-byte
      {"xx\xED\xA0\x80", 2},         // surrogate U+D800
      {"\xF4\x90\x80\x80", 0},       // above U+10FFFF
      {"ok\xE4\xB8", 2},             // truncated
      {"\xC3\x28", 0},               // bad continuation
      {"\xFF", 0},
  };
  for (const Bad& c : cases) {
    std::u32string out;
    size_t bad = 999;
    INFO("input bytes " << c.text.size());
    REQUIRE_FALSE(u::decode_utf8(c.text, &out, &bad));
    REQUIRE(bad == c.offset);
  }
  REQUIRE_THROWS_AS(u::utf8_to_u32("ab\x80"), bert::InputError);
  REQUIRE_THROWS_WITH(u::utf8_to_u32("ab\x80"), Catch::Contains("invalid UTF-8 at byte 2"));
}

TEST_CASE("append_utf8 round-trips every length", "[unicode]") {
  const std::u32string text{U'x', 0xE9, 0x20AC, 0x10348, 0x10FFFF};
  REQUIRE(u::utf8_to_u32(u::u32_to_utf8(text)) == text);
  REQUIRE(u::u32_to_utf8(text).size() == 1 + 2 + 3 + 4 + 4);
}

TEST_CASE("general categories", "[unicode]") {
  using C = u::Category;
  REQUIRE(u::category(U'A') == C::Lu);
  REQUIRE(u::category(U'a') == C::Ll);
  REQUIRE(u::category(0x01C5) == C::Lt);
  REQUIRE(u::category(0x0301) == C::Mn);
  REQUIRE(u::category(0x200B) == C::Cf);
  REQUIRE(u::category(0x0000) == C::Cc);
  REQUIRE(u::category(0x3000) == C::Zs);
  REQUIRE(u::category(0x2014) == C::Pd);
  REQUIRE(u::category(0x00AB) == C::Pi);
  REQUIRE(u::category(U'$') == C::Sc);
  REQUIRE(u::category(0xE000) == C::Co);
  REQUIRE(u::category(0x0378) == C::Cn);
  REQUIRE(u::category(0x10FFFF) == C::Cn);
  REQUIRE(u::is_punctuation(u::category(0x3002)));
  REQUIRE_FALSE(u::is_punctuation(u::category(U'+')));
  REQUIRE(std::string(u::category_name(C::Mn)) == "Mn");
  // The BERT normaliser's table is Unicode 8.0.0's: the same where nothing changed since.
  REQUIRE(std::string(u::bert_tables_version()) == "8.0.0");
  for (char32_t cp : {char32_t(U'A'), char32_t(0x0301), char32_t(0x200B), char32_t(0x3002), char32_t(0xE000),
                      char32_t(0x08E3), char32_t(0x1173C)})
    REQUIRE(u::bert_category(cp) == u::category(cp));
  REQUIRE(u::bert_category(0x2E43) == C::Cn);  // Po since 9.0
  REQUIRE(u::bert_category(0x1734) == C::Mn);  // Mc since 14.0
  REQUIRE(u::bert_category(0x166D) == C::Po);  // So since 12.0
  REQUIRE(u::bert_removes(0x200B));
  REQUIRE(u::bert_removes(0xE000));
  REQUIRE_FALSE(u::bert_removes(0x0378));   // unassigned: kept
  REQUIRE_FALSE(u::bert_removes(0x0890));   // Cf only since 14.0
  REQUIRE(u::bert_is_punctuation(0x3002));
  REQUIRE_FALSE(u::bert_is_punctuation(0x2E43));
  REQUIRE(u::bert_is_nonspacing_mark(0x0301));
  // The BERT NFD knows what Unicode 9.0.0 assigned: U+1E94A (9.0) yes, U+0D3C (10.0) no.
  REQUIRE(std::string(u::bert_nfd_tables_version()) == "9.0.0");
  REQUIRE(u::bert_nfd_knows(U'a'));
  REQUIRE(u::bert_nfd_knows(0x00E9));
  REQUIRE(u::bert_nfd_knows(0x1E94A));
  REQUIRE_FALSE(u::bert_nfd_knows(0x0D3C));
  REQUIRE_FALSE(u::bert_nfd_knows(0x0C3C));
}

TEST_CASE("Python str predicates", "[unicode]") {
  REQUIRE(u::python_isspace(0x1C));
  REQUIRE(u::python_isspace(0x85));
  REQUIRE(u::python_isspace(0x3000));
  REQUIRE_FALSE(u::python_isspace(0x200B));
  REQUIRE_FALSE(u::is_white_space(0x1C));
  REQUIRE(u::is_white_space(0x2029));
  REQUIRE(u::python_isalnum(0xB2));     // superscript two (numeric)
  REQUIRE(u::python_isalnum(0x4E00));
  REQUIRE(u::python_isalnum(0x0663));   // Arabic-Indic three
  REQUIRE_FALSE(u::python_isalnum(U'_'));
  REQUIRE_FALSE(u::python_isalnum(0x0301));
}

TEST_CASE("python_lower follows str.lower, SpecialCasing and final sigma", "[unicode]") {
  REQUIRE(lower_of(U'Q') == U"q");
  REQUIRE(lower_of(0x0130) == std::u32string{U'i', 0x0307});
  REQUIRE(lower_of(0x01C5) == std::u32string{0x01C6});
  REQUIRE(lower_of(0x1E9E) == std::u32string{0xDF});
  REQUIRE(lower_of(0x212A) == U"k");  // Kelvin sign
  REQUIRE(lower_of(0x03A3) == std::u32string{0x03C3});
  REQUIRE(lower_of(0x10400) == std::u32string{0x10428});
  // "ΟΔΟΣ ΣΑ Σ" → "οδος σα σ": final only after a cased letter with no cased letter after.
  REQUIRE(u::python_lower_utf8("\xCE\x9F\xCE\x94\xCE\x9F\xCE\xA3 \xCE\xA3\xCE\x91 \xCE\xA3") ==
          "\xCE\xBF\xCE\xB4\xCE\xBF\xCF\x82 \xCF\x83\xCE\xB1 \xCF\x83");
  // A case-ignorable apostrophe between does not break the context: "A'Σ'" → "a'ς'".
  REQUIRE(u::python_lower_utf8("A'\xCE\xA3'") == "a'\xCF\x82'");
}

TEST_CASE("NFD decomposes recursively and orders marks", "[unicode]") {
  REQUIRE(u::nfd(std::u32string{0xE9}) == std::u32string{U'e', 0x301});
  // U+1E69 ṩ → s + U+0323 + U+0307 (two levels).
  REQUIRE(u::nfd(std::u32string{0x1E69}) == std::u32string{U's', 0x323, 0x307});
  // Hangul 한 → three jamo; 가 → two.
  REQUIRE(u::nfd(std::u32string{0xD55C}) == std::u32string{0x1112, 0x1161, 0x11AB});
  REQUIRE(u::nfd(std::u32string{0xAC00}) == std::u32string{0x1100, 0x1161});
  // Marks sorted by class across characters: a + acute(230) + cedilla(202).
  REQUIRE(u::nfd(std::u32string{U'a', 0x301, 0x327}) == std::u32string{U'a', 0x327, 0x301});
  REQUIRE(u::combining_class(0x301) == 230);
  REQUIRE(u::combining_class(U'a') == 0);
  REQUIRE(u::nfd(std::u32string{0xFB01}) == std::u32string{0xFB01});  // compatibility only
}

TEST_CASE("hf_nfkd_strip_accents is tokenizers' NFKD + StripAccents (Unicode 9.0.0)", "[unicode]") {
  // Expected values from tokenizers 0.23's normalizers.Sequence([NFKD(), StripAccents()]).
  const auto stripped = [](char32_t cp) {
    std::u32string out = U"<";
    u::hf_nfkd_strip_accents(cp, &out);
    return out.substr(1);  // appends, never touches what was there
  };
  CHECK(stripped(0xFB01) == U"fi");
  CHECK(stripped(0x1C4) == U"DZ");  // Ǆ: D Z + caron, the caron removed
  CHECK(stripped(0xE9) == U"e");
  CHECK(stripped(0x130) == U"I");   // İ: I + dot above
  CHECK(stripped(0x1E69) == U"s");  // two levels of marks
  CHECK(stripped(0x2460) == U"1");
  CHECK(stripped(0xBD) == (std::u32string{U'1', 0x2044, U'2'}));
  CHECK(stripped(0xA0) == U" ");
  CHECK(stripped(0xD55C) == (std::u32string{0x1112, 0x1161, 0x11AB}));
  CHECK(stripped(0x301).empty());
  CHECK(stripped(0x1CF2).empty());                      // Mc in 9.0.0 (Lo since)
  CHECK(stripped(0x111C9) == std::u32string{0x111C9});  // Po in 9.0.0 (Mn since)
  CHECK(stripped(0x860) == std::u32string{0x860});      // assigned in 10.0.0
  CHECK(stripped(0x1DF6) == std::u32string{0x1DF6});    // a mark since 10.0.0 only
  CHECK(stripped(U'a') == U"a");
  CHECK(u::hf_is_mark(0x301));
  CHECK_FALSE(u::hf_is_mark(U'a'));
}

TEST_CASE("BERT CJK ranges", "[unicode]") {
  REQUIRE(u::is_chinese_char(0x4E2D));
  REQUIRE(u::is_chinese_char(0xF900));
  REQUIRE_FALSE(u::is_chinese_char(0x3042));  // hiragana
  REQUIRE_FALSE(u::is_chinese_char(0xD55C));  // hangul
  REQUIRE_FALSE(u::is_chinese_char(0x2B820));  // the Rust normaliser's range starts at U+2B920
  REQUIRE(u::is_chinese_char(0x2B920));
}
