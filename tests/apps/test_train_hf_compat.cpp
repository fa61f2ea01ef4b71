// train_squad as a Hugging Face run_qa.py user drives it, through the real binary: flags that
// are refused with a clear line (exit 2), transformers 5's flag names, SQuAD v2 data, --do_predict, a Hub id, lower-casing from
// tokenizer_config.json, --report_to / --logging_dir, and the run's own record
// (training_args.json) read back as an arguments file reproducing the run.
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <iterator>
#include <regex>

#include "core/file_io.h"
#include "core/json_text.h"
#include "data/prepared_squad.h"
#include "engine/bert_qa_model.h"  // kLogitStages
#include "engine/model_card.h"
#include "tests/apps/test_train_failures_util.h"
#include "tokenizer/tokenizer.h"

namespace bert {
namespace {

namespace fs = std::filesystem;
using test::CommandResult;

const std::string& root() {
  static const std::string dir = test::scratch_root("bert_test_train_hf_compat_");
  return dir;
}

std::string squad_mini() { return test::source_path("data/samples/squad-mini.json"); }

std::string model() {
  static const std::string dir = test::make_tiny_model(root() + "/model", 0.0f);
  return dir;
}

// A short training run into `out` ("": no --output_dir given).
std::string train_command(const std::string& out, const std::string& extra = "", const std::string& model_dir = model()) {
  return test::train_squad_bin() + " --device cpu --model_name_or_path " + model_dir +
         " --train_file " + squad_mini() +
         " --do_train --per_device_train_batch_size 4 --max_steps 3 --logging_steps 1"
         " --save_steps 0 --max_seq_length 96 --doc_stride 48 --max_train_samples 12" +
         (out.empty() ? "" : " --output_dir " + out) + " " + extra;
}

// The "step" of each line of a trainer_log.jsonl that holds `key`.
std::vector<int> steps_of_lines_with(const std::string& log, const std::string& key) {
  std::vector<int> steps;
  const std::regex with_key("^\\{\"step\": (\\d+), .*\"" + key + "\": ");
  for (const std::string& line : read_lines(log)) {
    std::smatch match;
    if (std::regex_search(line, match, with_key)) steps.push_back(std::stoi(match[1]));
  }
  return steps;
}

void expect_refused(const std::string& extra, int status, const std::vector<std::string>& mentions) {
  const CommandResult result = test::run_command(train_command(root() + "/refused", extra));
  INFO(extra << "\n" << result.output);
  CHECK(result.status == status);
  const std::vector<std::string> errors = test::error_lines(result.output);
  REQUIRE(errors.size() == 1);
  for (const std::string& text : mentions) CHECK_THAT(errors[0], Catch::Contains(text));
  CHECK_FALSE(fs::exists(root() + "/refused/model.safetensors"));
}

TEST_CASE("flags this engine does not implement are refused, not ignored", "[app][hf]") {
  expect_refused("--fp16", 2, {"--fp16", "not implemented", "--bf16"});
  expect_refused("--eval_strategy best", 2, {"--eval_strategy", "no, steps or epoch"});
  expect_refused("--save_strategy sometimes", 2, {"--save_strategy"});
  expect_refused("--lr_scheduler_type polynomal", 2, {"--lr_scheduler_type", "cosine_with_min_lr", "'polynomal'"});
  expect_refused("--lr_scheduler_type greedy", 2, {"--lr_scheduler_type: greedy: not implemented"});
  // reduce_lr_on_plateau steps after evaluations, with a metric (transformers' default, the loss,
  // is not computed by run_qa's evaluation).
  expect_refused("--lr_scheduler_type reduce_lr_on_plateau", 2, {"give --eval_strategy steps or epoch"});
  expect_refused("--lr_scheduler_type reduce_lr_on_plateau --eval_strategy steps --validation_file " + squad_mini(), 2,
                 {"give --metric_for_best_model f1"});
  expect_refused("--report_to none,tensorboard", 2, {"--report_to", "none"});
  expect_refused("--eval_strategy steps", 2, {"--validation_file"});  // implies --do_eval
  // A data file given for a stage that does not run: run_qa's load_dataset reads it anyway.
  expect_refused("--validation_file " + root() + "/no-such-dev.json", 2,
                 {"--validation_file " + root() + "/no-such-dev.json: no such file",
                  "run_qa.py loads every data file given"});
  expect_refused("--test_file " + root(), 2, {"--test_file " + root() + ": not a file"});
  // run_qa.py's own example starts with --dataset_name squad: not in the (empty) datasets cache,
  // the answer is how to fill it, or how to get the files.
  const std::string no_cache = " --cache_dir " + root() + "/empty-datasets-cache";
  expect_refused(
      "--dataset_name squad" + no_cache, 2,
      {"--dataset_name squad: not in the Hugging Face datasets cache", "nothing is downloaded",
       "load_dataset('squad')", "curl -fL -o train-v1.1.json https://", "--train_file"});
  expect_refused("--dataset_name rajpurkar/squad_v2 --version_2_with_negative" + no_cache, 2,
                 {"load_dataset('rajpurkar/squad_v2')", "curl -fL -o train-v2.0.json https://",
                  "--validation_file dev-v2.0.json --version_2_with_negative"});
  expect_refused(
      "--dataset_name glue --dataset_config_name mrpc" + no_cache, 2,
      {"--dataset_name glue --dataset_config_name mrpc: not in the Hugging Face datasets cache",
       "give its files in SQuAD's JSON form"});
  expect_refused("--dataset_config_name plain_text", 2,
                 {"--dataset_config_name plain_text names a configuration of --dataset_name"});
  // Trainer flags asking for what this engine has not (apps/hf_passive_flags.cpp).
  expect_refused("--push_to_hub", 2, {"--push_to_hub true", "nothing is uploaded", "hf upload"});
  expect_refused("--deepspeed ds_config.json", 2, {"--deepspeed ds_config.json", "mpirun"});
  expect_refused("--fsdp full_shard", 2, {"--fsdp full_shard", "FSDP"});
  expect_refused("--auto_find_batch_size", 2, {"--auto_find_batch_size", "--per_device_train_batch_size"});
  // Each schedule takes its own arguments (transformers raises a TypeError for any other).
  expect_refused("--lr_scheduler_kwargs {\\\"power\\\":2}", 2,
                 {"--lr_scheduler_kwargs: power: not an argument of linear, which takes none"});
  expect_refused("--lr_scheduler_type cosine_with_min_lr", 2,
                 {"--lr_scheduler_kwargs: min_lr: cosine_with_min_lr needs one of min_lr or min_lr_rate"});
  expect_refused("--lr_scheduler_type polynomial --learning_rate 1e-3 --lr_scheduler_kwargs {\\\"lr_end\\\":0.01}", 2,
                 {"--lr_scheduler_kwargs: lr_end:", "must be smaller than the initial rate --learning_rate (0.001)"});
  expect_refused("--lr_scheduler_type warmup_stable_decay --lr_scheduler_kwargs {\\\"num_decay_steps\\\":2,"
                 "\\\"decay_type\\\":\\\"exp\\\"}", 2,
                 {"--lr_scheduler_kwargs: decay_type: expected 'linear', 'cosine' or '1-sqrt', found \"exp\""});
  expect_refused("--lr_scheduler_type cosine --lr_scheduler_kwargs num_cycles=2", 2,
                 {"--lr_scheduler_kwargs: not valid JSON", "{\"num_cycles\": 2}"});
  expect_refused("--neftune_noise_alpha 5", 2, {"--neftune_noise_alpha 5.0", "not implemented"});
  expect_refused("--ignore_data_skip", 2, {"--ignore_data_skip", "data order"});
  expect_refused("--prediction_loss_only", 2, {"--prediction_loss_only", "no loss"});
  expect_refused("--debug underflow_overflow", 2, {"--debug underflow_overflow", "non-finite"});
  expect_refused("--use_mps_device", 2,
                 {"--use_mps_device true", "transformers 4's flag", "--device cpu or cuda"});
  // A name neither transformers 5 nor 4 gives an integration (a typo) is refused as Trainer does.
  expect_refused("--report_to tensorbord", 2,
                 {"--report_to: tensorbord is not supported, only azure_ml"});
  // run_qa's model arguments naming something else than --model_name_or_path.
  expect_refused("--tokenizer_name bert-base-uncased", 2, {"--tokenizer_name bert-base-uncased", "copy the tokenizer"});
  expect_refused("--config_name " + root(), 2, {"--config_name", "config.json"});
  expect_refused("--model_revision v2", 2, {"--model_revision v2", "git checkout v2"});
  expect_refused("--accelerator_config {\\\"split_batches\\\":true}", 2, {"--accelerator_config", "no Accelerate"});
  expect_refused("--include_num_input_tokens_seen padding", 2,
                 {"--include_num_input_tokens_seen", "expected true, false, all, non_padding, no", "'padding'"});
}

TEST_CASE("run_qa.py flags that change no result here are accepted and the log says why", "[app][hf]") {
  const std::string out = root() + "/padding-flags";
  const CommandResult result = test::run_command(
      train_command(out, "--pad_to_max_length false --preprocessing_num_workers 4"));
  INFO(result.output);
  REQUIRE(result.status == 0);
  CHECK_THAT(result.output, Catch::Contains("--pad_to_max_length false changes nothing here") &&
                                Catch::Contains("windows (") &&
                                Catch::Contains(" on 4 threads in "));
  // Trainer flags that change no result here, with their false/empty forms of refused ones.
  const std::string more = root() + "/passive-flags";
  const CommandResult passive = test::run_command(train_command(
      more,
      "--dataloader_num_workers 4 --gradient_checkpointing --label_smoothing_factor 0.1 "
      "--torch_compile "
      "--push_to_hub false --hub_model_id me/model --lr_scheduler_kwargs {} --log_level info "
      "--include_num_input_tokens_seen no --activation_checkpointing --enable_jit_checkpoint "
      "--accelerator_config {} --config_name " +
          model() + "/config.json --tokenizer_name " + model() +
          " --model_revision main --cache_dir /tmp/hub --trust_remote_code "
          "--no_dataloader_pin_memory "
          "--save_safetensors false --no-skip-memory-metrics --dataloader_persistent_workers "
          "false --pad_to_max_length true"));
  INFO(passive.output);
  REQUIRE(passive.status == 0);
  for (const char* note :
       {"--dataloader_num_workers 4 changes nothing here", "--gradient_checkpointing true changes",
        "--label_smoothing_factor 0.1 changes nothing here: Trainer smooths only inputs named "
        "labels",
        "--torch_compile true changes", "--hub_model_id me/model changes",
        "--log_level info changes", "--activation_checkpointing true changes",
        "--enable_jit_checkpoint true changes nothing here: a SIGTERM",
        "--cache_dir /tmp/hub is not searched: --model_name_or_path",
        "--trust_remote_code true changes", "--dataloader_pin_memory false changes",
        "--skip_memory_metrics false changes",
        "--save_safetensors false changes nothing here: transformers 4's flag"})
    CHECK_THAT(passive.output, Catch::Contains(note));
  CHECK_THAT(passive.output, !Catch::Contains("--push_to_hub false changes") && !Catch::Contains("--lr_scheduler_kwargs {} changes"));
  // Given at transformers' default (as training_args.json gives every flag): nothing to say.
  CHECK_THAT(passive.output, !Catch::Contains("--dataloader_persistent_workers false changes") &&
                                 !Catch::Contains("--pad_to_max_length true changes"));
  // The test model has no weights: training from scratch is said loudly.
  CHECK_THAT(passive.output,
             Catch::Contains("warning: " + model() + " has no weights") &&
                 Catch::Contains("so this trains from scratch, not from a pretrained checkpoint"));
  // The same model as without them.
  const std::string plain = root() + "/passive-plain";
  REQUIRE(test::run_command(train_command(plain)).status == 0);
  CHECK(read_file(more + "/model.safetensors") == read_file(plain + "/model.safetensors"));
  CHECK(fs::exists(out + "/model.safetensors"));
}

TEST_CASE("transformers 5's flag names train as their transformers 4 spellings do", "[app][hf]") {
  // transformers 5 dropped --warmup_ratio (a --warmup_steps below 1 is the ratio),
  // --group_by_length (--train_sampling_strategy) and --no_cuda (--use_cpu), and names the
  // optimizer with --optim (adamw_torch_fused by default).
  const std::string v4 = root() + "/v4-names", v5 = root() + "/v5-names";
  const CommandResult old_names = test::run_command(train_command(v4, "--warmup_ratio 0.5 --group_by_length"));
  const CommandResult new_names = test::run_command(
      train_command(v5, "--use_cpu --warmup_steps 0.5 --train_sampling_strategy group_by_length --optim adamw_torch_fused"));
  INFO(old_names.output << "\n----\n" << new_names.output);
  REQUIRE(old_names.status == 0);
  REQUIRE(new_names.status == 0);
  CHECK_THAT(new_names.output, Catch::Contains("warmup 2") && Catch::Contains("--warmup_steps 0.5 is below 1"));
  // The old names say how transformers 5 spells them; the new ones draw no such line.
  CHECK_THAT(old_names.output, Catch::Contains("transformers 5 spells it --warmup_steps 0.5") &&
                                   Catch::Contains("transformers 5 spells it --train_sampling_strategy group_by_length"));
  CHECK_THAT(new_names.output, !Catch::Contains("transformers 4's flag"));
  CHECK(read_file(v4 + "/model.safetensors") == read_file(v5 + "/model.safetensors"));  // same steps, same order
  // A whole number of steps is an integer part, as transformers' int(warmup_steps).
  const CommandResult steps = test::run_command(train_command(root() + "/v5-steps", "--warmup_steps 2.7"));
  INFO(steps.output);
  CHECK(steps.status == 0);
  CHECK_THAT(steps.output, Catch::Contains("warmup 2"));

  // --data_seed orders the data alone; without it --seed does.
  const std::string same_seed = root() + "/data-seed-42", other_seed = root() + "/data-seed-7";
  REQUIRE(test::run_command(train_command(same_seed, "--seed 42 --data_seed 42")).status == 0);
  REQUIRE(test::run_command(train_command(other_seed, "--seed 42 --data_seed 7")).status == 0);
  const std::string by_seed = root() + "/data-seed-none";
  REQUIRE(test::run_command(train_command(by_seed, "--seed 42")).status == 0);
  CHECK(read_file(same_seed + "/model.safetensors") == read_file(by_seed + "/model.safetensors"));
  CHECK(read_file(other_seed + "/model.safetensors") != read_file(by_seed + "/model.safetensors"));

  // --dataloader_drop_last: 14 windows in batches of 4 are 3 steps an epoch, not 4.
  const CommandResult dropped = test::run_command(train_command(
      root() + "/drop-last", "--max_steps -1 --num_train_epochs 2 --max_train_samples 14 --dataloader_drop_last"));
  INFO(dropped.output);
  CHECK(dropped.status == 0);
  CHECK_THAT(dropped.output, Catch::Contains("14 windows, batch 4 x 1 accumulation, 6 steps"));
  const CommandResult kept = test::run_command(
      train_command(root() + "/keep-last", "--max_steps -1 --num_train_epochs 2 --max_train_samples 14"));
  CHECK_THAT(kept.output, Catch::Contains("14 windows, batch 4 x 1 accumulation, 8 steps"));

  // sequential: SequentialSampler's order, the file's, every epoch.
  const std::string sequential = root() + "/v5-sequential";
  const CommandResult in_order = test::run_command(train_command(sequential, "--train_sampling_strategy sequential"));
  INFO(in_order.output);
  CHECK(in_order.status == 0);
  CHECK_THAT(read_file(sequential + "/training_args.json"), Catch::Contains("\"train_sampling_strategy\": \"sequential\""));

  expect_refused("--warmup_steps 0.5 --warmup_ratio 0.2", 2, {"--warmup_steps 0.5", "--warmup_ratio 0.2", "give one"});
  expect_refused("--warmup_steps -1", 2, {"--warmup_steps", ">= 0"});
  expect_refused("--train_sampling_strategy batch_rebalance", 2, {"batch_rebalance", "packed without padding"});
  expect_refused("--train_sampling_strategy shuffled", 2,
                 {"--train_sampling_strategy", "random, group_by_length or sequential"});
  expect_refused("--train_sampling_strategy sequential --group_by_length", 2, {"contradict"});
  expect_refused("--train_sampling_strategy random --group_by_length", 2, {"contradict"});
  expect_refused("--optim adafactor", 2, {"--optim adafactor", "adamw_torch"});
  expect_refused("--use_cpu --device cuda", 2, {"--use_cpu", "--device cuda", "contradict"});
}

TEST_CASE("total_flos is Trainer's count: 6 x input tokens x non-embedding parameters, across a resume", "[app][hf]") {
  // transformers 5.25 on this tiny model (BertForQuestionAnswering of tiny_config_json(16, 32)):
  // num_parameters(exclude_embeddings=True) = 4514; 3 steps of 4 windows, each padded to
  // --max_seq_length 96 (run_qa's --pad_to_max_length default): 6 * 4514 * 12 * 96.
  const double expected = 6.0 * 4514 * 12 * 96;  // 31,200,768
  const std::string whole = root() + "/flos-whole", halves = root() + "/flos-resumed";
  const CommandResult run = test::run_command(train_command(whole));
  INFO(run.output);
  REQUIRE(run.status == 0);
  CHECK_THAT(read_file(whole + "/train_results.json"), Catch::Contains("\"total_flos\": 31200768.0,"));
  CHECK_THAT(read_file(whole + "/trainer_state.json"), Catch::Contains("  \"total_flos\": 31200768.0,"));
  CHECK(expected == 31200768.0);
  // Stopped after a step and resumed: the checkpoint carries the count.
  REQUIRE(test::run_command(train_command(halves, "--stop_after_steps 1")).status == 0);
  const CommandResult resumed = test::run_command(train_command(halves));
  INFO(resumed.output);
  REQUIRE(resumed.status == 0);
  CHECK_THAT(read_file(halves + "/train_results.json"), Catch::Contains("\"total_flos\": 31200768.0,"));
  // The weights come from the checkpoint: no warning about the model directory's missing ones.
  CHECK_THAT(resumed.output, Catch::Contains("resum") && !Catch::Contains("has no weights"));
  // --pad_to_max_length false: each batch padded to its longest window, as DataCollatorWithPadding
  // (at --max_seq_length 384 these windows are shorter than the length; the position table is
  // an embedding, so the count is the same).
  const std::string long_model = root() + "/model-512";
  make_directories(long_model);
  write_file_atomic(long_model + "/config.json", test::tiny_config_json(16, 32, 0.0f, 30522, 512));
  write_file_atomic(long_model + "/vocab.txt", read_file(model() + "/vocab.txt"));
  auto total_flos = [&](const std::string& out, const std::string& extra) {
    const CommandResult result =
        test::run_command(train_command(out, "--max_seq_length 384 --doc_stride 128 " + extra, long_model));
    INFO(result.output);
    REQUIRE(result.status == 0);
    const std::string results = read_file(out + "/train_results.json");
    const size_t at = results.find("\"total_flos\": ");
    REQUIRE(at != std::string::npos);
    return std::stod(results.substr(at + 14));
  };
  const double padded_to_length = total_flos(root() + "/flos-128", "");
  const double padded_to_longest = total_flos(root() + "/flos-longest", "--pad_to_max_length false");
  CHECK(padded_to_length == 6.0 * 4514 * 12 * 384);
  CHECK(padded_to_longest > 6.0 * 4514 * 12 * 20);
  CHECK(padded_to_longest < padded_to_length);
  CHECK(std::fmod(padded_to_longest, 6.0 * 4514) == 0);
}

// The integer after `"key": ` in text (-1 when absent).
int64_t integer_after(const std::string& text, const std::string& key) {
  std::smatch match;
  if (!std::regex_search(text, match, std::regex("\"" + key + "\": (-?[0-9]+)[,}\n]"))) return -1;
  return std::stoll(match[1]);
}

TEST_CASE("--include_num_input_tokens_seen counts input tokens as Trainer does, in every log line and across a resume",
          "[app][hf]") {
  // The 12 windows train_command trains on (the first 12 of the first 12 questions) and
  // their real tokens.
  const auto tokenizer = load_tokenizer(model(), true, true);
  PrepareOptions prepare;
  prepare.window = WindowConfig{96, 48};
  prepare.max_samples = 12;
  prepare.quiet = true;
  const PreparedSquad windows = prepare_squad(squad_mini(), *tokenizer, prepare, "train");
  REQUIRE(windows.windows.size() == 12);
  int64_t real_tokens = 0;
  for (const Window& w : windows.windows) real_tokens += w.length();
  REQUIRE(real_tokens < 12 * 96);

  const std::string all = root() + "/tokens-all";
  const CommandResult run = test::run_command(
      train_command(all, "--include_num_input_tokens_seen --do_eval --validation_file " + squad_mini() +
                             " --max_eval_samples 4 --eval_strategy steps --eval_steps 2"));
  INFO(run.output);
  REQUIRE(run.status == 0);
  // Trainer.log: every loss line carries the count (an integer) with train_runtime and
  // train_tokens_per_second; evaluation lines and the summary line carry the count.
  std::vector<int64_t> loss_counts, eval_counts;
  for (const std::string& line : read_lines(all + "/trainer_log.jsonl")) {
    INFO(line);
    const int64_t count = integer_after(line, "num_input_tokens_seen");
    CHECK(count >= 0);
    if (line.find("\"loss\": ") != std::string::npos) {
      loss_counts.push_back(count);
      CHECK_THAT(line, Catch::Contains("\"train_runtime\": ") && Catch::Contains("\"train_tokens_per_second\": "));
    }
    if (line.find("\"eval_f1\": ") != std::string::npos) eval_counts.push_back(count);
  }
  // Padded to --max_seq_length 96 (run_qa's --pad_to_max_length): 4 windows x 96 per step.
  CHECK(loss_counts == std::vector<int64_t>{384, 768, 1152});
  // Steps 2 and 3 (the last, evaluated in training as DefaultFlowCallback asks), and the final
  // evaluation.
  CHECK(eval_counts == std::vector<int64_t>{768, 1152, 1152});
  CHECK(integer_after(read_file(all + "/train_results.json"), "num_input_tokens_seen") == 1152);
  CHECK(integer_after(read_file(all + "/eval_results.json"), "num_input_tokens_seen") == 1152);
  CHECK_THAT(read_file(all + "/trainer_state.json"), Catch::Contains("\n  \"num_input_tokens_seen\": 1152,\n"));
  // run_qa's model card: the final scores, and the evaluation at step 2 in the table.
  const std::string card = read_file(all + "/README.md");
  CHECK_THAT(card, Catch::Contains("\n# tokens-all\n") && Catch::Contains("It achieves the following results") &&
                       Catch::Contains("- training_steps: 3\n") && Catch::Contains("| 2    |"));

  // non_padding: attention_mask's sum, the windows' own tokens; carried by a checkpoint.
  const std::string real = root() + "/tokens-non-padding";
  const std::string flag = "--include_num_input_tokens_seen non_padding";
  REQUIRE(test::run_command(train_command(real, flag + " --stop_after_steps 1")).status == 0);
  const CommandResult resumed = test::run_command(train_command(real, flag));
  INFO(resumed.output);
  REQUIRE(resumed.status == 0);
  CHECK(integer_after(read_file(real + "/train_results.json"), "num_input_tokens_seen") == real_tokens);
  CHECK_THAT(read_file(real + "/trainer_state.json"),
             Catch::Contains("\n  \"num_input_tokens_seen\": " + std::to_string(real_tokens) + ",\n"));
  // Off (the default), or false: no count anywhere, and trainer_state.json's stays 0.
  const std::string off = root() + "/tokens-off";
  REQUIRE(test::run_command(train_command(off, "--include_num_input_tokens_seen false")).status == 0);
  CHECK(read_file(off + "/trainer_log.jsonl").find("num_input_tokens_seen") == std::string::npos);
  CHECK(read_file(off + "/train_results.json").find("num_input_tokens_seen") == std::string::npos);
  CHECK_THAT(read_file(off + "/trainer_state.json"), Catch::Contains("\n  \"num_input_tokens_seen\": 0,\n"));
}

TEST_CASE(
    "Off a terminal, tqdm's TQDM_MININTERVAL paces the progress lines of training and evaluation",
    "[app][hf]") {
  // The lines of a run's output that show the progress of `label` ("step 2/3 (66.7%) | ...").
  auto progress_lines = [](const std::string& output, const std::string& label) {
    const std::regex line("(^|\n)" + label + " \\d+/\\d+ \\(");
    return std::distance(std::sregex_iterator(output.begin(), output.end(), line),
                         std::sregex_iterator());
  };
  const std::string eval = " --logging_steps 10 --do_eval --validation_file " + squad_mini() +
                           " --max_eval_samples 24 --per_device_eval_batch_size 1";
  // At 0 a line at every step and at every download of evaluated batches (24 batches of one
  // window, downloaded BertQaModel::kLogitStages at a time).
  const CommandResult every =
      test::run_command("TQDM_MININTERVAL=0 " + train_command(root() + "/tqdm-every", eval));
  INFO(every.output);
  REQUIRE(every.status == 0);
  CHECK(progress_lines(every.output, "step") == 3);
  CHECK(progress_lines(every.output, "eval") == 24 / BertQaModel::kLogitStages);
  // An hour apart (30 s by default, test_progress): the run shows only its last step, and its
  // evaluation nothing.
  const CommandResult paced =
      test::run_command("TQDM_MININTERVAL=3600 " + train_command(root() + "/tqdm-hour", eval));
  INFO(paced.output);
  REQUIRE(paced.status == 0);
  CHECK(progress_lines(paced.output, "step") == 1);
  CHECK(progress_lines(paced.output, "eval") == 0);
  // --disable_tqdm shows no progress at all, however paced: the logging lines alone (none here).
  const CommandResult quiet = test::run_command(
      "TQDM_MININTERVAL=0 " + train_command(root() + "/tqdm-disabled", eval + " --disable_tqdm"));
  INFO(quiet.output);
  REQUIRE(quiet.status == 0);
  CHECK(progress_lines(quiet.output, "step") == 0);
  CHECK(progress_lines(quiet.output, "eval") == 0);
  CHECK_THAT(quiet.output, Catch::Contains("train_loss"));
  // ... and the logging lines stay (one per step at --logging_steps 1).
  const CommandResult logged = test::run_command(
      "TQDM_MININTERVAL=0 " + train_command(root() + "/tqdm-disabled-logged", "--disable_tqdm"));
  INFO(logged.output);
  REQUIRE(logged.status == 0);
  CHECK(progress_lines(logged.output, "step") == 3);
  // A value tqdm could not read either stops the run before it starts, naming the variable.
  const CommandResult bad =
      test::run_command("TQDM_MININTERVAL=soon " + train_command(root() + "/tqdm-bad"));
  CHECK(bad.status != 0);
  CHECK_THAT(bad.output, Catch::Contains("TQDM_MININTERVAL=soon: not a number"));
  CHECK_FALSE(fs::exists(root() + "/tqdm-bad"));
}

TEST_CASE("trainer_state.json's stateful_callbacks hold Trainer's control as its last checkpoint saved it", "[app][hf]") {
  // transformers 5.25: TrainerControl's flags at the last _save_checkpoint (should_save, and
  // should_training_stop when that was the last step); all false when nothing was saved.
  auto control = [&](const std::string& name, const std::string& extra) {
    const std::string out = root() + "/" + name;
    const CommandResult result = test::run_command(train_command(out, extra));
    INFO(result.output);
    REQUIRE(result.status == 0);
    std::smatch match;
    const std::string state = read_file(out + "/trainer_state.json");
    REQUIRE(std::regex_search(state, match, std::regex(R"("should_save": (\w+),\s*"should_training_stop": (\w+))")));
    return match[1].str() + " " + match[2].str();
  };
  CHECK(control("control-unsaved", "") == "false false");
  // No evaluation strategy and no --eval_steps: TrainerState's own 500, as Trainer leaves it.
  CHECK_THAT(read_file(root() + "/control-unsaved/trainer_state.json"),
             Catch::Contains("\"eval_steps\": 500,"));
  // The run's summary in log_history is rounded as Trainer's speed_metrics rounds it.
  const std::vector<std::string> log = read_lines(root() + "/control-unsaved/trainer_log.jsonl");
  REQUIRE_FALSE(log.empty());
  CHECK(std::regex_search(log.back(), std::regex(R"("train_runtime": \d+(\.\d{1,4})?, )")));
  CHECK(std::regex_search(log.back(),
                          std::regex(R"("train_samples_per_second": \d+(\.\d{1,3})?, )")));
  CHECK(control("control-saved", "--save_steps 2") == "true true");  // steps 2 and 3 (the last)
  // Resumed from checkpoint-1 and nothing saved since: the checkpoint's control.
  REQUIRE(test::run_command(train_command(root() + "/control-resumed", "--stop_after_steps 1")).status == 0);
  CHECK(control("control-resumed", "") == "true false");
}

TEST_CASE("--logging_strategy, --logging_first_step and --disable_tqdm decide the logged steps", "[app][hf]") {
  // The steps of trainer_log.jsonl's loss lines (the run's summary line holds train_loss instead).
  auto logged_steps = [&](const std::string& name, const std::string& extra) {
    const std::string out = root() + "/" + name;
    const CommandResult result = test::run_command(train_command(out, "--max_steps 6 " + extra));  // 2 epochs of 3
    INFO(result.output);
    REQUIRE(result.status == 0);
    CHECK_THAT(read_file(out + "/trainer_log.jsonl"), Catch::Contains("\"train_loss\": "));
    return steps_of_lines_with(out + "/trainer_log.jsonl", "loss");
  };
  // transformers 5.25 (DefaultFlowCallback) logs these steps of such a run: no loss line for the
  // last step when it is not a multiple of logging_steps.
  CHECK(logged_steps("log-steps", "--logging_steps 4") == std::vector<int>{4});
  CHECK(logged_steps("log-first", "--logging_steps 4 --logging_first_step --disable_tqdm") == std::vector<int>{1, 4});
  CHECK(logged_steps("log-epoch", "--logging_strategy epoch") == std::vector<int>{3, 6});
  CHECK(logged_steps("log-no", "--logging_strategy no").empty());
  CHECK(logged_steps("log-no-first", "--logging_strategy no --logging_first_step") == std::vector<int>{1});
  // Below 1: a fraction of the run's steps, rounded up (ceil(6 x 0.3) = 2), in trainer_state.json as such.
  CHECK(logged_steps("log-ratio", "--logging_steps 0.3") == std::vector<int>{2, 4, 6});
  CHECK_THAT(read_file(root() + "/log-ratio/trainer_state.json"), Catch::Contains("\n  \"logging_steps\": 2,\n"));
  expect_refused("--logging_strategy often", 2, {"--logging_strategy", "no, steps or epoch"});
  expect_refused("--logging_steps 2.5", 2, {"--logging_steps", "2.5", "an integer if bigger than 1"});
  expect_refused("--logging_steps 0", 2, {"--logging_steps", "a number > 0"});
  // Only the steps strategy needs the interval (transformers refuses the rest of these too).
  CHECK(logged_steps("log-epoch-0", "--logging_strategy epoch --logging_steps 0") ==
        std::vector<int>{3, 6});
  expect_refused("--logging_strategy epoch --logging_steps 0 --do_eval --validation_file " +
                     squad_mini() + " --eval_strategy steps",
                 2, {"--eval_strategy steps requires a non-zero --eval_steps or --logging_steps"});
  expect_refused("--save_steps 1.5", 2, {"--save_steps", "a whole number of steps"});
}

TEST_CASE("reduce_lr_on_plateau steps after each evaluation during training", "[app][hf]") {
  const std::string out = root() + "/plateau";
  const CommandResult run = test::run_command(train_command(
      out, "--max_steps 4 --do_eval --validation_file " + squad_mini() + " --max_eval_samples 4 --eval_strategy "
           "steps --eval_steps 1 --metric_for_best_model f1 --lr_scheduler_type reduce_lr_on_plateau "
           "--lr_scheduler_kwargs '{\"patience\": 0, \"factor\": 0.5}' --warmup_steps 2"));
  INFO(run.output);
  REQUIRE(run.status == 0);
  CHECK_THAT(run.output, Catch::Contains("reduce_lr_on_plateau compares f1 in mode 'min'") &&
                             Catch::Contains("ignores --warmup_steps/--warmup_ratio"));
  std::vector<double> rates;
  const std::regex rate(R"(^\{"step": \d+, .*"learning_rate": ([0-9.e+-]+))");
  for (const std::string& line : read_lines(out + "/trainer_log.jsonl")) {
    std::smatch match;
    if (std::regex_search(line, match, rate)) rates.push_back(std::stod(match[1]));
  }
  REQUIRE(rates.size() == 4);
  CHECK(rates[0] == Approx(5e-5));  // no warmup; the first evaluation (after step 1) is the best so far
  CHECK(rates[1] == Approx(5e-5));
  for (size_t i = 2; i < rates.size(); ++i) {
    // Each later evaluation either improves (mode min: a lower f1) or halves the rate (patience 0).
    CHECK((rates[i] == Approx(rates[i - 1]) || rates[i] == Approx(rates[i - 1] / 2)));
  }
  // Each step's evaluation, then the final one (--do_eval) of the same weights, as run_qa logs them.
  CHECK(steps_of_lines_with(out + "/trainer_log.jsonl", "eval_f1") == std::vector<int>{1, 2, 3, 4, 4});
}

TEST_CASE("--eval_steps as a fraction of the run and --eval_delay decide the evaluated steps", "[app][hf]") {
  auto evaluated_steps = [&](const std::string& name, const std::string& extra) {
    const std::string out = root() + "/" + name;
    const CommandResult result = test::run_command(train_command(
        out, "--do_eval --validation_file " + squad_mini() + " --max_eval_samples 4 --eval_strategy steps " + extra));
    INFO(result.output);
    REQUIRE(result.status == 0);
    return steps_of_lines_with(out + "/trainer_log.jsonl", "eval_f1");
  };
  // 3 steps; --eval_steps 0.34: every ceil(1.02) = 2 steps, and after the last (in training, as
  // DefaultFlowCallback asks, then run_qa's final evaluation of the same weights).
  CHECK(evaluated_steps("eval-ratio", "--eval_steps 0.34") == std::vector<int>{2, 3, 3});
  CHECK_THAT(read_file(root() + "/eval-ratio/trainer_state.json"), Catch::Contains("\n  \"eval_steps\": 2,\n"));
  // transformers' DefaultFlowCallback: no evaluation while eval_delay > global_step.
  CHECK(evaluated_steps("eval-delay", "--eval_steps 1 --eval_delay 2") ==
        std::vector<int>{2, 3, 3});
  CHECK(evaluated_steps("eval-delay-late", "--eval_steps 0.34 --eval_delay 2.5") ==
        std::vector<int>{3, 3});
}

TEST_CASE("--lr_scheduler_kwargs shapes the logged rates; training_args.json reruns the schedule", "[app][hf]") {
  // warmup_stable_decay over 4 steps: 1 of warmup from min_lr_ratio, 1 stable, 2 of linear decay.
  const std::string out = root() + "/wsd";
  const CommandResult run = test::run_command(train_command(
      out, "--max_steps 4 --warmup_steps 1 --lr_scheduler_type warmup_stable_decay --lr_scheduler_kwargs "
           "'{\"num_decay_steps\": 2, \"decay_type\": \"linear\", \"min_lr_ratio\": 0.5}'"));
  INFO(run.output);
  REQUIRE(run.status == 0);
  std::vector<double> rates;
  const std::regex rate(R"("learning_rate": ([0-9.e+-]+))");
  for (const std::string& line : read_lines(out + "/trainer_log.jsonl")) {
    std::smatch match;
    if (std::regex_search(line, match, rate)) rates.push_back(std::stod(match[1]));
  }
  // The rate of each step: factors 0.5 (warmup start lifted to 0.5), 1, 1 (decay start), 0.75.
  CHECK_THAT(run.output, Catch::Contains("4 steps, warmup 1, schedule warmup_stable_decay {\"decay_type\": \"linear\", "
                                         "\"min_lr_ratio\": 0.5, \"num_decay_steps\": 2}"));
  const std::vector<double> expected = {2.5e-5, 5e-5, 5e-5, 3.75e-5};
  REQUIRE(rates.size() == expected.size());
  for (size_t i = 0; i < rates.size(); ++i) CHECK(rates[i] == Approx(expected[i]).epsilon(1e-12));
  CHECK_THAT(read_file(out + "/training_args.json"), Catch::Contains("\"lr_scheduler_kwargs\": \"{\\\"num_decay_steps"));
  const std::string rerun_dir = root() + "/wsd-rerun";
  const CommandResult rerun =
      test::run_command(test::train_squad_bin() + " " + out + "/training_args.json --output_dir " + rerun_dir);
  INFO(rerun.output);
  REQUIRE(rerun.status == 0);
  CHECK(read_file(rerun_dir + "/model.safetensors") == read_file(out + "/model.safetensors"));
}

TEST_CASE("--dataset_name reads the splits load_dataset left in the datasets cache", "[app][hf]") {
  // tests/fixtures/hf-datasets-cache: the first 24 questions of squad-mini.json as datasets 5.2
  // caches rajpurkar/squad. The same 12 training and 4 evaluation questions as the files give.
  const std::string eval = " --do_eval --max_eval_samples 4 --validation_file " + squad_mini();
  const std::string files = root() + "/dataset-files";
  REQUIRE(test::run_command(train_command(files, eval)).status == 0);
  const std::string cached = root() + "/dataset-cached";
  const CommandResult run = test::run_command(train_command(
      cached, eval + " --dataset_name rajpurkar/squad --cache_dir " + test::fixture_path("hf-datasets-cache/cache")));
  INFO(run.output);
  REQUIRE(run.status == 0);
  CHECK_THAT(run.output, Catch::Contains("--train_file " + squad_mini() + " is not used: --dataset_name gives the "
                                         "train split") &&
                             Catch::Contains("split validation from ") && Catch::Contains("rajpurkar___squad"));
  CHECK(read_file(cached + "/model.safetensors") == read_file(files + "/model.safetensors"));
  CHECK(read_file(cached + "/eval_predictions.json") == read_file(files + "/eval_predictions.json"));
  // The model card names the dataset, as run_qa's create_model_card(dataset_tags=...) does.
  CHECK_THAT(read_file(cached + "/README.md"),
             Catch::Contains("datasets:\n- rajpurkar/squad\n") &&
                 Catch::Contains("type: question-answering") &&
                 Catch::Contains(" on the rajpurkar/squad dataset."));
  CHECK_THAT(read_file(files + "/README.md"),
             Catch::Contains("on an unknown dataset.") && !Catch::Contains("datasets:"));
  // "squad", as run_qa's README spells it, is the Hub's rajpurkar/squad in the cache.
  const std::string plain = root() + "/dataset-plain-name";
  REQUIRE(test::run_command(train_command(plain, "--dataset_name squad --cache_dir " +
                                                     test::fixture_path("hf-datasets-cache/cache")))
              .status == 0);
  CHECK(read_file(plain + "/model.safetensors") == read_file(files + "/model.safetensors"));
}

TEST_CASE("SQuAD v2 data is refused without --version_2_with_negative", "[app][hf]") {
  const std::string v2 = root() + "/train-v2.0.json";
  write_file_atomic(v2, R"({"version": "v2.0", "data": [{"title": "T", "paragraphs": [{"context": "The Normans were in France.",
    "qas": [{"id": "a", "question": "Who?", "answers": [{"text": "Normans", "answer_start": 4}], "is_impossible": false},
            {"id": "b", "question": "When?", "answers": [], "is_impossible": true}]}]}]})");
  const CommandResult result = test::run_command(
      train_command(root() + "/v2", "") + " --train_file " + v2);  // the last --train_file wins
  INFO(result.output);
  CHECK(result.status == 1);
  const std::vector<std::string> errors = test::error_lines(result.output);
  REQUIRE(errors.size() == 1);
  CHECK_THAT(errors[0], Catch::Contains(v2) && Catch::Contains("--version_2_with_negative") &&
                            Catch::Contains("1 unanswerable"));
}

