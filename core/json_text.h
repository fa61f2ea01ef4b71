// Writing JSON text by hand (the project's JSON outputs are small and ordered, so no DOM):
// the one string-quoting routine every writer uses.
#pragma once

#include <string>
#include <string_view>

namespace bert {

// A JSON string literal: quotes, backslash, and control characters escaped (\n, \t, \u00XX…);
// UTF-8 bytes pass through unchanged, as Python's json.dumps(ensure_ascii=False) writes them.
std::string json_quote(std::string_view utf8);

// True when the text starts with a UTF-8 byte-order mark (EF BB BF), which JSON forbids
// (RFC 8259 section 8.1) and which editors on Windows add; readers name it in their error.
bool starts_with_utf8_bom(std::string_view text);
// The message for it: what it is and how to fix the file.
inline constexpr const char* kUtf8BomMessage =
    "the file starts with a UTF-8 byte-order mark (BOM, bytes EF BB BF), which JSON does not allow; "
    "save it as UTF-8 without a BOM";

}  // namespace bert
