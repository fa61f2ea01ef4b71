// Writing JSON text by hand (the project's JSON outputs are small and ordered, so no DOM):
// the one string-quoting routine and the one number formatter every writer uses.
#pragma once

#include <string>
#include <string_view>

namespace bert {

// How a JSON string literal writes what is not printable ASCII.
enum class JsonChars {
  kUtf8,   // UTF-8 bytes pass through: json.dumps(ensure_ascii=False), as tokenizer files are
           // written
  kAscii,  // every other character as \uXXXX (a surrogate pair above U+FFFF, DEL too): json.dumps'
           // default, as utils_qa.py writes predictions; a byte that is not UTF-8 becomes \ufffd
};

// A JSON string literal: quotes, backslash, and control characters escaped (\n, \t, \u00XX…),
// the rest as `chars` says.
std::string json_quote(std::string_view utf8, JsonChars chars = JsonChars::kUtf8);

// What NaN and the infinities, which JSON has no token for, are written as.
enum class NonFiniteJson {
  kNull,         // null: every JSON reader accepts it (metrics, results, checkpoint state)
  kPythonNames,  // NaN, Infinity, -Infinity: what Python's json.dumps writes, for files and lines
                 // that must read like the Python tools' own (predictions, printed EM/F1, config.json)
};

// Whose shortest round-trip digits are written: the double's, or those of the float it holds
// (config.json's float fields: 0.1f as "0.1", as Hugging Face writes it, not the double
// 0.10000000149011612; a float widened to double for a Python-float field, such as a logit,
// keeps kDouble, as Python's float() of a float32 does).
enum class JsonDigits { kDouble, kFloat };

// A number as Python's repr(float), and so json.dumps, prints it: the shortest digits that read
// back to the same value (std::to_chars), always with a '.' or an exponent so readers keep it a
// float ("1.0", "3e-05"), in exponent form when the decimal exponent is < -4 or >= 16 ("1e-05",
// "1e+16", but "0.0001", "1000000000000000.0"), "-0.0" for negative zero. Shortest round-trip
// digits are exact, so this is also what checkpoint state uses where it needs the same double
// back (17 significant digits would be no more exact, only longer).
std::string format_json_number(double value, NonFiniteJson non_finite = NonFiniteJson::kNull,
                               JsonDigits digits = JsonDigits::kDouble);

// The same JSON with every integer literal of 20 or more digits written as a float ("1e30" style
// integers gain ".0"). Python writes int(1e30) as 1000000000000000019884624838656 (transformers'
// tokenizer_config.json "model_max_length" when a tokenizer has no limit), which simdjson's DOM
// refuses as a number too large for 64 bits; as a float it reads (as a double), and nothing
// that needs an exact integer can be that large. Strings are left untouched.
std::string widen_big_json_integers(std::string_view json);

// True when the text starts with a UTF-8 byte-order mark (EF BB BF), which JSON forbids
// (RFC 8259 section 8.1) and which editors on Windows add; readers name it in their error.
bool starts_with_utf8_bom(std::string_view text);
// The message for it: what it is and how to fix the file.
inline constexpr const char* kUtf8BomMessage =
    "the file starts with a UTF-8 byte-order mark (BOM, bytes EF BB BF), which JSON does not allow; "
    "save it as UTF-8 without a BOM";

}  // namespace bert
