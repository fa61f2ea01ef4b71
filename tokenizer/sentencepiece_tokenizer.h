// A SentencePiece model (.model file: unigram or BPE, e.g. ALBERT's spiece.model) behind the
// bert::Tokenizer interface, through the sentencepiece library. Ids are the model's own.
//
// Offsets: sentencepiece reports each piece's byte span in the text it was given; they are
// turned into code points of the original text. A piece's leading whitespace (the space a
// "▁" stands for) is left out of its span, so spans cover the visible characters only, and
// a piece that is only "▁" gets an empty span where its space was.
// do_lower_case lowers the text with Python's str.lower() mapping (per character) first,
// keeping a map back to the original characters; accents are kept.
//
// Special ids are resolved by piece: [CLS] then <cls> then <s>; [SEP], <sep>, </s>; <pad>,
// [PAD] (or the model's pad_id); <unk>, [UNK] (or the model's unk_id).
#pragma once

#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>

#include "tokenizer/tokenizer.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace bert {

class SentencePieceTokenizer final : public Tokenizer {
 public:
  // Throws InputError naming model_path when it cannot be loaded or a special token
  // (CLS, SEP, PAD, UNK) cannot be resolved.
  SentencePieceTokenizer(const std::string& model_path, bool do_lower_case);
  ~SentencePieceTokenizer() override;

  Encoding encode(std::string_view utf8_text) const override;
  int32_t vocab_size() const override;
  std::string id_to_token(int32_t id) const override;
  int32_t cls_id() const override { return cls_id_; }
  int32_t sep_id() const override { return sep_id_; }
  int32_t pad_id() const override { return pad_id_; }
  int32_t unk_id() const override { return unk_id_; }

 private:
  int32_t find_piece(std::initializer_list<const char*> names) const;  // -1 when none exists

  std::unique_ptr<sentencepiece::SentencePieceProcessor> processor_;
  std::string model_path_;
  bool do_lower_case_;
  int32_t cls_id_ = -1, sep_id_ = -1, pad_id_ = -1, unk_id_ = -1;
};

}  // namespace bert
