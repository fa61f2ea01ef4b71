// Writing JSON text by hand (the project's JSON outputs are small and ordered, so no DOM):
// the one string-quoting routine every writer uses.
#pragma once

#include <string>
#include <string_view>

namespace bert {

// A JSON string literal: quotes, backslash, and control characters escaped (\n, \t, \u00XX…);
// UTF-8 bytes pass through unchanged, as Python's json.dumps(ensure_ascii=False) writes them.
std::string json_quote(std::string_view utf8);

}  // namespace bert
