// train_squad under mpirun on the CPU (MPI all-reduce), through the real binaries:
//   2 ranks × per-device batch b give the losses, gradient norms, parameters and evaluation of
//   1 process × 2b (double-precision backend: within 1e-6; float: within float noise), rank 0
//   alone writes output_dir, a checkpoint resumes under another world size, and an error on one
//   rank or a rank that leaves the collectives ends the whole job with a message naming it.
// Open MPI as root (containers, CI) needs --allow-run-as-root; the tests pass it.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <regex>

#include "core/file_io.h"
#include "engine/checkpoint_dirs.h"
#include "io/safetensors.h"
#include "engine/training_state.h"
#include "tests/apps/test_train_failures_util.h"

namespace bert {
namespace {

namespace fs = std::filesystem;
using test::CommandResult;

const std::string& root() {
  static const std::string dir = test::scratch_with_tiny_model("bert_test_train_dp_");
  return dir;
}

std::string mpirun(int ranks) {
  return std::string(MPIEXEC_BIN) + " --allow-run-as-root --oversubscribe -np " + std::to_string(ranks) +
         " -x OPENBLAS_NUM_THREADS=1 ";
}

// 26 windows, 8 steps of a global batch of 8: the 4th global batch of each epoch is short
// (2 windows: one per rank), so uneven slices are covered; dropout on; accumulation 1 or 2.
// The float backend saves checkpoint-4 (the double one cannot checkpoint: fp32 state).
std::string flags(const std::string& device, int batch, int accumulation, const std::string& output_dir,
                  const std::string& save_steps = "") {
  return " --device " + device + " --model_name_or_path " + root() + "/model --train_file " +
         test::source_path("data/samples/squad-mini.json") + " --validation_file " +
         test::source_path("data/samples/squad-mini.json") +
         " --do_train --do_eval --per_device_train_batch_size " + std::to_string(batch) +
         " --gradient_accumulation_steps " + std::to_string(accumulation) +
         " --learning_rate 1e-3 --max_steps 8 --warmup_steps 2 --weight_decay 0.01 --logging_steps 1"
         " --seed 7 --max_seq_length 96 --doc_stride 48 --max_train_samples 26 --save_steps " +
         (save_steps.empty() ? std::string(device == "cpu" ? "4" : "0") : save_steps) + " --output_dir " + output_dir;
}

struct LoggedStep {
  double loss = 0, grad_norm = 0;
};

std::vector<LoggedStep> logged_steps(const std::string& output_dir) {
  std::vector<LoggedStep> steps;
  const std::regex loss(R"("loss": ([^,}]*))"), norm(R"("grad_norm": ([^,}]*))");
  for (const std::string& line : read_lines(output_dir + "/trainer_log.jsonl")) {
    std::smatch a, b;
    if (!std::regex_search(line, a, loss) || !std::regex_search(line, b, norm)) continue;
    steps.push_back({std::stod(a[1]), std::stod(b[1])});
  }
  return steps;
}

double relative_difference(double a, double b) { return std::fabs(a - b) / std::max(1e-12, std::fabs(b)); }

// The largest |a - b| over every parameter of two model.safetensors.
double max_parameter_difference(const std::string& a_dir, const std::string& b_dir) {
  const SafetensorsFile a = SafetensorsFile::open(a_dir + "/model.safetensors");
  const SafetensorsFile b = SafetensorsFile::open(b_dir + "/model.safetensors");
  REQUIRE(a.names() == b.names());
  double worst = 0;
  for (const std::string& name : a.names()) {
    const std::vector<double> x = a.read_f64(name), y = b.read_f64(name);
    REQUIRE(x.size() == y.size());
    for (size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::fabs(x[i] - y[i]));
  }
  return worst;
}

double eval_number(const std::string& output_dir, const std::string& key) {
  const std::string text = read_file(output_dir + "/eval_results.json");
  std::smatch m;
  REQUIRE(std::regex_search(text, m, std::regex("\"" + key + "\": ([0-9.eE+-]+)")));
  return std::stod(m[1]);
}

void check_same_run(const std::string& parallel, const std::string& single, double loss_tol, double param_tol) {
  const std::vector<LoggedStep> p = logged_steps(parallel), s = logged_steps(single);
  REQUIRE(s.size() == 8);
  REQUIRE(p.size() == s.size());  // rank 0 alone wrote the log
  for (size_t i = 0; i < s.size(); ++i) {
    INFO("step " << i + 1 << ": loss " << p[i].loss << " vs " << s[i].loss << ", grad norm " << p[i].grad_norm
                 << " vs " << s[i].grad_norm);
    CHECK(relative_difference(p[i].loss, s[i].loss) <= loss_tol);
    CHECK(relative_difference(p[i].grad_norm, s[i].grad_norm) <= loss_tol);
  }
  CHECK(max_parameter_difference(parallel, single) <= param_tol);
  if (fs::exists(single + "/checkpoint-4"))
    CHECK(max_parameter_difference(parallel + "/checkpoint-4", single + "/checkpoint-4") <= param_tol);
  CHECK(std::fabs(eval_number(parallel, "eval_f1") - eval_number(single, "eval_f1")) <= 1e-6);
  CHECK(std::fabs(eval_number(parallel, "eval_exact_match") - eval_number(single, "eval_exact_match")) <= 1e-6);
}

CommandResult run(const std::string& command) {
  const CommandResult result = test::run_command(command);
  INFO(command << "\n" << result.output);
  REQUIRE(result.status == 0);
  return result;
}

TEST_CASE("mpirun -np 2 with batch b trains exactly as one process with batch 2b", "[app][mpi]") {
  for (const int accumulation : {1, 2}) {
    DYNAMIC_SECTION("double precision, accumulation " << accumulation) {
      const std::string single = root() + "/single-" + std::to_string(accumulation);
      const std::string parallel = root() + "/parallel-" + std::to_string(accumulation);
      run(test::train_squad_bin() + flags("cpu-double", 4 * 2 / accumulation, accumulation, single));
      const CommandResult result =
          run(mpirun(2) + test::train_squad_bin() + flags("cpu-double", 4 / accumulation, accumulation, parallel));
      CHECK_THAT(result.output, Catch::Contains("x 2 ranks (mpi)"));
      // Parameters are saved as F32: the double runs agree to float rounding.
      check_same_run(parallel, single, 1e-9, 1e-6);
    }
  }
  SECTION("reduce_lr_on_plateau: rank 0 evaluates, every rank takes the rate it decides") {
    const std::string single = root() + "/single-plateau", parallel = root() + "/parallel-plateau";
    const std::string plateau = " --eval_strategy steps --eval_steps 2 --metric_for_best_model f1 --max_eval_samples 8"
                                " --lr_scheduler_type reduce_lr_on_plateau --lr_scheduler_kwargs '{\"patience\": 0}'";
    run(test::train_squad_bin() + flags("cpu-double", 8, 1, single) + plateau);
    run(mpirun(2) + test::train_squad_bin() + flags("cpu-double", 4, 1, parallel) + plateau);
    check_same_run(parallel, single, 1e-9, 1e-6);
    const auto rates = [](const std::string& dir) {
      std::vector<std::string> out;
      const std::regex rate(R"(^\{"step": \d+, .*"learning_rate": ([^,}]*))");
      for (const std::string& line : read_lines(dir + "/trainer_log.jsonl")) {
        std::smatch m;
        if (std::regex_search(line, m, rate)) out.push_back(m[1]);
      }
      return out;
    };
    REQUIRE(rates(single).size() == 8);
    CHECK(rates(parallel) == rates(single));
  }
  SECTION("float") {
    const std::string single = root() + "/single-float", parallel = root() + "/parallel-float";
    const std::string count_tokens = " --include_num_input_tokens_seen non_padding";
    run(test::train_squad_bin() + flags("cpu", 8, 1, single) + count_tokens);
    run(mpirun(2) + test::train_squad_bin() + flags("cpu", 4, 1, parallel) + count_tokens);
    // Float sums in another order; Adam's normalisation amplifies that where gradients cancel.
    check_same_run(parallel, single, 1e-5, 1e-4);
    // The input tokens are counted over all ranks, as Trainer gathers them.
    const std::regex count("\n  \"num_input_tokens_seen\": ([0-9]+),");
    std::smatch a, b;
    const std::string single_state = read_file(single + "/trainer_state.json");
    const std::string parallel_state = read_file(parallel + "/trainer_state.json");
    REQUIRE(std::regex_search(single_state, a, count));
    REQUIRE(std::regex_search(parallel_state, b, count));
    CHECK(std::stoll(a[1]) > 26 * 20);  // 8 steps of 8 windows: more than 2 epochs of 26
    CHECK(a[1] == b[1]);
  }
}

TEST_CASE("rank 0 alone writes output_dir; a checkpoint resumes under another world size", "[app][mpi]") {
  const std::string parallel = root() + "/resume-parallel", single = root() + "/resume-single";
  run(mpirun(2) + test::train_squad_bin() + flags("cpu", 4, 1, parallel) + " --stop_after_steps 4");
  // One writer: no temporaries or duplicate checkpoints, one log line per step.
  CHECK(list_checkpoints(parallel).size() == 1);
  CHECK(read_lines(parallel + "/trainer_log.jsonl").size() == 4);
  // Continued on 2 ranks again (a copy): rank 0 alone says where it resumes from.
  const std::string again = root() + "/resume-parallel-again";
  fs::remove_all(again);
  fs::copy(parallel, again, fs::copy_options::recursive);
  const CommandResult two = run(mpirun(2) + test::train_squad_bin() + flags("cpu", 4, 1, again));
  size_t said = 0;
  for (size_t at = two.output.find("holds checkpoints: resuming"); at != std::string::npos;
       at = two.output.find("holds checkpoints: resuming", at + 1))
    ++said;
  CHECK(said == 1);
  // Continue on one process with the same global batch (8).
  const CommandResult resumed = run(test::train_squad_bin() + flags("cpu", 8, 1, parallel));
  CHECK_THAT(resumed.output, Catch::Contains("resuming from"));
  run(test::train_squad_bin() + flags("cpu", 8, 1, single));
  check_same_run(parallel, single, 1e-5, 1e-4);
}

TEST_CASE("an error on one rank ends every rank, naming it", "[app][mpi]") {
  // MPMD launch: rank 1 gets a training file that does not exist.
  const std::string out = root() + "/error";
  const std::string bad = flags("cpu", 4, 1, out);
  const std::string missing = std::regex_replace(bad, std::regex("--train_file [^ ]+"), "--train_file /nonexistent.json");
  const CommandResult result = test::run_command(std::string(MPIEXEC_BIN) + " --allow-run-as-root --oversubscribe -np 1 " +
                                                 test::train_squad_bin() + bad + " : -np 1 " +
                                                 test::train_squad_bin() + missing);
  INFO(result.output);
  CHECK(result.status != 0);
  CHECK_THAT(result.output, Catch::Contains("rank 1") && Catch::Contains("/nonexistent.json"));
}

// An MPMD launch: rank 0 runs train_squad with `flags0`, rank 1 with `flags1`.
CommandResult run_mpmd(const std::string& flags0, const std::string& flags1) {
  const std::string launch = std::string(MPIEXEC_BIN) + " --allow-run-as-root --oversubscribe -x OPENBLAS_NUM_THREADS=1 ";
  return test::run_command(launch + "-np 1 " + test::train_squad_bin() + flags0 + " : -np 1 " + test::train_squad_bin() +
                           flags1);
}

TEST_CASE("ranks launched with different settings or data all stop before step 1, naming the difference",
          "[app][mpi]") {
  const std::string out = root() + "/disagree";
  // A stalled collective would end only at --ddp_timeout: 300 s, far beyond the few seconds
  // these runs take even on a loaded 2-core machine, so the time bound below cannot be reached
  // by a slow run, only by a stall.
  const std::string common = flags("cpu", 4, 1, out, "0") + " --ddp_timeout 300";
  struct Case {
    const char* what;
    std::string rank1_flags;
    int status;
    std::string named;
  };
  // Another model directory whose vocabulary is larger: the parameter broadcast would fail.
  const std::string bigger = root() + "/model-bigger-vocab";
  fs::create_directories(bigger);
  write_file_atomic(bigger + "/config.json", test::tiny_config_json(16, 32, 0.1f, 30524));
  write_file_atomic(bigger + "/vocab.txt",
                    read_file(test::source_path("data/samples/tiny-bert-uncased/vocab.txt")) + "[extra1]\n[extra2]\n");
  const std::string other_data = root() + "/other-data.json";
  std::string text = read_file(test::source_path("data/samples/squad-mini.json"));
  const size_t at = text.find("\"question\": \"");
  REQUIRE(at != std::string::npos);
  text.insert(at + 13, "Really, ");  // one question changed: the same count of windows
  write_file_atomic(other_data, text);
  // The common flags with one flag's value replaced.
  auto with = [&](const std::string& flag, const std::string& value) {
    const std::string replaced = std::regex_replace(common, std::regex("--" + flag + " [^ ]+"), "--" + flag + " " + value);
    REQUIRE(replaced != common);
    return replaced;
  };
  const std::vector<Case> cases = {
      {"seed", with("seed", "8"), 2, "--seed: rank 0 has 7, rank 1 has 8"},
      {"learning rate", with("learning_rate", "0.002"), 2, "--learning_rate"},
      {"batch", with("per_device_train_batch_size", "2"), 2, "--per_device_train_batch_size"},
      {"accumulation", with("gradient_accumulation_steps", "2"), 2, "--gradient_accumulation_steps"},
      {"max_steps", with("max_steps", "9"), 2, "--max_steps"},
      {"group_by_length", common + " --group_by_length", 2,
       "--train_sampling_strategy: rank 0 has random, rank 1 has group_by_length"},
      {"lr_scheduler_type", common + " --lr_scheduler_type constant", 2, "--lr_scheduler_type"},
      {"config.json", with("model_name_or_path", bigger), 1, "config.json vocab_size: rank 0 has 30522, rank 1 has 30524"},
      {"training data", with("train_file", other_data), 1, "the training windows"},
  };
  for (const Case& c : cases) {
    DYNAMIC_SECTION(c.what) {
      fs::remove_all(out);
      const auto started = std::chrono::steady_clock::now();
      const CommandResult result = run_mpmd(common, c.rank1_flags);
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      INFO(result.output);
      CHECK(result.status == c.status);
      const std::vector<std::string> errors = test::error_lines(result.output);
      REQUIRE_FALSE(errors.empty());
      for (const std::string& line : errors)
        CHECK_THAT(line,
                   Catch::Contains("ranks disagree on " + c.named) && Catch::StartsWith("rank "));
      CHECK(seconds < 200);  // not the --ddp_timeout of a stalled collective
      CHECK_THAT(result.output, !Catch::Contains("did not complete within"));
      CHECK_FALSE(fs::exists(out + "/trainer_log.jsonl"));  // stopped before step 1
      CHECK_FALSE(fs::exists(out + "/model.safetensors"));
    }
  }
}

TEST_CASE("ranks that would resume from different copies of a checkpoint stop before step 1",
          "[app][mpi]") {
  // Ranks on other machines may see another copy under the same path (node-local or stale
  // storage): the same relative --output_dir in two working directories, whose checkpoint-4
  // were trained with other seeds.
  const std::string a = root() + "/copies-a", b = root() + "/copies-b";
  for (const auto& [dir, seed] : {std::pair<std::string, std::string>{a, "7"}, {b, "8"}}) {
    fs::remove_all(dir);
    make_directories(dir);
    const CommandResult made = test::run_command(
        "cd " + dir + " && " + test::train_squad_bin() +
        std::regex_replace(flags("cpu", 8, 1, "out"), std::regex("--seed 7"), "--seed " + seed) +
        " --stop_after_steps 4");
    INFO(made.output);
    REQUIRE(path_exists(dir + "/out/checkpoint-4/checksums.json"));
  }
  const std::string resume = " " + test::train_squad_bin() + flags("cpu", 4, 1, "out") +
                             " --resume_from_checkpoint out/checkpoint-4 --ddp_timeout 300";
  const std::string launch =
      std::string(MPIEXEC_BIN) + " --allow-run-as-root --oversubscribe -x OPENBLAS_NUM_THREADS=1 ";
  const CommandResult result =
      test::run_command(launch + "-np 1 -wdir " + a + resume + " : -np 1 -wdir " + b + resume);
  INFO(result.output);
  CHECK(result.status == 1);
  CHECK_THAT(result.output,
             Catch::Contains("ranks disagree on the resumed checkpoint's files: rank 0 has "
                             "checksums.json crc32c"));
  CHECK_FALSE(fs::exists(a + "/out/checkpoint-8"));
  CHECK_FALSE(fs::exists(a + "/out/model.safetensors"));
}

TEST_CASE("under a launcher, early errors name the rank and --help never ends a rank with 0",
          "[app][mpi]") {
  // The launcher's variables alone (no mpirun): what each rank sees before MPI_Init.
  const std::string rank1 =
      "OMPI_COMM_WORLD_SIZE=2 OMPI_COMM_WORLD_RANK=1 " + test::train_squad_bin();
  CommandResult result = test::run_command(rank1 + " --learnin_rate 1e-3");
  CHECK(result.status == 2);
  CHECK_THAT(result.output, Catch::StartsWith("rank 1: error: unknown flag --learnin_rate"));
  // A rank that exits 0 before MPI_Init can leave the others waiting in it for good.
  result = test::run_command(rank1 + " --help");
  CHECK(result.status == 2);
  CHECK_THAT(
      result.output,
      Catch::Contains("rank 1: error: --help given to a rank of an MPI launch of 2 processes"));
  // A PMIx launch that gives no size may have several ranks too.
  result = test::run_command("PMIX_RANK=0 " + test::train_squad_bin() + " --help");
  CHECK(result.status == 2);
  CHECK_THAT(result.output,
             Catch::Contains("rank 0: error: --help given to a rank of an MPI launch: run"));
  result = test::run_command(test::train_squad_bin() + " --help");
  CHECK(result.status == 0);
}

TEST_CASE("rank 0's refusal of a non-empty output_dir ends every rank at once", "[app][mpi]") {
  // Ranks on other machines do not see rank 0's output_dir: rank 1 gets an empty one here.
  const std::string out0 = root() + "/refused-0", out1 = root() + "/refused-1";
  fs::remove_all(out0);
  fs::remove_all(out1);
  make_directories(out0);
  write_file_atomic(out0 + "/notes.txt", "mine");
  const std::string common = flags("cpu", 4, 1, out0, "0") + " --ddp_timeout 300";
  const auto started = std::chrono::steady_clock::now();
  const CommandResult result = run_mpmd(common, std::regex_replace(common, std::regex("--output_dir [^ ]+"),
                                                                   "--output_dir " + out1));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  INFO(result.output);
  CHECK(result.status == 2);
  CHECK(seconds < 200);  // rank 1 did not wait out --ddp_timeout
  CHECK_THAT(result.output, !Catch::Contains("did not complete within"));
  CHECK_THAT(result.output, Catch::Contains("holds files train_squad did not write (notes.txt)"));
  // Each rank states rank 0's reason (rank 1's line ends "(refused by rank 0)"): mpirun ends the
  // job when the first rank exits, so only one of the two lines may get out.
  for (const std::string& line : test::error_lines(result.output))
    CHECK_THAT(line, Catch::Contains(out0 + " is not empty and holds files train_squad did not write (notes.txt)"));
  CHECK(read_file(out0 + "/notes.txt") == "mine");
  CHECK_FALSE(fs::exists(out0 + "/training_args.json"));  // nothing written before the verdict
}

TEST_CASE("SIGTERM to one rank stops every rank with exit 143 after a checkpoint", "[app][mpi][signal]") {
  const std::string out = root() + "/sigterm-one-rank";
  fs::remove_all(out);
  const std::string common = std::regex_replace(flags("cpu", 4, 1, out, "0"), std::regex("--max_steps 8"),
                                                "--max_steps 100000");
  // Each rank under a shell that records its exit status; rank 1's shell sends SIGTERM to its
  // train_squad once rank 0 has logged a step. Rank 0 never receives a signal. Open MPI ends the
  // job when the first rank exits non-zero, killing the other's shell, perhaps before it has
  // written its status: so each shell, once its status is written, waits (at most 20 s) for the
  // other's before it exits.
  const std::string status0 = root() + "/rank0.status", status1 = root() + "/rank1.status";
  fs::remove(status0);
  fs::remove(status1);
  auto record_and_wait = [](const std::string& mine, const std::string& other) {
    return "s=$?; echo $s > " + mine + "; i=0; while [ ! -s " + other +
           " ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done; exit $s";
  };
  const std::string rank0 = "sh -c '\"$@\"; " + record_and_wait(status0, status1) + "' sh " +
                            test::train_squad_bin() + common;
  const std::string rank1 = "sh -c '\"$@\" & p=$!; while [ ! -s " + out + "/trainer_log.jsonl ] && kill -0 $p 2>/dev/null; do sleep 0.05; done; "
                            "kill -TERM $p; wait $p; " + record_and_wait(status1, status0) + "' sh " +
                            test::train_squad_bin() + common;
  const CommandResult result = test::run_command(std::string(MPIEXEC_BIN) +
                                                 " --allow-run-as-root --oversubscribe -x OPENBLAS_NUM_THREADS=1 -np 1 " +
                                                 rank0 + " : -np 1 " + rank1);
  INFO(result.output);
  CHECK(result.status == 143);
  REQUIRE(fs::exists(status0));
  REQUIRE(fs::exists(status1));
  CHECK(read_file(status0) == "143\n");
  CHECK(read_file(status1) == "143\n");
  CHECK_THAT(result.output, Catch::Contains("stopped by SIGTERM"));
  CHECK(list_checkpoints(out).size() == 1);
}

TEST_CASE("a rank that stops joining the collectives ends the job after --ddp_timeout", "[app][mpi]") {
  // Rank 1 is frozen (SIGSTOP) once a step is logged; rank 0 waits in the next collective until
  // the watchdog fires. (Ranks launched with different --stop_after_steps no longer get that
  // far: they disagree before step 1.)
  const std::string out = root() + "/stall";
  fs::remove_all(out);
  const std::string common = std::regex_replace(flags("cpu", 4, 1, out, "0"), std::regex("--max_steps 8"),
                                                "--max_steps 100000") + " --ddp_timeout 3";
  const std::string frozen = "sh -c '\"$@\" & p=$!; while [ ! -s " + out +
                             "/trainer_log.jsonl ] && kill -0 $p 2>/dev/null; do sleep 0.05; done; kill -STOP $p; "
                             "wait $p' sh " + test::train_squad_bin() + common;
  const auto started = std::chrono::steady_clock::now();
  const CommandResult result = test::run_command(std::string(MPIEXEC_BIN) +
                                                 " --allow-run-as-root --oversubscribe -x OPENBLAS_NUM_THREADS=1 -np 1 " +
                                                 test::train_squad_bin() + common + " : -np 1 " + frozen);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  INFO(result.output);
  CHECK(result.status != 0);
  CHECK_THAT(result.output, Catch::Contains("rank 0") && Catch::Contains("did not complete within 3 s"));
  CHECK(seconds < 60);
}

}  // namespace
}  // namespace bert
