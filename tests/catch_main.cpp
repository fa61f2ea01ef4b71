// Catch2 v2: this defines main. Catch2 v3 ignores CATCH_CONFIG_MAIN; tests/CMakeLists.txt links
// Catch2::Catch2WithMain instead.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