TEST_CASE("--do_predict writes run_qa's predict files; a test set without answers is predicted, not scored", "[app][hf]") {
  // The same file as validation and test set: the predict stage must equal the evaluation.
  const std::string out = root() + "/predict";
  const std::string both = " --validation_file " + squad_mini() + " --test_file " + squad_mini() +
                           " --do_eval --do_predict --max_eval_samples 9 --max_predict_samples 9";
  const CommandResult result = test::run_command(train_command(out, both));
  INFO(result.output);
  REQUIRE(result.status == 0);
  CHECK(read_file(out + "/predict_predictions.json") == read_file(out + "/eval_predictions.json"));
  CHECK(read_file(out + "/predict_nbest_predictions.json") == read_file(out + "/eval_nbest_predictions.json"));
  const std::string predict = read_file(out + "/predict_results.json");
  const std::string eval = read_file(out + "/eval_results.json");
  // run_qa's keys: QuestionAnsweringTrainer.predict prefixes its metrics "test_", run_qa adds
  // predict_samples (windows, as eval_samples); no epoch.
  const std::regex em(R"("(eval|test)_exact_match": ([^,\n]*))"), f1(R"("(eval|test)_f1": ([^,\n]*))");
  std::smatch a, b;
  REQUIRE(std::regex_search(predict, a, em));
  REQUIRE(std::regex_search(eval, b, em));
  CHECK(a[1] == "test");
  CHECK(a[2] == b[2]);
  REQUIRE(std::regex_search(predict, a, f1));
  REQUIRE(std::regex_search(eval, b, f1));
  CHECK(a[2] == b[2]);
  CHECK_THAT(predict, Catch::Contains("\"predict_samples\": 9") && Catch::Contains("\"test_runtime\"") &&
                          Catch::Contains("\"test_steps_per_second\"") && !Catch::Contains("epoch"));
  CHECK_THAT(read_file(out + "/all_results.json"),
             Catch::Contains("\"test_f1\"") && Catch::Contains("\"eval_f1\"") && Catch::Contains("\"train_loss\""));
  CHECK_THAT(result.output, Catch::Contains("{\"test_exact_match\": "));

  // A test set with a question without answers: predictions, but no score.
  const std::string unanswered = root() + "/test-unanswered.json";
  write_file_atomic(unanswered, R"({"version": "1.1", "data": [{"title": "T", "paragraphs": [{"context": "The Normans were in France.",
    "qas": [{"id": "a", "question": "Who were in France?", "answers": [{"text": "Normans", "answer_start": 4}]},
            {"id": "b", "question": "Where were they?", "answers": []}]}]}]})");
  const std::string test_out = root() + "/predict-unanswered";
  const CommandResult test = test::run_command(
      train_command(test_out, " --do_predict --test_file " + unanswered));
  INFO(test.output);
  REQUIRE(test.status == 0);
  CHECK_THAT(read_file(test_out + "/predict_predictions.json"), Catch::Contains("\"a\"") && Catch::Contains("\"b\""));
  CHECK_THAT(read_file(test_out + "/predict_results.json"),
             Catch::Contains("\"predict_samples\": 2") && !Catch::Contains("exact_match"));
  CHECK_THAT(test.output, Catch::Contains("question b of " + unanswered + " has no answers"));

  // The same file as --validation_file is refused before any training: it cannot be scored by
  // the v1.1 metric (a question without answers is v2.0's unanswerable one, in any layout).
  const CommandResult eval_refused = test::run_command(
      train_command(root() + "/eval-unanswered", " --do_eval --validation_file " + unanswered));
  INFO(eval_refused.output);
  CHECK(eval_refused.status == 1);
  const std::vector<std::string> errors = test::error_lines(eval_refused.output);
  REQUIRE(errors.size() == 1);
  CHECK_THAT(errors[0], Catch::Contains(unanswered) && Catch::Contains("the first question b") &&
                            Catch::Contains("give --version_2_with_negative"));
  CHECK_THAT(eval_refused.output, !Catch::Contains("step 1/"));  // refused before the first step
  CHECK_FALSE(fs::exists(root() + "/eval-unanswered/model.safetensors"));

  // A datasets test split without labels (JSON Lines rows, every answers list empty) is
  // predicted as the official layout's is, not taken for SQuAD v2.0 data.
  const std::string unlabelled_rows = root() + "/test-unlabelled.jsonl";
  write_file_atomic(
      unlabelled_rows,
      R"({"id": "r1", "context": "The Normans were in France.", "question": "Who?", )"
      R"("answers": {"text": [], "answer_start": []}})"
      "\n"
      R"({"id": "r2", "context": "The Normans were in France.", "question": "Where?", )"
      R"("answers": {"text": [], "answer_start": []}})"
      "\n");
  const std::string rows_out = root() + "/predict-unlabelled-rows";
  const CommandResult rows =
      test::run_command(train_command(rows_out, " --do_predict --test_file " + unlabelled_rows));
  INFO(rows.output);
  REQUIRE(rows.status == 0);
  CHECK_THAT(read_file(rows_out + "/predict_predictions.json"),
             Catch::Contains("\"r1\"") && Catch::Contains("\"r2\""));
  CHECK_THAT(read_file(rows_out + "/predict_results.json"),
             Catch::Contains("\"predict_samples\": 2") && !Catch::Contains("exact_match"));

  expect_refused("--do_predict", 2, {"--test_file", "--do_predict"});
}

