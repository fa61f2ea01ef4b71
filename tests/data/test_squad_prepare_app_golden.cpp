// The prepare_squad app on the SQuAD v1.1 dev set (../shared): its JSON Lines must equal the
// golden run_qa.py windows line by line (as parsed JSON) and its binary cache must load back to
// the same windows. Built with shared_data_main.cpp: without ../shared the binary reports itself
// skipped.
#include <catch2/catch.hpp>

#include <simdjson.h>

#include <filesystem>
#include <string>

#include "core/file_io.h"
#include "data/squad.h"
#include "data/window_cache.h"
#include "tests/data/prepare_squad_app_util.h"
#include "tests/shared_data.h"
#include "tokenizer/wordpiece.h"

using namespace bert::test;

TEST_CASE("prepare_squad writes the golden windows for the dev set", "[apps][data][shared]") {
  if (!bert::test::have_shared_file("data/squad/dev-v1.1.json", "SQuAD dev set") ||
      !bert::test::have_shared_file("data/bert-base-uncased/vocab.txt", "bert-base-uncased vocab") ||
      !bert::test::have_shared_file("golden/features.jsonl.gz", "golden windows"))
    return;
  const std::string vocab = bert::test::shared_path("data/bert-base-uncased/vocab.txt");
  const std::string input = bert::test::shared_path("data/squad/dev-v1.1.json");
  const std::string jsonl = temp_dir() + "/dev.jsonl", cache = temp_dir() + "/dev.bin";
  const RunResult result = run_app("--vocab_file " + vocab + " --input_file " + input +
                                   " --max_seq_length 384 --doc_stride 128 --do_lower_case true" +
                                   " --output_file " + jsonl + " --cache_file " + cache);
  INFO(result.out << result.err);
  REQUIRE(result.status == 0);
  CHECK(result.out.find("10570 examples, 10784 windows (10612 labelled") != std::string::npos);

  const std::vector<std::string> ours = bert::read_lines(jsonl);
  const std::vector<std::string> golden = bert::read_lines(bert::test::shared_path("golden/features.jsonl.gz"));
  CHECK(ours.size() == golden.size());
  if (const long line = first_differing_line(ours, golden); line >= 0) {
    INFO("first differing line " << line + 1 << ":\nours:   " << line_start(ours, line)
                                 << "\ngolden: " << line_start(golden, line));
    FAIL_CHECK("JSON Lines differ from the golden windows");
  }

  // The cache holds the same windows, under the key training will compute.
  const bert::SquadDataset data = bert::read_squad(input);
  const bert::WordPieceTokenizer tokenizer(vocab, true);
  const bert::WindowCacheKey key = bert::make_window_cache_key(data, tokenizer, true, {384, 128});
  const bert::WindowCache loaded = bert::load_window_cache(cache, key, data);
  REQUIRE(loaded.windows.size() == golden.size());
  simdjson::dom::parser golden_parser;
  size_t differing = 0;
  for (size_t i = 0; i < golden.size(); ++i) {
    simdjson::dom::element line = golden_parser.parse(golden[i]);
    const bert::Window& w = loaded.windows[i];
    std::vector<int32_t> ids;
    for (int64_t id : line["input_ids"].get_array()) ids.push_back(static_cast<int32_t>(id));
    const bool same = ids == w.input_ids && int64_t(line["start_position"]) == w.start_position &&
                      int64_t(line["end_position"]) == w.end_position &&
                      std::string_view(line["example_id"]) == loaded.example_ids[w.example_index];
    differing += !same;
  }
  CHECK(differing == 0);
  std::filesystem::remove(jsonl);
  std::filesystem::remove(cache);
}
