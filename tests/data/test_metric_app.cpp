// eval_squad's metric mode end to end (the built binary on a tiny validation file), and the
// FlagParser it is built on.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include <simdjson.h>

#include "apps/flags.h"
#include "core/json_text.h"
#include "data/predictions_io.h"
#include "data/squad.h"
#include "core/file_io.h"
#include "tests/test_support.h"

namespace bert {
namespace {

// "The Normans were in France." with three questions.
const char* const kValidation = R"({"version": "1.1", "data": [{"title": "T", "paragraphs": [
 {"context": "The Normans were in France.", "qas": [
  {"id": "q1", "question": "Who?", "answers": [{"text": "Normans", "answer_start": 4},
                                              {"text": "The Normans", "answer_start": 0}]},
  {"id": "q2", "question": "Where?", "answers": [{"text": "France", "answer_start": 20}]},
  {"id": "q3", "question": "What?", "answers": [{"text": "were", "answer_start": 12}]}]}]}]})";

struct RunResult {
  int status = -1;
  std::string out, err;
};

class AppFixture {
 public:
  AppFixture() : dir_("/tmp/bert_test_metric_app_" + std::to_string(::getpid())) {
    make_directories(dir_);
    write_file_atomic(path("dev.json"), kValidation);
  }
  ~AppFixture() { std::system(("rm -rf '" + dir_ + "'").c_str()); }
  std::string path(const std::string& name) const { return join_path(dir_, name); }

  RunResult run(const std::string& args) const {
    const std::string command = test::bounded_command_prefix(60) + EVAL_SQUAD_BIN + " " + args + " > '" +
                                path("out.txt") + "' 2> '" + path("err.txt") + "'";
    const int raw = std::system(command.c_str());
    RunResult result;
    result.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
    result.out = read_file(path("out.txt"));
    result.err = read_file(path("err.txt"));
    return result;
  }

 private:
  std::string dir_;
};

}  // namespace

TEST_CASE("eval_squad prints the official metric line", "[app][metric]") {
  AppFixture app;
  write_file_atomic(app.path("preds.json"),
                    R"({"q1": "The Normans", "q2": "in France.", "extra": "x"})");
  const RunResult r = app.run("--validation_file " + app.path("dev.json") +
                              " --predictions_file=" + app.path("preds.json"));
  INFO(r.err);
  REQUIRE(r.status == 0);
  // q1 exact, q2 F1 2/3, q3 unanswered: what evaluate-v1.1.py prints for these files.
  const double em = 100.0 * 1 / 3, f1 = 100.0 * (1.0 + 2.0 / 3.0) / 3;
  CHECK(r.out == "{\"exact_match\": " + format_json_number(em, NonFiniteJson::kPythonNames) + ", \"f1\": " +
                     format_json_number(f1, NonFiniteJson::kPythonNames) + "}\n");
  CHECK(r.out == "{\"exact_match\": 33.333333333333336, \"f1\": 55.55555555555555}\n");
  CHECK(r.err.find("1 of 3 questions") != std::string::npos);
  CHECK(r.err.find("q3") != std::string::npos);
  CHECK(r.err.find("1 predictions") != std::string::npos);
}

