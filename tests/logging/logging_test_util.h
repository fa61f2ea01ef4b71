// Helpers for the logging tests: a temporary directory, and catching an InputError's text.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "core/error.h"
#include "core/file_io.h"

namespace bert::test {

// A fresh directory under $TMPDIR, removed with everything in it on destruction.
class LogTempDir {
 public:
  LogTempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "bert_logging_test_XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~LogTempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  LogTempDir(const LogTempDir&) = delete;
  LogTempDir& operator=(const LogTempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return join_path(path_, name); }

 private:
  std::string path_;
};

// The message of the InputError that fn throws, or "" when it throws none.
template <typename Fn>
std::string input_error_message(Fn&& fn) {
  try {
    fn();
  } catch (const InputError& error) {
    return error.what();
  }
  return "";
}

}  // namespace bert::test
