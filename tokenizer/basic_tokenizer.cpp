// One pass: decode → clean → CJK isolation → (NFD, strip Mn, lowercase) → split.
// ASCII is handled from a 128-entry class table; everything else goes through unicode::.
#include "tokenizer/basic_tokenizer.h"

#include <array>

#include "core/error.h"
#include "tokenizer/unicode.h"

namespace bert {
namespace {

enum class AsciiClass : uint8_t { kDrop, kSpace, kPunct, kWord };

constexpr std::array<AsciiClass, 128> make_ascii_classes() {
  std::array<AsciiClass, 128> t{};
  for (int c = 0; c < 128; ++c) {
    if (c == '\t' || c == '\n' || c == '\r' || c == ' ') {
      t[c] = AsciiClass::kSpace;
    } else if (c < 0x20 || c == 0x7F) {
      t[c] = AsciiClass::kDrop;  // Cc; \v \f and U+001C..U+001F are dropped before the space map
    } else if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
      t[c] = AsciiClass::kWord;
    } else {
      t[c] = AsciiClass::kPunct;  // Rust's is_ascii_punctuation: every other printable
    }
  }
  return t;
}
constexpr std::array<AsciiClass, 128> kAsciiClass = make_ascii_classes();

// Appends normalised characters to a BasicTokens, closing words at spaces and punctuation.
class Builder {
 public:
  Builder(BasicTokens* out, bool lower) : out_(out), lower_(lower) {}

  void ascii(unsigned char c, int32_t source) {
    switch (kAsciiClass[c]) {
      case AsciiClass::kDrop:
        return;  // removed before NFD, so it does not end a run of combining marks
      case AsciiClass::kSpace:
        end_word();
        return;
      case AsciiClass::kPunct:
        end_word();
        push_ascii(c, source);
        end_word();
        return;
      case AsciiClass::kWord:
        push_ascii(lower_ && c >= 'A' && c <= 'Z' ? c + 32 : c, source);
        run_begin_ = size();
        return;
    }
  }

  void non_ascii(char32_t cp, int32_t source) {
    if (cp == 0xFFFD || unicode::bert_removes(cp)) return;
    if (unicode::is_white_space(cp)) {
      end_word();
      return;
    }
    const bool chinese = unicode::is_chinese_char(cp);
    if (chinese) end_word();
    if (!lower_) {
      emit(cp, source, 0);
    } else {
      decomposed_.clear();
      unicode::decompose_canonical(cp, &decomposed_);
      for (char32_t d : decomposed_) {
        const uint8_t ccc = unicode::combining_class(d);
        if (unicode::bert_is_nonspacing_mark(d)) {
          if (ccc == 0) run_begin_ = size();  // still a starter for canonical ordering
          continue;
        }
        lowered_.clear();
        unicode::python_lower(d, &lowered_);
        for (char32_t l : lowered_) emit(l, source, ccc);
      }
    }
    if (chinese) end_word();
  }

  // A special token matched in the raw text: its own word, characters as written.
  void special(std::string_view token, int32_t index, int32_t source) {
    end_word();
    size_t i = 0;
    for (; i < token.size(); ++source) {
      char32_t cp = 0;
      i += unicode::decode_utf8_char(token, i, &cp);  // validated when the vocabulary loaded
      push(cp, source, size());
    }
    out_->words.push_back({word_begin_, size(), index});
    word_begin_ = run_begin_ = size();
  }

  void finish() {
    end_word();
    out_->char_byte.push_back(static_cast<uint32_t>(out_->normalized.size()));
  }

 private:
  int32_t size() const { return static_cast<int32_t>(out_->char_source.size()); }

  void end_word() {
    if (size() > word_begin_) out_->words.push_back({word_begin_, size(), -1});
    word_begin_ = run_begin_ = size();
  }

  void push_ascii(unsigned char c, int32_t source) {
    out_->char_byte.push_back(static_cast<uint32_t>(out_->normalized.size()));
    out_->normalized.push_back(static_cast<char>(c));
    out_->char_source.push_back(source);
  }

