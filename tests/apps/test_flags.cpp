// FlagParser beyond single values: the last occurrence wins, arguments files (HfArgumentParser's
// `train_squad args.json`), and the record of a run's values read back as such a file; the
// precision and --report_to decisions of apps/hf_trainer_flags.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "apps/flags.h"
#include "apps/hf_trainer_flags.h"
#include "core/file_io.h"
#include "tests/test_support.h"

namespace bert {
namespace {

struct Options {
  std::string output_dir = "out", report_to = "tensorboard";
  int32_t batch = 8;
  int64_t steps = -1;
  double learning_rate = 5e-5;
  bool do_train = false, bf16 = false;
};

void register_all(FlagParser* p, Options* o) {
  p->add_string("output_dir", &o->output_dir, "where");
  p->add_string("report_to", &o->report_to, "integrations");
  p->add_int("per_device_train_batch_size", &o->batch, "batch");
  p->add_int64("max_steps", &o->steps, "steps");
  p->add_double("learning_rate", &o->learning_rate, "rate");
  p->add_bool("do_train", &o->do_train, "train");
  p->add_bool("bf16", &o->bf16, "bf16");
}

std::string scratch_file(const std::string& name, const std::string& text) {
  const std::string dir = test::run_scratch_dir("bert_test_flags");
  const std::string path = join_path(dir, name);
  write_file_atomic(path, text);
  return path;
}

TEST_CASE("the last occurrence of a flag wins and the notes say so", "[flags]") {
  Options o;
  FlagParser parser("t", "test");
  register_all(&parser, &o);
  REQUIRE(parser.parse({"--learning_rate", "1e-3", "--do_train", "--learning_rate=3e-5", "--do_train", "false",
                        "--learning_rate", "2e-5"}));
  CHECK(o.learning_rate == 2e-5);
  CHECK_FALSE(o.do_train);
  REQUIRE(parser.notes().size() == 2);
  CHECK(parser.notes()[0] == "--learning_rate given 3 times: using the last, 2e-5 (overridden: 1e-3, 3e-5)");
  CHECK(parser.notes()[1] == "--do_train given 2 times: using the last, false (overridden: true)");
}

TEST_CASE("a bool flag takes every spelling HfArgumentParser takes", "[flags]") {
  // transformers' string_to_bool: yes/true/t/y/1 and no/false/f/n/0, in any case.
  for (const char* word : {"yes", "YES", "True", "TRUE", "t", "Y", "1"}) {
    for (const bool attached : {false, true}) {
      INFO(word << (attached ? " (--flag=value)" : " (--flag value)"));
      Options o;
      FlagParser parser("t", "test");
      register_all(&parser, &o);
      const bool parsed = attached
                              ? parser.parse({std::string("--do_train=") + word})
                              : parser.parse({"--do_train", word, "--bf16", "--max_steps", "3"});
      REQUIRE(parsed);
      CHECK(o.do_train);
    }
  }
  for (const char* word : {"no", "No", "false", "FALSE", "f", "N", "0"}) {
    INFO(word);
    Options o;
    o.do_train = true;
    FlagParser parser("t", "test");
    register_all(&parser, &o);
    REQUIRE(parser.parse({"--do_train", word, "--max_steps", "3"}));
    CHECK_FALSE(o.do_train);
    CHECK(o.steps == 3);
  }
  Options o;
  FlagParser parser("t", "test");
  register_all(&parser, &o);
  CHECK_THROWS_WITH(parser.parse({"--do_train=maybe"}),
                    Catch::Contains("--do_train: expected true or false"));
}

TEST_CASE("an integer flag out of its type's range says so, not that it is no integer", "[flags]") {
  Options o;
  FlagParser parser("t", "test");
  register_all(&parser, &o);
  CHECK_THROWS_WITH(
      parser.parse({"--per_device_train_batch_size", "99999999999999"}),
      "--per_device_train_batch_size: 99999999999999 is out of range (-2147483648 to 2147483647)");
  CHECK_THROWS_WITH(parser.parse({"--max_steps", "99999999999999999999"}),
                    Catch::Contains("99999999999999999999 is out of range"));
  CHECK_THROWS_WITH(parser.parse({"--per_device_train_batch_size", "8x"}),
                    "--per_device_train_batch_size: expected an integer, got '8x'");
}

TEST_CASE("a threshold takes inf and -inf as argparse's float does; other numbers must be finite",
          "[flags]") {
  Options o;
  double threshold = 0;
  FlagParser parser("t", "test");
  register_all(&parser, &o);
  parser.add_double("null_score_diff_threshold", &threshold, "threshold",
                    FlagParser::Infinity::kAllowed);
  REQUIRE(parser.parse({"--null_score_diff_threshold", "-inf"}));
  CHECK(threshold == -std::numeric_limits<double>::infinity());
  REQUIRE(parser.parse({"--null_score_diff_threshold=Infinity"}));
  CHECK(threshold == std::numeric_limits<double>::infinity());
  // The record reads back (JSON has no infinity: a string).
  CHECK_THAT(parser.values_json(), Catch::Contains("\"null_score_diff_threshold\": \"inf\""));
  double back = 0;
  Options back_options;
  FlagParser reader("t", "test");
  register_all(&reader, &back_options);
  reader.add_double("null_score_diff_threshold", &back, "threshold",
                    FlagParser::Infinity::kAllowed);
  REQUIRE(reader.parse({scratch_file("inf.json", parser.values_json())}));
  CHECK(back == std::numeric_limits<double>::infinity());
  // Python's float() spellings: a leading '+', a number past the double range is infinity.
  REQUIRE(parser.parse({"--null_score_diff_threshold=+inf"}));
  CHECK(threshold == std::numeric_limits<double>::infinity());
  REQUIRE(parser.parse({"--null_score_diff_threshold", "-1e999"}));
  CHECK(threshold == -std::numeric_limits<double>::infinity());
  REQUIRE(parser.parse({"--null_score_diff_threshold", "+0.5", "--learning_rate", "+1e-3"}));
  CHECK(threshold == 0.5);
  CHECK(o.learning_rate == 1e-3);
  CHECK_THROWS_WITH(parser.parse({"--learning_rate", "1e999"}),
                    Catch::Contains("expected a finite number"));
  CHECK_THROWS_WITH(parser.parse({"--learning_rate", "+-1"}),
                    Catch::Contains("expected a finite number"));
  CHECK_THROWS_WITH(parser.parse({"--null_score_diff_threshold", "nan"}),
                    "--null_score_diff_threshold: expected a number (or inf, -inf), got 'nan'");
  CHECK_THROWS_WITH(parser.parse({"--learning_rate", "inf"}),
                    "--learning_rate: expected a finite number, got 'inf'");
}

TEST_CASE("an arguments file is applied first and the command line overrides it", "[flags]") {
  const std::string file = scratch_file("args.json", R"({
    "output_dir": "from-file", "learning_rate": 3e-5, "per_device_train_batch_size": 12,
    "do_train": true, "report_to": ["tensorboard", "wandb"], "max_steps": null})");
  Options o;
  FlagParser parser("t", "test");
  register_all(&parser, &o);
  REQUIRE(parser.parse({"--per_device_train_batch_size", "4", file}));
  CHECK(o.output_dir == "from-file");
  CHECK(o.learning_rate == 3e-5);
  CHECK(o.batch == 4);  // the command line, although the file stands after it
  CHECK(o.do_train);
  CHECK(o.report_to == "tensorboard,wandb");
  CHECK(o.steps == -1);  // null: the default
  CHECK_FALSE(parser.was_set("max_steps"));
  CHECK(parser.was_set("output_dir"));
  REQUIRE(parser.notes().size() == 1);
  CHECK(parser.notes()[0].find("--per_device_train_batch_size given 2 times: using the last, 4") == 0);
}

TEST_CASE("a bad arguments file is a command-line error naming the file and key", "[flags]") {
  Options o;
  FlagParser parser("t", "test");
  register_all(&parser, &o);
  auto message = [&](const std::string& text) {
    const std::string file = scratch_file("bad.json", text);
    try {
      parser.parse({file});
    } catch (const FlagError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK_THAT(message(R"({"no_such_flag": 1})"), Catch::Contains("bad.json: unknown key \"no_such_flag\""));
  CHECK_THAT(message(R"({"lerning_rate": 1})"), Catch::Contains("did you mean --learning_rate?"));
  // A SQuAD file given where the arguments file goes.
  CHECK_THAT(message(R"({"data": [], "version": "1.1"})"),
             Catch::Contains("unknown key \"data\"") &&
                 Catch::Contains("this looks like a SQuAD dataset: pass it with its flag"));
  CHECK_THAT(message(R"({"learning_rate": true})"), Catch::Contains("\"learning_rate\": expected a number"));
  CHECK_THAT(message(R"({"do_train": "maybe"})"), Catch::Contains("--do_train: expected true or false"));
  CHECK_THAT(message(R"({"output_dir": 3})"), Catch::Contains("\"output_dir\": expected a string"));
  CHECK_THAT(message(R"([1, 2])"), Catch::Contains("expected a JSON object"));
  CHECK_THAT(message(R"({"output_dir": )"), Catch::Contains("not valid JSON"));
  CHECK_THROWS_AS(parser.parse({"not-json.txt"}), FlagError);
  CHECK_THROWS_AS(parser.parse({"/nonexistent/args.json"}), FlagError);
}

TEST_CASE("a flag's value ending in .json is not taken for an arguments file", "[flags]") {
  Options o;
  FlagParser parser("t", "test");
  register_all(&parser, &o);
  REQUIRE(parser.parse({"--output_dir", "run.json", "--do_train", "true"}));
  CHECK(o.output_dir == "run.json");
  CHECK(o.do_train);
}

TEST_CASE("an empty string value is refused; an unset string flag is recorded as null and reads back", "[flags]") {
  {
    Options o;
    FlagParser parser("t", "test");
    register_all(&parser, &o);
    CHECK_THROWS_WITH(parser.parse({"--output_dir="}), Catch::Contains("--output_dir") && Catch::Contains("non-empty"));
  }
  Options o;
  o.output_dir.clear();  // a string flag whose default is unset, as --validation_file
  FlagParser parser("t", "test");
  register_all(&parser, &o);
  REQUIRE(parser.parse({"--max_steps", "7"}));
  const std::string record = parser.values_json();
  CHECK_THAT(record, Catch::Contains("\"output_dir\": null"));  // Python's None, not ""
  Options back;
  back.output_dir.clear();
  FlagParser reader("t", "test");
  register_all(&reader, &back);
  REQUIRE(reader.parse({scratch_file("unset.json", record)}));
  CHECK(back.output_dir.empty());
  CHECK_FALSE(reader.was_set("output_dir"));
}

TEST_CASE("values_json records every flag and reads back to the same values", "[flags]") {
  Options o;
  FlagParser parser("t", "test");
  register_all(&parser, &o);
  REQUIRE(parser.parse({"--output_dir", "a \"quoted\" dir \xC3\xA9", "--learning_rate", "0.1",
                        "--bf16", "--max_steps", "7"}));
  const std::string record = parser.values_json();
  // TrainingArguments.to_json_string's json.dumps escapes non-ASCII characters.
  CHECK_THAT(record, Catch::Contains("\"output_dir\": \"a \\\"quoted\\\" dir \\u00e9\","));
  CHECK_THAT(record, Catch::Contains("\"learning_rate\": 0.1,"));
  CHECK_THAT(record, Catch::Contains("\"per_device_train_batch_size\": 8,"));
  const std::string file = scratch_file("record.json", record);
  Options back;
  FlagParser reader("t", "test");
  register_all(&reader, &back);
  REQUIRE(reader.parse({file}));
  CHECK(back.output_dir == o.output_dir);
  CHECK(back.learning_rate == o.learning_rate);
  CHECK(back.steps == 7);
  CHECK(back.bf16);
  CHECK(back.batch == 8);
  CHECK(reader.values_json() == record);
}

}  // namespace
}  // namespace bert

namespace bert {
namespace {

bool mentions(const std::vector<std::string>& lines, const std::string& text) {
  for (const std::string& line : lines)
    if (line.find(text) != std::string::npos) return true;
  return false;
}

TEST_CASE("a bool-or-word flag takes a bool, one of its words, or nothing", "[flags]") {
  // transformers' `str | bool` arguments (--include_num_input_tokens_seen): true means a word.
  auto parse = [](const std::vector<std::string>& args) {
    FlagParser p("t", "test");
    std::string count = "no";
    bool do_train = false;
    p.add_bool_or_word("count", &count, "all", "no", {"all", "non_padding", "no"}, "what to count");
    p.add_bool("do_train", &do_train, "train");
    p.parse(args);
    return count + (do_train ? " +train" : "");
  };
  CHECK(parse({}) == "no");
  CHECK(parse({"--count"}) == "all");
  CHECK(parse({"--count", "--do_train"}) == "all +train");  // bare: the next flag is not its value
  CHECK(parse({"--count", "non_padding", "--do_train"}) == "non_padding +train");
  CHECK(parse({"--count=non_padding"}) == "non_padding");
  CHECK(parse({"--count", "True"}) == "all");
  CHECK(parse({"--count", "false"}) == "no");
  CHECK(parse({"--count=0"}) == "no");
  CHECK_THROWS_WITH(parse({"--count=some"}), Catch::Contains("--count: expected true, false, all, non_padding, no; got 'some'"));
  CHECK_THROWS_WITH(parse({"--count", "some"}), Catch::Contains("got 'some'"));  // a wrong word, not a stray argument
  CHECK(parse({scratch_file("count-true.json", R"({"count": true})")}) == "all");
  CHECK(parse({scratch_file("count-word.json", R"({"count": "non_padding"})")}) == "non_padding");
  CHECK_THROWS_WITH(parse({scratch_file("count-number.json", R"({"count": 2})")}),
                    Catch::Contains("\"count\": expected true, false or a word, found 2"));
  // The record of a run holds the word, and reads back.
  FlagParser p("t", "test");
  std::string count = "no";
  p.add_bool_or_word("count", &count, "all", "no", {"all", "non_padding", "no"}, "what to count");
  p.parse({"--count"});
  CHECK_THAT(p.values_json(), Catch::Contains("\"count\": \"all\""));
  CHECK(parse({scratch_file("count-record.json", p.values_json())}) == "all");
}

TEST_CASE("precision flags: what --bf16 and --tf32 do on each backend, --fp16 refused", "[flags][precision]") {
  test::ScopedEnv no_switch("BERT_CUDA_COMPUTE", nullptr);
  std::vector<std::string> notes;
  PrecisionFlags flags;  // nothing given: CUDA's default bf16
  CHECK_FALSE(cuda_options_for(flags, &notes).fp32_compute);
  flags.bf16_given = true;
  flags.bf16 = false;
  CHECK(cuda_options_for(flags, &notes).fp32_compute);
  CHECK(notes.empty());
  {
    test::ScopedEnv fp32_switch("BERT_CUDA_COMPUTE", "fp32");
    flags.bf16 = true;
    CHECK_FALSE(
        cuda_options_for(flags, &notes).fp32_compute);  // the flag wins over the environment
    CHECK(mentions(notes, "--bf16 true overrides BERT_CUDA_COMPUTE=fp32"));
  }
  flags.fp16 = true;
  CHECK_THROWS_AS(cuda_options_for(flags, &notes), FlagError);

  PrecisionFlags tf32;
  tf32.tf32_given = true;
  tf32.tf32 = true;
  CHECK(mentions(precision_notes("cpu", tf32), "CPU backend computes in fp32"));
  CHECK(mentions(precision_notes("cpu", tf32), "change nothing here"));
  CHECK(mentions(precision_notes("cuda", tf32), "changes nothing under bf16 compute"));
  CHECK(mentions(precision_notes("cuda-fp32", tf32), "--tf32 true is not implemented"));
  CHECK(precision_notes("cuda", PrecisionFlags{}).size() == 1);  // no --tf32: one line
  // At their defaults (as a rerun from training_args.json gives them): no word of CUDA.
  const PrecisionFlags at_defaults{/*bf16_given=*/true, /*bf16=*/true, /*fp16=*/false,
                                   /*tf32_given=*/true,
                                   /*tf32=*/false};
  CHECK(mentions(precision_notes("cpu", at_defaults), "CPU backend computes in fp32"));
  CHECK_FALSE(mentions(precision_notes("cpu", at_defaults), "change nothing here"));
  PrecisionFlags bf16_false = at_defaults;
  bf16_false.bf16 = false;
  CHECK(mentions(precision_notes("cpu", bf16_false), "change nothing here"));
}

TEST_CASE("--report_to: tensorboard, none, and integrations named as unavailable", "[flags]") {
  CHECK(parse_report_to("all").tensorboard);
  CHECK(parse_report_to("tensorboard").tensorboard);
  CHECK_FALSE(parse_report_to("none").tensorboard);
  const ReportTo mixed = parse_report_to("wandb, tensorboard");
  CHECK(mixed.tensorboard);
  REQUIRE(mixed.notes.size() == 1);
  CHECK_THAT(mixed.notes[0], Catch::Contains("no wandb integration"));
  CHECK_FALSE(parse_report_to("wandb").tensorboard);
  CHECK_THROWS_AS(parse_report_to("none,wandb"), FlagError);
  CHECK_THROWS_AS(parse_report_to(" "), FlagError);
  // A name that is no integration of transformers' (a typo, another case) is refused as
  // Trainer refuses it, not taken for "report nowhere".
  for (const char* typo : {"tensorbord", "TensorBoard", "ALL", "None", "tensorboard,wandb,foo"}) {
    INFO(typo);
    CHECK_THROWS_WITH(parse_report_to(typo), Catch::Contains("is not supported, only azure_ml,"));
  }
  // kubeflow is reported to inside a TrainJob that asks for it (logging/kubeflow_status.h), and
  // refused without one, as KubeflowCallback raises.
  {
    const test::ScopedEnv no_url("KUBEFLOW_TRAINER_SERVER_URL", nullptr);
    CHECK_THROWS_WITH(parse_report_to("kubeflow"),
                      Catch::Contains("KUBEFLOW_TRAINER_SERVER_URL is not set"));
  }
  const test::ScopedEnv url("KUBEFLOW_TRAINER_SERVER_URL", "https://x/status");
  CHECK(parse_report_to("kubeflow").notes.empty());
}

TEST_CASE("names with '-' for '_' and --no_<name> for a bool flag whose default is true",
          "[flags]") {
  Options o;
  bool pin_memory = true;
  int64_t prefetch = 0;
  FlagParser parser("t", "test");
  register_all(&parser, &o);
  parser.add_bool("dataloader_pin_memory", &pin_memory, "pin");
  parser.add_int64("prefetch_factor", &prefetch, "prefetch");
  parser.default_is_none("prefetch_factor");
  CHECK_THAT(parser.usage(),
             Catch::Contains("--dataloader_pin_memory [BOOL]\n      pin (default: true)") &&
                 Catch::Contains("prefetch (default: None)"));
  CHECK_THAT(parser.values_json(), Catch::Contains("\"prefetch_factor\": null") &&
                                       Catch::Contains("\"dataloader_pin_memory\": true"));
  // HfArgumentParser's aliases: --do-train, --no_dataloader_pin_memory, --no-dataloader-pin-memory.
  REQUIRE(parser.parse({"--do-train", "--per-device-train-batch-size", "3",
                        "--no_dataloader_pin_memory", "--learning-rate=1e-4"}));
  CHECK(o.do_train);
  CHECK(o.batch == 3);
  CHECK(o.learning_rate == 1e-4);
  CHECK_FALSE(pin_memory);
  pin_memory = true;
  REQUIRE(parser.parse({"--no-dataloader-pin-memory", "--do_train", "false"}));
  CHECK_FALSE(pin_memory);
  CHECK_FALSE(o.do_train);
  // --no_<name> takes no value (argparse's store_false), and exists only where the default is true.
  CHECK_THROWS_WITH(parser.parse({"--no_dataloader_pin_memory=false"}),
                    Catch::Contains("--no_dataloader_pin_memory takes no value"));
  CHECK_THROWS_WITH(parser.parse({"--no_dataloader_pin_memory", "true"}),
                    Catch::Contains("unexpected argument 'true'"));
  CHECK_THROWS_WITH(parser.parse({"--no_do_train"}),
                    Catch::Contains("unknown flag --no_do_train (--do_train is false by default") &&
                        Catch::Contains("give --do_train false)"));
  CHECK_THROWS_WITH(parser.parse({"--no_learning_rate"}),
                    Catch::Contains("unknown flag --no_learning_rate"));
  // The hints read '-' as '_' too: a renamed flag, and the nearest name for a typo.
  parser.add_renamed("per_gpu_train_batch_size", "per_device_train_batch_size", "its name now");
  CHECK_THROWS_WITH(parser.parse({"--per-gpu-train-batch-size", "8"}),
                    Catch::Contains("use --per_device_train_batch_size (its name now)"));
  CHECK_THROWS_WITH(parser.parse({"--learning-rte", "1"}),
                    Catch::Contains("did you mean --learning_rate?"));
  CHECK_THROWS_WITH(parser.parse({"--no-do-train"}),
                    Catch::Contains("--do_train is false by default"));
}

TEST_CASE("an unknown flag names the renamed flag, or the nearest one for a typo", "[flags]") {
  Options o;
  FlagParser parser("t", "test");
  register_all(&parser, &o);
  parser.add_renamed("per_gpu_train_batch_size", "per_device_train_batch_size", "its name now");
  auto message = [&](const std::vector<std::string>& args) {
    try {
      parser.parse(args);
    } catch (const FlagError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(message({"--per_gpu_train_batch_size", "4"}) ==
        "unknown flag --per_gpu_train_batch_size: use --per_device_train_batch_size (its name now)");
  CHECK(message({"--lerning_rate", "1"}) == "unknown flag --lerning_rate (did you mean --learning_rate? see --help)");
  CHECK(message({"--do_trian"}) == "unknown flag --do_trian (did you mean --do_train? see --help)");
  CHECK(message({"--max_step=3"}) == "unknown flag --max_step (did you mean --max_steps? see --help)");
  // Nothing near: two edits at most for short names, a quarter of the length for long ones.
  CHECK(message({"--seed", "1"}) == "unknown flag --seed (see --help)");
  CHECK(message({"--zzz"}) == "unknown flag --zzz (see --help)");
  CHECK_THROWS_AS(parser.add_renamed("old", "no_such_flag", "x"), BertError);
}

}  // namespace
}  // namespace bert
