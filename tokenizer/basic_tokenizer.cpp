// One pass: decode → clean → CJK isolation → (NFD, strip Mn, lowercase) → split.
// ASCII is handled from a 128-entry class table; everything else goes through unicode::.
#include "tokenizer/basic_tokenizer.h"

#include <algorithm>
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
    if (kAsciiClass[c] == AsciiClass::kDrop) return;  // removed before NFD: does not end a run of marks
    flush_marks();  // every other ASCII character is a starter
    last_alignment_ = source;
    put_ascii(c, source);
  }

  // An ASCII character after normalisation (from the text, or from lower-casing).
  void put_ascii(unsigned char c, int32_t source) {
    switch (kAsciiClass[c]) {
      case AsciiClass::kDrop:
        return;
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
        return;
    }
  }

  void non_ascii(char32_t cp, int32_t source) {
    if (cp == 0xFFFD || unicode::bert_removes(cp)) return;
    if (unicode::is_white_space(cp)) {
      flush_marks();
      last_alignment_ = source;
      end_word();
      return;
    }
    const bool chinese = unicode::is_chinese_char(cp);
    if (chinese) {
      flush_marks();
      end_word();
    }
    if (!lower_) {
      emit(cp, source);
    } else {
      // NFD as the BERT normaliser's crate runs it: characters it does not know (assigned after
      // Unicode 9.0) stay as they are, with combining class 0.
      decomposed_.clear();
      if (unicode::bert_nfd_knows(cp)) unicode::decompose_canonical(cp, &decomposed_);
      else decomposed_.push_back(cp);
      for (size_t k = 0; k < decomposed_.size(); ++k) {
        const char32_t d = decomposed_[k];
        const uint8_t ccc = unicode::bert_nfd_knows(d) ? unicode::combining_class(d) : 0;
        if (ccc != 0) {
          marks_.push_back({d, ccc, k == 0, source});
          continue;
        }
        flush_marks();
        last_alignment_ = k == 0 ? source : last_alignment_;
        if (!unicode::bert_is_nonspacing_mark(d)) emit_lowered(d, last_alignment_);
      }
    }
    if (chinese) end_word();
  }

  // A special token matched in the raw text: its own word, characters as written.
  void special(std::string_view token, int32_t index, int32_t source) {
    flush_marks();  // the text around a special token is normalised piece by piece
    end_word();
    size_t i = 0;
    for (; i < token.size(); ++source) {
      char32_t cp = 0;
      i += unicode::decode_utf8_char(token, i, &cp);  // validated when the vocabulary loaded
      push(cp, source);
    }
    out_->words.push_back({word_begin_, size(), index});
    word_begin_ = size();
  }

  void finish() {
    flush_marks();
    end_word();
    out_->char_byte.push_back(static_cast<uint32_t>(out_->normalized.size()));
  }

 private:
  int32_t size() const { return static_cast<int32_t>(out_->char_source.size()); }

  void end_word() {
    if (size() > word_begin_) out_->words.push_back({word_begin_, size(), -1});
    word_begin_ = size();
  }

  // A run of non-starters (combining class > 0) after NFD, in arrival order.
  struct Mark {
    char32_t c;
    uint8_t ccc;
    bool first;      // the first character of its original's decomposition (takes its alignment)
    int32_t source;  // that original character
  };

  // Canonical ordering of the run, then accent stripping, as the Rust normaliser does them:
  // the sort moves characters, not alignments. Each output character that begins an original's
  // decomposition takes the next original's position in arrival order; one that an expansion
  // inserted takes the previous output character's. Stripped marks leave with their position.
  void flush_marks() {
    if (marks_.empty()) return;
    originals_.clear();
    for (const Mark& m : marks_)
      if (m.first) originals_.push_back(m.source);
    std::stable_sort(marks_.begin(), marks_.end(), [](const Mark& a, const Mark& b) { return a.ccc < b.ccc; });
    size_t next = 0;
    for (const Mark& m : marks_) {
      if (m.first) last_alignment_ = originals_[next++];
      if (!unicode::bert_is_nonspacing_mark(m.c)) emit_lowered(m.c, last_alignment_);
    }
    marks_.clear();
  }

  void emit_lowered(char32_t c, int32_t source) {
    lowered_.clear();
    unicode::python_lower(c, &lowered_);
    for (char32_t l : lowered_) emit(l, source);
  }

  void push_ascii(unsigned char c, int32_t source) {
    out_->char_byte.push_back(static_cast<uint32_t>(out_->normalized.size()));
    out_->normalized.push_back(static_cast<char>(c));
    out_->char_source.push_back(source);
  }

  // A normalised character: split on whitespace/punctuation, else append to the word.
  void emit(char32_t c, int32_t source) {
    if (c < 0x80) {
      put_ascii(static_cast<unsigned char>(c), source);
      return;
    }
    if (unicode::is_white_space(c)) {
      end_word();
      return;
    }
    if (unicode::bert_is_punctuation(c)) {
      end_word();
      push(c, source);
      end_word();
      return;
    }
    push(c, source);
  }

  // Appends character c, normalised from original code point `source`.
  void push(char32_t c, int32_t source) {
    out_->char_byte.push_back(static_cast<uint32_t>(out_->normalized.size()));
    unicode::append_utf8(c, &out_->normalized);
    out_->char_source.push_back(source);
  }

  BasicTokens* out_;
  bool lower_;
  int32_t word_begin_ = 0;      // first character of the word being built
  int32_t last_alignment_ = 0;  // the original position of the last character NFD put out
  std::vector<Mark> marks_;
  std::vector<int32_t> originals_;
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