  // A normalised character: split on whitespace/punctuation, else append to the word.
  void emit(char32_t c, int32_t source, uint8_t ccc) {
    if (c < 0x80) {
      ascii(static_cast<unsigned char>(c), source);
      return;
    }
    if (unicode::is_white_space(c)) {
      end_word();
      return;
    }
    if (unicode::bert_is_punctuation(c)) {
      end_word();
      push(c, source, size());
      end_word();
      return;
    }
    if (ccc == 0 || !lower_) {
      push(c, source, size());
      if (ccc == 0) run_begin_ = size();
      return;
    }
    // Canonical ordering (NFD only): move back past non-starters of a higher class.
    int32_t at = size();
    while (at > run_begin_ && unicode::combining_class(char_at(at - 1)) > ccc) --at;
    push(c, source, at);
  }

  char32_t char_at(int32_t index) const {
    char32_t cp = 0;
    unicode::decode_utf8_char(out_->normalized, out_->char_byte[index], &cp);
    return cp;
  }

  // Inserts character c at character index `at` (normally the end).
  void push(char32_t c, int32_t source, int32_t at) {
    if (at == size()) {
      out_->char_byte.push_back(static_cast<uint32_t>(out_->normalized.size()));
      unicode::append_utf8(c, &out_->normalized);
      out_->char_source.push_back(source);
      return;
    }
    std::string bytes;
    unicode::append_utf8(c, &bytes);
    const uint32_t byte_at = out_->char_byte[at];
    out_->normalized.insert(byte_at, bytes);
    out_->char_byte.insert(out_->char_byte.begin() + at, byte_at);
    for (size_t k = at + 1; k < out_->char_byte.size(); ++k) {
      out_->char_byte[k] += static_cast<uint32_t>(bytes.size());
    }
    out_->char_source.insert(out_->char_source.begin() + at, source);
  }

  BasicTokens* out_;
  bool lower_;
  int32_t word_begin_ = 0;  // first character of the word being built
  int32_t run_begin_ = 0;   // a non-starter may not move before this character
  std::u32string decomposed_, lowered_;
};

}  // namespace

void BasicTokens::clear() {
  normalized.clear();
  char_byte.clear();
  char_source.clear();
  words.clear();
}

namespace {

// Index of the longest special token that starts at byte i, or -1.
int32_t match_special(std::string_view text, size_t i, const std::vector<std::string>& specials) {
  int32_t best = -1;
  for (size_t k = 0; k < specials.size(); ++k) {
    const std::string& t = specials[k];
    if (!t.empty() && text.compare(i, t.size(), t) == 0 &&
        (best < 0 || t.size() > specials[best].size())) {
      best = static_cast<int32_t>(k);
    }
  }
  return best;
}

int32_t count_code_points(std::string_view s) {
  int32_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

}  // namespace

void basic_tokenize(std::string_view text, bool do_lower_case,
                    const std::vector<std::string>& special_tokens, BasicTokens* out) {
  out->clear();
  out->normalized.reserve(text.size());
  out->char_byte.reserve(text.size() + 1);
  out->char_source.reserve(text.size());
  Builder builder(out, do_lower_case);
  std::array<bool, 256> special_first{};  // first bytes of special tokens: a cheap pre-check
  for (const std::string& t : special_tokens) {
    if (!t.empty()) special_first[static_cast<unsigned char>(t[0])] = true;
  }
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  int32_t source = 0;
  for (size_t i = 0; i < text.size(); ++source) {
    if (special_first[s[i]]) {
      const int32_t k = match_special(text, i, special_tokens);
      if (k >= 0) {
        builder.special(special_tokens[k], k, source);
        i += special_tokens[k].size();
        source += count_code_points(special_tokens[k]) - 1;
        continue;
      }
    }
    if (s[i] < 0x80) {
      builder.ascii(s[i], source);
      ++i;
      continue;
    }
    char32_t cp;
    const int len = unicode::decode_utf8_char(text, i, &cp);
    if (len == 0) throw InputError("invalid UTF-8 at byte " + std::to_string(i));
    builder.non_ascii(cp, source);
    i += len;
  }
  builder.finish();
}

}  // namespace bert