TEST_CASE(
    "eval_squad scores answers whose answer_start is off, as the official script, with a warning",
    "[app][metric]") {
  // answer_start counted in UTF-16 units (the emoji as 2) and an answer in NFC over a context in
  // NFD: the official script reads only the text; training refuses such a file.
  AppFixture app;
  write_file_atomic(app.path("off.json"),
                    R"({"version": "1.1", "data": [{"title": "T", "paragraphs": [
 {"context": "\ud83d\ude00 Cafe\u0301 au lait", "qas": [
  {"id": "q1", "question": "Which?", "answers": [{"text": "Cafe\u0301", "answer_start": 3}]},
  {"id": "q2", "question": "What?", "answers": [{"text": "Caf\u00e9", "answer_start": 2}]},
  {"id": "q3", "question": "With?", "answers": [{"text": "lait", "answer_start": 11}]},
  {"id": "q4", "question": "Start?", "answers": [{"text": "au", "answer_start": -1}, {"text": "au"},
                                                {"text": "au", "answer_start": "8"}]}]}]}]})");
  write_file_atomic(app.path("preds.json"),
                    R"({"q1": "Cafe\u0301", "q2": "Caf\u00e9", "q3": "milk", "q4": "au"})");
  const RunResult r = app.run("--validation_file " + app.path("off.json") + " --predictions_file " +
                              app.path("preds.json"));
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK(r.out == "{\"exact_match\": 75.0, \"f1\": 75.0}\n");
  // q4's negative, missing and string starts are never read either.
  CHECK_THAT(
      r.err,
      Catch::Contains(
          "warning: 5 answer(s) have no answer_start at which the context holds their text") &&
          Catch::Contains("off.json: data[0].paragraphs[0].qas[0].answers[0].text"));
  // Training reads it with the starts checked: the first such answer is an error.
  CHECK_THROWS_WITH(read_squad(app.path("off.json")), Catch::Contains("qas[0].answers[0]"));
  const SquadDataset lenient = read_squad(app.path("off.json"), AnswerStarts::kMayMismatch);
  REQUIRE(lenient.examples.size() == 4);
  CHECK(lenient.mismatched_answers == 5);
  CHECK(lenient.examples[3].answers.size() == 3);
  CHECK(lenient.examples[0].answers[0].start_char == -1);
  CHECK(lenient.examples[2].answers[0].start_char == 11);
}

// SQuAD v2.0's best_exact walks the questions in the predictions' order (Hugging Face's squad_v2
// metric, every no-answer probability 0): a predictions file's, whatever the dataset's.
TEST_CASE("eval_squad --version_2_with_negative walks a predictions file in its own order", "[app][metric]") {
  AppFixture app;
  write_file_atomic(app.path("dev2.json"), R"({"version": "v2.0", "data": [{"title": "T", "paragraphs": [
 {"context": "The Normans were in France.", "qas": [
  {"id": "a", "question": "Who?", "answers": [{"text": "Normans", "answer_start": 4}]},
  {"id": "b", "question": "When?", "answers": [], "is_impossible": true},
  {"id": "c", "question": "Where?", "answers": [{"text": "France", "answer_start": 20}]}]}]}]})");
  // a wrong (+0), b answered though it has no answer (-1), c right (+1), from 1 (b's).
  const auto best_exact = [&](const std::string& predictions) {
    write_file_atomic(app.path("preds2.json"), predictions);
    const RunResult r = app.run("--version_2_with_negative --validation_file " + app.path("dev2.json") +
                                " --predictions_file " + app.path("preds2.json"));
    INFO(r.err);
    REQUIRE(r.status == 0);
    simdjson::dom::parser parser;
    return double(parser.parse(r.out)["best_exact"]);
  };
  CHECK(best_exact(R"({"a": "were", "b": "x", "c": "France"})") == Approx(100.0 / 3));      // 1, 1, 0, 1
  CHECK(best_exact(R"({"c": "France", "a": "were", "b": "x"})") == Approx(200.0 / 3));      // 1, 2, 2, 1

  // An unanswerable question that lists answers is refused, as train_squad refuses it, not
  // counted answerable.
  std::string contradictory = read_file(app.path("dev2.json"));
  const std::string unanswerable = R"("answers": [], "is_impossible": true)";
  contradictory.replace(
      contradictory.find(unanswerable), unanswerable.size(),
      R"("answers": [{"text": "Normans", "answer_start": 4}], "is_impossible": true)");
  write_file_atomic(app.path("dev2-contradictory.json"), contradictory);
  const RunResult refused =
      app.run("--version_2_with_negative --validation_file " + app.path("dev2-contradictory.json") +
              " --predictions_file " + app.path("preds2.json"));
  CHECK(refused.status == 1);
  CHECK_THAT(refused.err,
             Catch::Contains("question b: is_impossible is true but answers is not empty"));
}

