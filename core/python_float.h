// Python's float() of a string, for values that Hugging Face tools read with it (argparse's
// type=float flags, tqdm's TQDM_* environment variables).
#pragma once

#include <optional>
#include <string_view>

namespace bert {

// Surrounding white space, a sign, then inf, infinity or nan (any case) or decimal digits with
// single underscores between them, a point and an exponent; no hexadecimal (which strtod would
// take). A number past the double range is +-inf (or 0), as Python gives. nullopt for anything
// float() refuses.
std::optional<double> parse_python_float(std::string_view text);

}  // namespace bert
