// Shared by the train_squad failure and interruption tests: running the binary (to the end,
// or in the background to signal it), a tiny model directory, and looking for leftovers.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include "core/file_io.h"
#include "io/model_dir.h"
#include "io/param_specs.h"
#include "tests/test_support.h"

namespace bert {
namespace test {

struct CommandResult {
  int status = -1;  // exit status, or -1 when killed by a signal
  std::string output;
};

inline std::string train_squad_bin() { return TRAIN_SQUAD_BIN; }
inline std::string source_path(const std::string& rel) { return std::string(BERT_SOURCE_DIR) + "/" + rel; }

inline CommandResult run_command(const std::string& command) {
  CommandResult result;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return result;
  char buffer[4096];
  while (size_t got = fread(buffer, 1, sizeof buffer, pipe)) result.output.append(buffer, got);
  const int status = pclose(pipe);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

// Lines of the output that start with "error:" (under a launcher of several ranks, "rank R:
// error:").
inline std::vector<std::string> error_lines(const std::string& output) {
  std::vector<std::string> lines;
  const std::regex pattern("(^|\n)((?:rank [0-9]+: )?error:[^\n]*)");
  for (auto it = std::sregex_iterator(output.begin(), output.end(), pattern); it != std::sregex_iterator(); ++it)
    lines.push_back((*it)[2]);
  return lines;
}

inline std::string tiny_config_json(int hidden, int intermediate, float dropout, int vocab = 30522,
                                    int max_positions = 128) {
  return "{\"model_type\": \"bert\", \"vocab_size\": " + std::to_string(vocab) +
         ", \"hidden_size\": " + std::to_string(hidden) +
         ", \"num_hidden_layers\": 2, \"num_attention_heads\": 2, \"intermediate_size\": " +
         std::to_string(intermediate) + ", \"max_position_embeddings\": " + std::to_string(max_positions) +
         ", \"type_vocab_size\": 2, \"hidden_act\": \"gelu\", \"hidden_dropout_prob\": " + std::to_string(dropout) +
         ", \"attention_probs_dropout_prob\": " + std::to_string(dropout) +
         ", \"layer_norm_eps\": 1e-12, \"initializer_range\": 0.02}";
}

// The binary's run scratch directory <tmp>/<prefix, less a trailing _>_<pid> (test_support.h: emptied on first
// use, removed after a passing run).
inline std::string scratch_root(const std::string& prefix) {
  return run_scratch_dir(prefix.back() == '_' ? prefix.substr(0, prefix.size() - 1) : prefix);
}

// A randomly initialised model directory (no weights file: train_squad initialises them).
inline std::string make_tiny_model(const std::string& dir, float dropout = 0.1f) {
  make_directories(dir);
  write_file_atomic(dir + "/config.json", tiny_config_json(16, 32, dropout));
  write_file_atomic(dir + "/vocab.txt", read_file(source_path("data/samples/tiny-bert-uncased/vocab.txt")));
  return dir;
}

// scratch_root(prefix) holding make_tiny_model's model at <root>/model.
inline std::string scratch_with_tiny_model(const std::string& prefix) {
  const std::string path = scratch_root(prefix);
  make_tiny_model(path + "/model");
  return path;
}

// Every path under dir (relative), recursively; never throws, also while a running
// train_squad renames directories under it.
inline std::vector<std::string> tree(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  std::filesystem::recursive_directory_iterator it(dir, ec), end;
  for (; !ec && it != end; it.increment(ec))
    out.push_back(it->path().lexically_relative(dir).string());
  return out;
}

inline bool has_entry_matching(const std::string& dir, const std::string& pattern) {
  const std::regex re(pattern);
  for (const std::string& path : tree(dir))
    if (std::regex_search(path, re)) return true;
  return false;
}

// A child process running `command` through /bin/sh (exec, so the pid is train_squad's), its
// stdout and stderr going to log_path.
inline pid_t spawn(const std::string& command, const std::string& log_path) {
  const pid_t pid = fork();
  if (pid == 0) {
    const std::string line = "exec " + command + " >" + log_path + " 2>&1";
    execl("/bin/sh", "sh", "-c", line.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

}  // namespace test
}  // namespace bert
