#include "core/python_float.h"

#include <cctype>
#include <cstdlib>
#include <limits>
#include <string>

namespace bert {

std::optional<double> parse_python_float(std::string_view text) {
  const size_t begin = text.find_first_not_of(" \t\n\r\f\v");
  if (begin == std::string_view::npos) return std::nullopt;
  text = text.substr(begin, text.find_last_not_of(" \t\n\r\f\v") + 1 - begin);
  std::string lower;
  for (char c : text)
    lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  const size_t signless = lower[0] == '+' || lower[0] == '-' ? 1 : 0;
  const std::string_view word = std::string_view(lower).substr(signless);
  const double sign = lower[0] == '-' ? -1.0 : 1.0;
  if (word == "inf" || word == "infinity") return sign * std::numeric_limits<double>::infinity();
  if (word == "nan") return std::numeric_limits<double>::quiet_NaN();
  std::string digits(lower.substr(0, signless));  // what strtod reads: the underscores dropped
  size_t at = signless;
  // Digits with single underscores between them; returns how many digits it took.
  auto digit_part = [&]() {
    size_t count = 0;
    while (at < lower.size() && std::isdigit(static_cast<unsigned char>(lower[at]))) {
      digits.push_back(lower[at++]);
      ++count;
      if (at + 1 < lower.size() && lower[at] == '_' &&
          std::isdigit(static_cast<unsigned char>(lower[at + 1])))
        ++at;
    }
    return count;
  };
  size_t mantissa = digit_part();
  if (at < lower.size() && lower[at] == '.') {
    digits.push_back(lower[at++]);
    mantissa += digit_part();
  }
  if (mantissa == 0) return std::nullopt;
  if (at < lower.size() && lower[at] == 'e') {
    digits.push_back(lower[at++]);
    if (at < lower.size() && (lower[at] == '+' || lower[at] == '-')) digits.push_back(lower[at++]);
    if (digit_part() == 0) return std::nullopt;
  }
  if (at != lower.size()) return std::nullopt;
  return std::strtod(digits.c_str(), nullptr);  // out of range: +-inf or 0, as Python gives
}

}  // namespace bert
