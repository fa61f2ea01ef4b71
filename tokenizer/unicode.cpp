// Lookups over the generated range tables (see tools/gen_unicode_tables.py) plus the
// algorithmic parts: UTF-8, Hangul decomposition, canonical ordering, final sigma.
#include "tokenizer/unicode.h"

#include <algorithm>
#include <cstddef>
#include <iterator>

#include "core/error.h"

namespace bert::unicode {
namespace {

struct CategoryRun {
  uint32_t first;
  uint8_t category;
};
struct CodeRange {
  uint32_t first, last;
};
struct LowerSingle {
  uint32_t cp, lower;
};
struct LowerMulti {
  uint32_t cp;
  uint8_t length;
  char32_t cps[3];
};
struct CombiningRange {
  uint32_t first, last;
  uint8_t ccc;
};
struct DecompEntry {
  uint32_t cp;
  uint16_t offset;
  uint8_t length;
};

#include "tokenizer/unicode_tables.inc"

static_assert(static_cast<int>(Category::Cn) == 29, "Category order must match the generator");

bool in_ranges(const CodeRange* begin, const CodeRange* end, char32_t cp) {
  // First range whose last >= cp.
  const CodeRange* it = std::lower_bound(
      begin, end, cp, [](const CodeRange& r, char32_t c) { return r.last < c; });
  return it != end && it->first <= cp;
}

template <typename Table>
bool in_table(const Table& table, char32_t cp) {
  return in_ranges(std::begin(table), std::end(table), cp);
}

// Hangul syllable arithmetic (Unicode ch. 3.12).
constexpr char32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr int kVCount = 21, kTCount = 28, kNCount = kVCount * kTCount, kSCount = 19 * kNCount;

}  // namespace

const char* tables_version() { return kTablesUnicodeVersion; }

// ---- UTF-8 -------------------------------------------------------------------------------

bool decode_utf8(std::string_view text, std::u32string* out, size_t* bad_byte_offset) {
  out->reserve(out->size() + text.size());
  size_t i = 0;
  while (i < text.size()) {
    char32_t cp;
    const int len = decode_utf8_char(text, i, &cp);
    if (len == 0) {
      if (bad_byte_offset) *bad_byte_offset = i;
      return false;
    }
    out->push_back(cp);
    i += len;
  }
  return true;
}

std::u32string utf8_to_u32(std::string_view text) {
  std::u32string out;
  size_t bad = 0;
  if (!decode_utf8(text, &out, &bad)) {
    throw InputError("invalid UTF-8 at byte " + std::to_string(bad));
  }
  return out;
}

void append_utf8(char32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    BERT_CHECK(cp < 0xD800 || cp > 0xDFFF, "surrogate code point has no UTF-8 form");
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    BERT_CHECK(cp <= 0x10FFFF, "code point above U+10FFFF");
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string u32_to_utf8(std::u32string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t cp : text) append_utf8(cp, &out);
  return out;
}

// ---- categories and predicates -------------------------------------------------------------

namespace {

// The category of the last run whose first <= cp.
template <size_t N>
Category category_in(const CategoryRun (&runs)[N], char32_t cp) {
  if (cp > 0x10FFFF) return Category::Cn;
  const CategoryRun* it = std::upper_bound(std::begin(runs), std::end(runs), cp,
                                           [](char32_t c, const CategoryRun& r) { return c < r.first; });
  return static_cast<Category>((it - 1)->category);
}

}  // namespace

Category category(char32_t cp) { return category_in(kCategoryRuns, cp); }
Category bert_category(char32_t cp) { return category_in(kBertCategoryRuns, cp); }
const char* bert_tables_version() { return kBertTablesUnicodeVersion; }
bool bert_nfd_knows(char32_t cp) { return cp < 0x80 || in_table(kBertNfdAssigned, cp); }
const char* bert_nfd_tables_version() { return kBertNfdUnicodeVersion; }

const char* category_name(Category c) {
  static const char* const kNames[] = {"Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me",
                                       "Nd", "Nl", "No", "Pc", "Pd", "Ps", "Pe", "Pi",
                                       "Pf", "Po", "Sm", "Sc", "Sk", "So", "Zs", "Zl",
                                       "Zp", "Cc", "Cf", "Cs", "Co", "Cn"};
  return kNames[static_cast<int>(c)];
}

bool python_isspace(char32_t cp) {
  if (cp < 0x80) return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20);
  return in_table(kSpaceRanges, cp);
}

bool python_isalnum(char32_t cp) {
  if (cp < 0x80) {
    return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
  }
  return in_table(kAlnumRanges, cp);
}

bool is_white_space(char32_t cp) {
  return python_isspace(cp) && !(cp >= 0x1C && cp <= 0x1F);
}

// ---- case mapping --------------------------------------------------------------------------

