// The prepare_squad app on texts and window settings unlike the dev set's: the SQuAD files in
// tests/fixtures/drawn-windows (drawn by tools/golden/window_diff.py: accents, combining marks,
// CJK, emoji, control and zero-width characters, unusual spaces, cased and uncased, 48 to 384
// tokens per window, doc_stride 0 to 128, unanswerable questions) must give Hugging Face's
// windows (tokenizers + run_qa.py's prepare_train_features, in the fixture) line by line, and an
// error where tokenizers refuses the file. Needs ../shared's bert-base-uncased vocab: skipped
// without it.
#include <catch2/catch.hpp>

#include <simdjson.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/file_io.h"
#include "tests/data/prepare_squad_app_util.h"
#include "tests/shared_data.h"

using namespace bert::test;

namespace {

// One line of the fixture's cases.tsv: name, do_lower_case, max_seq_length, doc_stride and
// what Hugging Face gives ("windows" or "error").
struct DrawnCase {
  std::string name, lowercase;
  int max_seq_length = 0, doc_stride = 0;
  std::string expected;
};

std::vector<DrawnCase> read_cases(const std::string& path) {
  std::vector<DrawnCase> cases;
  for (const std::string& line : bert::read_lines(path)) {
    std::istringstream fields(line);
    DrawnCase c;
    fields >> c.name >> c.lowercase >> c.max_seq_length >> c.doc_stride >> c.expected;
    REQUIRE(fields);
    cases.push_back(c);
  }
  return cases;
}

}  // namespace

TEST_CASE("prepare_squad writes Hugging Face's windows for drawn texts and settings", "[apps][data][shared]") {
  if (!bert::test::have_shared_file("data/bert-base-uncased/vocab.txt", "bert-base-uncased vocab")) return;
  const std::string vocab = bert::test::shared_path("data/bert-base-uncased/vocab.txt");
  const std::string fixture = bert::test::fixture_path("drawn-windows");
  const std::vector<DrawnCase> cases = read_cases(fixture + "/cases.tsv");
  REQUIRE(cases.size() >= 8);
  size_t windows_compared = 0;
  for (const DrawnCase& c : cases) {
    INFO(c.name << ": do_lower_case " << c.lowercase << ", max_seq_length " << c.max_seq_length << ", doc_stride "
                << c.doc_stride);
    const std::string jsonl = temp_dir() + "/" + c.name + ".jsonl";
    const RunResult result = run_app("--vocab_file " + vocab + " --input_file " + fixture + "/" + c.name + ".json" +
                                     " --max_seq_length " + std::to_string(c.max_seq_length) + " --doc_stride " +
                                     std::to_string(c.doc_stride) + " --do_lower_case " + c.lowercase +
                                     " --output_file " + jsonl);
    INFO(result.out << result.err);
    if (c.expected == "error") {
      // tokenizers refuses a question that leaves no more than doc_stride context tokens; so must we,
      // naming the question.
      CHECK(result.status != 0);
      CHECK(result.err.find("doc_stride") != std::string::npos);
      continue;
    }
    REQUIRE(result.status == 0);
    const std::vector<std::string> ours = bert::read_lines(jsonl);
    const std::vector<std::string> theirs = bert::read_lines(fixture + "/" + c.name + ".windows.jsonl.gz");
    CHECK(ours.size() == theirs.size());
    if (const long line = first_differing_line(ours, theirs); line >= 0) {
      INFO("first differing line " << line + 1 << ":\nours: " << line_start(ours, line)
                                   << "\nHF:   " << line_start(theirs, line));
      FAIL_CHECK("JSON Lines differ from Hugging Face's windows");
    }
    windows_compared += ours.size();
  }
  CHECK(windows_compared >= 200);
}
