// Test helpers every test binary links: fixtures, scratch directories, bounded child commands and
// the one closeness rule (tests/tolerance.h). The data outside the repository (../shared): shared_data.h.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "tests/tolerance.h"

namespace bert::test {

// <repo>/tests/fixtures/<name>.
std::string fixture_path(const std::string& name);

// A per-process scratch directory (<tmp>/<name>_<pid>), removed when it goes out of scope;
// tests keep one as a function-local static so concurrent runs never share files.
struct ScratchDir {
  std::string path;
  explicit ScratchDir(const std::string& name);
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
};

// A scratch directory for the whole run of a test binary (<tmp>/<name>_<pid>, emptied first,
// the same path on every call): the binary's main removes it when every test passed and keeps
// it, naming it on stderr, when one failed or BERT_KEEP_TEST_SCRATCH is set (for a look at what
// the run left). Training tests leave hundreds of MB there: a passing suite must not pile it up.
std::string run_scratch_dir(const std::string& name);

// Sets (or, with nullptr, unsets) an environment variable for the scope and restores its old
// value or its absence at the end, so a test neither depends on nor leaks the caller's
// environment (a launcher's variables, a user's HF_HOME).
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value);
  ~ScopedEnv();
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
  bool had_ = false;
  std::string old_;
};

// The end of every test binary's main: removes the run's scratch directories unless the run
// failed (catch_status != 0) or BERT_KEEP_TEST_SCRATCH is set; returns catch_status.
int finish_test_run(int catch_status);

// True in AddressSanitizer builds (tools/sanitize.sh, fuzzers), which reserve terabytes of
// address space: tests that bound a child's memory with `ulimit -v` must not do it there.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kUnderAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kUnderAddressSanitizer = true;
#else
inline constexpr bool kUnderAddressSanitizer = false;
#endif
#else
inline constexpr bool kUnderAddressSanitizer = false;
#endif

// A shell prefix that bounds what follows it: at most `seconds` of run time and (outside
// AddressSanitizer builds) 8 GiB of address space, so that a regression (a read blocking on a
// FIFO, a buffer growing without limit) fails a test instead of hanging it or exhausting the
// machine: run bounded_command_prefix() + command through the shell.
inline std::string bounded_command_prefix(int seconds = 120) {
  return std::string(kUnderAddressSanitizer ? "" : "ulimit -v 8388608; ") + "exec timeout " + std::to_string(seconds) +
         " ";
}

}  // namespace bert::test
