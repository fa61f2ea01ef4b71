// The host side of kernels/kernel_launch.cuh (plain C++, for tests and benchmarks): whether
// kernels are launched with programmatic dependent launch.
#pragma once

namespace bert {

// Whether launch_kernel asks for programmatic dependent launch: BERT_PROGRAMMATIC_LAUNCH=1 in
// the environment (read on the first call; "0" or unset: off, anything else: InputError), or
// the last set_programmatic_launch.
bool programmatic_launch_enabled();
// Overrides the environment for this process (tests compare both ways in one process).
void set_programmatic_launch(bool enabled);

}  // namespace bert
