// Catch2 main for tests run under mpirun: one communicator for the whole process (MPI is
// initialised once), shared with the test cases through mpi_test_communicator(). Every rank
// runs every test case; test cases make their collectives on all ranks in the same order.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdio>

#include "comm/communicator.h"
#include "tests/comm/mpi_test_main.h"

namespace bert::test {
namespace {
Communicator* g_communicator = nullptr;
}

Communicator& mpi_test_communicator() { return *g_communicator; }

}  // namespace bert::test

int main(int argc, char** argv) {
  // A generous watchdog: a rank that fails a REQUIRE and skips a collective ends the job
  // with a message instead of leaving ctest to time out.
  bert::CommOptions options;
  options.timeout_seconds = 60;
  std::unique_ptr<bert::Communicator> comm;
  try {
    comm = bert::make_communicator(options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  bert::test::g_communicator = comm.get();
  const int failed = Catch::Session().run(argc, argv);
  // Every rank must pass: a rank that failed alone would otherwise hide behind the others' 0.
  const double failures = comm->all_reduce_sum_double(failed > 0 ? 1.0 : 0.0);
  if (comm->is_root() && failures > 0) std::fprintf(stderr, "%g rank(s) failed\n", failures);
  return failures > 0 ? 1 : 0;
}
