// What runs without mpirun: LocalCommunicator, the launch detection, the collective watchdogs.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "comm/async_watchdog.h"
#include "comm/collective_watchdog.h"
#include "comm/communicator.h"
#include "core/error.h"
#include "tests/test_support.h"

namespace bert {
namespace {

// The launchers' world-size and rank variables, cleared for a case (and restored after it), so
// the launch detection is checked the same way under mpirun.
struct NoLauncher {
  test::ScopedEnv cleared[4] = {{"OMPI_COMM_WORLD_SIZE", nullptr},
                                {"PMI_SIZE", nullptr},
                                {"PMIX_SIZE", nullptr},
                                {"PMIX_RANK", nullptr}};
};

TEST_CASE("a plain launch gets the local communicator", "[comm]") {
  const NoLauncher plain;
  REQUIRE_FALSE(launched_by_mpi());
  REQUIRE(launcher_world_size() == 1);
  const std::unique_ptr<Communicator> comm = make_communicator();
  REQUIRE(comm->name() == "local");
  REQUIRE(comm->world_size() == 1);
  REQUIRE(comm->rank() == 0);
  REQUIRE(comm->is_root());

  std::vector<float> values = {1.5f, -2.0f};
  comm->all_reduce_sum(Tensor{values.data(), values.size(), ScalarType::kF32});
  comm->all_reduce_sum(values.data(), values.size());
  REQUIRE(values == std::vector<float>{1.5f, -2.0f});
  REQUIRE(comm->all_reduce_sum_double(2.25) == 2.25);
  std::vector<uint16_t> bf16(2);
  REQUIRE_THROWS_AS(comm->all_reduce_sum(Tensor{bf16.data(), bf16.size(), ScalarType::kBF16}), BertError);
}

TEST_CASE("launcher_world_size reads the launcher's variables", "[comm]") {
  const NoLauncher plain;
  {
    test::ScopedEnv pmi("PMI_SIZE", "3");
    REQUIRE(launcher_world_size() == 3);
    REQUIRE(launched_by_mpi());
    test::ScopedEnv malformed("PMI_SIZE", "three");
    REQUIRE_THROWS_WITH(launcher_world_size(), Catch::Contains("PMI_SIZE=three"));
  }
  REQUIRE(launcher_world_size() == 1);
  REQUIRE_FALSE(launched_by_mpi());
}

TEST_CASE("the watchdog reports a stalled collective once, naming rank and collective", "[comm][watchdog]") {
  std::mutex mutex;
  std::vector<std::string> messages;
  CollectiveWatchdog watchdog(3, 0.2, [&](const std::string& message) {
    std::lock_guard<std::mutex> lock(mutex);
    messages.push_back(message);
  });
  // Collectives that finish in time never fire, however many run back to back.
  const auto start = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - start < std::chrono::milliseconds(500)) {
    CollectiveWatchdog::Scope scope(watchdog, "all_reduce_sum(float)");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  {
    std::lock_guard<std::mutex> lock(mutex);
    REQUIRE(messages.empty());
  }
  {
    CollectiveWatchdog::Scope scope(watchdog, "broadcast");
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
  }
  std::lock_guard<std::mutex> lock(mutex);
  REQUIRE(messages.size() == 1);
  REQUIRE(messages[0] == "rank 3: collective broadcast did not complete within 0.2 s (a peer may have died)");
  REQUIRE(stall_message(0, "barrier", 1800) ==
          "rank 0: collective barrier did not complete within 1800 s (a peer may have died)");
}

TEST_CASE("a disabled watchdog starts no thread and never fires", "[comm][watchdog]") {
  std::atomic<int> fired{0};
  CollectiveWatchdog watchdog(0, 0, [&](const std::string&) { ++fired; });
  REQUIRE_FALSE(watchdog.enabled());
  watchdog.begin("barrier");
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  watchdog.end();
  REQUIRE(fired == 0);
}

TEST_CASE("the CUDA-side factory gives a plain launch a device-memory local communicator", "[comm]") {
  const NoLauncher plain;
  const std::unique_ptr<Communicator> device = make_communicator({}, CommDevice::kCuda, nullptr);
  REQUIRE(device->name() == "local");
  REQUIRE(device->tensor_memory() == CommMemory::kDevice);
  const std::unique_ptr<Communicator> host = make_communicator({}, CommDevice::kHost, nullptr);
  REQUIRE(host->tensor_memory() == CommMemory::kHost);
  // The async bucket API is the identity too, and refuses what all_reduce_sum refuses.
  std::vector<float> values = {1.0f, 2.0f};
  device->all_reduce_sum_async(Tensor{values.data(), values.size(), ScalarType::kF32});
  device->wait_all();
  REQUIRE(values == std::vector<float>{1.0f, 2.0f});
  std::vector<int32_t> ints(2);
  REQUIRE_THROWS_AS(device->all_reduce_sum_async(Tensor{ints.data(), ints.size(), ScalarType::kI32}), BertError);
}

// One launcher-variable reader, checked with every variable it reads cleared (and restored
// after): the default without any, a lower-priority variable, Open MPI's winning over it, and a
// malformed value named in the error.
struct LauncherReaderCase {
  std::vector<const char*> variables;  // all it reads; the first is Open MPI's
  const char* other;                   // a lower-priority one
  int fallback, other_value, open_mpi_value;
  const char* malformed;
};

void check_launcher_reader(const std::function<int()>& read, const LauncherReaderCase& c) {
  std::vector<std::unique_ptr<test::ScopedEnv>> cleared;
  for (const char* name : c.variables)
    cleared.push_back(std::make_unique<test::ScopedEnv>(name, nullptr));
  REQUIRE(read() == c.fallback);
  {
    test::ScopedEnv other(c.other, std::to_string(c.other_value).c_str());
    REQUIRE(read() == c.other_value);
    test::ScopedEnv open_mpi(c.variables.front(), std::to_string(c.open_mpi_value).c_str());
    REQUIRE(read() == c.open_mpi_value);
    test::ScopedEnv malformed(c.variables.front(), c.malformed);
    REQUIRE_THROWS_WITH(read(),
                        Catch::Contains(std::string(c.variables.front()) + "=" + c.malformed));
  }
  REQUIRE(read() == c.fallback);
}

TEST_CASE("local_rank_from_launcher reads the launchers' local-rank variables", "[comm]") {
  check_launcher_reader(local_rank_from_launcher, {{"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID",
                                                    "MV2_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID",
                                                    "PMIX_LOCAL_RANK", "PMI_LOCAL_RANK"},
                                                   "SLURM_LOCALID",
                                                   0,
                                                   3,
                                                   5,
                                                   "x"});
}

TEST_CASE("local_size_from_launcher reads the launchers' ranks-per-node variables", "[comm]") {
  check_launcher_reader(local_size_from_launcher, {{"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS",
                                                    "MV2_COMM_WORLD_LOCAL_SIZE", "PMIX_LOCAL_SIZE"},
                                                   "PMIX_LOCAL_SIZE",
                                                   1,
                                                   4,
                                                   8,
                                                   "0"});
}

// Tokens stand for CUDA events: a flag per collective that the test sets when it "completes".
struct FakeCollectives {
  std::mutex mutex;
  std::vector<std::string> failures;
  std::vector<void*> released;
  std::string error;  // what ncclCommGetAsyncError would report
  std::atomic<bool> done[4] = {};

