// The binary window cache: exact round trip, stale keys refused, and every kind of damage
// (truncation, flipped bytes, wrong magic/version, bad values) reported as InputError.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "core/file_io.h"
#include "data/prepared_squad.h"
#include "data/window_cache.h"
#include "tests/test_support.h"
#include "tokenizer/wordpiece.h"

namespace {

using bert::test::ScratchDir;

std::string temp_path(const std::string& name) {
  static const ScratchDir dir("bert_test_windows_cache");
  return dir.path + "/" + name;
}

bert::SquadDataset two_examples() {
  bert::SquadDataset data;
  data.path = "handmade.json";
  for (const char* id : {"first", "second-\xC3\xA9"}) {
    bert::SquadExample example;
    example.id = id;
    example.question = "q?";
    example.context = "a b c";
    example.answers = {{"b", 2}};
    data.examples.push_back(example);
  }
  return data;
}

bert::Window make_window(int32_t example, std::vector<int32_t> ids, int32_t start, int32_t end) {
  bert::Window window;
  window.example_index = example;
  window.input_ids = ids;
  for (size_t t = 0; t < ids.size(); ++t) {
    window.token_type_ids.push_back(t >= 3 ? 1 : 0);
    const bool context = t >= 3 && t + 1 < ids.size();
    window.offsets.push_back(context ? bert::TokenSpan{int32_t(2 * t), int32_t(2 * t + 1)}
                                     : bert::TokenSpan{-1, -1});
  }
  window.start_position = start;
  window.end_position = end;
  return window;
}

std::vector<bert::Window> three_windows() {
  return {make_window(0, {2, 7, 3, 9, 10, 11, 3}, 4, 5), make_window(0, {2, 7, 3, 12, 3}, 0, 0),
          make_window(1, {2, 8, 3, 13, 14, 3}, 3, 4)};
}

const bert::WindowCacheKey kKey{16, 4, 0x1234, 0x5678};

void require_same(const bert::Window& a, const bert::Window& b) {
  CHECK(a.example_index == b.example_index);
  CHECK(a.input_ids == b.input_ids);
  CHECK(a.token_type_ids == b.token_type_ids);
  CHECK(a.offsets == b.offsets);
  CHECK(a.start_position == b.start_position);
  CHECK(a.end_position == b.end_position);
}

std::string error_reading(const std::string& bytes, const std::string& name) {
  const std::string path = temp_path(name);
  bert::write_file_atomic(path, bytes);
  try {
    bert::read_window_cache(path);
  } catch (const bert::InputError& e) {
    return e.what();
  }
  return "no error";
}

void require_mentions(const std::string& message, std::initializer_list<std::string> parts) {
  INFO(message);
  for (const std::string& part : parts) {
    INFO("missing: " << part);
    CHECK(message.find(part) != std::string::npos);
  }
}

}  // namespace

TEST_CASE("the window cache round-trips exactly", "[data][cache]") {
  const auto data = two_examples();
  const auto windows = three_windows();
  const std::string path = temp_path("round_trip.bin");
  bert::save_window_cache(path, kKey, data, windows);
  const bert::WindowCache cache = bert::load_window_cache(path, kKey, data);
  CHECK(cache.key == kKey);
  CHECK(cache.example_ids == std::vector<std::string>{"first", "second-\xC3\xA9"});
  REQUIRE(cache.windows.size() == windows.size());
  for (size_t w = 0; w < windows.size(); ++w) require_same(cache.windows[w], windows[w]);
  CHECK_FALSE(bert::path_exists(path + ".tmp." + std::to_string(::getpid())));
}

TEST_CASE("load_window_cache names what makes a cache stale", "[data][cache]") {
  const auto data = two_examples();
  const std::string path = temp_path("stale.bin");
  bert::save_window_cache(path, kKey, data, three_windows());
  auto message_loading = [&](bert::WindowCacheKey key, const bert::SquadDataset& dataset) -> std::string {
    try {
      bert::load_window_cache(path, key, dataset);
    } catch (const bert::InputError& e) {
      return e.what();
    }
    return "no error";
  };
  bert::WindowCacheKey key = kKey;
  key.max_seq_length = 384;
  require_mentions(message_loading(key, data), {path, "stale window cache", "max_seq_length 16, expected 384"});
  key = kKey;
  key.doc_stride = 128;
  require_mentions(message_loading(key, data), {"doc_stride 4, expected 128"});
  key = kKey;
  key.vocab_hash ^= 1;
  require_mentions(message_loading(key, data), {"another vocabulary"});
  key = kKey;
  key.dataset_hash ^= 1;
  require_mentions(message_loading(key, data), {"other SQuAD data than handmade.json"});
  bert::SquadDataset renamed = data;
  renamed.examples[1].id = "other";
  require_mentions(message_loading(kKey, renamed), {"example 1", "\"other\""});
}

