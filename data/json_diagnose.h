// Locating errors in a JSON text that a fast parser (simdjson) rejected. simdjson says
// *that* a document is bad but not *where*; these scanners run only on that error path and
// find the byte offset of the first problem plus what was expected there, so a user can
// fix the file. They never run on valid input, so they favour clarity over speed.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace bert {

struct JsonProblem {
  size_t offset = 0;     // byte offset of the first bad byte (== size for a premature end)
  std::string expected;  // e.g. "expected ',' or '}' after an object member"
};

// Byte offset of the first byte that does not start a valid UTF-8 sequence (overlong
// forms, surrogates and values above U+10FFFF are invalid), or nullopt when all is valid.
std::optional<size_t> find_invalid_utf8(std::string_view text);

// The first violation of the JSON grammar (RFC 8259, one document, optional surrounding
// whitespace), or of what the parser holds (an integer beyond 64 bits, a number beyond a
// double's range), or nullopt when the text is valid JSON the parser takes. Bytes >= 0x80
// inside strings are not checked here (see find_invalid_utf8).
std::optional<JsonProblem> find_json_syntax_error(std::string_view text);

// "byte 1234 (line 3, column 17)": a position a person can find in an editor.
std::string describe_json_position(std::string_view text, size_t offset);

}  // namespace bert
