// A 2-rank job in which rank 1 lets rank 0 down, for tests/comm/run_failure_probe.sh:
//   comm_failure_probe stall <timeout_s>: rank 1 sleeps instead of joining the collective;
//       rank 0's watchdog must end the job with "rank 0: collective ... did not complete".
//   comm_failure_probe exit <timeout_s>: rank 1 exits at once (std::_Exit, no MPI_Finalize);
//       the job must end (mpirun notices the lost rank) rather than hang.
// Rank 0 returning from the collective is itself a failure (exit code 3).
//   comm_failure_probe slow_root <timeout_s>: rank 0 works alone for 3 × timeout_s (as it
//       evaluates during training) while the others wait in wait_for_root: the job must succeed
//       (exit 0), the watchdog bounding collectives, not rank 0's work.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "comm/communicator.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: comm_failure_probe stall|exit|slow_root <timeout_seconds>\n");
    return 2;
  }
  const std::string mode = argv[1];
  try {
    bert::CommOptions options;
    options.timeout_seconds = std::atof(argv[2]);
    const std::unique_ptr<bert::Communicator> comm = bert::make_communicator(options);
    if (comm->world_size() < 2) {
      std::fprintf(stderr, "comm_failure_probe needs 2 ranks, got %d\n", comm->world_size());
      return 2;
    }
    comm->barrier();  // both ranks are up
    if (mode == "slow_root") {
      if (comm->rank() == 0)
        std::this_thread::sleep_for(std::chrono::duration<double>(3 * options.timeout_seconds));
      comm->wait_for_root("evaluation");
      comm->barrier();  // the collectives still work afterwards
      return 0;
    }
    if (comm->rank() == 1) {
      if (mode == "exit") std::_Exit(0);
      std::this_thread::sleep_for(std::chrono::seconds(120));
      return 0;
    }
    if (comm->rank() == 0) {
      comm->all_reduce_sum_double(1.0);
      std::fprintf(stderr, "rank 0: the collective completed although rank 1 never joined\n");
      return 3;
    }
    comm->all_reduce_sum_double(1.0);  // ranks >= 2 wait with rank 0
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
