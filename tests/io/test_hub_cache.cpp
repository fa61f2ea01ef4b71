// The Hugging Face Hub cache (io/hub_cache.h): its root from --cache_dir and the environment in
// huggingface_hub's order, and a repo's snapshot by branch, tag or commit hash.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>

#include "core/file_io.h"
#include "io/hub_cache.h"
#include "tests/io/io_test_util.h"
#include "tests/test_support.h"

using namespace bert;
using namespace bert::test;

namespace {

const std::string kMain = "0123456789abcdef0123456789abcdef01234567";
const std::string kTag = "fedcba9876543210fedcba9876543210fedcba98";

}  // namespace

TEST_CASE("hub_cache_root follows --cache_dir, then huggingface_hub's variables", "[io][hub]") {
  ScopedEnv hub("HF_HUB_CACHE", nullptr), old_hub("HUGGINGFACE_HUB_CACHE", nullptr), home("HF_HOME", nullptr),
      xdg("XDG_CACHE_HOME", nullptr), user("HOME", "/home/u");
  CHECK(hub_cache_root("") == "/home/u/.cache/huggingface/hub");
  {
    ScopedEnv set("XDG_CACHE_HOME", "/xdg");
    CHECK(hub_cache_root("") == "/xdg/huggingface/hub");
    ScopedEnv set_home("HF_HOME", "/hf");
    CHECK(hub_cache_root("") == "/hf/hub");
    ScopedEnv set_old("HUGGINGFACE_HUB_CACHE", "/old");
    CHECK(hub_cache_root("") == "/old");
    ScopedEnv set_hub("HF_HUB_CACHE", "/hub");
    CHECK(hub_cache_root("") == "/hub");
    CHECK(hub_cache_root("/given") == "/given");
  }
}

TEST_CASE("find_hub_snapshot finds a repo's snapshot by branch, tag or commit, and nothing else", "[io][hub]") {
  TempDir cache;
  const std::string repo = cache.file("models--org--tiny-bert");
  make_directories(repo + "/refs");
  make_directories(repo + "/snapshots/" + kMain);
  make_directories(repo + "/snapshots/" + kTag);
  write_file_atomic(repo + "/refs/main", kMain);           // as huggingface_hub writes it: no newline
  write_file_atomic(repo + "/refs/v1", kTag + "\n");       // tolerated
  write_file_atomic(repo + "/refs/broken", "../../etc");  // not a commit: never followed
  std::string searched;
  CHECK(find_hub_snapshot(cache.path(), "org/tiny-bert", "main", &searched) == repo + "/snapshots/" + kMain);
  CHECK(find_hub_snapshot(cache.path(), "org/tiny-bert", "v1", &searched) == repo + "/snapshots/" + kTag);
  CHECK(find_hub_snapshot(cache.path(), "org/tiny-bert", kTag, &searched) == repo + "/snapshots/" + kTag);

  CHECK(find_hub_snapshot(cache.path(), "org/tiny-bert", "v2", &searched).empty());
  CHECK(searched == repo + "/refs/v2");
  CHECK(find_hub_snapshot(cache.path(), "org/tiny-bert", "broken", &searched).empty());
  CHECK(searched == repo + "/refs/broken, which holds \"../../etc\", not a 40-digit commit hash");
  write_file_atomic(repo + "/refs/gone",
                    std::string(40, 'b'));  // a commit whose snapshot is missing
  CHECK(find_hub_snapshot(cache.path(), "org/tiny-bert", "gone", &searched).empty());
  CHECK(searched == repo + "/refs/gone, then " + repo + "/snapshots/" + std::string(40, 'b'));
  CHECK(find_hub_snapshot(cache.path(), "org/tiny-bert", "../../refs/main", &searched).empty());
  CHECK(find_hub_snapshot(cache.path(), "org/tiny-bert", std::string(40, 'a'), &searched).empty());
  CHECK(searched == repo + "/snapshots/" + std::string(40, 'a'));
  CHECK(find_hub_snapshot(cache.path(), "tiny-bert", "main", &searched).empty());  // models--tiny-bert
  CHECK(searched == cache.file("models--tiny-bert/refs/main"));

  CHECK(looks_like_hub_id("bert-base-uncased"));
  CHECK(looks_like_hub_id("google-bert/bert-base-uncased"));
  CHECK_FALSE(looks_like_hub_id("a/b/c"));
  CHECK_FALSE(looks_like_hub_id("../model"));
  CHECK_FALSE(looks_like_hub_id("/abs/model"));
}
