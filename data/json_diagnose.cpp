#include "data/json_diagnose.h"

#include <cmath>
#include <cstdlib>
#include <vector>

#include "core/utf8.h"

namespace bert {

std::optional<size_t> find_invalid_utf8(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    char32_t cp = 0;
    const int length = decode_utf8_char(text, i, &cp);
    if (length == 0) return i;
    i += static_cast<size_t>(length);
  }
  return std::nullopt;
}

namespace {

// Walks the grammar with an explicit stack, so a deeply nested (hostile) file cannot
// overflow the call stack.
class SyntaxScanner {
 public:
  explicit SyntaxScanner(std::string_view text) : s_(text) {}

  std::optional<JsonProblem> run() {
    enum class Expect { kValue, kValueOrClose, kKeyOrClose, kKey, kColon, kCommaOrClose, kEnd };
    Expect expect = Expect::kValue;
    std::vector<char> stack;  // '{' or '['
    auto after_value = [&] { expect = stack.empty() ? Expect::kEnd : Expect::kCommaOrClose; };
    for (;;) {
      skip_whitespace();
      if (i_ == s_.size()) {
        if (expect == Expect::kEnd) return std::nullopt;
        return fail(stack.empty() ? "unexpected end of input, expected a JSON value"
                                  : std::string("unexpected end of input, ") +
                                        std::to_string(stack.size()) +
                                        " array(s)/object(s) still open");
      }
      const char c = s_[i_];
      switch (expect) {
        case Expect::kEnd:
          return fail("expected the end of input after the JSON document");
        case Expect::kColon:
          if (c != ':') return fail("expected ':' after an object key");
          ++i_;
          expect = Expect::kValue;
          break;
        case Expect::kCommaOrClose: {
          const bool object = stack.back() == '{';
          if (c == ',') {
            ++i_;
            expect = object ? Expect::kKey : Expect::kValue;
          } else if (c == (object ? '}' : ']')) {
            ++i_;
            stack.pop_back();
            after_value();
          } else {
            return fail(object ? "expected ',' or '}' after an object member"
                               : "expected ',' or ']' after an array element");
          }
          break;
        }
        case Expect::kKeyOrClose:
        case Expect::kKey:
          if (expect == Expect::kKeyOrClose && c == '}') {
            ++i_;
            stack.pop_back();
            after_value();
          } else if (c == '"') {
            if (auto problem = scan_string()) return problem;
            expect = Expect::kColon;
          } else {
            return fail(expect == Expect::kKey ? "expected a string key after ','"
                                               : "expected a string key or '}'");
          }
          break;
        case Expect::kValueOrClose:
        case Expect::kValue:
          if (expect == Expect::kValueOrClose && c == ']') {
            ++i_;
            stack.pop_back();
            after_value();
          } else if (c == '{' || c == '[') {
            ++i_;
            stack.push_back(c);
            expect = c == '{' ? Expect::kKeyOrClose : Expect::kValueOrClose;
          } else {
            if (auto problem = scan_scalar()) return problem;
            after_value();
          }
          break;
      }
    }
  }

