// The programmatic-dependent-launch switch of kernels/kernel_launch.cuh.
#include <atomic>

#include "core/file_io.h"
#include "kernels/kernel_launch.cuh"

namespace bert {
namespace {

bool from_environment() { return environment_choice("BERT_PROGRAMMATIC_LAUNCH", {"0", "1"}) == 1; }

// -1: not decided yet; 0/1 afterwards. Atomic: launches may come from several host threads.
std::atomic<int> g_programmatic_launch{-1};

}  // namespace

bool programmatic_launch_enabled() {
  int state = g_programmatic_launch.load(std::memory_order_relaxed);
  if (state < 0) {
    int expected = -1;
    g_programmatic_launch.compare_exchange_strong(expected, from_environment() ? 1 : 0);
    state = g_programmatic_launch.load(std::memory_order_relaxed);
  }
  return state == 1;
}

void set_programmatic_launch(bool enabled) { g_programmatic_launch.store(enabled ? 1 : 0); }

}  // namespace bert
