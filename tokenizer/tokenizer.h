// The tokenizer interface every model directory resolves to: WordPiece (vocab.txt) or
// SentencePiece (a .model file). Encodings carry no special tokens; offsets are
// [start, end) in Unicode code points of the original (unnormalised) text.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bert {

using TokenSpan = std::pair<int32_t, int32_t>;  // [start, end) in code points

// Names the tokenizers' text rules; changed whenever a change makes them produce other tokens
// for some text, so window caches built under the old rules are found stale (window_cache).
inline constexpr const char kTokenizerRulesRevision[] =
    "2026-12-05: BERT normaliser categories of Unicode 8.0.0, unassigned characters kept, "
    "CJK from U+2B920, NFD of Unicode 9.0.0 with positional alignments; "
    "2026-12-07: SentencePiece as AlbertTokenizer (special tokens matched whole, `` and '' as \", "
    "a lone \"▁\" aligned with the next character); "
    "2026-12-07 (fourth session): SentencePiece control pieces matched whole, U+0085 a space; "
    "2026-12-07 (sixth session): a SentencePiece piece ending inside a charsmap expansion "
    "aligned with the whole character";

struct Encoding {
  std::vector<int32_t> ids;
  std::vector<TokenSpan> offsets;  // one per id
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  // Tokenizes UTF-8 text (no special tokens added). Invalid UTF-8 throws InputError.
  virtual Encoding encode(std::string_view utf8_text) const = 0;
  virtual int32_t vocab_size() const = 0;
  virtual std::string id_to_token(int32_t id) const = 0;
  virtual int32_t cls_id() const = 0;
  virtual int32_t sep_id() const = 0;
  virtual int32_t pad_id() const = 0;
  virtual int32_t unk_id() const = 0;
  // The options beyond the vocabulary and the lower-casing that change the tokens ("" when
  // none), for fingerprints of what was tokenized (window caches, resumed runs).
  virtual std::string text_rules() const { return ""; }
};

// Opens the tokenizer a model directory holds: vocab.txt → WordPiece; otherwise a
// SentencePiece model (spiece.model, sentencepiece.bpe.model or tokenizer.model); otherwise
// tokenizer.json → WordPiece.
// Throws InputError naming the directory when it holds neither.
// keep_accents is AlbertTokenizer's, for a SentencePiece model only (read_tokenizer_config
// decides it from tokenizer_config.json); WordPiece strips accents exactly when lower-casing.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& model_dir, bool do_lower_case,
                                          bool keep_accents);
// The tokenizer of one vocabulary file: a *.model file → SentencePiece, anything else (vocab.txt,
// tokenizer.json) → WordPiece.
std::unique_ptr<Tokenizer> load_tokenizer_file(const std::string& path, bool do_lower_case,
                                               bool keep_accents);

}  // namespace bert