TEST_CASE(
    "a run without training writes what run_qa writes: epoch 0, the preparation time, a card "
    "without results",
    "[app][hf]") {
  const std::string out = root() + "/eval-only";
  const std::string command = test::train_squad_bin() + " --device cpu --model_name_or_path " +
                              model() + " --validation_file " + squad_mini() + " --test_file " +
                              squad_mini() +
                              " --do_eval --do_predict --max_eval_samples 9 --max_predict_samples 9"
                              " --max_seq_length 96 --doc_stride 48 --output_dir " +
                              out;
  const CommandResult result = test::run_command(command);
  INFO(result.output);
  REQUIRE(result.status == 0);
  // transformers >= 5.3: TrainerState.epoch starts as the integer 0 and Trainer.log adds it to
  // the dict evaluate() returns; the evaluation loop timed the model's preparation (predict
  // reports it too, and no epoch, as it logs nothing).
  const std::string eval = read_file(out + "/eval_results.json");
  CHECK_THAT(eval, Catch::StartsWith("{\n    \"epoch\": 0,\n") &&
                       Catch::Contains("\"eval_model_preparation_time\": "));
  const std::string predict = read_file(out + "/predict_results.json");
  CHECK_THAT(predict,
             Catch::Contains("\"test_model_preparation_time\": ") && !Catch::Contains("epoch"));
  CHECK_THAT(result.output, Catch::Contains("so these scores are an untrained model's"));
  CHECK(std::regex_search(result.output,
                          std::regex(R"(\*\*\*\*\* eval metrics \*\*\*\*\*\n  epoch +=\s+0\n)")));
  // run_qa's create_model_card runs whatever ran: no scores, no "Training results" section.
  const std::string card = read_file(out + "/README.md");
  CHECK(is_generated_model_card(out + "/README.md"));
  CHECK_THAT(card, Catch::Contains("model-index:\n- name: eval-only\n  results: []\n---\n") &&
                       !Catch::Contains("Training results") && !Catch::Contains("It achieves"));
  // A card already there, the user's or a training's, is kept.
  write_file_atomic(out + "/README.md", "# mine\n");
  const CommandResult again = test::run_command(command + " --overwrite_output_dir");
  INFO(again.output);
  REQUIRE(again.status == 0);
  CHECK(read_file(out + "/README.md") == "# mine\n");
  CHECK_THAT(again.output, Catch::Contains("a run without training replaces no model card"));
  // A training run's evaluation has neither the preparation time nor the integer epoch.
  const std::string trained = root() + "/eval-after-training";
  const CommandResult training = test::run_command(train_command(
      trained, " --do_eval --validation_file " + squad_mini() + " --max_eval_samples 9"));
  INFO(training.output);
  REQUIRE(training.status == 0);
  const std::string trained_eval = read_file(trained + "/eval_results.json");
  CHECK(std::regex_search(trained_eval, std::regex(R"("epoch": [0-9]+\.[0-9]+)")));
  CHECK_THAT(trained_eval, !Catch::Contains("model_preparation_time"));
  CHECK_THAT(read_file(trained + "/README.md"), Catch::Contains("### Training results"));
}

