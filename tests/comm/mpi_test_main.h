// The process's communicator in tests run under mpirun (tests/comm/mpi_test_main.cpp).
#pragma once

#include "comm/communicator.h"

namespace bert::test {

Communicator& mpi_test_communicator();

}  // namespace bert::test
