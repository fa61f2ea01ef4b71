// Entry point of the test binaries (Catch2 v2 and v3 alike: tests/CMakeLists.txt links v3's
// library without its main): runs the Catch session, then removes the run's scratch
// directories when every test passed (test_support.h).
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "tests/test_support.h"

int main(int argc, char** argv) { return bert::test::finish_test_run(Catch::Session().run(argc, argv)); }
