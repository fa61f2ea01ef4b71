// train_squad under mpirun on the CPU (MPI all-reduce), through the real binaries:
//   2 ranks × per-device batch b give the losses, gradient norms, parameters and evaluation of
//   1 process × 2b (double-precision backend: within 1e-6; float: within float noise), rank 0
//   alone writes output_dir, a checkpoint resumes under another world size, and an error on one
//   rank or a rank that leaves the collectives ends the whole job with a message naming it.
// Open MPI as root (containers, CI) needs --allow-run-as-root; the tests pass it.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cmath>
#include <regex>

#include "engine/core/file_io.h"
#include "engine/io/safetensors.h"
#include "engine/training_state.h"
#include "tests/apps/test_train_failures_util.h"

namespace bert {
namespace {

namespace fs = std::filesystem;
using test::CommandResult;

const std::string& root() {
  static const std::string dir = [] {
    const std::string path = test::scratch_root("bert_test_train_dp_");
    test::make_tiny_model(path + "/model");
    return path;
  }();
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
  SECTION("float") {
    const std::string single = root() + "/single-float", parallel = root() + "/parallel-float";
    run(test::train_squad_bin() + flags("cpu", 8, 1, single));
    run(mpirun(2) + test::train_squad_bin() + flags("cpu", 4, 1, parallel));
    // Float sums in another order; Adam's normalisation amplifies that where gradients cancel.
    check_same_run(parallel, single, 1e-5, 1e-4);
  }
}

TEST_CASE("rank 0 alone writes output_dir; a checkpoint resumes under another world size", "[app][mpi]") {
  const std::string parallel = root() + "/resume-parallel", single = root() + "/resume-single";
  run(mpirun(2) + test::train_squad_bin() + flags("cpu", 4, 1, parallel) + " --stop_after_steps 4");
  // One writer: no temporaries or duplicate checkpoints, one log line per step.
  CHECK(list_checkpoints(parallel).size() == 1);
  CHECK(read_lines(parallel + "/trainer_log.jsonl").size() == 4);
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

TEST_CASE("a rank that stops joining the collectives ends the job after --ddp_timeout", "[app][mpi]") {
  // Rank 1 stops after 2 steps; rank 0 waits in the next collective until the watchdog fires.
  const std::string out = root() + "/stall";
  const std::string common = flags("cpu", 4, 1, out, "0") + " --ddp_timeout 3";
  const auto started = std::chrono::steady_clock::now();
  const CommandResult result = test::run_command(std::string(MPIEXEC_BIN) + " --allow-run-as-root --oversubscribe -np 1 " +
                                                 test::train_squad_bin() + common + " : -np 1 " +
                                                 test::train_squad_bin() + common + " --stop_after_steps 2");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  INFO(result.output);
  CHECK(result.status != 0);
  CHECK_THAT(result.output, Catch::Contains("rank 0") && Catch::Contains("did not complete within 3 s"));
  CHECK(seconds < 60);
}

}  // namespace
}  // namespace bert