TEST_CASE("prepare_squad reads a matching cache, rebuilds a stale one, keeps a foreign file",
          "[data][cache]") {
  const std::string squad = temp_path("tiny.json");
  bert::write_file_atomic(
      squad, R"({"version": "1.1", "data": [{"title": "T", "paragraphs": [{"context": "a b c a b c",
                "qas": [{"id": "q1", "question": "a?", "answers": [{"text": "b", "answer_start": 2}]},
                        {"id": "q2", "question": "c?", "answers": [{"text": "c", "answer_start": 4}]},
                        {"id": "q3", "question": "b?", "answers": [{"text": "b", "answer_start": 8}]}]}]}]})");
  const bert::WordPieceTokenizer tokenizer({"[PAD]", "[UNK]", "[CLS]", "[SEP]", "a", "b", "c", "?"},
                                           true, "tokens");
  bert::PrepareOptions options;
  options.window = bert::WindowConfig{16, 4};
  options.cache_file = temp_path("tiny.cache");
  options.quiet = true;
  const bert::PreparedSquad built = bert::prepare_squad(squad, tokenizer, options, "train");
  REQUIRE(built.windows.size() == 3);
  const std::string bytes = bert::read_file(options.cache_file);
  CHECK(bert::prepare_squad(squad, tokenizer, options, "train").windows.size() == 3);  // read back
  // Other settings (fewer samples): the cache no longer matches and is rebuilt for them.
  options.max_samples = 2;
  CHECK(bert::prepare_squad(squad, tokenizer, options, "train").windows.size() == 2);
  CHECK(bert::read_file(options.cache_file) != bytes);
  CHECK(bert::read_window_cache(options.cache_file).windows.size() == 2);
  // A cache that cannot be written (here its folder is missing; a read-only volume alike) is
  // not the run's end: the windows are built all the same.
  options.cache_file = temp_path("missing-folder/tiny.cache");
  CHECK(bert::prepare_squad(squad, tokenizer, options, "train").windows.size() == 2);
  CHECK_FALSE(bert::path_exists(options.cache_file));
  // A file at that path that is no window cache (a mistyped path naming data) is refused,
  // untouched.
  const std::string notes = temp_path("notes.txt");
  bert::write_file_atomic(notes, "my notes");
  options.cache_file = notes;
  CHECK_THROWS_AS(bert::prepare_squad(squad, tokenizer, options, "train"), bert::InputError);
  CHECK(bert::read_file(notes) == "my notes");
  // --overwrite_cache replaces a cache, never such a file: the windows are built, the file kept.
  options.overwrite_cache = true;
  CHECK(bert::prepare_squad(squad, tokenizer, options, "train").windows.size() == 2);
  CHECK(bert::read_file(notes) == "my notes");
  CHECK_THROWS_WITH(
      bert::save_window_cache(notes, bert::read_window_cache(temp_path("tiny.cache")).key,
                              built.dataset, built.windows),
      Catch::Contains(notes) && Catch::Contains("no window cache"));
  // An empty file (touched beforehand) is no one's data: it becomes the cache.
  const std::string empty = temp_path("empty.cache");
  bert::write_file_atomic(empty, "");
  options.cache_file = empty;
  CHECK(bert::prepare_squad(squad, tokenizer, options, "train").windows.size() == 2);
  CHECK(bert::read_window_cache(empty).windows.size() == 2);
  // Without --overwrite_cache too: an empty file, or a cache that is damaged (truncated here),
  // is rebuilt, as saving would replace it anyway.
  options.overwrite_cache = false;
  for (const bool truncated : {false, true}) {
    const std::string cache = bert::read_file(empty);
    bert::write_file_atomic(empty, truncated ? cache.substr(0, cache.size() / 2) : "");
    CHECK(bert::prepare_squad(squad, tokenizer, options, "train").windows.size() == 2);
    CHECK(bert::read_window_cache(empty).windows.size() == 2);
  }
  // A FIFO at the path is never opened (that would wait for a writer): refused when it is to
  // be read, and with --overwrite_cache left alone (the windows built but not cached), as a
  // directory there is.
  const std::string fifo = temp_path("fifo.cache");
  std::remove(fifo.c_str());
  REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  options.cache_file = fifo;
  CHECK_THROWS_WITH(bert::prepare_squad(squad, tokenizer, options, "train"), Catch::Contains(fifo));
  options.overwrite_cache = true;
  CHECK(bert::prepare_squad(squad, tokenizer, options, "train").windows.size() == 2);
  CHECK_THROWS_WITH(bert::save_window_cache(fifo, bert::read_window_cache(empty).key, built.dataset,
                                            built.windows),
                    Catch::Contains("FIFO"));
  std::remove(fifo.c_str());
}

TEST_CASE("fingerprints change with what the windows depend on", "[data][cache]") {
  auto data = two_examples();
  const uint64_t base = bert::dataset_fingerprint(data);
  CHECK(bert::dataset_fingerprint(data) == base);
  data.examples[1].answers[0].start_char = 3;
  CHECK(bert::dataset_fingerprint(data) != base);
  data = two_examples();
  data.examples[0].question = "q!";
  CHECK(bert::dataset_fingerprint(data) != base);

  const std::vector<std::string> tokens = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "a", "b"};
  const bert::WordPieceTokenizer lower(tokens, true, "tokens");
  const bert::WordPieceTokenizer cased(tokens, false, "tokens");
  std::vector<std::string> more = tokens;
  more.push_back("c");
  const bert::WordPieceTokenizer bigger(more, true, "tokens");
  const uint64_t h = bert::tokenizer_fingerprint(lower, true);
  CHECK(bert::tokenizer_fingerprint(cased, false) != h);
  CHECK(bert::tokenizer_fingerprint(bigger, true) != h);
  CHECK(bert::tokenizer_fingerprint(lower, true) == h);
}

