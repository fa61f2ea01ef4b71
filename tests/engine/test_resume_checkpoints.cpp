// Checkpoint directories and files: trainer_state.json round trip and validation, the
// temporary-directory + rename scheme (nothing under a final name on failure), rotation by
// save_total_limit, finding the newest checkpoint, removing temporaries of dead processes,
// corrupt training_state.safetensors, and the stop-signal flag.
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <set>

#include "core/error.h"
#include "core/file_io.h"
#include "engine/checkpoint_checksums.h"
#include "engine/checkpoint_dirs.h"
#include "engine/output_dir.h"
#include "engine/signals.h"
#include "engine/training_state.h"
#include "tests/engine/resume_test_util.h"

namespace bert {
namespace {

namespace fs = std::filesystem;
using test::entries;
using test::TinyRun;

TrainerState sample_state() {
  TrainerState s;
  s.global_step = 17;
  s.optimizer_steps = 15;
  s.data = {3, 41};
  s.micro_step = 34;
  s.skipped_updates = 2;
  s.consecutive_nonfinite = 1;
  s.interval_loss = 0.1 + 0.2;  // not representable in few digits
  s.interval_steps = 3;
  s.epoch = 3.0 + 1.0 / 3.0;
  s.seed = 18446744073709551557ull;  // above int64: written as an unsigned integer
  s.data_seed = 7;
  s.total_steps = 100;
  s.warmup_steps = 10;
  s.learning_rate = 3e-5;
  s.batch_size = 12;
  s.gradient_accumulation_steps = 2;
  s.num_windows = 88641;
  s.data_fingerprint = 0xfedcba9876543210ull;
  return s;
}

// A consistent state at `step` (no skipped updates).
TrainerState state_at(int64_t step) {
  TrainerState s = sample_state();
  s.global_step = s.optimizer_steps = step;
  s.skipped_updates = s.consecutive_nonfinite = s.interval_steps = 0;
  return s;
}

TEST_CASE("trainer_state.json reads back exactly and is validated", "[resume]") {
  const TrainerState s = sample_state();
  const std::string json = trainer_state_to_json(s);
  const TrainerState r = parse_trainer_state(json, "trainer_state.json");
  CHECK(r.global_step == s.global_step);
  CHECK(r.optimizer_steps == s.optimizer_steps);
  CHECK(r.data == s.data);
  CHECK(r.micro_step == s.micro_step);
  CHECK(r.skipped_updates == s.skipped_updates);
  CHECK(r.consecutive_nonfinite == s.consecutive_nonfinite);
  CHECK(r.interval_loss == s.interval_loss);  // bit-exact through shortest round-trip digits
  CHECK(r.interval_steps == s.interval_steps);
  CHECK(r.epoch == s.epoch);
  CHECK(r.seed == s.seed);
  CHECK(r.total_steps == s.total_steps);
  CHECK(r.warmup_steps == s.warmup_steps);
  CHECK(r.learning_rate == s.learning_rate);
  CHECK(r.batch_size == s.batch_size);
  CHECK(r.gradient_accumulation_steps == s.gradient_accumulation_steps);
  CHECK(r.num_windows == s.num_windows);
  CHECK(r.data_fingerprint == s.data_fingerprint);
  CHECK(r.train_sampling_strategy == s.train_sampling_strategy);
  CHECK(r.data_seed == s.data_seed);
  CHECK(trainer_state_to_json(r) == json);
  for (const char* sampling : {"group_by_length", "sequential"}) {
    TrainerState ordered = s;
    ordered.train_sampling_strategy = sampling;
    CHECK(parse_trainer_state(trainer_state_to_json(ordered), "t.json").train_sampling_strategy == sampling);
  }

  auto replaced = [&](const std::string& from, const std::string& to) {
    std::string text = json;
    const size_t at = text.find(from);
    REQUIRE(at != std::string::npos);
    return text.replace(at, from.size(), to);
  };
  CHECK_THROWS_WITH(parse_trainer_state(json.substr(0, json.size() / 2), "t.json"), Catch::Contains("t.json"));
  CHECK_THROWS_WITH(parse_trainer_state(replaced("\"micro_step\": 34", "\"micro_step\": -1"), "t.json"),
                    Catch::Contains("micro_step"));
  CHECK_THROWS_WITH(parse_trainer_state(replaced("\"global_step\": 17", "\"global_step\": 1000"), "t.json"),
                    Catch::Contains("global_step") && Catch::Contains("total_steps"));
  CHECK_THROWS_WITH(parse_trainer_state(replaced("\"version\": 2", "\"version\": 3"), "t.json"),
                    Catch::Contains("version"));
  CHECK_THROWS_WITH(parse_trainer_state(replaced("\"data_fingerprint\"", "\"fingerprint\""), "t.json"),
                    Catch::Contains("data_fingerprint") && Catch::Contains("missing"));
  CHECK_THROWS_WITH(parse_trainer_state(replaced("\"learning_rate\": 3", "\"learning_rate\": \"3\" ,\"x\": 3"), "t.json"),
                    Catch::Contains("learning_rate"));
  CHECK_THROWS_AS(parse_trainer_state("[]", "t.json"), InputError);
  // Checkpoints from before data_seed ordered the data by seed.
  const std::string data_seed_field = "\n  \"data_seed\": " + std::to_string(s.data_seed) + ",";
  CHECK(parse_trainer_state(replaced(data_seed_field, ""), "t.json").data_seed == s.seed);
  // Checkpoints from before train_sampling_strategy held group_by_length; before that, nothing:
  // the shuffled order.
  const std::string field = ",\n  \"train_sampling_strategy\": \"random\"";
  CHECK(parse_trainer_state(replaced(field, ""), "t.json").train_sampling_strategy == "random");
  CHECK(parse_trainer_state(replaced(field, ",\n  \"group_by_length\": true"), "t.json").train_sampling_strategy ==
        "group_by_length");
  CHECK(parse_trainer_state(replaced(field, ",\n  \"group_by_length\": false"), "t.json").train_sampling_strategy ==
        "random");
  CHECK_THROWS_WITH(parse_trainer_state(replaced(field, ",\n  \"group_by_length\": 1"), "t.json"),
                    Catch::Contains("group_by_length"));
  CHECK_THROWS_WITH(parse_trainer_state(replaced("\"random\"", "\"shuffled\""), "t.json"),
                    Catch::Contains("train_sampling_strategy") && Catch::Contains("shuffled"));
}

TEST_CASE("a resume with another data order or epoch shape is refused, naming the setting", "[resume]") {
  const TrainerState saved = sample_state();
  TrainerState run = saved;
  CHECK_NOTHROW(check_resume_compatible(saved, run, "ck"));
  run.dataloader_drop_last = !saved.dataloader_drop_last;
  CHECK_THROWS_WITH(check_resume_compatible(saved, run, "ck"), Catch::Contains("--dataloader_drop_last"));
  run = saved;
  run.data_seed = saved.data_seed + 1;
  CHECK_THROWS_WITH(check_resume_compatible(saved, run, "ck"), Catch::Contains("--data_seed"));
  run = saved;
  run.train_sampling_strategy = "sequential";
  CHECK_THROWS_WITH(check_resume_compatible(saved, run, "ck"), Catch::Contains("--train_sampling_strategy"));
  // AdamW's settings: transformers restores them from the checkpoint, so another value is refused.
  run = saved;
  run.adam_beta2 = 0.98;
  CHECK_THROWS_WITH(check_resume_compatible(saved, run, "ck"),
                    Catch::Contains("--adam_beta2 0.999 but this run has 0.98"));
  run = saved;
  run.weight_decay = 0.01;
  CHECK_THROWS_WITH(check_resume_compatible(saved, run, "ck"), Catch::Contains("--weight_decay"));
  // A checkpoint that did not record them (before 2026-12-07) is not held to them.
  const std::string json = trainer_state_to_json(saved);
  const std::string field = "\n  \"adam_epsilon\": 1e-08,";
  REQUIRE(json.find(field) != std::string::npos);
  TrainerState older = parse_trainer_state(
      json.substr(0, json.find(field)) + json.substr(json.find(field) + field.size()), "t.json");
  CHECK(std::isnan(older.adam_epsilon));
  CHECK(older.adam_beta2 == saved.adam_beta2);
  run = saved;
  run.adam_epsilon = 1e-6;
  CHECK_NOTHROW(check_resume_compatible(older, run, "ck"));
  // ...and the checkpoints written after such a resume record this run's value, readable again.
  record_unrecorded_settings(&older, run);
  const TrainerState next = parse_trainer_state(trainer_state_to_json(older), "t.json");
  CHECK(next.adam_epsilon == 1e-6);
  CHECK(next.adam_beta2 == saved.adam_beta2);
}

TEST_CASE("windows_fingerprint sees every field that shapes training", "[resume]") {
  const std::vector<Window> base = test::resume_windows(9);
  const uint64_t reference = windows_fingerprint(base);
  CHECK(windows_fingerprint(test::resume_windows(9)) == reference);
  std::vector<Window> changed = base;
  changed[4].input_ids[2] += 1;
  CHECK(windows_fingerprint(changed) != reference);
  changed = base;
  changed[8].end_position -= 1;
  CHECK(windows_fingerprint(changed) != reference);
  changed = base;
  std::swap(changed[0], changed[1]);
  CHECK(windows_fingerprint(changed) != reference);
  changed = base;
  changed.pop_back();
  CHECK(windows_fingerprint(changed) != reference);
}

TEST_CASE("checkpoints appear complete or not at all, and rotate", "[resume]") {
  const std::string dir = test::fresh_temp_dir("bert_test_checkpoint_dirs");
  const TrainConfig config = test::resume_train_config();
  TinyRun run(config, 5);
  TrainerState state = state_at(4);
  auto write_model = [](const std::string& d) { write_file_atomic(join_path(d, "config.json"), "{}"); };

  const std::string first = save_checkpoint(dir, state, *run.model, *run.optimizer, write_model, 2);
  CHECK(first == join_path(dir, "checkpoint-4"));
  CHECK(entries(dir) == std::set<std::string>{"checkpoint-4"});
  CHECK(entries(first) == std::set<std::string>{"config.json", kEngineStateFile,
                                                kTrainingTensorsFile, kChecksumsFile});
  CHECK(read_trainer_state(first).global_step == 4);

  SECTION("a failed save leaves nothing behind and keeps the older checkpoints") {
    state = state_at(8);
    auto failing = [](const std::string& d) {
      write_file_atomic(join_path(d, "config.json"), "partial");
      throw BertError("disk full");
    };
    CHECK_THROWS_WITH(save_checkpoint(dir, state, *run.model, *run.optimizer, failing, 2), "disk full");
    CHECK(entries(dir) == std::set<std::string>{"checkpoint-4"});
  }
  SECTION("save_total_limit keeps the newest, deleting only after the new one is complete") {
    for (int64_t step : {8, 12, 16}) {
      state = state_at(step);
      save_checkpoint(dir, state, *run.model, *run.optimizer, write_model, 2);
    }
    CHECK(entries(dir) == std::set<std::string>{"checkpoint-12", "checkpoint-16"});
    // Saving an older step (a resume from elsewhere) never deletes the one just saved.
    state = state_at(2);
    save_checkpoint(dir, state, *run.model, *run.optimizer, write_model, 2);
    CHECK(entries(dir) == std::set<std::string>{"checkpoint-2", "checkpoint-16"});
    // The same step again replaces the directory.
    save_checkpoint(dir, state, *run.model, *run.optimizer, write_model, 2);
    CHECK(entries(dir) == std::set<std::string>{"checkpoint-2", "checkpoint-16"});
  }
  SECTION("the newest checkpoint with training state is the one resumed") {
    state = state_at(10);
    save_checkpoint(dir, state, *run.model, *run.optimizer, write_model, 0);
    make_directories(join_path(dir, "checkpoint-20"));  // the model without trainer state (older format)
    write_file_atomic(join_path(dir, "checkpoint-20/model.safetensors"), "x");
    make_directories(join_path(dir, "checkpoint-30.tmp-12345"));  // unfinished
    make_directories(join_path(dir, "checkpoint-x"));
    write_file_atomic(join_path(dir, "checkpoint-40"), "a file");
    // Directories named like checkpoints that train_squad did not write: a name it never
    // writes (leading zeros), a checkpoint holding someone's notes, an empty one.
    fs::copy(join_path(dir, "checkpoint-10"), join_path(dir, "checkpoint-0042"));
    fs::copy(join_path(dir, "checkpoint-10"), join_path(dir, "checkpoint-50"));
    write_file_atomic(join_path(dir, "checkpoint-50/notes.txt"), "mine");
    make_directories(join_path(dir, "checkpoint-60"));
    const std::vector<CheckpointEntry> listed = list_checkpoints(dir);
    REQUIRE(listed.size() == 3);
    CHECK(listed[0].step == 4);
    CHECK(listed[1].step == 10);
    CHECK(listed[2].step == 20);
    CHECK_FALSE(listed[2].has_state);
    CHECK(find_latest_checkpoint(dir) == join_path(dir, "checkpoint-10"));
    CHECK(find_latest_checkpoint(join_path(dir, "absent")).empty());
    // Rotation deletes only checkpoints train_squad wrote, each renamed out of the way first
    // (a checkpoint-N.old.tmp-<pid> is what a crash during a deletion can leave).
    make_directories(join_path(dir, "checkpoint-10.old.tmp-" + std::to_string(::getpid())));
    rotate_checkpoints(dir, 1, {4});
    CHECK(entries(dir) == std::set<std::string>{"checkpoint-4", "checkpoint-30.tmp-12345", "checkpoint-x",
                                                "checkpoint-40", "checkpoint-0042", "checkpoint-50", "checkpoint-60"});
  }
  fs::remove_all(dir);
}

TEST_CASE("leftovers of interrupted runs are removed, a live process's temporary files kept",
          "[resume]") {
  const std::string dir = test::fresh_temp_dir("bert_test_stale_temporaries");
  long dead = 4194000;  // find a pid that no process has
  while (::kill(static_cast<pid_t>(dead), 0) == 0 || errno != ESRCH) ++dead;
  const std::string own = std::to_string(::getpid()), live = std::to_string(::getppid());
  make_directories(join_path(dir, "checkpoint-6.tmp-" + std::to_string(dead)));
  // Temporary directories are written only under output_dir's lock, which the caller holds:
  // an earlier run's whatever their pid (one a live process has taken again).
  make_directories(join_path(dir, "checkpoint-8.tmp-" + live));
  // A temporary file may be another program's (eval_squad writing there): kept while its
  // process runs; a zombie's (ended, not yet reaped) is removed.
  write_file_atomic(join_path(dir, "eval_predictions.json.tmp." + live), "x");
  const pid_t zombie = ::fork();
  if (zombie == 0) ::_exit(0);
  REQUIRE(zombie > 0);
  const auto zombie_state = [&] {  // procfs files report size 0: read as a stream
    std::ifstream in("/proc/" + std::to_string(zombie) + "/stat");
    std::string stat;
    std::getline(in, stat);
    return stat;
  };
  for (int i = 0; i < 500 && zombie_state().find(") Z") == std::string::npos; ++i) ::usleep(10000);
  REQUIRE(zombie_state().find(") Z") != std::string::npos);
  write_file_atomic(join_path(dir, "eval_results.json.tmp." + std::to_string(zombie)), "x");
  // This process has written nothing there: its pid's temporary is an earlier process's (the
  // same pid again, as pid 1 in a container).
  make_directories(join_path(dir, "checkpoint-7.old.tmp-" + own));
  write_file_atomic(join_path(dir, "model.safetensors"), "x");
  write_file_atomic(join_path(dir, "model.safetensors.tmp." + std::to_string(dead)), "x");
  // A checkpoint whose deletion was cut short (only some of its files, none of them the model
  // or the state), and directories named so that are not that: empty, someone else's file.
  make_directories(join_path(dir, "checkpoint-3"));
  write_file_atomic(join_path(dir, "checkpoint-3/config.json"), "{}");
  write_file_atomic(join_path(dir, "checkpoint-3/vocab.txt"), "[PAD]");
  make_directories(join_path(dir, "checkpoint-4"));
  make_directories(join_path(dir, "checkpoint-5"));
  write_file_atomic(join_path(dir, "checkpoint-5/config.json"), "{}");
  write_file_atomic(join_path(dir, "checkpoint-5/notes.txt"), "mine");
  CHECK(is_incomplete_checkpoint(dir, "checkpoint-3"));
  CHECK_FALSE(is_incomplete_checkpoint(dir, "checkpoint-4"));
  CHECK_FALSE(is_incomplete_checkpoint(dir, "checkpoint-5"));
  CHECK(remove_stale_temporaries(dir) == 6);
  ::waitpid(zombie, nullptr, 0);
  CHECK(entries(dir) == std::set<std::string>{"eval_predictions.json.tmp." + live, "model.safetensors",
                                              "checkpoint-4", "checkpoint-5"});
  fs::remove_all(dir);
}

TEST_CASE("a checkpoint that lost its training_state.json is damaged, not model-only", "[resume]") {
  const std::string dir = test::fresh_temp_dir("bert_test_damaged_state");
  const std::string model_only = join_path(dir, "checkpoint-4"), damaged = join_path(dir, "checkpoint-8");
  for (const std::string& checkpoint : {model_only, damaged}) {
    make_directories(checkpoint);
    write_file_atomic(join_path(checkpoint, "model.safetensors"), "x");
  }
  write_file_atomic(join_path(model_only, kChecksumsFile), R"({"model.safetensors": "0"})");
  // Both list Hugging Face's trainer_state.json (a model-only checkpoint has one too).
  write_file_atomic(join_path(model_only, kChecksumsFile),
                    R"({"model.safetensors": "0", "trainer_state.json": "0"})");
  write_file_atomic(
      join_path(damaged, kChecksumsFile),
      R"({"model.safetensors": "0", "trainer_state.json": "0", "training_state.json": "0"})");
  const std::vector<CheckpointEntry> listed = list_checkpoints(dir);
  REQUIRE(listed.size() == 2);
  CHECK_FALSE(listed[0].has_state);
  CHECK(listed[1].has_state);
  // Resuming the newest is refused naming the missing file, not passed over for an older one.
  CHECK(find_latest_checkpoint(dir) == damaged);
  CHECK_THROWS_WITH(read_trainer_state(damaged),
                    Catch::Contains(join_path(damaged, kEngineStateFile)) &&
                        Catch::Contains("the checkpoint is damaged"));
  CHECK_THROWS_WITH(read_trainer_state(model_only), Catch::Contains("--save_only_model"));
  fs::remove_all(join_path(damaged, kChecksumsFile));
  write_file_atomic(join_path(damaged, kTrainingTensorsFile), "x");  // the optimizer's state, no trainer state
  CHECK_THROWS_WITH(read_trainer_state(damaged), Catch::Contains("the checkpoint is damaged"));
  fs::remove_all(dir);
}

TEST_CASE("output_dir: a finished run's checkpoints resume only when asked, model-only ones never",
          "[resume]") {
  const std::string dir = test::fresh_temp_dir("bert_test_output_dir_policy");
  const TrainConfig config = test::resume_train_config();
  TinyRun run(config, 5);
  auto write_model = [](const std::string& d) {
    write_file_atomic(join_path(d, "config.json"), "{}");
    write_file_atomic(join_path(d, "model.safetensors"), "x");
  };
  // Checkpoints saved without training state (--save_only_model), and nothing else.
  save_checkpoint(dir, state_at(3), *run.model, *run.optimizer, write_model, 0,
                  /*model_only=*/true);
  save_checkpoint(dir, state_at(6), *run.model, *run.optimizer, write_model, 0,
                  /*model_only=*/true);
  OutputDirSurvey survey = survey_output_dir(dir);
  CHECK(survey.model_only == std::vector<std::string>{"checkpoint-3", "checkpoint-6"});
  CHECK(survey.resumable.empty());
  CHECK_THAT(output_dir_refusal(dir, survey), Catch::Contains("checkpoint-3, checkpoint-6") &&
                                                  Catch::Contains("--save_only_model") &&
                                                  Catch::Contains("--overwrite_output_dir"));
  CHECK(output_dir_refusal(dir, survey, /*explicit_resume=*/true).empty());
  // With a checkpoint that has its state, the run resumes from it (no refusal) ...
  save_checkpoint(dir, state_at(9), *run.model, *run.optimizer, write_model, 0);
  survey = survey_output_dir(dir);
  CHECK(survey.resumable == std::vector<std::string>{"checkpoint-9"});
  CHECK(output_dir_refusal(dir, survey).empty());
  // ... until the run's own model is there too (it finished training, then died evaluating):
  // refused unless the resume is asked for, which the refusal says.
  write_model(dir);
  survey = survey_output_dir(dir);
  CHECK_THAT(output_dir_refusal(dir, survey),
             Catch::Contains("model or results of an earlier run") &&
                 Catch::Contains("--resume_from_checkpoint latest") &&
                 Catch::Contains("checkpoint-9"));
  CHECK(output_dir_refusal(dir, survey, /*explicit_resume=*/true).empty());
  // The files of a SQuAD v2 evaluation and the temporary of a model card whose write was killed
  // are this engine's too (they were taken for someone else's: no resume, no overwrite).
  write_file_atomic(join_path(dir, "eval_null_odds.json"), "{}");
  write_file_atomic(join_path(dir, "predict_null_odds.json"), "{}");
  write_file_atomic(join_path(dir, "README.md.tmp.4194999"), "---");
  survey = survey_output_dir(dir);
  CHECK(survey.foreign.empty());
  CHECK(output_dir_refusal(dir, survey, /*explicit_resume=*/true).empty());
  // Someone else's file is refused either way.
  write_file_atomic(join_path(dir, "notes.txt"), "mine");
  CHECK_THAT(output_dir_refusal(dir, survey_output_dir(dir), true), Catch::Contains("notes.txt"));
  fs::remove_all(dir);
}

TEST_CASE("a checkpoint of Hugging Face's Trainer is refused as one, with what to do instead", "[resume]") {
  // What transformers 5.25's Trainer saves in checkpoint-N (its trainer_state.json abridged).
  const std::string dir = test::fresh_temp_dir("bert_test_transformers_checkpoint") + "/checkpoint-3";
  make_directories(dir);
  write_file_atomic(join_path(dir, kTrainerStateFile),
                    "{\n  \"best_global_step\": null,\n  \"global_step\": 3,\n  \"log_history\": []\n}\n");
  write_file_atomic(join_path(dir, "config.json"), "{}");
  const TrainConfig config = test::resume_train_config();
  TinyRun run(config, 5);
  for (const bool with_pickles : {false, true}) {
    if (with_pickles) write_file_atomic(join_path(dir, "optimizer.pt"), "pickle");
    CHECK_THROWS_WITH(read_trainer_state(dir), Catch::Contains(dir) && Catch::Contains("Hugging Face's Trainer") &&
                                                   Catch::Contains("--model_name_or_path"));
    CHECK_THROWS_WITH(load_checkpoint(dir, *run.model, *run.optimizer), Catch::Contains("Hugging Face's Trainer"));
  }
}

TEST_CASE("a checkpoint of the layout before 2026-12-07 reads, and its damage names its own file",
          "[resume]") {
  // Then the state was trainer_state.json, in this engine's format, and there was no log.
  const std::string dir = test::fresh_temp_dir("bert_test_old_layout");
  const TrainConfig config = test::resume_train_config();
  TinyRun run(config, 5);
  const std::string checkpoint =
      save_checkpoint(dir, state_at(3), *run.model, *run.optimizer, nullptr, 0);
  const std::string old_state = join_path(checkpoint, kTrainerStateFile);
  fs::rename(join_path(checkpoint, kEngineStateFile), old_state);
  write_checkpoint_checksums(checkpoint);
  CHECK(engine_state_file(checkpoint) == old_state);
  CHECK(read_trainer_state(checkpoint).global_step == 3);
  CHECK_NOTHROW(load_checkpoint(checkpoint, *run.model, *run.optimizer));

  const std::string text = read_file(old_state);
  std::string damaged = text;
  damaged[damaged.find("\"global_step\": 3") + 15] = '4';
  write_file_atomic(old_state, damaged);
  CHECK(engine_state_file(checkpoint) == old_state);  // its checksums.json says so
  CHECK_THROWS_WITH(read_trainer_state(checkpoint), Catch::Contains(old_state));
  fs::remove(old_state);
  CHECK(checkpoint_written_with_state(checkpoint));
  CHECK_THROWS_WITH(read_trainer_state(checkpoint),
                    Catch::Contains(old_state) && Catch::Contains("the checkpoint is damaged"));
  fs::remove_all(dir);
}

TEST_CASE("a damaged training_state.safetensors is refused naming the file", "[resume]") {
  const std::string dir = test::fresh_temp_dir("bert_test_damaged_state");
  const TrainConfig config = test::resume_train_config();
  TinyRun run(config, 5);
  const TrainerState state = state_at(3);
  const std::string checkpoint = save_checkpoint(dir, state, *run.model, *run.optimizer, nullptr, 0);
  const std::string tensors = join_path(checkpoint, kTrainingTensorsFile);
  const std::string bytes = read_file(tensors);
  write_file_atomic(tensors, bytes.substr(0, bytes.size() - 10));
  CHECK_THROWS_WITH(load_checkpoint(checkpoint, *run.model, *run.optimizer), Catch::Contains(tensors));
  fs::remove(tensors);
  CHECK_THROWS_WITH(load_checkpoint(checkpoint, *run.model, *run.optimizer),
                    Catch::Contains(tensors) && Catch::Contains("missing"));
  fs::remove(join_path(checkpoint, kEngineStateFile));
  CHECK_THROWS_WITH(read_trainer_state(checkpoint), Catch::Contains(kEngineStateFile));
  CHECK_THROWS_WITH(read_trainer_state(join_path(dir, "nowhere")), Catch::Contains("does not exist"));
  // The double-precision oracle cannot be checkpointed in this fp32 format.
  auto oracle = make_cpu_backend(true);
  CHECK_THROWS_WITH(check_checkpointable(*oracle), Catch::Contains("cpu-double"));
  fs::remove_all(dir);
}

TEST_CASE("every file of a checkpoint is checksummed and verified on resume", "[resume]") {
  const std::string dir = test::fresh_temp_dir("bert_test_checkpoint_checksums");
  const TrainConfig config = test::resume_train_config();
  TinyRun run(config, 5);
  auto write_model = [](const std::string& d) { write_file_atomic(join_path(d, "config.json"), "{\"a\": 1}"); };
  const std::string checkpoint = save_checkpoint(dir, state_at(3), *run.model, *run.optimizer, write_model, 0);
  const std::string tensors = join_path(checkpoint, kTrainingTensorsFile);
  const std::string state_file = join_path(checkpoint, kEngineStateFile);
  const std::string original_tensors = read_file(tensors), original_state = read_file(state_file);
  CHECK_NOTHROW(load_checkpoint(checkpoint, *run.model, *run.optimizer));

  SECTION("a flipped exponent bit in the training tensors") {
    std::string bytes = original_tensors;
    bytes[bytes.size() - 1] ^= 0x40;  // the last float's top exponent bit (little-endian)
    write_file_atomic(tensors, bytes);
    CHECK_THROWS_WITH(load_checkpoint(checkpoint, *run.model, *run.optimizer),
                      Catch::Contains(tensors) && Catch::Contains("checksum mismatch"));
  }
  SECTION("an in-range edit of trainer_state.json") {
    std::string text = original_state;
    const std::string field = "\"data_index\": 41";
    const size_t at = text.find(field);
    REQUIRE(at != std::string::npos);
    text.replace(at, field.size(), "\"data_index\": 40");  // parses, passes every range check
    CHECK_NOTHROW(parse_trainer_state(text, state_file));
    write_file_atomic(state_file, text);
    CHECK_THROWS_WITH(read_trainer_state(checkpoint), Catch::Contains(state_file) && Catch::Contains("checksum"));
    CHECK_THROWS_WITH(load_checkpoint(checkpoint, *run.model, *run.optimizer), Catch::Contains(state_file));
  }
  SECTION("a model file cut short") {
    write_file_atomic(join_path(checkpoint, "config.json"), "{}");
    CHECK_THROWS_WITH(load_checkpoint(checkpoint, *run.model, *run.optimizer),
                      Catch::Contains(checkpoint + "/config.json") && Catch::Contains("bytes"));
  }
  SECTION("a file added after the save") {
    write_file_atomic(join_path(checkpoint, "model.safetensors"), "x");
    CHECK_THROWS_WITH(load_checkpoint(checkpoint, *run.model, *run.optimizer),
                      Catch::Contains(checkpoint + "/model.safetensors") && Catch::Contains("not listed"));
  }
  SECTION("checksums.json missing") {
    fs::remove(join_path(checkpoint, kChecksumsFile));
    CHECK_THROWS_WITH(read_trainer_state(checkpoint), Catch::Contains(kChecksumsFile) && Catch::Contains("missing"));
  }
  SECTION("master weights holding NaN, with matching checksums, are refused") {
    // Saved from a model whose parameters hold a NaN (the trainer never saves one: this
    // stands for a checkpoint made by other means).
    std::map<std::string, std::vector<float>> params = run.model->parameters();
    params.begin()->second[0] = std::numeric_limits<float>::quiet_NaN();
    run.model->set_parameters(params);
    const std::string bad = save_checkpoint(dir, state_at(4), *run.model, *run.optimizer, write_model, 0);
    CHECK_THROWS_WITH(load_checkpoint(bad, *run.model, *run.optimizer),
                      Catch::Contains(kTrainingTensorsFile) && Catch::Contains("master/" + params.begin()->first) &&
                          Catch::Contains("non-finite"));
  }
  fs::remove_all(dir);
}

TEST_CASE("SIGTERM and SIGINT only raise the stop flag", "[resume]") {
  install_stop_signal_handlers();
  CHECK_FALSE(stop_requested());
  std::raise(SIGTERM);
  CHECK(stop_signal() == SIGTERM);
  CHECK(exit_status_for_signal(stop_signal()) == 143);
  clear_stop_request();
  std::raise(SIGINT);
  CHECK(stop_signal() == SIGINT);
  CHECK(exit_status_for_signal(SIGINT) == 130);
  CHECK(std::string(signal_name(SIGINT)) == "SIGINT");
  restore_default_signal_handlers();
  clear_stop_request();
}

}  // namespace
}  // namespace bert
