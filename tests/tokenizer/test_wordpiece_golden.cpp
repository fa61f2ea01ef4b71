// WordPiece against the Hugging Face fast tokenizer's output for every dev text
// (../shared/golden/tokenizer.jsonl.gz, with bert-base-uncased's vocab). Built with
// shared_data_main.cpp: without ../shared the binary reports itself skipped.
#include <catch2/catch.hpp>

#include <chrono>
#include <iostream>
#include <sstream>

#include <simdjson.h>

#include "core/file_io.h"
#include "tests/shared_data.h"
#include "tokenizer/wordpiece.h"

namespace bert {
namespace {

const char* const kVocab = "data/bert-base-uncased/vocab.txt";

// The tokens around index `around` (ids and offsets), for the first-mismatch report.
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

}  // namespace bert