// --dataset_name: the validation split of tests/fixtures/hf-datasets-cache (24 questions of
// squad-mini.json, as datasets 5.2 caches rajpurkar/squad) scores as the JSON file does.
TEST_CASE("eval_squad --dataset_name scores the cached validation split", "[app][metric]") {
  AppFixture app;
  const std::string cache = test::fixture_path("hf-datasets-cache/cache");
  // Predictions: the first answer of every other question of the first 24.
  const SquadDataset mini = read_squad(std::string(BERT_SOURCE_DIR) + "/data/samples/squad-mini.json");
  std::string predictions = "{";
  for (size_t i = 0; i < 24; i += 2)
    predictions += (i ? ", " : "") + json_quote(mini.examples[i].id) + ": " + json_quote(mini.examples[i].answers[0].text);
  write_file_atomic(app.path("preds.json"), predictions + "}");
  const RunResult cached = app.run("--dataset_name rajpurkar/squad --cache_dir " + cache + " --predictions_file " +
                                   app.path("preds.json"));
  INFO(cached.err);
  REQUIRE(cached.status == 0);
  CHECK(cached.out == "{\"exact_match\": 50.0, \"f1\": 50.0}\n");
  CHECK_THAT(cached.err, Catch::Contains("[data] --dataset_name rajpurkar/squad: split validation from"));
  const RunResult missing = app.run("--dataset_name rajpurkar/squad --cache_dir " + app.path("none") +
                                    " --predictions_file " + app.path("preds.json"));
  CHECK(missing.status == 2);
  CHECK_THAT(missing.err, Catch::Contains("not in the Hugging Face datasets cache"));
}

TEST_CASE("eval_squad rejects bad command lines and bad files", "[app][metric]") {
  AppFixture app;
  const std::string dev = " --validation_file " + app.path("dev.json");
  SECTION("--help lists the flags and exits 0") {
    const RunResult r = app.run("--help");
    CHECK(r.status == 0);
    CHECK(r.out.find("--validation_file") != std::string::npos);
    CHECK(r.out.find("--predictions_file") != std::string::npos);
  }
  SECTION("started as several ranks by an MPI launcher: exit 2 before any work") {
    write_file_atomic(app.path("preds.json"), R"({"q1": "Normans"})");
    const test::ScopedEnv ranks("OMPI_COMM_WORLD_SIZE", "2");
    const RunResult r = app.run(dev + " --predictions_file " + app.path("preds.json"));
    CHECK(r.status == 2);
    CHECK(r.err.find("eval_squad runs as one process, but an MPI launcher started 2 (mpirun -np 2)") !=
          std::string::npos);
    CHECK(r.out.empty());
  }
  SECTION("an unknown flag exits 2") {
    const RunResult r = app.run(dev + " --predictions_file x --bogus 1");
    CHECK(r.status == 2);
    CHECK(r.err.find("error: unknown flag --bogus") != std::string::npos);
  }
  SECTION(
      "a model-mode flag in metric mode exits 2, naming it; a renamed flag names its new name") {
    write_file_atomic(app.path("preds.json"), "{}");
    for (const char* flag :
         {"--n_best_size 5", "--output_dir out", "--device cuda", "--max_seq_length 64"}) {
      const RunResult r =
          app.run(dev + " --predictions_file " + app.path("preds.json") + " " + flag);
      INFO(flag << " -> " << r.err);
      CHECK(r.status == 2);
      CHECK(r.err.find(std::string(flag).substr(0, std::string(flag).find(' ')) +
                       " belongs to model mode") != std::string::npos);
    }
    const RunResult renamed =
        app.run(dev + " --predictions_file " + app.path("preds.json") + " --no_cuda");
    CHECK(renamed.status == 2);
    CHECK(renamed.err.find("--device") != std::string::npos);
  }
  SECTION("a missing flag exits 2") {
    const RunResult r = app.run(dev);
    CHECK(r.status == 2);
    CHECK(r.err.find("--predictions_file is required") != std::string::npos);
  }
  SECTION("a bad predictions file exits 1 naming the file") {
    for (const char* content : {"[1, 2]", "{\"q1\": 7}", "{\"q1\": \"a\""}) {
      write_file_atomic(app.path("bad.json"), content);
      const RunResult r = app.run(dev + " --predictions_file " + app.path("bad.json"));
      INFO(content << " -> " << r.err);
      CHECK(r.status == 1);
      CHECK(r.err.rfind("error: " + app.path("bad.json"), 0) == 0);
    }
  }
  SECTION("a predictions file that is a device, a FIFO or a directory exits 1 at once") {
    const std::string fifo = app.path("preds.fifo");
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    for (const std::string& path : {std::string("/dev/zero"), fifo, app.path("")}) {
      const RunResult r = app.run(dev + " --predictions_file " + path);
      INFO(path << " -> " << r.err);
      CHECK(r.status == 1);
      CHECK(r.err.rfind("error: " + path + ": is a ", 0) == 0);
      CHECK(r.err.find("expected a regular file") != std::string::npos);
    }
  }
  SECTION("a predictions file with a UTF-8 byte-order mark names it") {
    write_file_atomic(app.path("bom.json"), "\xEF\xBB\xBF{\"q1\": \"Normans\"}");
    const RunResult r = app.run(dev + " --predictions_file " + app.path("bom.json"));
    CHECK(r.status == 1);
    CHECK(r.err.find("byte-order mark") != std::string::npos);
  }
  SECTION("a missing validation file exits 1") {
    write_file_atomic(app.path("preds.json"), "{}");
    const RunResult r = app.run("--validation_file " + app.path("none.json") +
                                " --predictions_file " + app.path("preds.json"));
    CHECK(r.status == 1);
    CHECK(r.err.find(app.path("none.json")) != std::string::npos);
  }
}

