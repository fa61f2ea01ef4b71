// The test helpers' own behaviour where a mistake would go unnoticed: a run's scratch
// directories must go after a passing run (or /tmp fills with training outputs) and stay after
// a failing one (they are what there is to look at).
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "tests/test_support.h"

namespace bert::test {
namespace {

bool exists(const std::string& path) { return std::filesystem::exists(path); }

TEST_CASE("a run's scratch directory is removed after a passing run and kept after a failing one", "[support]") {
  // finish_test_run is the mains' last call; it is called here on purpose, on directories of
  // this test alone.
  const std::string kept = run_scratch_dir("bert_test_support_kept");
  std::ofstream(kept + "/left.txt") << "what a failed test left";
  CHECK(run_scratch_dir("bert_test_support_kept") == kept);
  CHECK(exists(kept + "/left.txt"));  // the same run: not emptied again
  CHECK(finish_test_run(3) == 3);
  CHECK(exists(kept + "/left.txt"));
  std::filesystem::remove_all(kept);

  const std::string removed = run_scratch_dir("bert_test_support_removed");
  std::ofstream(removed + "/out.txt") << "a passing test's output";
  CHECK(finish_test_run(0) == 0);
  CHECK_FALSE(exists(removed));

  ::setenv("BERT_KEEP_TEST_SCRATCH", "1", 1);
  const std::string asked = run_scratch_dir("bert_test_support_asked");
  CHECK(finish_test_run(0) == 0);
  ::unsetenv("BERT_KEEP_TEST_SCRATCH");
  CHECK(exists(asked));
  std::filesystem::remove_all(asked);
}

TEST_CASE("a run's scratch directory starts empty", "[support]") {
  const std::string path = (std::filesystem::temp_directory_path() / "bert_test_support_reused").string() + "_" +
                           std::to_string(::getpid());
  std::filesystem::create_directories(path);
  std::ofstream(path + "/stale.txt") << "left by an earlier process with this pid";
  CHECK(run_scratch_dir("bert_test_support_reused") == path);
  CHECK_FALSE(exists(path + "/stale.txt"));
}

}  // namespace
}  // namespace bert::test
