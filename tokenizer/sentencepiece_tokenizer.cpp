// sentencepiece does the segmentation; this file validates input, optionally lower-cases
// with a byte map back to the original, and converts byte spans to code-point spans.
#include "tokenizer/sentencepiece_tokenizer.h"

#include <sentencepiece_processor.h>

#include <algorithm>
#include <vector>

#include "core/error.h"
#include "core/file_io.h"
#include "tokenizer/unicode.h"

namespace bert {

SentencePieceTokenizer::SentencePieceTokenizer(const std::string& model_path, bool do_lower_case)
    : processor_(std::make_unique<sentencepiece::SentencePieceProcessor>()),
      model_path_(model_path),
      do_lower_case_(do_lower_case) {
  // Read here, not by the library, so that a directory, FIFO or device is refused like any input.
  const std::string serialized = read_file(model_path);
  const auto status = processor_->LoadFromSerializedProto(serialized);
  if (!status.ok()) {
    throw_input_error(model_path, "", "cannot load SentencePiece model: " + status.ToString());
  }
  cls_id_ = find_piece({"[CLS]", "<cls>", "<s>"});
  sep_id_ = find_piece({"[SEP]", "<sep>", "</s>"});
  pad_id_ = find_piece({"<pad>", "[PAD]"});
  if (pad_id_ < 0) pad_id_ = processor_->pad_id();
  unk_id_ = find_piece({"<unk>", "[UNK]"});
  if (unk_id_ < 0) unk_id_ = processor_->unk_id();
  struct Special {
    const char* what;
    int32_t id;
  };
  for (const Special& s : {Special{"CLS ([CLS], <cls> or <s>)", cls_id_},
                           Special{"SEP ([SEP], <sep> or </s>)", sep_id_},
                           Special{"PAD (<pad>, [PAD] or the model's pad_id)", pad_id_},
                           Special{"UNK (<unk>, [UNK] or the model's unk_id)", unk_id_}}) {
    if (s.id < 0 || s.id >= vocab_size()) {
      throw_input_error(model_path, "", std::string("no piece for the special token ") + s.what);
    }
  }
}

SentencePieceTokenizer::~SentencePieceTokenizer() = default;

int32_t SentencePieceTokenizer::find_piece(std::initializer_list<const char*> names) const {
  for (const char* name : names) {
    // PieceToId answers unk_id for unknown pieces, so confirm the piece really is there.
    const int id = processor_->PieceToId(name);
    if (id >= 0 && id < processor_->GetPieceSize() && processor_->IdToPiece(id) == name) {
      return id;
    }
  }
  return -1;
}

int32_t SentencePieceTokenizer::vocab_size() const { return processor_->GetPieceSize(); }

std::string SentencePieceTokenizer::id_to_token(int32_t id) const {
  BERT_CHECK(id >= 0 && id < vocab_size(), "token id " + std::to_string(id) +
                                               " outside the vocabulary of " +
                                               std::to_string(vocab_size()));
  return processor_->IdToPiece(id);
}

Encoding SentencePieceTokenizer::encode(std::string_view utf8_text) const {
  std::u32string original;
  size_t bad = 0;
  if (!unicode::decode_utf8(utf8_text, &original, &bad)) {
    throw InputError("invalid UTF-8 at byte " + std::to_string(bad));
  }
  // The text sentencepiece sees, and for each of its bytes (plus the end) the original
  // code point it came from.
  std::string text;
  std::vector<int32_t> source;
  text.reserve(utf8_text.size());
  source.reserve(utf8_text.size() + 1);
  std::u32string lowered;
  for (size_t i = 0; i < original.size(); ++i) {
    lowered.clear();
    if (do_lower_case_) {
      unicode::python_lower(original[i], &lowered);
    } else {
      lowered.push_back(original[i]);
    }
    for (char32_t cp : lowered) unicode::append_utf8(cp, &text);
    source.resize(text.size(), static_cast<int32_t>(i));
  }
  source.push_back(static_cast<int32_t>(original.size()));

  const sentencepiece::ImmutableSentencePieceText pieces =
      processor_->EncodeAsImmutableProto(text);
  Encoding out;
  const size_t n = pieces.pieces_size();
  out.ids.reserve(n);
  out.offsets.reserve(n);
  for (size_t k = 0; k < n; ++k) {
    const auto piece = pieces.pieces(static_cast<int>(k));
    const size_t begin = std::min<size_t>(piece.begin(), text.size());
    const size_t end = std::max<size_t>(begin, std::min<size_t>(piece.end(), text.size()));
    int32_t first = source[begin];
    // The last byte's character ends the span; an empty span stays empty.
    const int32_t last = end > begin ? source[end - 1] + 1 : first;
    while (first < last && unicode::is_white_space(original[first])) ++first;
    out.ids.push_back(static_cast<int32_t>(piece.id()));
    out.offsets.push_back({first, last});
  }
  return out;
}

}  // namespace bert
