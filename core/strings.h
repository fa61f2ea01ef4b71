// Prefix and suffix tests on strings (std::string gains them only in C++20), and the one joiner
// of the lists that messages name.
#pragma once

#include <string>
#include <string_view>

namespace bert {

inline bool starts_with(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

inline bool ends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

// The items (strings or C strings) with `separator` between them: "a, b, c".
template <typename Items>
std::string joined(const Items& items, std::string_view separator = ", ") {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
}

}  // namespace bert
