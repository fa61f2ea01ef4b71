#include "apps/flag_checks.h"

#include <cmath>
#include <filesystem>
#include <limits>
#include <sstream>

#include "core/launcher.h"

namespace bert {

std::string flag_number(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

namespace {

[[noreturn]] void refuse(const char* name, const std::string& value, const std::string& expected) {
  throw FlagError(std::string("--") + name + ": expected " + expected + ", got " + value);
}

}  // namespace

void check_flag_positive(const char* name, int64_t value) {
  if (value <= 0) refuse(name, std::to_string(value), "a positive integer");
}

void check_interval_flag(const char* name, double value, bool positive) {
  const char* expected = "a whole number of steps, or a fraction of the run's steps below 1 (transformers: an integer "
                         "if bigger than 1)";
  if (!std::isfinite(value) || (value > 1 && value != std::floor(value)) || value > 9.0e18)
    refuse(name, flag_number(value), expected);
  if (positive && !(value > 0)) refuse(name, flag_number(value), "a number > 0: " + std::string(expected));
}

void check_flag_non_negative(const char* name, double value) {
  if (!(value >= 0)) refuse(name, flag_number(value), "a number >= 0");
}

void check_flag_half_open(const char* name, double value, double lo, double hi) {
  if (!(value >= lo && value < hi)) refuse(name, flag_number(value), "a number in [" + flag_number(lo) + ", " + flag_number(hi) + ")");
}

void check_flag_sample_limit(const char* name, int64_t value) {
  if (value != -1 && value <= 0) refuse(name, std::to_string(value), "a positive count, or -1 for all");
}

void check_window_flags(int32_t max_seq_length, int32_t doc_stride) {
  if (max_seq_length < 5 || max_seq_length > kMaxSeqLengthLimit)
    refuse("max_seq_length", std::to_string(max_seq_length),
           "an integer in [5, " + std::to_string(kMaxSeqLengthLimit) +
               "] (a window holds [CLS], the question, [SEP], part of the context and [SEP])");
  // An upper bound depends on each question's length: windowing checks it (as the tokenizer
  // does in run_qa.py), and only for contexts that need more than one window.
  if (doc_stride < 0) refuse("doc_stride", std::to_string(doc_stride), "an integer >= 0");
}

void check_max_seq_length_fits(int32_t max_seq_length, int64_t max_position_embeddings,
                               const std::string& config_path) {
  if (max_seq_length > max_position_embeddings)
    throw FlagError("--max_seq_length " + std::to_string(max_seq_length) + " exceeds the model's " +
                    "max_position_embeddings " + std::to_string(max_position_embeddings) + " (" +
                    config_path + ")");
}

std::string clamp_max_seq_length(int64_t model_max_length, const std::string& limit_file, int32_t* max_seq_length) {
  if (model_max_length <= 0 || *max_seq_length <= model_max_length) return "";
  const std::string warning = "warning: --max_seq_length " + std::to_string(*max_seq_length) +
                              " is larger than the maximum length for the model (" + limit_file +
                              ": model_max_length " + std::to_string(model_max_length) +
                              "); using max_seq_length=" + std::to_string(model_max_length) + ", as run_qa.py does";
  *max_seq_length = static_cast<int32_t>(model_max_length);
  check_window_flags(*max_seq_length, 0);
  return warning;
}

void check_batch_flag(const char* name, int32_t batch, int32_t max_seq_length) {
  check_flag_positive(name, batch);
  const int64_t tokens = int64_t(batch) * int64_t(max_seq_length);
  if (tokens > std::numeric_limits<int32_t>::max())
    refuse(name, std::to_string(batch),
           "at most " + std::to_string(std::numeric_limits<int32_t>::max() / max_seq_length) +
               " at --max_seq_length " + std::to_string(max_seq_length) + " (the packed tokens of a batch, " +
               std::to_string(tokens) + ", must fit a 32-bit count)");
}

void check_device_flag(const std::string& device) {
  if (device != "auto" && device != "cpu" && device != "cuda" && device != "cpu-double")
    refuse("device", "'" + device + "'", "auto, cpu or cuda");
}

void check_span_flags(int32_t n_best_size, int32_t max_answer_length) {
  check_flag_positive("n_best_size", n_best_size);
  check_flag_positive("max_answer_length", max_answer_length);
}

namespace {

// The path a file written at `path` would end up at: symbolic links followed, also a dangling
// one (its target is where a write through it goes), then made absolute and normal.
std::filesystem::path written_path(const std::string& path) {
  namespace fs = std::filesystem;
  fs::path at(path);
  std::error_code ec;
  for (int hop = 0; hop < 40 && fs::is_symlink(at, ec); ++hop) {
    const fs::path target = fs::read_symlink(at, ec);
    if (ec) break;
    at = target.is_absolute() ? target : at.parent_path() / target;
  }
  const fs::path normal = fs::weakly_canonical(at, ec);
  return ec ? fs::absolute(at, ec).lexically_normal() : normal;
}

}  // namespace

bool paths_name_same_file(const std::string& a, const std::string& b) {
  if (a.empty() || b.empty()) return false;
  std::error_code ec;
  const bool same = std::filesystem::equivalent(a, b, ec);
  if (!ec) return same;
  // One of them does not exist yet: the same when both lead to the same place.
  return written_path(a) == written_path(b);
}

void check_distinct_paths(const char* name_a, const std::string& a, const char* name_b, const std::string& b,
                          const std::string& why) {
  std::error_code ec;
  if (paths_name_same_file(a, b))
    throw FlagError(std::string("--") + name_a + " " + a + " and --" + name_b + " " + b + " name the same " +
                    (std::filesystem::is_directory(a, ec) ? "directory" : "file") + ": " + why);
}

void refuse_several_ranks(const char* program, const std::string& repeat,
                          const std::string& instead) {
  const int ranks = launcher_world_size();
  if (ranks <= 1) return;
  throw FlagError(std::string(program) + " runs as one process, but an MPI launcher started " +
                  std::to_string(ranks) + " (mpirun -np " + std::to_string(ranks) +
                  "): each would " + repeat + " and write the same files; " + instead);
}

}  // namespace bert
