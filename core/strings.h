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

// A boolean flag value as Hugging Face's HfArgumentParser reads one (string_to_bool, any case):
// yes/true/t/y/1 → 1, no/false/f/n/0 → 0, anything else → -1.
inline int bool_word_value(std::string_view word) {
  std::string lower(word);
  for (char& c : lower) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  if (lower == "yes" || lower == "true" || lower == "t" || lower == "y" || lower == "1") return 1;
  if (lower == "no" || lower == "false" || lower == "f" || lower == "n" || lower == "0") return 0;
  return -1;
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
