// Catch2 v3 under Catch2 v2's header name, for the distributions that ship only v3 (Ubuntu
// 24.04, Debian 13): tests/CMakeLists.txt puts this directory on the include path when it finds
// v3, so every test keeps `#include <catch2/catch.hpp>` and builds with Debian 12's v2 as well.
// v3 moved the string matchers into Catch::Matchers (Contains became ContainsSubstring) and
// Approx into Catch::; CATCH_CONFIG_RUNNER means nothing to it, and Catch::Session is the same.
#pragma once

#include <string>

#include <catch2/catch_all.hpp>

namespace Catch {

// v2's Catch::Contains(string): not `using namespace Matchers`, whose Contains is v3's range
// matcher and would win overload resolution for string literals.
inline Matchers::StringContainsMatcher Contains(const std::string& text,
                                               CaseSensitive sensitivity = CaseSensitive::Yes) {
  return Matchers::ContainsSubstring(text, sensitivity);
}
using Matchers::EndsWith;
using Matchers::StartsWith;

}  // namespace Catch

using Catch::Approx;  // v2 declared Approx at global scope