  AsyncCollectiveWatchdog::Hooks hooks() {
    AsyncCollectiveWatchdog::Hooks hooks;
    hooks.is_done = [this](void* token) { return static_cast<std::atomic<bool>*>(token)->load(); };
    hooks.release = [this](void* token) {
      std::lock_guard<std::mutex> lock(mutex);
      released.push_back(token);
    };
    hooks.async_error = [this] {
      std::lock_guard<std::mutex> lock(mutex);
      return error;
    };
    hooks.on_failure = [this](const std::string& message) {
      std::lock_guard<std::mutex> lock(mutex);
      failures.push_back(message);
    };
    return hooks;
  }
  std::vector<std::string> failures_now() {
    std::lock_guard<std::mutex> lock(mutex);
    return failures;
  }
};

bool within(double seconds, const std::function<bool()>& condition) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!condition() && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  return condition();
}

TEST_CASE("the async watchdog follows several outstanding collectives to completion", "[comm][watchdog]") {
  FakeCollectives fake;
  AsyncCollectiveWatchdog watchdog(1, "NCCL", 0.3, fake.hooks());
  const uint64_t a = watchdog.begin("all_reduce_sum_async");
  watchdog.enqueued(a, &fake.done[0]);
  const uint64_t b = watchdog.begin("all_reduce_sum_async");
  watchdog.enqueued(b, &fake.done[1]);
  watchdog.end(watchdog.begin("ncclCommInitRank"));  // a host-only step
  REQUIRE(watchdog.outstanding() == 2);
  fake.done[1] = true;  // completion out of order is followed too
  REQUIRE(within(2, [&] { return watchdog.outstanding() == 1; }));
  fake.done[0] = true;
  REQUIRE(watchdog.wait_idle());
  // Each well under the deadline, but together longer than it: no failure.
  for (int i = 0; i < 4; ++i) {
    fake.done[2] = false;
    watchdog.enqueued(watchdog.begin("all_reduce_sum"), &fake.done[2]);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    fake.done[2] = true;
    REQUIRE(watchdog.wait_idle());
  }
  REQUIRE(fake.failures_now().empty());
  REQUIRE_FALSE(watchdog.failed());
  std::lock_guard<std::mutex> lock(fake.mutex);
  REQUIRE(fake.released.size() == 6);
}

TEST_CASE("the async watchdog reports a collective past its deadline once", "[comm][watchdog]") {
  FakeCollectives fake;
  AsyncCollectiveWatchdog watchdog(2, "NCCL", 0.2, fake.hooks());
  fake.done[0] = true;
  watchdog.enqueued(watchdog.begin("broadcast"), &fake.done[0]);
  const auto start = std::chrono::steady_clock::now();
  watchdog.enqueued(watchdog.begin("all_reduce_sum_async"), &fake.done[1]);  // never completes
  REQUIRE(within(3, [&] { return !fake.failures_now().empty(); }));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(seconds >= 0.2);
  CHECK(seconds < 1.5);
  REQUIRE_FALSE(watchdog.wait_idle());  // returns: failed, not idle
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  REQUIRE(fake.failures_now() ==
          std::vector<std::string>{
              "rank 2: NCCL all_reduce_sum_async: did not complete within 0.2 s (a peer may have died)"});
  REQUIRE(watchdog.failed());
}

TEST_CASE("the async watchdog reports an asynchronous error, naming the oldest collective", "[comm][watchdog]") {
  FakeCollectives fake;
  AsyncCollectiveWatchdog watchdog(0, "NCCL", 0, fake.hooks());  // no deadline: errors only
  watchdog.enqueued(watchdog.begin("all_reduce_sum_async"), &fake.done[0]);
  watchdog.enqueued(watchdog.begin("broadcast"), &fake.done[1]);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  REQUIRE(fake.failures_now().empty());
  {
    std::lock_guard<std::mutex> lock(fake.mutex);
    fake.error = "remote process exited or there was a network error";
  }
  REQUIRE(within(2, [&] { return !fake.failures_now().empty(); }));
  REQUIRE(fake.failures_now()[0] ==
          "rank 0: NCCL all_reduce_sum_async: remote process exited or there was a network error");
}

}  // namespace
}  // namespace bert
