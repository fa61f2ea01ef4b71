// sentencepiece does the segmentation; this file checks that the model is one AlbertTokenizer
// reads the same way, cuts special tokens out of the text, normalises what AlbertTokenizer
// normalises before the model's charsmap (quotes, accents, case) with a map back to the original
// characters, and turns byte spans into code-point spans as the fast tokenizer aligns them.
#include "tokenizer/sentencepiece_tokenizer.h"

#include <sentencepiece_processor.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <optional>
#include <vector>

#include "core/error.h"
#include "core/file_io.h"
#include "tokenizer/unicode.h"

namespace bert {
namespace {

// A protobuf wire-format reader, just enough to find one field: the library's headers do not
// expose ModelProto's fields.
class WireReader {
 public:
  explicit WireReader(std::string_view bytes) : bytes_(bytes) {}
  bool done() const { return at_ >= bytes_.size(); }
  size_t position() const { return at_; }  // just past the last field read
  std::optional<uint64_t> varint() {
    uint64_t value = 0;
    for (int shift = 0; shift < 64 && at_ < bytes_.size(); shift += 7) {
      const uint8_t byte = static_cast<uint8_t>(bytes_[at_++]);
      value |= uint64_t(byte & 0x7f) << shift;
      if (!(byte & 0x80)) return value;
    }
    return std::nullopt;
  }
  // Reads one field's key (its number and wire type) and payload; the payload of a
  // length-delimited field goes to *nested, of a varint to *value. False on malformed input.
  bool field(uint32_t* number, int* wire_type, uint64_t* value, std::string_view* nested) {
    const auto key = varint();
    if (!key) return false;
    *number = static_cast<uint32_t>(*key >> 3);
    *wire_type = static_cast<int>(*key & 7);
    switch (*wire_type) {
      case 0: {
        const auto v = varint();
        if (!v) return false;
        *value = *v;
        return true;
      }
      case 1:
        return skip(8);
      case 5:
        return skip(4);
      case 2: {
        const auto length = varint();
        if (!length || *length > bytes_.size() - at_) return false;
        *nested = bytes_.substr(at_, static_cast<size_t>(*length));
        at_ += static_cast<size_t>(*length);
        return true;
      }
      default:
        return false;
    }
  }

