// The commands a stopped run prints (engine/run_commands.h), read with the flag parser's own
// rule for which argument is a flag's value (FlagParser::value_rule).
#include <catch2/catch.hpp>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "apps/flags.h"
#include "engine/run_commands.h"

namespace bert {
namespace {

// A parser with the kinds of flags a train_squad command line mixes.
CommandLine command_of(std::vector<std::string> args) {
  static bool do_train = false, do_eval = false, overwrite = false, do_lower_case = true,
              use_cpu = false;
  static int32_t steps = 0, seq = 384;
  static std::string output_dir, resume, validation, device = "auto";
  FlagParser parser("train_squad", "test");
  parser.add_bool("do_train", &do_train, "");
  parser.add_bool("do_eval", &do_eval, "");
  parser.add_bool("overwrite_output_dir", &overwrite, "");
  parser.add_bool("do_lower_case", &do_lower_case, "");
  parser.add_bool("use_cpu", &use_cpu, "");
  parser.add_int("stop_after_steps", &steps, "");
  parser.add_int("max_seq_length", &seq, "");
  parser.add_string("output_dir", &output_dir, "");
  parser.add_string("resume_from_checkpoint", &resume, "");
  parser.add_string("validation_file", &validation, "");
  parser.add_string("device", &device, "");
  return CommandLine{std::move(args), parser.value_rule()};
}

TEST_CASE("resume_command replaces the flags that would stop a continued run", "[run_commands]") {
  CHECK(resume_command(command_of({"train_squad", "--do_train", "--output_dir", "out",
                                   "--stop_after_steps", "100"}),
                       "out/checkpoint-100") ==
        "train_squad --do_train --output_dir out --resume_from_checkpoint out/checkpoint-100");
  CHECK(resume_command(command_of({"train_squad", "--overwrite_output_dir", "--max_seq_length=3",
                                   "--resume_from_checkpoint=latest"}),
                       "o/checkpoint-2") ==
        "train_squad --max_seq_length=3 --resume_from_checkpoint o/checkpoint-2");
  // A bare bool flag takes only a true/false word: the flag after it is read as a flag.
  CHECK(resume_command(command_of({"train_squad", "--do_train", "--stop_after_steps", "5",
                                   "--output_dir", "o"}),
                       "c") == "train_squad --do_train --output_dir o --resume_from_checkpoint c");
  CHECK(resume_command(
            command_of({"train_squad", "--do_eval", "--overwrite_output_dir", "--do_train"}),
            "c") == "train_squad --do_eval --do_train --resume_from_checkpoint c");
  CHECK(resume_command(command_of({"train_squad", "--overwrite_output_dir", "true", "--do_train"}),
                       "c") == "train_squad --do_train --resume_from_checkpoint c");
  // The spellings the parser also takes ('-' for '_') are dropped too.
  CHECK(resume_command(command_of({"train_squad", "--overwrite-output-dir", "--stop-after-steps",
                                   "5", "--do-train"}),
                       "c") == "train_squad --do-train --resume_from_checkpoint c");
  // Quoted for a POSIX shell.
  CHECK(resume_command(command_of({"/opt/my bin/train_squad", "--output_dir", "it's"}),
                       "it's/checkpoint-1") ==
        "'/opt/my bin/train_squad' --output_dir 'it'\\''s' --resume_from_checkpoint "
        "'it'\\''s/checkpoint-1'");
}

TEST_CASE("evaluation_command keeps the run's evaluation flags for eval_squad", "[run_commands]") {
  CHECK(evaluation_command(
            command_of({"/opt/bin/train_squad", "--do_train", "--validation_file=dev.json",
                        "--max-seq-length", "128", "--do_eval", "--no_do_lower_case", "--use_cpu",
                        "--output_dir", "out"}),
            "out") ==
        "/opt/bin/eval_squad --validation_file=dev.json --max-seq-length 128 --do_lower_case false "
        "--device cpu "
        "--model_name_or_path out --output_dir out");
  CHECK(evaluation_command(command_of({"train_squad", "--do_train", "--validation_file", "dev.json",
                                       "--do_lower_case", "--use_cpu=false"}),
                           "my run") ==
        "eval_squad --validation_file dev.json --do_lower_case --model_name_or_path 'my run' "
        "--output_dir 'my run'");
  // A repeated --use_cpu: the last value wins, as train_squad parses it.
  CHECK(evaluation_command(command_of({"train_squad", "--use_cpu", "--use_cpu=false"}), "o") ==
        "eval_squad --model_name_or_path o --output_dir o");
  CHECK(evaluation_command(command_of({"train_squad", "--use_cpu", "false", "--use_cpu"}), "o") ==
        "eval_squad --device cpu --model_name_or_path o --output_dir o");
  CHECK(evaluation_command(command_of({"train_squad", "args.json", "--do_eval"}), "out").empty());
}

TEST_CASE("eval_squad takes every flag evaluation_command keeps", "[run_commands]") {
  const std::unique_ptr<FILE, int (*)(FILE*)> help(popen(EVAL_SQUAD_BIN " --help", "r"), pclose);
  REQUIRE(help != nullptr);
  std::string text;
  char buffer[4096];
  for (size_t n; (n = fread(buffer, 1, sizeof buffer, help.get())) > 0;) text.append(buffer, n);
  for (const std::string& flag : eval_squad_flags_of_training()) {
    INFO(flag);
    CHECK(text.find("  --" + flag + " ") != std::string::npos);
  }
}

}  // namespace
}  // namespace bert