 private:
  std::optional<JsonProblem> fail(std::string expected) const {
    return JsonProblem{i_, std::move(expected)};
  }
  void skip_whitespace() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r'))
      ++i_;
  }
  bool is_digit(size_t at) const { return at < s_.size() && s_[at] >= '0' && s_[at] <= '9'; }
  static bool is_hex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  }

  std::optional<JsonProblem> scan_scalar() {
    const char c = s_[i_];
    if (c == '"') return scan_string();
    if (c == '-' || is_digit(i_)) return scan_number();
    for (std::string_view word : {"true", "false", "null"}) {
      if (s_.substr(i_, word.size()) == word) {
        i_ += word.size();
        return std::nullopt;
      }
    }
    return fail("expected a JSON value (object, array, string, number, true, false or null)");
  }

  std::optional<JsonProblem> scan_number() {
    const size_t start = i_;
    const bool negative = s_[i_] == '-';
    if (negative) ++i_;
    if (!is_digit(i_)) return fail("expected a digit in a number");
    if (s_[i_] == '0') {
      ++i_;
    } else {
      while (is_digit(i_)) ++i_;
    }
    const size_t integer_end = i_;
    if (i_ < s_.size() && s_[i_] == '.') {
      ++i_;
      if (!is_digit(i_)) return fail("expected a digit after the decimal point");
      while (is_digit(i_)) ++i_;
    }
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      ++i_;
      if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
      if (!is_digit(i_)) return fail("expected a digit in the exponent");
      while (is_digit(i_)) ++i_;
    }
    return check_number_range(start, negative, integer_end);
  }

  // Valid JSON that the reader (simdjson) still refuses: an integer beyond 64 bits, or a
  // number beyond a double's range. Python's json takes both; say so where it is.
  std::optional<JsonProblem> check_number_range(size_t start, bool negative, size_t integer_end) {
    const std::string token(s_.substr(start, i_ - start));
    if (integer_end == i_) {  // an integer
      const std::string digits = token.substr(negative ? 1 : 0);
      const std::string limit = negative ? "9223372036854775808" : "18446744073709551615";
      if (digits.size() < limit.size() || (digits.size() == limit.size() && digits <= limit))
        return std::nullopt;
      i_ = start;
      return fail("the integer " + token + " is beyond 64 bits, more than this reader holds");
    }
    if (std::isfinite(std::strtod(token.c_str(), nullptr))) return std::nullopt;
    i_ = start;
    return fail("the number " + token + " is beyond a double's range, more than this reader holds");
  }

  // Reads the \uXXXX at i_ (i_ on the backslash); returns the code unit or -1.
  long read_unicode_escape() {
    if (i_ + 6 > s_.size() || s_[i_ + 1] != 'u') return -1;
    long unit = 0;
    for (size_t k = 2; k < 6; ++k) {
      const char h = s_[i_ + k];
      if (!is_hex(h)) return -1;
      unit = unit * 16 + (h <= '9' ? h - '0' : (h | 0x20) - 'a' + 10);
    }
    i_ += 6;
    return unit;
  }

  std::optional<JsonProblem> scan_string() {
    ++i_;  // opening quote
    for (;;) {
      if (i_ == s_.size()) return fail("unexpected end of input inside a string (missing '\"')");
      const auto c = static_cast<unsigned char>(s_[i_]);
      if (c == '"') {
        ++i_;
        return std::nullopt;
      }
      if (c < 0x20) return fail("expected '\"' or a character; control characters must be escaped");
      if (c != '\\') {
        ++i_;
        continue;
      }
      if (i_ + 1 >= s_.size()) return fail("unexpected end of input in an escape sequence");
      const char e = s_[i_ + 1];
      if (e != 'u') {
        if (std::string_view("\"\\/bfnrt").find(e) == std::string_view::npos)
          return fail("expected one of \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX");
        i_ += 2;
        continue;
      }
      const size_t start = i_;
      const long unit = read_unicode_escape();
      if (unit < 0) return fail("expected 4 hex digits after \\u");
      if (unit >= 0xDC00 && unit <= 0xDFFF) {
        i_ = start;
        return fail("unpaired low surrogate in \\u escape");
      }
      if (unit >= 0xD800 && unit <= 0xDBFF) {
        const long low = read_unicode_escape();
        if (low < 0xDC00 || low > 0xDFFF) {
          i_ = start;
          return fail("expected a \\uDC00-\\uDFFF low surrogate after a high surrogate");
        }
      }
    }
  }

  std::string_view s_;
  size_t i_ = 0;
};

}  // namespace

std::optional<JsonProblem> find_json_syntax_error(std::string_view text) {
  return SyntaxScanner(text).run();
}

std::string describe_json_position(std::string_view text, size_t offset) {
  size_t line = 1, line_start = 0;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  return "byte " + std::to_string(offset) + " (line " + std::to_string(line) + ", column " +
         std::to_string(offset - line_start + 1) + ")";
}

}  // namespace bert