 private:
  bool skip(size_t n) {
    if (n > bytes_.size() - at_) return false;
    at_ += n;
    return true;
  }
  std::string_view bytes_;
  size_t at_ = 0;
};

// One field of a protobuf message: its number, wire type, varint value (wire type 0) or payload
// (wire type 2), and where the field ends in the message.
struct WireField {
  uint32_t number = 0;
  int wire_type = 0;
  uint64_t value = 0;
  std::string_view payload;
  size_t end = 0;
};

// Calls visit(field) for each field of the message in order, until visit returns false or the
// bytes end (or stop being well-formed: the library loaded the model, so nothing is lost).
template <typename Visit>
void for_each_field(std::string_view message, Visit visit) {
  WireReader reader(message);
  WireField field;
  while (!reader.done() &&
         reader.field(&field.number, &field.wire_type, &field.value, &field.payload)) {
    field.end = reader.position();
    if (!visit(field)) return;
  }
}

// The nested messages of ModelProto's field `number` (trainer_spec 2, normalizer_spec 3,
// pieces 1), each visited field by field.
template <typename Visit>
void for_each_nested_field(std::string_view model_proto, uint32_t number, Visit visit) {
  for_each_field(model_proto, [&](const WireField& outer) {
    if (outer.number == number && outer.wire_type == 2) for_each_field(outer.payload, visit);
    return true;
  });
}

// TrainerSpec.model_type (field 3 of ModelProto's trainer_spec, field 2): 1 unigram (the proto's
// default, also when the proto cannot be walked: the library loaded it), 2 BPE, 3 word, 4 char.
uint64_t model_type_of(std::string_view model_proto) {
  uint64_t type = 1;
  for_each_nested_field(model_proto, 2, [&](const WireField& field) {
    if (field.number == 3 && field.wire_type == 0) type = field.value;
    return true;
  });
  return type;
}

// The TrainerSpec and NormalizerSpec switches that change how text is cut into pieces, each
// with its proto default (sentencepiece_model.proto). (escape_whitespaces false, which
// AlbertTokenizer would ignore too, cannot be trained into a unigram model.)
struct SegmentationSpec {
  bool split_by_whitespace = true;          // trainer_spec field 22
  bool treat_whitespace_as_suffix = false;  // trainer_spec field 24
  std::string normalizer_name;              // normalizer_spec field 1 ("nmt_nfkc" when trained)
  bool add_dummy_prefix = true;             // normalizer_spec field 3
  bool remove_extra_whitespaces = true;     // normalizer_spec field 4
  bool has_rule_tsv = false;                // normalizer_spec field 6 (a user's rules)
};

SegmentationSpec segmentation_spec_of(std::string_view model_proto) {
  SegmentationSpec spec;
  for_each_nested_field(model_proto, 2, [&](const WireField& f) {
    if (f.wire_type == 0 && f.number == 22) spec.split_by_whitespace = f.value != 0;
    if (f.wire_type == 0 && f.number == 24) spec.treat_whitespace_as_suffix = f.value != 0;
    return true;
  });
  for_each_nested_field(model_proto, 3, [&](const WireField& f) {
    if (f.wire_type == 2 && f.number == 1) spec.normalizer_name = std::string(f.payload);
    if (f.wire_type == 0 && f.number == 3) spec.add_dummy_prefix = f.value != 0;
    if (f.wire_type == 0 && f.number == 4) spec.remove_extra_whitespaces = f.value != 0;
    if (f.wire_type == 2 && f.number == 6) spec.has_rule_tsv = !f.payload.empty();
    return true;
  });
  return spec;
}

// transformers' AlbertTokenizer builds its own pipeline around the model's pieces and charsmap
// (whitespace split, "▁" before every word, runs of spaces collapsed), whatever these switches
// say: a model trained otherwise is segmented otherwise there, so it is refused by field.
void refuse_other_segmentation(const std::string& model_path, std::string_view model_proto) {
  const SegmentationSpec spec = segmentation_spec_of(model_proto);
  const auto refuse = [&](const char* field, const std::string& what) {
    throw_input_error(model_path, field,
                      what +
                          " is not supported: transformers' AlbertTokenizer ignores it (it "
                          "splits at whitespace, puts \"\u2581\" before every word and collapses "
                          "runs of spaces), so it would cut the text otherwise than "
                          "sentencepiece; train the model with sentencepiece's default");
  };
  if (!spec.split_by_whitespace) refuse("trainer_spec.split_by_whitespace", "false");
  if (spec.treat_whitespace_as_suffix) refuse("trainer_spec.treat_whitespace_as_suffix", "true");
  if (!spec.add_dummy_prefix) refuse("normalizer_spec.add_dummy_prefix", "false");
  if (!spec.remove_extra_whitespaces) refuse("normalizer_spec.remove_extra_whitespaces", "false");
  if (spec.has_rule_tsv) refuse("normalizer_spec.normalization_rule_tsv", "a rule file");
  if (!spec.normalizer_name.empty() && spec.normalizer_name != "nmt_nfkc")
    throw_input_error(model_path, "normalizer_spec.name",
                      "\"" + spec.normalizer_name +
                          "\" is not supported: only nmt_nfkc (sentencepiece's default, ALBERT's) "
                          "was measured equal to transformers' AlbertTokenizer, which differs "
                          "from sentencepiece on others (identity, nmt_nfkc_cf); train the model "
                          "with --normalization_rule_name=nmt_nfkc");
}

uint64_t fnv1a(std::string_view bytes) {
  uint64_t hash = 0xcbf29ce484222325ull;  // FNV-1a, 64 bits
  for (const char c : bytes) hash = (hash ^ static_cast<uint8_t>(c)) * 0x100000001b3ull;
  return hash;
}

// Where each piece's score (SentencePiece field 2, a little-endian float) lies in the model's
// bytes, by piece id (ModelProto field 1, in order); npos for a piece written without one.
std::vector<size_t> piece_score_offsets(std::string_view model_proto) {
  std::vector<size_t> offsets;
  for_each_field(model_proto, [&](const WireField& piece) {
    if (piece.number != 1 || piece.wire_type != 2) return true;
    const size_t piece_begin = static_cast<size_t>(piece.payload.data() - model_proto.data());
    offsets.push_back(std::string_view::npos);
    for_each_field(piece.payload, [&](const WireField& field) {
      if (field.number == 2 && field.wire_type == 5) offsets.back() = piece_begin + field.end - 4;
      return true;
    });
    return true;
  });
  return offsets;
}

const char* model_type_name(uint64_t type) {
  switch (type) {
    case 2:
      return "BPE";
    case 3:
      return "word";
    case 4:
      return "char";
    default:
      return "unknown";
  }
}

}  // namespace

SentencePieceTokenizer::SentencePieceTokenizer(const std::string& model_path, bool do_lower_case,
                                               bool keep_accents)
    : processor_(std::make_unique<sentencepiece::SentencePieceProcessor>()),
      model_path_(model_path),
      do_lower_case_(do_lower_case),
      keep_accents_(keep_accents) {
  // Read here, not by the library, so that a directory, FIFO or device is refused like any input.
  serialized_ = read_file(model_path);
  const std::string& serialized = serialized_;
  model_hash_ = fnv1a(serialized);
  const auto status = processor_->LoadFromSerializedProto(serialized);
  if (!status.ok()) {
    throw_input_error(model_path, "", "cannot load SentencePiece model: " + status.ToString());
  }
  if (const uint64_t type = model_type_of(serialized); type != 1) {
    throw_input_error(
        model_path, "trainer_spec.model_type",
        std::string("a ") + model_type_name(type) +
            " model is not supported: transformers' AlbertTokenizer (what run_qa.py uses for a "
            "SentencePiece model) rebuilds its pieces as a unigram model and so segments text "
            "otherwise than sentencepiece; train the model with --model_type=unigram");
  }
  refuse_other_segmentation(model_path, serialized);
  // AlbertTokenizer's cls_token and sep_token (read_tokenizer_config refuses other names):
  // transformers cannot build its template without them.
  cls_id_ = find_piece({"[CLS]"});
  sep_id_ = find_piece({"[SEP]"});
  pad_id_ = find_piece({"<pad>", "[PAD]"});
  if (pad_id_ < 0) pad_id_ = processor_->pad_id();
  unk_id_ = find_piece({"<unk>", "[UNK]"});
  if (unk_id_ < 0) unk_id_ = processor_->unk_id();
  struct Required {
    const char* what;
    int32_t id;
  };
  for (const Required& s : {Required{"CLS ([CLS], AlbertTokenizer's cls_token)", cls_id_},
                            Required{"SEP ([SEP], AlbertTokenizer's sep_token)", sep_id_},
                            Required{"PAD (<pad>, [PAD] or the model's pad_id)", pad_id_},
                            Required{"UNK (<unk>, [UNK] or the model's unk_id)", unk_id_}}) {
    if (s.id < 0 || s.id >= vocab_size()) {
      throw_input_error(model_path, "", std::string("no piece for the special token ") + s.what);
    }
  }
  check_albert_compatible();
  std::vector<int32_t> special_ids = {cls_id_, sep_id_, pad_id_, unk_id_};
  if (const int32_t mask = find_piece({"[MASK]", "<mask>"}); mask >= 0) special_ids.push_back(mask);
  // transformers makes every control piece (<s>, </s>, a --control_symbols one) a special token,
  // matched whole in the text; sentencepiece alone would spell it out piece by piece.
  for (int32_t id = 0; id < vocab_size(); ++id)
    if (processor_->IsControl(id)) special_ids.push_back(id);
  for (const int32_t id : special_ids) {
    Special special{unicode::utf8_to_u32(processor_->IdToPiece(id)), id};
    const bool seen = std::any_of(specials_.begin(), specials_.end(),
                                  [&](const Special& s) { return s.text == special.text; });
    if (!special.text.empty() && !seen) specials_.push_back(std::move(special));
  }
  std::stable_sort(specials_.begin(), specials_.end(), [](const Special& a, const Special& b) {
    return a.text.size() > b.text.size();
  });
}

SentencePieceTokenizer::~SentencePieceTokenizer() = default;

std::string SentencePieceTokenizer::text_rules() const {
  char hash[17];
  std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(model_hash_));
  return std::string("sentencepiece model ") + hash + (keep_accents_ ? "" : ", keep_accents false");
}

