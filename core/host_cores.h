// How many CPU cores this process may run on: the size of its affinity mask (what taskset,
// cgroups' cpusets and mpirun's binding leave it), else std::thread::hardware_concurrency();
// at least 1. The host-side thread counts (the CPU references' pool, the window building)
// start from it.
#pragma once

namespace bert {

int available_cores();

}  // namespace bert
