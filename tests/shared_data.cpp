#include "tests/shared_data.h"

#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <set>

#include "core/file_io.h"

namespace bert::test {
namespace {

// The missing default files, each reported once.
std::set<std::string>& missing_files() {
  static std::set<std::string> files;
  return files;
}

}  // namespace

DataDir shared_dir() {
  const char* env = std::getenv("BERT_SHARED_DIR");
  if (env && *env) return {env, "BERT_SHARED_DIR"};
  return {BERT_DEFAULT_SHARED_DIR, ""};
}

std::string shared_path(const std::string& relative) { return join_path(shared_dir().path, relative); }

bool have_data_file(const DataDir& dir, const std::string& relative, const std::string& what) {
  const std::string path = join_path(dir.path, relative);
  if (path_exists(path)) return true;
  if (!dir.named_by.empty())
    FAIL(what << ": " << path << " not found (" << dir.named_by << " is set to " << dir.path << ")");
  if (missing_files().insert(path).second)
    std::printf("SKIPPED %s: %s not found\n", what.c_str(), path.c_str());
  return false;
}

bool have_shared_file(const std::string& relative, const std::string& what) {
  return have_data_file(shared_dir(), relative, what);
}

int shared_data_exit_code(int catch_status) {
  if (catch_status != 0 || missing_files().empty()) return catch_status;
  std::printf("SKIPPED: %zu file(s) missing from the default data directory (listed above); "
              "BERT_SHARED_DIR or BERT_GOLDEN_DIR point the tests at another one\n",
              missing_files().size());
  return kSkipExitCode;
}

}  // namespace bert::test