TEST_CASE("a damaged window cache gives InputError naming the file and the problem",
          "[data][cache][errors]") {
  const std::string good = bert::serialize_window_cache(kKey, two_examples(), three_windows());
  SECTION("missing file") {
    const std::string path = temp_path("missing.bin");
    try {
      bert::read_window_cache(path);
      FAIL("no error");
    } catch (const bert::InputError& e) {
      require_mentions(e.what(), {path, "cannot open"});
    }
  }
  SECTION("a directory (--train_cache_file DIR)") {
    const std::string path = temp_path("a_directory.bin");
    bert::make_directories(path);
    try {
      bert::read_window_cache(path);  // a buffer of the size ftell reported (about 2^63) was requested
      FAIL("no error");
    } catch (const bert::InputError& e) {
      require_mentions(e.what(), {path, "is a directory, expected a regular file"});
    }
  }
  SECTION("empty or shorter than the header") {
    require_mentions(error_reading("", "empty.bin"), {"empty.bin", "shorter than the 88-byte"});
    require_mentions(error_reading(good.substr(0, 50), "short.bin"), {"short.bin", "header", "truncated"});
  }
  SECTION("truncated payload") {
    require_mentions(error_reading(good.substr(0, good.size() - 9), "truncated.bin"),
                     {"truncated.bin", "bytes, expected " + std::to_string(good.size()), "truncated"});
  }
  SECTION("trailing bytes") {
    require_mentions(error_reading(good + "xx", "long.bin"), {"long.bin", "trailing bytes"});
  }
  SECTION("not a cache") {
    std::string bad = good;
    bad[0] = '{';
    require_mentions(error_reading(bad, "magic.bin"), {"magic.bin", "not a window cache"});
  }
  SECTION("another format version") {
    std::string bad = good;
    bad[8] = 99;
    require_mentions(error_reading(bad, "version.bin"), {"header.format_version: 99, expected 1"});
  }
  SECTION("a flipped payload byte") {
    std::string bad = good;
    bad[100] ^= 0x10;
    require_mentions(error_reading(bad, "flipped.bin"), {"flipped.bin", "checksum mismatch"});
  }
  SECTION("counts that disagree with the payload size") {
    std::string bad = good;
    uint64_t windows = 0;
    std::memcpy(&windows, bad.data() + 40, 8);  // num_windows
    REQUIRE(windows == 3);
    windows = 4;
    std::memcpy(bad.data() + 40, &windows, 8);
    require_mentions(error_reading(bad, "counts.bin"), {"counts.bin", "does not match its counts"});
  }
  SECTION("values out of range behind a valid checksum") {
    auto windows = three_windows();
    windows[1].token_type_ids[0] = 5;
    require_mentions(error_reading(bert::serialize_window_cache(kKey, two_examples(), windows), "type.bin"),
                     {"type.bin", "window 1 token 0", "token type 0/1"});
    windows = three_windows();
    windows[2].start_position = 6;
    require_mentions(error_reading(bert::serialize_window_cache(kKey, two_examples(), windows), "label.bin"),
                     {"window 2", "positions inside the window"});
    windows = three_windows();
    windows[2].example_index = 2;
    require_mentions(error_reading(bert::serialize_window_cache(kKey, two_examples(), windows), "index.bin"),
                     {"window 2", "example index below 2"});
    windows = three_windows();
    windows[0].input_ids.resize(20, 1);
    windows[0].token_type_ids.resize(20, 1);
    windows[0].offsets.resize(20, {-1, -1});
    require_mentions(error_reading(bert::serialize_window_cache(kKey, two_examples(), windows), "long.bin"),
                     {"window 0", "max_seq_length 16", "found 20"});
  }
}

TEST_CASE("any truncation or flipped byte of a cache is refused", "[data][cache][errors]") {
  const auto data = two_examples();
  const std::string good = bert::serialize_window_cache(kKey, data, three_windows());
  const std::string path = temp_path("fuzz.bin");
  for (size_t size = 0; size < good.size(); ++size) {
    bert::write_file_atomic(path, good.substr(0, size));
    CHECK_THROWS_AS(bert::read_window_cache(path), bert::InputError);
  }
  // A flipped byte fails to load: the payload has a checksum, the header is checked field by
  // field, and the key hashes must match what load_window_cache expects.
  size_t loaded = 0;
  for (size_t at = 0; at < good.size(); ++at) {
    std::string bad = good;
    bad[at] ^= 0x5A;
    bert::write_file_atomic(path, bad);
    try {
      bert::load_window_cache(path, kKey, data);
      ++loaded;
    } catch (const bert::InputError&) {
    }
  }
  CHECK(loaded == 0);
}
