// SQuAD from Hugging Face datasets' cache (data/arrow_ipc.h, data/squad_arrow.h,
// data/hf_datasets_cache.h) on tests/fixtures/hf-datasets-cache: Arrow files written by
// datasets 5.2 itself (make_cache.py), laid out as the Hub dataset's cache and loaded back
// by load_dataset offline. The rows must read as the same questions as squad-mini.json, shards
// as one table, damaged files as errors naming the file (never a read outside it).
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "core/error.h"
#include "core/file_io.h"
#include "data/arrow_ipc.h"
#include "data/hf_datasets_cache.h"
#include "data/squad.h"
#include "data/squad_arrow.h"
#include "tests/test_support.h"

namespace bert {
namespace {

namespace fs = std::filesystem;

const std::string kHash = "0123456789abcdef0123456789abcdef01234567";

std::string cache_root() { return test::fixture_path("hf-datasets-cache/cache"); }
std::string squad_dir() { return cache_root() + "/rajpurkar___squad/plain_text/0.0.0/" + kHash; }
std::string sharded_dir() { return cache_root() + "/tests___squad_sharded/plain_text/0.0.0/" + kHash; }
std::string squad_mini() { return std::string(BERT_SOURCE_DIR) + "/data/samples/squad-mini.json"; }

void check_same_questions(const SquadDataset& arrow, size_t count) {
  const SquadDataset json = read_squad(squad_mini());
  REQUIRE(arrow.examples.size() == count);
  for (size_t i = 0; i < count; ++i) {
    const SquadExample &a = arrow.examples[i], &j = json.examples[i];
    INFO("row " << i);
    CHECK(a.id == j.id);
    CHECK(a.question == j.question);
    CHECK(a.context == j.context);
    CHECK(a.article == j.article);
    CHECK(a.paragraph == j.paragraph);
    REQUIRE(a.answers.size() == j.answers.size());
    for (size_t k = 0; k < a.answers.size(); ++k) {
      CHECK(a.answers[k].text == j.answers[k].text);
      CHECK(a.answers[k].start_char == j.answers[k].start_char);
    }
    CHECK(a.row == int32_t(i));
  }
}

TEST_CASE("a datasets cache file reads as the questions it was made from", "[arrow]") {
  const ArrowTable table = ArrowTable::read(squad_dir() + "/squad-train.arrow");
  CHECK(table.rows() == 24);
  REQUIRE(table.column("answers") >= 0);
  const ArrowField& answers = table.fields()[size_t(table.column("answers"))];
  CHECK(answers.type == ArrowType::kStruct);
  REQUIRE(answers.children.size() == 2);
  CHECK(answers.children[1].name == "answer_start");
  CHECK(answers.children[1].type == ArrowType::kList);
  CHECK(answers.children[1].children[0].int_bits == 32);
  check_same_questions(read_squad(squad_dir() + "/squad-train.arrow"), 24);
  // A shard stands for its split: both shards, in order, whichever is named.
  const std::string shard1 = sharded_dir() + "/squad_sharded-train-00001-of-00002.arrow";
  CHECK(arrow_shard_paths(shard1).size() == 2);
  check_same_questions(read_squad(shard1), 24);
  CHECK(ArrowTable::read(shard1).rows() < 24);  // the table alone is half of them
}

TEST_CASE("damaged Arrow files are errors naming the file, wherever they are cut or changed", "[arrow]") {
  const std::string bytes = read_file(squad_dir() + "/squad-train.arrow");
  REQUIRE(looks_like_arrow_ipc(bytes));
  // Cut anywhere, even right before the end-of-stream marker: refused (part of a split must not
  // train unnoticed).
  int cuts = 0;
  for (size_t cut = 1; cut < bytes.size(); cut += cut < 2048 ? 1 : 97, ++cuts)
    CHECK_THROWS_WITH(ArrowTable::parse(bytes.substr(0, cut), "cut.arrow"), Catch::StartsWith("cut.arrow"));
  CHECK(cuts > 2000);
  CHECK_THROWS_WITH(ArrowTable::parse(bytes.substr(0, bytes.size() - 8), "cut.arrow"),
                    Catch::Contains("without its end-of-stream marker"));
  // Every byte of the schema and the first batch's metadata flipped in turn: read or refused.
  for (size_t at = 0; at < 1500; ++at) {
    std::string changed = bytes;
    changed[at] = char(changed[at] ^ 0x5A);
    try {
      const ArrowTable table = ArrowTable::parse(changed, "changed.arrow");
      for (const ArrowBatch& batch : table.batches())
        for (const ArrowArray& column : batch.columns) CHECK(column.length == batch.rows);
    } catch (const InputError& e) {
      CHECK_THAT(e.what(), Catch::StartsWith("changed.arrow"));
    }
  }
  CHECK_THROWS_WITH(ArrowTable::parse("{\"data\": []}", "x.json"), Catch::Contains("not an Arrow IPC"));
}

TEST_CASE("a table without a SQuAD column, or with a mistyped one, is refused by name", "[arrow]") {
  const std::string bytes = read_file(squad_dir() + "/squad-train.arrow");
  const std::string dir = test::run_scratch_dir("bert_test_squad_arrow");
  // The schema's field name "question" (a flatbuffer string: its length, 8, then the bytes)
  // spelled otherwise, at the same length so that the metadata stays valid.
  std::string renamed = bytes;
  const size_t at = renamed.find(std::string("\x08\0\0\0question", 12));
  REQUIRE(at != std::string::npos);
  renamed.replace(at + 4, 8, "questiom");
  write_file_atomic(dir + "/renamed.arrow", renamed);
  CHECK_THROWS_WITH(read_squad(dir + "/renamed.arrow"),
                    Catch::Contains("renamed.arrow: column question: missing"));
  // A context the SQuAD checks refuse: the row's place, as run_qa's rows layout names it.
  std::string broken = bytes;
  const size_t answer = broken.find("BSkyB");  // the first question's answer, in its answers.text
  REQUIRE(answer != std::string::npos);
  broken[answer] = 'X';
  write_file_atomic(dir + "/broken.arrow", broken);
  CHECK_THROWS_WITH(read_squad(dir + "/broken.arrow"),
                    Catch::Contains("broken.arrow: row 0: answers.text[0]") &&
                        Catch::Contains("expected the answer text to equal"));
  // In a split of several shards: the shard that holds the row, and the row within it (not the
  // first shard, not the row counted over the split).
  fs::copy_file(sharded_dir() + "/squad_sharded-train-00000-of-00002.arrow",
                dir + "/b-train-00000-of-00002.arrow");
  std::string second = read_file(sharded_dir() + "/squad_sharded-train-00001-of-00002.arrow");
  const size_t first_answer = second.find("Sky ThreeSky ThreeSky Three");  // row 0's answers.text
  REQUIRE(first_answer != std::string::npos);
  second[first_answer] = 'X';
  write_file_atomic(dir + "/b-train-00001-of-00002.arrow", second);
  CHECK_THROWS_WITH(
      read_squad(dir + "/b-train-00000-of-00002.arrow"),
      Catch::Contains(
          "b-train-00000-of-00002.arrow: b-train-00001-of-00002.arrow row 0: answers.text[0]") &&
          Catch::Contains("text is \"Xky Three\""));
  // A missing shard.
  fs::copy_file(sharded_dir() + "/squad_sharded-train-00001-of-00002.arrow", dir + "/s-train-00001-of-00002.arrow");
  CHECK_THROWS_WITH(
      arrow_shard_paths(dir + "/s-train-00001-of-00002.arrow"),
      Catch::Contains(
          "s-train-00000-of-00002.arrow: no such file: shard 0 of the 2 of the split that") &&
          Catch::Contains("s-train-00001-of-00002.arrow belongs to"));
  // An empty or cut ".arrow" file is a damaged Arrow file, not JSON to be parsed.
  write_file_atomic(dir + "/empty.arrow", "");
  CHECK_THROWS_WITH(read_squad(dir + "/empty.arrow"),
                    Catch::Contains("empty.arrow: an Arrow file cut short (0 bytes)"));
  write_file_atomic(dir + "/four.arrow", std::string("\xff\xff\xff\xff", 4));
  CHECK_THROWS_WITH(read_squad(dir + "/four.arrow"),
                    Catch::Contains("four.arrow: an Arrow file cut short (4 bytes)"));
}

TEST_CASE("column types datasets infers from the rows read as run_qa.py reads them", "[arrow]") {
  // tests/fixtures/hf-datasets-inferred (make_tables.py): Dataset.from_list + save_to_disk.
  const std::string dir = test::fixture_path("hf-datasets-inferred");
  const SquadDataset numbered = read_squad(dir + "/int_ids.arrow");  // id: int64
  REQUIRE(numbered.examples.size() == 2);
  CHECK(numbered.examples[0].id == "1");
  CHECK(numbered.examples[1].id == "2");
  CHECK(numbered.examples[1].answers[0].text == "France");
  const SquadDataset untitled = read_squad(dir + "/null_titles.arrow");  // title: Null, no buffers
  REQUIRE(untitled.examples.size() == 2);
  CHECK(untitled.examples[1].answers[0].start_char == 24);
  const SquadDataset unlabelled = read_squad(dir + "/no_answers.arrow");  // answers: list<null>
  REQUIRE(unlabelled.examples.size() == 2);
  CHECK(unlabelled.examples[0].answers.empty());
  CHECK(unlabelled.examples[1].is_impossible);
}

TEST_CASE("--dataset_name finds what load_dataset left in the cache", "[arrow]") {
  CachedSplit train = find_cached_split(cache_root(), "rajpurkar/squad", "", "train");
  CHECK(train.config == "plain_text");
  CHECK(train.files == std::vector<std::string>{squad_dir() + "/squad-train.arrow"});
  CHECK(find_cached_split(cache_root(), "rajpurkar/squad", "plain_text", "validation").files ==
        std::vector<std::string>{squad_dir() + "/squad-validation.arrow"});
  // "squad" as run_qa's README writes it: the cache holds it under the Hub's name.
  const CachedSplit plain = find_cached_split(cache_root(), "squad", "", "train");
  CHECK(plain.files == train.files);
  CHECK_THAT(plain.notes.front(), Catch::Contains("rajpurkar___squad"));
  CHECK(find_cached_split(cache_root(), "tests/squad_sharded", "", "train").files.size() == 2);
  CHECK_THROWS_WITH(find_cached_split(cache_root(), "rajpurkar/squad", "", "test"),
                    Catch::Contains("no split 'test' (it has: train, validation)"));
  CHECK_THROWS_WITH(find_cached_split(cache_root(), "rajpurkar/squad", "other", "train"),
                    Catch::Contains("no complete copy of configuration other") && Catch::Contains("plain_text"));
  CHECK_THROWS_WITH(
      find_cached_split(cache_root(), "nyu-mll/glue", "mrpc", "train"),
      Catch::Contains("--dataset_name nyu-mll/glue --dataset_config_name mrpc: not in the Hugging "
                      "Face datasets cache") &&
          Catch::Contains("load_dataset('nyu-mll/glue')") &&
          Catch::Contains("give its files in SQuAD's JSON form"));
  // Two configurations of one copy: load_dataset asks which.
  const std::string dir = test::run_scratch_dir("bert_test_squad_arrow") + "/two-configs";
  const fs::path copy = fs::path(dir) / "rajpurkar___squad";
  fs::create_directories(copy);
  fs::copy(cache_root() + "/rajpurkar___squad/plain_text", copy / "plain_text", fs::copy_options::recursive);
  fs::copy(cache_root() + "/rajpurkar___squad/plain_text", copy / "other", fs::copy_options::recursive);
  const std::string info = (copy / "other/0.0.0" / kHash / "dataset_info.json").string();
  std::string text = read_file(info);
  const std::string named = "\"config_name\": \"plain_text\"";
  REQUIRE(text.find(named) != std::string::npos);
  text.replace(text.find(named), named.size(), "\"config_name\": \"other\"");
  write_file_atomic(info, text);
  CHECK_THROWS_WITH(find_cached_split(dir, "rajpurkar/squad", "", "train"),
                    Catch::Contains("several configurations are cached (other, plain_text)"));
  CHECK(find_cached_split(dir, "rajpurkar/squad", "other", "train").config == "other");
}

TEST_CASE(
    "a local folder as --dataset_name is asked for as files; copies being written are not read",
    "[arrow]") {
  const std::string scratch = test::run_scratch_dir("bert_test_squad_arrow") + "/local";
  fs::remove_all(scratch);
  // load_dataset takes an existing directory as a local dataset folder, whatever a cache holds
  // under its name: which cached copy came from it cannot be told (datasets 5 records neither
  // the files' paths nor their times), so its files are asked for.
  const std::string folder = scratch + "/rajpurkar/squad";
  fs::create_directories(folder);
  for (const std::string& name : {folder, folder + "/"}) {
    INFO(name);
    CHECK_THROWS_WITH(find_cached_split(cache_root(), name, "", "train"),
                      Catch::Contains("--dataset_name " + name + ": a local dataset folder") &&
                          Catch::Contains("--train_file / --validation_file / --test_file") &&
                          Catch::Contains("datasets.load_dataset('" + name + "')"));
  }

  // A newer copy still being written (<hash>.incomplete), even with its info: the complete one.
  const std::string hub = scratch + "/hub";
  fs::create_directories(hub);
  fs::copy(cache_root() + "/rajpurkar___squad", hub + "/rajpurkar___squad",
           fs::copy_options::recursive);
  const fs::path versions = fs::path(hub) / "rajpurkar___squad/plain_text/0.0.0";
  fs::copy(versions / kHash, versions / (std::string(kHash) + ".incomplete"),
           fs::copy_options::recursive);
  fs::last_write_time(versions / (std::string(kHash) + ".incomplete"),
                      fs::last_write_time(versions / kHash) + std::chrono::hours(1));
  CHECK(find_cached_split(hub, "rajpurkar/squad", "", "train").directory ==
        (versions / kHash).string());
  fs::remove_all(scratch);
}

TEST_CASE("the datasets cache root and names as datasets spells them", "[arrow]") {
  CHECK(datasets_snake_case("squad") == "squad");
  CHECK(datasets_snake_case("SQuAD") == "s_qu_ad");
  CHECK(datasets_snake_case("squad_v2") == "squad_v2");
  CHECK(datasets_snake_case("MyDataset2Go") == "my_dataset2_go");
  test::ScopedEnv cache("HF_DATASETS_CACHE", nullptr), hf_home("HF_HOME", nullptr),
      xdg("XDG_CACHE_HOME", nullptr), home("HOME", "/home/u");
  CHECK(datasets_cache_root("") == "/home/u/.cache/huggingface/datasets");
  CHECK(datasets_cache_root("/given") == "/given");
  {
    test::ScopedEnv set_xdg("XDG_CACHE_HOME", "/xdg");
    CHECK(datasets_cache_root("") == "/xdg/huggingface/datasets");
    test::ScopedEnv set_hf_home("HF_HOME", "/hf/home");  // wins over XDG_CACHE_HOME
    CHECK(datasets_cache_root("") == "/hf/home/datasets");
    test::ScopedEnv set_cache("HF_DATASETS_CACHE", "/from/env");  // wins over both
    CHECK(datasets_cache_root("") == "/from/env");
    CHECK(datasets_cache_root("/given") == "/given");  // and --cache_dir over everything
  }
  CHECK(datasets_cache_root("") == "/home/u/.cache/huggingface/datasets");
}

}  // namespace
}  // namespace bert