TEST_CASE("a Hub id gets the command that downloads it", "[app][hf]") {
  // An empty Hugging Face cache, whatever this machine's holds.
  const CommandResult result = test::run_command("cd " + root() + " && HF_HUB_CACHE=" + root() + "/empty-hub " +
                                                 train_command(root() + "/hub", "", "google-bert/bert-base-cased"));
  INFO(result.output);
  CHECK(result.status == 1);
  const std::vector<std::string> errors = test::error_lines(result.output);
  REQUIRE(errors.size() == 1);
  CHECK_THAT(errors[0], Catch::Contains("hf download google-bert/bert-base-cased") &&
                            Catch::Contains("--local-dir bert-base-cased"));
}

TEST_CASE("lower-casing comes from tokenizer_config.json unless --do_lower_case is given", "[app][hf]") {
  const std::string cased = test::make_tiny_model(root() + "/cased-model", 0.0f);
  write_file_atomic(cased + "/tokenizer_config.json", R"({"do_lower_case": false, "tokenizer_class": "BertTokenizer"})");
  const std::string out = root() + "/cased";
  const CommandResult run = test::run_command(train_command(out, "", cased));
  INFO(run.output);
  REQUIRE(run.status == 0);
  CHECK_THAT(run.output, Catch::Contains("[tokenizer] do_lower_case false from " + cased + "/tokenizer_config.json"));
  CHECK_THAT(read_file(out + "/training_args.json"), Catch::Contains("\"do_lower_case\": false,"));
  CHECK_THAT(read_file(out + "/tokenizer_config.json"), Catch::Contains("\"do_lower_case\": false"));
  // The windows differ from lower-cased ones: the uncased vocabulary lacks most capitalised words.
  const CommandResult forced = test::run_command(train_command(root() + "/forced", "--do_lower_case true", cased));
  INFO(forced.output);
  REQUIRE(forced.status == 0);
  CHECK_THAT(forced.output, Catch::Contains("the flag overrides it"));
  CHECK(read_file(out + "/model.safetensors") != read_file(root() + "/forced/model.safetensors"));
}

