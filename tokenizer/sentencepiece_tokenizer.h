// A SentencePiece unigram model (spiece.model) behind the bert::Tokenizer interface, tokenizing as
// transformers' AlbertTokenizer (what run_qa.py gets for such a model directory), with the
// keep_accents tokenizer_config.json gives (read_tokenizer_config).
// The sentencepiece library does the segmentation (its charsmap normalisation and whitespace
// handling are the Precompiled normaliser and Metaspace pre-tokenizer transformers builds from
// the same model); around it, as AlbertTokenizer does:
//   - special tokens written in the text ([CLS], [SEP], <pad>, <unk>, [MASK], as the model's
//     pieces spell them) are matched whole first, case-sensitively, and the text between them
//     is tokenized piece by piece;
//   - "``" and "''" become '"'; without keep_accents each character is then replaced by its
//     NFKD less its marks (tokenizers' NFKD and StripAccents, Unicode 9.0.0 data, see
//     unicode::hf_nfkd_strip_accents); do_lower_case then lowers with Python's str.lower() mapping;
//   - offsets are code points of the original text, as the fast tokenizer aligns them: a piece
//     covers the original characters its normalised characters came from, less leading
//     whitespace (the space a "▁" stands for) and of characters the model's normaliser deletes
//     (zero-width spaces, which sentencepiece counts into the next piece); a piece that is only
//     "▁" covers the character after its space, and each of the pieces one character expands to
//     (NFKC's "½" → "1⁄2") covers that character, where sentencepiece gives all but the last none.
// What AlbertTokenizer would do otherwise is refused when the model is loaded: BPE models
// (transformers rebuilds their pieces as a unigram model), byte-fallback pieces (transformers
// turns them off), an unknown-piece id other than 1 (transformers maps unknown text to id 1),
// no [CLS] or [SEP] piece (AlbertTokenizer's cls_token and sep_token), and segmentation switches
// AlbertTokenizer ignores (split_by_whitespace false, treat_whitespace_as_suffix,
// add_dummy_prefix false, remove_extra_whitespaces false, a normalisation rule other than
// nmt_nfkc). Control pieces (<s>, </s>, any --control_symbols) are matched whole in the text, as
// transformers makes every one a special token.
#pragma once

#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace bert {

class SentencePieceTokenizer final : public Tokenizer {
 public:
  // Throws InputError naming model_path when it cannot be loaded, a special token (CLS, SEP,
  // PAD, UNK) cannot be resolved, or the model is one AlbertTokenizer reads otherwise (above).
  SentencePieceTokenizer(const std::string& model_path, bool do_lower_case, bool keep_accents);
  ~SentencePieceTokenizer() override;

  Encoding encode(std::string_view utf8_text) const override;
  int32_t vocab_size() const override;
  std::string id_to_token(int32_t id) const override;
  int32_t cls_id() const override { return cls_id_; }
  int32_t sep_id() const override { return sep_id_; }
  int32_t pad_id() const override { return pad_id_; }
  int32_t unk_id() const override { return unk_id_; }
  float piece_score(int32_t id) const;  // the unigram model's log probability of the piece
  // Whether the text is cut out whole wherever it is written: a special token or control piece.
  bool matches_whole(std::string_view token) const;
  // Lowers the scores of these pieces by `by` and segments with them from now on (as the
  // tokenizer.json transformers 4's AlbertConverter wrote holds them: see load_tokenizer.cpp).
  // InputError naming the model when a piece has no score field to change.
  void lower_scores(const std::vector<int32_t>& ids, float by);
  // The model's own bytes (pieces, scores, types, normaliser) as a 64-bit hash, and keep_accents
  // when false: an edited or retrained model with the same pieces tokenizes otherwise.
  std::string text_rules() const override;

 private:
  int32_t find_piece(std::initializer_list<const char*> names) const;  // -1 when none exists
  void check_albert_compatible() const;
  bool removed_by_model(char32_t cp) const;  // the model's normaliser deletes it
  // Characters, spaces ('▁') not counted, that the model's normaliser makes of `cp` alone:
  // 0 for a deleted or white-space character, 2 or more where its charsmap expands it.
  size_t normalised_size(char32_t cp) const;
  // How many of the characters the normaliser makes of chars[to] a piece holds: 0 unless the
  // piece, whose normalised text is `piece` and whose own characters are chars[from, to), ends
  // inside that character's expansion. `held_of_from`: how many of chars[from]'s earlier
  // pieces held, where the piece starts inside its expansion.
  size_t held_of_next(const std::string& piece, const std::u32string& chars, size_t from, size_t to,
                      size_t held_of_from) const;
  // Appends the pieces of original[begin, end) (no special tokens in it) to out.
  void encode_segment(const std::u32string& original, size_t begin, size_t end,
                      Encoding* out) const;

  std::unique_ptr<sentencepiece::SentencePieceProcessor> processor_;
  std::string model_path_;
  bool do_lower_case_;
  bool keep_accents_;
  std::string serialized_;   // the model's bytes, as lower_scores last changed them
  uint64_t model_hash_ = 0;  // FNV-1a of serialized_
  int32_t cls_id_ = -1, sep_id_ = -1, pad_id_ = -1, unk_id_ = -1;
  struct Special {
    std::u32string text;
    int32_t id;
  };
  std::vector<Special> specials_;  // matched whole in the text, longest first
};

}  // namespace bert