void SentencePieceTokenizer::check_albert_compatible() const {
  for (int id = 0; id < processor_->GetPieceSize(); ++id) {
    if (processor_->IsByte(id)) {
      throw_input_error(
          model_path_, "trainer_spec.byte_fallback",
          "byte-fallback pieces (" + processor_->IdToPiece(id) +
              ") are not supported: transformers' AlbertTokenizer turns byte fallback off and "
              "maps text outside the pieces to id 1 instead; train the model without "
              "--byte_fallback");
    }
  }
  if (processor_->unk_id() != 1) {
    throw_input_error(
        model_path_, "trainer_spec.unk_id",
        std::to_string(processor_->unk_id()) +
            " is not supported: transformers' AlbertTokenizer maps text outside the pieces to id 1 "
            "whatever piece that is (ALBERT's models: <pad> 0, <unk> 1, [CLS] 2, [SEP] 3); train "
            "the model with --pad_id=0 --unk_id=1");
  }
}

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

void SentencePieceTokenizer::lower_scores(const std::vector<int32_t>& ids, float by) {
  if (ids.empty()) return;
  static_assert(sizeof(float) == 4, "protobuf floats are 4 bytes");
  const std::vector<size_t> offsets = piece_score_offsets(serialized_);
  for (const int32_t id : ids) {
    if (id < 0 || static_cast<size_t>(id) >= offsets.size() ||
        offsets[id] == std::string_view::npos)
      throw_input_error(
          model_path_, "pieces[" + std::to_string(id) + "].score",
          "missing: the score transformers' tokenizer.json lowers cannot be lowered here");
    float score = 0;  // little-endian on the wire, as on the hosts this builds for
    std::memcpy(&score, serialized_.data() + offsets[id], 4);
    score -= by;
    std::memcpy(serialized_.data() + offsets[id], &score, 4);
  }
  const auto status = processor_->LoadFromSerializedProto(serialized_);
  if (!status.ok())
    throw_input_error(model_path_, "", "cannot load SentencePiece model: " + status.ToString());
  model_hash_ = fnv1a(serialized_);
}