TEST_CASE("tokenizer_config.json: model_max_length lowers --max_seq_length as run_qa does; other tokenizers refused", "[app][hf]") {
  const std::string limited = test::make_tiny_model(root() + "/limited-model", 0.0f);
  write_file_atomic(limited + "/tokenizer_config.json", R"({"do_lower_case": true, "model_max_length": 64})");
  const std::string out = root() + "/limited";
  const CommandResult run = test::run_command(train_command(out, "--doc_stride 16", limited));  // asks for 96
  INFO(run.output);
  REQUIRE(run.status == 0);
  CHECK_THAT(run.output, Catch::Contains("--max_seq_length 96 is larger than the maximum length for the model (" +
                                         limited + "/tokenizer_config.json: model_max_length 64); using max_seq_length=64"));
  CHECK_THAT(read_file(out + "/training_args.json"), Catch::Contains("\"max_seq_length\": 64,"));

  const std::string japanese = test::make_tiny_model(root() + "/japanese-model", 0.0f);
  write_file_atomic(japanese + "/tokenizer_config.json", R"({"tokenizer_class": "BertJapaneseTokenizer"})");
  const CommandResult refused = test::run_command(train_command(root() + "/japanese", "", japanese));
  INFO(refused.output);
  CHECK(refused.status == 1);
  const std::vector<std::string> errors = test::error_lines(refused.output);
  REQUIRE(errors.size() == 1);
  CHECK_THAT(errors[0], Catch::Contains(japanese + "/tokenizer_config.json: tokenizer_class:") &&
                            Catch::Contains("not supported"));
  CHECK_FALSE(fs::exists(root() + "/japanese/model.safetensors"));
}

