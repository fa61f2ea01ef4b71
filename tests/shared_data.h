// Test data that lives outside the repository (../shared: the SQuAD dev set, the vocab, the
// Hugging Face goldens). Only the test binaries built with shared_data_main.cpp (and the GPU
// binaries, whose main does the same) link this file, so a test that needs ../shared cannot land
// in a binary that would report it passed without running it.
//
// A missing file is a skip or a failure depending on who chose the location: under the build's
// default ../shared it is a machine without the data (the binary exits kSkipExitCode, which ctest
// reports as skipped); under a directory the environment named (BERT_SHARED_DIR,
// BERT_GOLDEN_DIR) someone asked for that data, so the test fails, naming the path.
#pragma once

#include <string>

namespace bert::test {

// The exit status ctest's SKIP_RETURN_CODE maps to "skipped" (the GPU binaries use it too).
inline constexpr int kSkipExitCode = 77;

// A directory of test data and the environment variable that named it ("" for the build-time
// default).
struct DataDir {
  std::string path;
  std::string named_by;
};

// $BERT_SHARED_DIR, else the build's default (CMake's BERT_DEFAULT_SHARED_DIR: <repo>/../shared).
DataDir shared_dir();
// <shared_dir>/<relative>.
std::string shared_path(const std::string& relative);

// True when <dir>/<relative> exists. When it does not: if the environment named `dir`, the test
// FAILs with a message naming the path and the variable; otherwise prints
// "SKIPPED <what>: <path> not found" once, records the miss for shared_data_exit_code and
// returns false, and the test returns without asserting: `if (!have_shared_file(...)) return;`.
bool have_data_file(const DataDir& dir, const std::string& relative, const std::string& what);
bool have_shared_file(const std::string& relative, const std::string& what);

// What a shared-data binary's main returns, given Catch's status: a failure stays a failure;
// otherwise kSkipExitCode (after one SKIPPED line) when a test needed a missing default file.
int shared_data_exit_code(int catch_status);

}  // namespace bert::test