bool SentencePieceTokenizer::matches_whole(std::string_view token) const {
  const std::u32string text = unicode::utf8_to_u32(token);
  return std::any_of(specials_.begin(), specials_.end(),
                     [&](const Special& s) { return s.text == text; });
}

float SentencePieceTokenizer::piece_score(int32_t id) const {
  BERT_CHECK(id >= 0 && id < vocab_size(), "piece id " + std::to_string(id) + " outside the model");
  return processor_->GetScore(id);
}

std::string SentencePieceTokenizer::id_to_token(int32_t id) const {
  BERT_CHECK(id >= 0 && id < vocab_size(), "token id " + std::to_string(id) +
                                               " outside the vocabulary of " +
                                               std::to_string(vocab_size()));
  return processor_->IdToPiece(id);
}

bool SentencePieceTokenizer::removed_by_model(char32_t cp) const {
  // sentencepiece counts a character its normaliser deletes (a zero-width space, a control
  // character) into the next piece's span; the fast tokenizer aligns that piece with its own
  // characters only. Printable ASCII is never deleted: only the rest is asked.
  if (cp >= 0x20 && cp < 0x7f) return false;
  std::string text;
  unicode::append_utf8(cp, &text);
  return processor_->EncodeAsImmutableProto(text).pieces_size() == 0;
}

namespace {

// Characters of a piece's normalised text, its '▁' (spaces) not counted.
size_t characters_but_spaces(std::string_view piece) {
  const std::u32string chars = unicode::utf8_to_u32(piece);
  return static_cast<size_t>(
      std::count_if(chars.begin(), chars.end(), [](char32_t c) { return c != U'\u2581'; }));
}

}  // namespace

size_t SentencePieceTokenizer::normalised_size(char32_t cp) const {
  if (cp < 0x80) return (cp > 0x20 && cp < 0x7f) ? 1 : 0;  // nmt_nfkc keeps printable ASCII
  std::string text;
  unicode::append_utf8(cp, &text);
  const auto pieces = processor_->EncodeAsImmutableProto(text);
  size_t size = 0;
  for (size_t k = 0; k < pieces.pieces_size(); ++k)
    size += characters_but_spaces(pieces.pieces(static_cast<int>(k)).piece());
  return size;
}

size_t SentencePieceTokenizer::held_of_next(const std::string& piece, const std::u32string& chars,
                                            size_t from, size_t to, size_t held_of_from) const {
  // sentencepiece maps every character of an expansion ("½" -> "1⁄2") to the start of the
  // original character, so a piece that ends inside one ("▁21" of "2½") ends before it, where
  // the fast tokenizer aligns each character of an expansion with the whole original one. Such
  // a piece holds more normalised characters than its own characters make.
  if (to >= chars.size() || chars[to] < 0x80 || normalised_size(chars[to]) < 2) return 0;
  size_t own = 0;
  for (size_t i = from; i < to; ++i) own += normalised_size(chars[i]);
  own -= std::min(own, held_of_from);
  const size_t held = characters_but_spaces(piece);
  return held > own ? held - own : 0;
}

