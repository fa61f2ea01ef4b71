// BERT's basic tokenizer, as the Hugging Face fast tokenizer runs it (the Rust `tokenizers`
// BertNormalizer followed by BertPreTokenizer), in one pass over the text:
//   1. clean text: drop U+0000, U+FFFD and every Cc/Cf/Co character except \t \n \r
//      (unassigned characters stay); White_Space characters become spaces;
//   2. CJK ideographs (unicode::is_chinese_char) become words of their own;
//   3. when lower-casing: NFD, drop Mn (accent stripping), then per-character full lowercase
//      (Rust's char::to_lowercase, so Σ → σ with no final-sigma rule);
//   4. split on White_Space (dropped) and punctuation (ASCII punctuation or Unicode P*, each
//      its own word).
// The categories in 1, 3 and 4 are Unicode 8.0.0's (unicode::bert_category), and the NFD in 3
// has Unicode 9.0.0's data (unicode::bert_nfd_knows), as the Rust crates the fast tokenizer
// calls have them, not today's.
// Before all that, special tokens ([CLS], [SEP], ...) are cut out of the raw text, exactly
// and case-sensitively, as Hugging Face's added-vocabulary matching does (leftmost, longest).
// Every normalised character remembers which original code point produced it, which is how
// Rust's NormalizedString alignments work: characters an NFD or lowercase expansion inserts
// share the alignment of the character before them, removed characters leave no trace.
// Canonical reordering moves characters but not alignments, as the Rust NFD does: after the
// sort, a character that begins an original's decomposition takes the next original position in
// text order, and accent stripping then removes marks with the position they ended up at.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace bert {

// The words of one text after normalisation. Whitespace is not stored: `normalized` is the
// words' characters back to back.
struct BasicTokens {
  struct Word {
    int32_t char_begin, char_end;  // [begin, end) indices into char_source / char_byte
    int32_t special;               // index into the special tokens when one matched, else -1
  };
  std::string normalized;            // UTF-8 of every word character, in order
  std::vector<uint32_t> char_byte;   // byte offset of each character in `normalized`, plus end
  std::vector<int32_t> char_source;  // original code point index each character came from
  std::vector<Word> words;

  void clear();
};

// Normalises and splits UTF-8 text into *out (cleared first; buffers are reused). A raw
// occurrence of one of `special_tokens` becomes one Word with `special` set, its characters
// copied unnormalised. Throws InputError("invalid UTF-8 at byte N") on bad input.
void basic_tokenize(std::string_view utf8_text, bool do_lower_case,
                    const std::vector<std::string>& special_tokens, BasicTokens* out);

}  // namespace bert