void python_lower(char32_t cp, std::u32string* out) {
  if (cp < 0x80) {
    out->push_back(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp);
    return;
  }
  const LowerSingle* it = std::lower_bound(
      std::begin(kLowerSingle), std::end(kLowerSingle), cp,
      [](const LowerSingle& e, char32_t c) { return e.cp < c; });
  if (it != std::end(kLowerSingle) && it->cp == cp) {
    out->push_back(it->lower);
    return;
  }
  for (const LowerMulti& m : kLowerMulti) {
    if (m.cp == cp) {
      out->append(m.cps, m.length);
      return;
    }
  }
  out->push_back(cp);
}

std::u32string python_lower_text(std::u32string_view text) {
  std::u32string out;
  out.reserve(text.size());
  const size_t n = text.size();
  for (size_t i = 0; i < n; ++i) {
    if (text[i] != 0x3A3) {
      python_lower(text[i], &out);
      continue;
    }
    // CPython's handle_capital_sigma: final when a cased letter precedes (skipping
    // case-ignorables) and no cased letter follows (again skipping case-ignorables).
    size_t j = i;
    while (j > 0 && in_table(kCaseIgnorable, text[j - 1])) --j;
    bool final_sigma = j > 0 && in_table(kCased, text[j - 1]);
    if (final_sigma) {
      size_t k = i + 1;
      while (k < n && in_table(kCaseIgnorable, text[k])) ++k;
      final_sigma = k == n || !in_table(kCased, text[k]);
    }
    out.push_back(final_sigma ? 0x3C2 : 0x3C3);
  }
  return out;
}

std::string python_lower_utf8(std::string_view text) {
  return u32_to_utf8(python_lower_text(utf8_to_u32(text)));
}

// ---- normalisation ---------------------------------------------------------------------

uint8_t combining_class(char32_t cp) {
  if (cp < 0x300) return 0;
  const CombiningRange* it = std::lower_bound(
      std::begin(kCombiningClass), std::end(kCombiningClass), cp,
      [](const CombiningRange& r, char32_t c) { return r.last < c; });
  return it != std::end(kCombiningClass) && it->first <= cp ? it->ccc : 0;
}

void decompose_canonical(char32_t cp, std::u32string* out) {
  if (cp < 0xC0) {
    out->push_back(cp);
    return;
  }
  if (cp >= kSBase && cp < kSBase + kSCount) {
    const int s = static_cast<int>(cp - kSBase);
    out->push_back(kLBase + s / kNCount);
    out->push_back(kVBase + (s % kNCount) / kTCount);
    if (s % kTCount != 0) out->push_back(kTBase + s % kTCount);
    return;
  }
  const DecompEntry* it = std::lower_bound(
      std::begin(kDecompIndex), std::end(kDecompIndex), cp,
      [](const DecompEntry& e, char32_t c) { return e.cp < c; });
  if (it != std::end(kDecompIndex) && it->cp == cp) {
    out->append(kDecompData + it->offset, it->length);
  } else {
    out->push_back(cp);
  }
}

void decompose_compatibility(char32_t cp, std::u32string* out) {
  if (cp < 0xA0) {
    out->push_back(cp);
    return;
  }
  const DecompEntry* it =
      std::lower_bound(std::begin(kCompatDecompIndex), std::end(kCompatDecompIndex), cp,
                       [](const DecompEntry& e, char32_t c) { return e.cp < c; });
  if (it != std::end(kCompatDecompIndex) && it->cp == cp) {
    out->append(kCompatDecompData + it->offset, it->length);
  } else {
    decompose_canonical(cp, out);
  }
}

bool hf_is_mark(char32_t cp) { return cp >= 0x300 && in_table(kHfMarkRanges, cp); }

void hf_nfkd_strip_accents(char32_t cp, std::u32string* out) {
  if (!bert_nfd_knows(cp)) {  // the crate's NFKD has no data for it
    out->push_back(cp);
    return;
  }
  const size_t first = out->size();
  decompose_compatibility(cp, out);
  out->erase(
      std::remove_if(out->begin() + static_cast<std::ptrdiff_t>(first), out->end(), hf_is_mark),
      out->end());
}

std::u32string nfd(std::u32string_view text) {
  std::u32string out;
  out.reserve(text.size());
  for (char32_t cp : text) decompose_canonical(cp, &out);
  // Canonical ordering: stable sort of each run of non-starters by combining class.
  // Insertion sort, since runs are short.
  for (size_t i = 1; i < out.size(); ++i) {
    const uint8_t ccc = combining_class(out[i]);
    if (ccc == 0) continue;
    size_t j = i;
    while (j > 0) {
      const uint8_t prev = combining_class(out[j - 1]);
      if (prev == 0 || prev <= ccc) break;
      std::swap(out[j - 1], out[j]);
      --j;
    }
  }
  return out;
}

}  // namespace bert::unicode
