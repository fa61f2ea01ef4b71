// WordPiece (BERT's vocab.txt tokenizer), matching Hugging Face's fast BertTokenizer:
// basic_tokenize (clean, CJK, lowercase + accent strip, punctuation split), then per word a
// greedy longest-match-first split into vocabulary pieces, continuations prefixed "##".
// Special tokens written literally in the text ("[CLS]", "[SEP]", "[UNK]", "[PAD]",
// "[MASK]") come out as their ids, as Hugging Face's added vocabulary does.
// A word of more than 100 characters, or one with a position no piece matches, becomes a
// single [UNK] covering the whole word. Offsets are code points of the original text.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"
#include "tokenizer/token_trie.h"
#include "tokenizer/vocab_table.h"

namespace bert {

class WordPieceTokenizer final : public Tokenizer {
 public:
  static constexpr int kMaxInputCharsPerWord = 100;
  // The tokens cut out of raw text whole when the vocabulary has them (Hugging Face's added
  // vocabulary of BertTokenizer): the only added tokens this tokenizer knows.
  static constexpr const char* kSpecialTokens[] = {"[CLS]", "[SEP]", "[UNK]", "[PAD]", "[MASK]"};

  // Reads vocab.txt: one token per line, id = line index, trailing white space removed as
  // tokenizers' WordPiece::read_file removes it (or a tokenizer.json's WordPiece vocabulary, see
  // tokenizer_json.h). Throws InputError naming the file when it cannot be read, a token is not
  // valid UTF-8, or [CLS] [SEP] [UNK] [PAD] [MASK] is missing (without [MASK], transformers adds
  // it past the vocabulary and matches "[MASK]" in the text whole).
  WordPieceTokenizer(const std::string& vocab_path, bool do_lower_case);
  // The same from tokens in memory (small vocabularies of tests: [MASK] may be missing); `source`
  // names them in error messages.
  WordPieceTokenizer(std::vector<std::string> tokens, bool do_lower_case,
                     const std::string& source);

  Encoding encode(std::string_view utf8_text) const override;
  int32_t vocab_size() const override { return static_cast<int32_t>(tokens_.size()); }
  std::string id_to_token(int32_t id) const override;
  int32_t cls_id() const override { return cls_id_; }
  int32_t sep_id() const override { return sep_id_; }
  int32_t pad_id() const override { return pad_id_; }
  int32_t unk_id() const override { return unk_id_; }

  // The id of a whole token ("##ing" included), or -1 when it is not in the vocabulary.
  int32_t token_to_id(std::string_view token) const;
  bool do_lower_case() const { return do_lower_case_; }

 private:
  void build(const std::string& source, bool require_mask);

  std::vector<std::string> tokens_;
  std::vector<std::string> specials_;  // [CLS] [SEP] [UNK] [PAD] [MASK]: matched in raw text
  std::vector<int32_t> special_ids_;
  bool do_lower_case_;
  // Most words, and most word ends, are whole tokens: one hash lookup settles those. The trie
  // finds the longest piece otherwise.
  VocabTable word_start_;    // every token, as written
  VocabTable continuation_;  // tokens starting "##", stored without the prefix
  TokenTrie trie_;
  int32_t continuation_node_;  // the trie node of "##" (-1 without continuation tokens)
  int32_t cls_id_ = -1, sep_id_ = -1, pad_id_ = -1, unk_id_ = -1;
};

}  // namespace bert
