#include "tests/test_support.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <unistd.h>

namespace bert::test {
namespace {

std::string per_process_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / (name + "_" + std::to_string(::getpid()))).string();
}

// The run's scratch directories, for finish_test_run.
struct RunScratch {
  std::mutex mutex;
  std::vector<std::string> paths;
};
RunScratch& run_scratch() {
  static RunScratch scratch;
  return scratch;
}

}  // namespace

std::string fixture_path(const std::string& name) {
  return std::string(BERT_SOURCE_DIR) + "/tests/fixtures/" + name;
}

ScopedEnv::ScopedEnv(const char* name, const char* value) : name_(name) {
  const char* old = std::getenv(name);
  had_ = old != nullptr;
  if (had_) old_ = old;
  if (value != nullptr)
    ::setenv(name, value, 1);
  else
    ::unsetenv(name);
}

ScopedEnv::~ScopedEnv() {
  if (had_)
    ::setenv(name_.c_str(), old_.c_str(), 1);
  else
    ::unsetenv(name_.c_str());
}

ScratchDir::ScratchDir(const std::string& name) : path(per_process_path(name)) {
  std::filesystem::create_directories(path);
}

ScratchDir::~ScratchDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path, ignored);
}

std::string run_scratch_dir(const std::string& name) {
  const std::string path = per_process_path(name);
  RunScratch& scratch = run_scratch();
  std::lock_guard<std::mutex> lock(scratch.mutex);
  bool known = false;
  for (const std::string& p : scratch.paths) known = known || p == path;
  if (!known) {  // first use in this run: start empty (a pid reused from an earlier run)
    std::filesystem::remove_all(path);
    scratch.paths.push_back(path);
  }
  std::filesystem::create_directories(path);
  return path;
}

int finish_test_run(int catch_status) {
  RunScratch& scratch = run_scratch();
  std::lock_guard<std::mutex> lock(scratch.mutex);
  const char* keep = std::getenv("BERT_KEEP_TEST_SCRATCH");
  const bool kept = catch_status != 0 || (keep != nullptr && *keep != '\0' && std::string(keep) != "0");
  for (const std::string& path : scratch.paths) {
    if (kept) {
      std::fprintf(stderr, "scratch directory kept for inspection: %s\n", path.c_str());
      continue;
    }
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  scratch.paths.clear();
  return catch_status;
}

}  // namespace bert::test