TEST_CASE("FlagParser parses --name value, --name=value and bools", "[flags]") {
  std::string name = "default";
  int32_t count = 3;
  int64_t big = 0;
  double rate = 0.5;
  bool do_eval = false, do_train = true, fp16 = false;
  FlagParser parser("prog", "test");
  parser.add_string("name", &name, "a name");
  parser.add_int("count", &count, "a count");
  parser.add_int64("big", &big, "a big count");
  parser.add_double("rate", &rate, "a rate");
  parser.add_bool("do_eval", &do_eval, "evaluate");
  parser.add_bool("do_train", &do_train, "train");
  parser.add_bool("fp16", &fp16, "half");

  SECTION("values") {
    REQUIRE(parser.parse({"--name", "x y", "--count=7", "--big", "-9000000000", "--rate=3e-5",
                          "--do_eval", "--do_train", "false", "--fp16=1"}));
    CHECK(name == "x y");
    CHECK(count == 7);
    CHECK(big == -9000000000LL);
    CHECK(rate == 3e-5);
    CHECK(do_eval);
    CHECK_FALSE(do_train);
    CHECK(fp16);
    CHECK(parser.was_set("count"));
  }
  SECTION("defaults stay and show in the usage") {
    REQUIRE(parser.parse(std::vector<std::string>{}));
    CHECK(name == "default");
    CHECK(count == 3);
    CHECK_FALSE(parser.was_set("count"));
    CHECK_THROWS_AS(parser.require("count"), FlagError);
    CHECK(parser.usage().find("--count INT") != std::string::npos);
    CHECK(parser.usage().find("(default: 3)") != std::string::npos);
  }
  SECTION("errors") {
    CHECK_THROWS_AS(parser.parse({"--count", "7x"}), FlagError);
    CHECK_THROWS_AS(parser.parse({"--count", "99999999999"}), FlagError);
    CHECK_THROWS_AS(parser.parse({"--rate", "nan"}), FlagError);
    CHECK_THROWS_AS(parser.parse({"--fp16=maybe"}), FlagError);
    CHECK_THROWS_AS(parser.parse({"--name"}), FlagError);
    CHECK_THROWS_AS(parser.parse({"--nope", "1"}), FlagError);
    CHECK_THROWS_AS(parser.parse({"positional"}), FlagError);
  }
  SECTION("a flag given twice takes the last value (argparse's rule)") {
    REQUIRE(parser.parse({"--count=1", "--count", "2"}));
    CHECK(count == 2);
    REQUIRE(parser.notes().size() == 1);
    CHECK(parser.notes()[0] == "--count given 2 times: using the last, 2 (overridden: 1)");
  }
}

}  // namespace bert