TEST_CASE("a model directory as transformers 5 saves it (tokenizer.json, no vocab.txt) trains alike", "[app][hf]") {
  // transformers 5's BertTokenizer.save_pretrained writes tokenizer.json and a tokenizer_config.json
  // whose model_max_length is int(1e30), and no vocab.txt.
  const std::string v5 = test::make_tiny_model(root() + "/v5-model", 0.0f);
  std::string vocab;
  int id = 0;
  for (const std::string& token : read_lines(v5 + "/vocab.txt")) {
    vocab += (id ? ", " : "") + json_quote(token) + ": " + std::to_string(id);
    ++id;
  }
  fs::remove(v5 + "/vocab.txt");
  write_file_atomic(v5 + "/tokenizer.json",
                    R"({"version": "1.0", "added_tokens": [{"id": 0, "content": "[PAD]", "special": true}],
      "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "strip_accents": null, "lowercase": true},
      "pre_tokenizer": {"type": "BertPreTokenizer"}, "post_processor": null, "decoder": {"type": "WordPiece", "prefix": "##"},
      "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100,
                "vocab": {)" + vocab + "}}}");
  write_file_atomic(v5 + "/tokenizer_config.json",
                    R"({"backend": "tokenizers", "do_lower_case": true, "model_max_length": 1000000000000000019884624838656,
                        "strip_accents": null, "tokenize_chinese_chars": true, "tokenizer_class": "BertTokenizer"})");
  const std::string out = root() + "/v5", reference = root() + "/v5-reference";
  const CommandResult run = test::run_command(train_command(out, "", v5));
  INFO(run.output);
  REQUIRE(run.status == 0);
  const CommandResult plain = test::run_command(train_command(reference));  // the same vocabulary as vocab.txt
  INFO(plain.output);
  REQUIRE(plain.status == 0);
  CHECK(read_file(out + "/model.safetensors") == read_file(reference + "/model.safetensors"));
  CHECK(read_file(out + "/tokenizer.json") == read_file(v5 + "/tokenizer.json"));
  CHECK_FALSE(fs::exists(out + "/vocab.txt"));
  // The saved directory loads again.
  const CommandResult again = test::run_command(train_command(root() + "/v5-again", "", out));
  INFO(again.output);
  CHECK(again.status == 0);

  // Its checkpoints (holding tokenizer.json) are the run's own: rotated, and resumed from.
  const std::string rotated = root() + "/v5-rotated";
  const CommandResult stopped = test::run_command(
      train_command(rotated, "--save_steps 1 --save_total_limit 1 --stop_after_steps 2", v5));
  INFO(stopped.output);
  REQUIRE(stopped.status == 0);
  CHECK(fs::exists(rotated + "/checkpoint-2/tokenizer.json"));
  CHECK_FALSE(fs::exists(rotated + "/checkpoint-1"));
  const CommandResult resumed = test::run_command(train_command(
      rotated, "--save_steps 1 --save_total_limit 1 --resume_from_checkpoint True", v5));
  INFO(resumed.output);
  REQUIRE(resumed.status == 0);
  CHECK(read_file(rotated + "/model.safetensors") == read_file(out + "/model.safetensors"));
  CHECK_FALSE(fs::exists(rotated + "/checkpoint-2"));
}

