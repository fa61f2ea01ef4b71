// What runs without mpirun: LocalCommunicator, the launch detection, the collective watchdog.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "engine/comm/collective_watchdog.h"
#include "engine/comm/communicator.h"
#include "engine/core/error.h"

namespace bert {
namespace {

TEST_CASE("a plain launch gets the local communicator", "[comm]") {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "PMIX_RANK"})
    if (std::getenv(name) != nullptr) return;  // run under a launcher: not a plain launch
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
  const char* saved = std::getenv("PMI_SIZE");
  if (saved != nullptr || std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr) return;
  setenv("PMI_SIZE", "3", 1);
  REQUIRE(launcher_world_size() == 3);
  REQUIRE(launched_by_mpi());
  setenv("PMI_SIZE", "three", 1);
  REQUIRE_THROWS_WITH(launcher_world_size(), Catch::Contains("PMI_SIZE=three"));
  unsetenv("PMI_SIZE");
  REQUIRE(launcher_world_size() == 1);
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

}  // namespace
}  // namespace bert