Encoding SentencePieceTokenizer::encode(std::string_view utf8_text) const {
  std::u32string original;
  size_t bad = 0;
  if (!unicode::decode_utf8(utf8_text, &original, &bad)) {
    throw InputError("invalid UTF-8 at byte " + std::to_string(bad));
  }
  Encoding out;
  size_t segment = 0;
  for (size_t i = 0; i < original.size();) {
    const auto match = std::find_if(specials_.begin(), specials_.end(), [&](const Special& s) {
      return original.compare(i, s.text.size(), s.text) == 0;
    });
    if (match == specials_.end()) {
      ++i;
      continue;
    }
    encode_segment(original, segment, i, &out);
    out.ids.push_back(match->id);
    out.offsets.push_back({static_cast<int32_t>(i), static_cast<int32_t>(i + match->text.size())});
    i += match->text.size();
    segment = i;
  }
  encode_segment(original, segment, original.size(), &out);
  return out;
}

void SentencePieceTokenizer::encode_segment(const std::u32string& original, size_t begin,
                                            size_t end, Encoding* out) const {
  if (begin == end) return;
  // The text sentencepiece sees; for each of its bytes the normalised character it belongs to,
  // and for each normalised character the original characters [from, to) it came from.
  std::string text;
  std::vector<int32_t> char_of_byte;
  std::u32string normalised;
  std::vector<std::pair<int32_t, int32_t>> source;
  std::u32string unaccented, lowered;
  for (size_t i = begin; i < end;) {
    size_t next = i + 1;
    char32_t cp = original[i];
    if ((cp == U'`' || cp == U'\'') && next < end && original[next] == cp) {
      // AlbertTokenizer's Replace("``", '"') and Replace("''", '"'), which aligns the '"' with
      // the pair's second character.
      cp = U'"';
      ++i;
      ++next;
    }
    // NEXT LINE (U+0085) is white space to the fast tokenizer's WhitespaceSplit, which cuts the
    // words there, while the model's charsmap keeps it (sentencepiece would make it "▁" and an
    // unknown piece): a space here gives transformers' pieces. (A sweep of every code point
    // found no other character the two treat differently this way.)
    if (cp == U'\u0085') cp = U' ';
    unaccented.clear();
    if (keep_accents_) {
      unaccented.push_back(cp);
    } else {
      unicode::hf_nfkd_strip_accents(cp, &unaccented);
    }
    lowered.clear();
    for (char32_t c : unaccented) {
      if (do_lower_case_) {
        unicode::python_lower(c, &lowered);
      } else {
        lowered.push_back(c);
      }
    }
    for (char32_t c : lowered) {
      unicode::append_utf8(c, &text);
      char_of_byte.resize(text.size(), static_cast<int32_t>(normalised.size()));
      normalised.push_back(c);
      source.push_back({static_cast<int32_t>(i), static_cast<int32_t>(next)});
    }
    i = next;
  }
  const sentencepiece::ImmutableSentencePieceText pieces = processor_->EncodeAsImmutableProto(text);
  const size_t count = normalised.size();
  // The character an earlier piece ended inside the expansion of, and how much of it they held.
  size_t split_char = count, split_held = 0;
  for (size_t k = 0; k < pieces.pieces_size(); ++k) {
    const auto piece = pieces.pieces(static_cast<int>(k));
    const size_t first_byte = std::min<size_t>(piece.begin(), text.size());
    const size_t end_byte =
        std::max<size_t>(first_byte, std::min<size_t>(piece.end(), text.size()));
    size_t first = first_byte < text.size() ? char_of_byte[first_byte] : count;
    size_t last = end_byte > first_byte ? char_of_byte[end_byte - 1] + 1 : first;
    if (end_byte < text.size() && static_cast<size_t>(char_of_byte[end_byte]) == last) {
      const size_t held = held_of_next(piece.piece(), normalised, first, last,
                                       first == split_char && first < last ? split_held : 0);
      if (held > 0) {
        // The next piece (an empty one too) starts inside the same character.
        split_held = (split_char == last ? split_held : 0) + held;
        split_char = last++;
      }
    }
    while (first < last &&
           (unicode::is_white_space(normalised[first]) || removed_by_model(normalised[first])))
      ++first;
    // A lone "▁" (its space skipped) and the leading pieces of one expanded character have
    // nothing left: the fast tokenizer aligns them with the next character.
    if (first == last && first < count) last = first + 1;
    out->ids.push_back(static_cast<int32_t>(piece.id()));
    if (first < last) {
      out->offsets.push_back({source[first].first, source[last - 1].second});
    } else {
      const auto at = static_cast<int32_t>(end);
      out->offsets.push_back({at, at});
    }
  }
}

}  // namespace bert