TEST_CASE("--report_to and --logging_dir decide where TensorBoard events go", "[app][hf]") {
  // transformers 5's default is none: no runs/ unless asked for.
  const CommandResult none = test::run_command(train_command(root() + "/none", ""));
  INFO(none.output);
  REQUIRE(none.status == 0);
  CHECK_FALSE(fs::exists(root() + "/none/runs"));
  CHECK(read_lines(root() + "/none/trainer_log.jsonl").size() == 4);  // 3 steps + the summary

  const CommandResult chosen = test::run_command(
      train_command(root() + "/chosen", "--logging_dir " + root() + "/tb --report_to tensorboard,mlflow"));
  INFO(chosen.output);
  REQUIRE(chosen.status == 0);
  CHECK(test::has_entry_matching(root() + "/tb", R"(^events\.out\.tfevents\.)"));
  CHECK_FALSE(fs::exists(root() + "/chosen/runs"));
  CHECK_THAT(chosen.output, Catch::Contains("--report_to mlflow: this engine has no mlflow integration"));
  CHECK_THAT(chosen.output, Catch::Contains("[precision] the CPU backend computes in fp32"));

  // transformers 5's way: the TENSORBOARD_LOGGING_DIR environment variable (the flag wins).
  const CommandResult by_env = test::run_command("TENSORBOARD_LOGGING_DIR=" + root() + "/env-tb " +
                                                 train_command(root() + "/by-env", "--report_to tensorboard"));
  INFO(by_env.output);
  REQUIRE(by_env.status == 0);
  CHECK(test::has_entry_matching(root() + "/env-tb", R"(^events\.out\.tfevents\.)"));
  CHECK_FALSE(fs::exists(root() + "/by-env/runs"));
}

