// One strict UTF-8 decoder for every layer: the tokenizer's text, JSON quoting, input checks.
#pragma once

#include <cstddef>
#include <string_view>

namespace bert {

// Decodes the one strict UTF-8 sequence (no overlong forms, no surrogates, nothing above
// U+10FFFF) starting at byte i (< text.size()) into *cp and returns its length in bytes, or 0
// when it is invalid.
int decode_utf8_char(std::string_view text, size_t i, char32_t* cp);

}  // namespace bert
