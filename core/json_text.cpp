#include "core/json_text.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "core/utf8.h"

namespace bert {

namespace {

// The code point of the UTF-8 sequence at text[*i], advancing *i past it; a byte that does not
// start a well-formed sequence gives U+FFFD and advances by one.
uint32_t next_code_point(std::string_view text, size_t* i) {
  char32_t code = 0;
  const int length = decode_utf8_char(text, *i, &code);
  *i += length > 0 ? static_cast<size_t>(length) : 1;
  return length > 0 ? static_cast<uint32_t>(code) : 0xFFFD;
}

void append_u_escape(uint32_t unit, std::string* out) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(unit));
  *out += buf;
}

}  // namespace

std::string json_quote(std::string_view utf8, JsonChars chars) {
  std::string out;
  out.reserve(utf8.size() + 2);
  out.push_back('"');
  for (size_t i = 0; i < utf8.size();) {
    const char ch = utf8[i];
    const unsigned char c = static_cast<unsigned char>(ch);
    if (chars == JsonChars::kAscii && c >= 0x7F) {
      const uint32_t code = next_code_point(utf8, &i);
      if (code < 0x10000) {
        append_u_escape(code, &out);
      } else {
        append_u_escape(0xD800 + ((code - 0x10000) >> 10), &out);
        append_u_escape(0xDC00 + ((code - 0x10000) & 0x3FF), &out);
      }
      continue;
    }
    ++i;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out.push_back(ch);  // UTF-8 bytes pass through
        }
    }
  }
  out.push_back('"');
  return out;
}

std::string format_json_number(double value, NonFiniteJson non_finite, JsonDigits digits) {
  if (digits == JsonDigits::kFloat) value = static_cast<float>(value);  // may overflow to infinity
  if (!std::isfinite(value)) {
    if (non_finite == NonFiniteJson::kNull) return "null";
    if (std::isnan(value)) return "NaN";
    return value > 0 ? "Infinity" : "-Infinity";
  }
  // Shortest round-trip digits as "[-]d.ddde[+-]XX"; Python's repr uses the same digits.
  char buf[64];
  const auto result = digits == JsonDigits::kFloat
                          ? std::to_chars(buf, buf + sizeof buf, static_cast<float>(value), std::chars_format::scientific)
                          : std::to_chars(buf, buf + sizeof buf, value, std::chars_format::scientific);
  const std::string_view sci(buf, static_cast<size_t>(result.ptr - buf));
  std::string out = std::signbit(value) ? "-" : "";
  const size_t e_pos = sci.find('e');
  std::string mantissa;
  for (size_t i = out.size(); i < e_pos; ++i)
    if (sci[i] != '.') mantissa.push_back(sci[i]);
  const int exponent = std::atoi(std::string(sci.substr(e_pos + 1)).c_str());

  if (exponent < -4 || exponent >= 16) {  // Python: decpt <= -4 or decpt > 16
    out += mantissa[0];
    if (mantissa.size() > 1) out += "." + mantissa.substr(1);
    char exp_buf[16];
    std::snprintf(exp_buf, sizeof exp_buf, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
    out += exp_buf;
  } else if (exponent >= 0) {
    const size_t int_digits = static_cast<size_t>(exponent) + 1;
    if (mantissa.size() <= int_digits) {
      out += mantissa + std::string(int_digits - mantissa.size(), '0') + ".0";
    } else {
      out += mantissa.substr(0, int_digits) + "." + mantissa.substr(int_digits);
    }
  } else {
    out += "0." + std::string(static_cast<size_t>(-exponent - 1), '0') + mantissa;
  }
  return out;
}

std::string widen_big_json_integers(std::string_view json) {
  std::string out;
  out.reserve(json.size() + 8);
  bool in_string = false;
  for (size_t i = 0; i < json.size();) {
    const char c = json[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < json.size()) out += json[++i];  // the escaped character, whatever it is
      else if (c == '"') in_string = false;
      ++i;
      continue;
    }
    if (c == '"') {
      in_string = true;
      out += c;
      ++i;
      continue;
    }
    if (c != '-' && !(c >= '0' && c <= '9')) {
      out += c;
      ++i;
      continue;
    }
    // A number token: outside strings only numbers hold digits (true/false/null have none).
    size_t end = i, digits = 0;
    bool integer = true;
    while (end < json.size()) {
      const char d = json[end];
      if (d >= '0' && d <= '9') ++digits;
      else if (d == '.' || d == 'e' || d == 'E') integer = false;
      else if (d != '-' && d != '+') break;
      ++end;
    }
    out.append(json.substr(i, end - i));
    if (integer && digits >= 20) out += ".0";
    i = end;
  }
  return out;
}

bool starts_with_utf8_bom(std::string_view text) {
  return text.size() >= 3 && static_cast<unsigned char>(text[0]) == 0xEF &&
         static_cast<unsigned char>(text[1]) == 0xBB && static_cast<unsigned char>(text[2]) == 0xBF;
}

}  // namespace bert
