// build_windows on the whole SQuAD v1.1 dev set against the 10,784 windows Hugging Face's
// run_qa.py builds (shared/golden/features.jsonl.gz): every id, type, offset and label. Built
// with shared_data_main.cpp: without ../shared the binary reports itself skipped.
#include <catch2/catch.hpp>

#include <simdjson.h>

#include <chrono>
#include <cstdio>
#include <sstream>

#include "data/squad.h"
#include "data/windows.h"
#include "core/file_io.h"
#include "tests/shared_data.h"
#include "tokenizer/wordpiece.h"

namespace {

struct GoldenWindow {
  std::string example_id;
  int64_t article = 0;
  std::vector<int32_t> input_ids, token_type_ids;
  std::vector<bert::TokenSpan> offsets;
  int64_t start_position = 0, end_position = 0;
};

std::vector<int32_t> int_list(simdjson::dom::element value) {
  std::vector<int32_t> out;
  for (simdjson::dom::element item : value.get_array()) out.push_back(static_cast<int32_t>(int64_t(item)));
  return out;
}

GoldenWindow parse_golden(simdjson::dom::parser& parser, const std::string& line) {
  simdjson::dom::element doc = parser.parse(line);
  GoldenWindow golden;
  golden.example_id = std::string(std::string_view(doc["example_id"]));
  golden.article = int64_t(doc["article"]);
  golden.input_ids = int_list(doc["input_ids"]);
  golden.token_type_ids = int_list(doc["token_type_ids"]);
  for (simdjson::dom::element span : doc["offsets"].get_array()) {
    if (span.is_null()) {
      golden.offsets.push_back({-1, -1});
    } else {
      const std::vector<int32_t> pair = int_list(span);
      if (pair.size() != 2) FAIL("an offset that is not a pair: " << line.substr(0, 80));
      golden.offsets.push_back({pair[0], pair[1]});
    }
  }
  golden.start_position = int64_t(doc["start_position"]);
  golden.end_position = int64_t(doc["end_position"]);
  return golden;
}

// "" when equal, else the first difference.
std::string first_difference(const bert::SquadDataset& data, const bert::Window& ours,
                             const GoldenWindow& golden) {
  std::ostringstream out;
  const bert::SquadExample& example = data.examples[ours.example_index];
  if (example.id != golden.example_id) out << "example_id " << example.id << " vs " << golden.example_id;
  else if (example.article != golden.article) out << "article " << example.article << " vs " << golden.article;
  else if (ours.input_ids.size() != golden.input_ids.size())
    out << "length " << ours.input_ids.size() << " vs " << golden.input_ids.size();
  else if (ours.start_position != golden.start_position || ours.end_position != golden.end_position)
    out << "labels " << ours.start_position << "/" << ours.end_position << " vs " << golden.start_position
        << "/" << golden.end_position;
  if (!out.str().empty()) return out.str();
  for (size_t t = 0; t < golden.input_ids.size(); ++t) {
    if (ours.input_ids[t] != golden.input_ids[t])
      out << "input_ids[" << t << "] " << ours.input_ids[t] << " vs " << golden.input_ids[t];
    else if (ours.token_type_ids[t] != golden.token_type_ids[t])
      out << "token_type_ids[" << t << "] " << ours.token_type_ids[t] << " vs " << golden.token_type_ids[t];
    else if (ours.offsets[t] != golden.offsets[t])
      out << "offsets[" << t << "] " << ours.offsets[t].first << "," << ours.offsets[t].second << " vs "
          << golden.offsets[t].first << "," << golden.offsets[t].second;
    if (!out.str().empty()) return out.str();
  }
  return {};
}

}  // namespace

TEST_CASE("build_windows matches Hugging Face run_qa.py on the dev set", "[data][windows][shared]") {
  if (!bert::test::have_shared_file("data/squad/dev-v1.1.json", "SQuAD dev set") ||
      !bert::test::have_shared_file("data/bert-base-uncased/vocab.txt", "bert-base-uncased vocab") ||
      !bert::test::have_shared_file("golden/features.jsonl.gz", "golden windows"))
    return;
  const bert::SquadDataset data = bert::read_squad(bert::test::shared_path("data/squad/dev-v1.1.json"));
  const bert::WordPieceTokenizer tokenizer(
      bert::test::shared_path("data/bert-base-uncased/vocab.txt"), true);
  const std::vector<std::string> lines = bert::read_lines(bert::test::shared_path("golden/features.jsonl.gz"));
  REQUIRE(lines.size() == 10784);
  // One thread, and more threads than this machine has cores: the same windows either way.
  for (int threads : {1, 5}) {
    INFO(threads << " threads");
    const auto begin = std::chrono::steady_clock::now();
    const std::vector<bert::Window> windows =
        bert::build_windows(data, tokenizer, bert::WindowConfig{384, 128}, threads);
    std::printf("build_windows(dev, 384/128) on %d threads: %zu windows in %.0f ms\n", threads,
                windows.size(),
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - begin)
                    .count());
    simdjson::dom::parser parser;
    size_t labelled = 0;
    const size_t common = std::min(lines.size(), windows.size());
    for (size_t i = 0; i < common; ++i) {
      const std::string difference =
          first_difference(data, windows[i], parse_golden(parser, lines[i]));
      if (!difference.empty()) {
        INFO("first mismatch at golden line " << i + 1 << " (window " << i << "): " << difference);
        FAIL_CHECK("window differs");
        break;
      }
      labelled += windows[i].start_position != 0;
    }
    CHECK(windows.size() == lines.size());
    CHECK(labelled == 10612);
  }
}