TEST_CASE("inside a Kubeflow TrainJob that asks for it, progress goes to Kubeflow Trainer",
          "[app][hf][kubeflow]") {
  // transformers 5.25 adds "kubeflow" to report_to by itself when KUBEFLOW_TRAINER_SERVER_URL is
  // set; a stand-in curl keeps each report it is given (logging/kubeflow_status.h).
  const std::string dir = root() + "/kubeflow";
  fs::create_directories(dir);
  write_file_atomic(dir + "/token", "pod-token\n");
  write_file_atomic(dir + "/curl", "#!/bin/sh\ncat > \"" + dir + "/report-$$\"\n");
  fs::permissions(dir + "/curl", fs::perms::owner_all);
  const std::string env = "PATH=" + dir +
                          ":$PATH KUBEFLOW_TRAINER_SERVER_URL=https://trainer.kubeflow:8082/status "
                          "KUBEFLOW_TRAINER_SERVER_TOKEN=" +
                          dir + "/token ";
  const CommandResult run = test::run_command(env + train_command(dir + "/out"));
  INFO(run.output);
  REQUIRE(run.status == 0);
  CHECK_THAT(run.output,
             Catch::Contains("[report_to] kubeflow: progress goes to Kubeflow Trainer at "
                             "https://trainer.kubeflow:8082/status"));
  std::vector<std::string> reports;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.path().filename().string().rfind("report-", 0) == 0)
      reports.push_back(read_file(entry.path().string()));
  // The start and the end, and a step between them only if one came 5 s after the start (a
  // slow machine): one report holds 0%, one 100%.
  REQUIRE(reports.size() >= 2);
  std::string begin, end;
  for (const std::string& report : reports) {
    if (report.find("\\\"progressPercentage\\\": 0,") != std::string::npos) begin = report;
    if (report.find("\\\"progressPercentage\\\": 100,") != std::string::npos) end = report;
  }
  CHECK_THAT(begin, Catch::Contains("url = \"https://trainer.kubeflow:8082/status\"") &&
                        Catch::Contains("Authorization: Bearer pod-token\"") &&
                        Catch::Contains("\\\"metrics\\\": [{\\\"name\\\": "
                                        "\\\"total_steps\\\", \\\"value\\\": \\\"3\\\"}]"));
  CHECK_THAT(end, Catch::Contains("\\\"progressPercentage\\\": 100, "
                                  "\\\"estimatedRemainingSeconds\\\": 0") &&
                      Catch::Contains("{\\\"name\\\": \\\"train_loss\\\", "
                                      "\\\"value\\\": \\\""));

  // Asked for by name without the TrainJob's environment: refused, as KubeflowCallback raises.
  const CommandResult refused =
      test::run_command(train_command(dir + "/refused", "--report_to kubeflow"));
  CHECK(refused.status == 2);
  CHECK_THAT(refused.output, Catch::Contains("--report_to kubeflow: no Kubeflow Trainer endpoint"));
  // DISABLE_KUBEFLOW_INTEGRATION=TRUE turns it off.
  fs::remove_all(dir + "/out");
  const CommandResult disabled =
      test::run_command("DISABLE_KUBEFLOW_INTEGRATION=true " + env + train_command(dir + "/out"));
  REQUIRE(disabled.status == 0);
  CHECK_THAT(disabled.output, !Catch::Contains("[report_to] kubeflow"));
}

TEST_CASE(
    "Without --output_dir a run writes to ./trainer_output, as transformers 5's TrainingArguments",
    "[app][hf]") {
  const std::string cwd = root() + "/no-output-dir";
  fs::create_directories(cwd);
  const CommandResult run =
      test::run_command("cd " + cwd + " && " + train_command("", "--max_steps 1"));
  INFO(run.output);
  REQUIRE(run.status == 0);
  CHECK_THAT(
      run.output,
      Catch::Contains("no --output_dir: writing to trainer_output (transformers 5's default)"));
  CHECK(fs::exists(cwd + "/trainer_output/model.safetensors"));
  CHECK_THAT(read_file(cwd + "/trainer_output/training_args.json"),
             Catch::Contains("\"output_dir\": \"trainer_output\""));
  // Given, it gets no word.
  CHECK_THAT(test::run_command(train_command(root() + "/with-output-dir", "--max_steps 1")).output,
             !Catch::Contains("no --output_dir"));
}

TEST_CASE("training_args.json records the run and reruns it as an arguments file", "[app][hf]") {
  const std::string first = root() + "/first";
  const CommandResult run = test::run_command(train_command(first, "--learning_rate 1e-3 --learning_rate 2e-3"));
  INFO(run.output);
  REQUIRE(run.status == 0);
  CHECK_THAT(run.output, Catch::Contains("[flags] --learning_rate given 2 times: using the last, 2e-3"));
  const std::string record = read_file(first + "/training_args.json");
  CHECK_THAT(record, Catch::Contains("\"learning_rate\": 0.002,"));
  // The record as an arguments file, with the output directory overridden on the command line.
  const std::string second = root() + "/second";
  const CommandResult rerun = test::run_command(test::train_squad_bin() + " " + first + "/training_args.json --output_dir " + second);
  INFO(rerun.output);
  REQUIRE(rerun.status == 0);
  CHECK(read_file(second + "/model.safetensors") == read_file(first + "/model.safetensors"));
  // The record gives every flag, --bf16 true and --tf32 false among them: at their defaults,
  // they get no word on the CPU.
  CHECK_THAT(rerun.output, Catch::Contains("[precision] the CPU backend computes in fp32"));
  CHECK_THAT(rerun.output, !Catch::Contains("apply to CUDA only"));
  // Length-grouped batches, asked for by either spelling: both flags are recorded as resolved,
  // so the record reruns without contradicting itself.
  for (const char* order : {"--group_by_length", "--train_sampling_strategy group_by_length"}) {
    INFO(order);
    const std::string grouped = root() + "/grouped", again = root() + "/grouped-again";
    fs::remove_all(grouped);
    fs::remove_all(again);
    REQUIRE(test::run_command(train_command(grouped, order)).status == 0);
    CHECK_THAT(read_file(grouped + "/training_args.json"),
               Catch::Contains("\"group_by_length\": true,") &&
                   Catch::Contains("\"train_sampling_strategy\": \"group_by_length\","));
    const CommandResult regrouped = test::run_command(test::train_squad_bin() + " " + grouped +
                                                      "/training_args.json --output_dir " + again);
    INFO(regrouped.output);
    REQUIRE(regrouped.status == 0);
    CHECK(read_file(again + "/model.safetensors") == read_file(grouped + "/model.safetensors"));
  }
}

}  // namespace
}  // namespace bert
