// Greedy longest-match-first over the words basic_tokenize produces. The rest of the word is
// first looked up whole (a hash probe on a substring of the normalised text, no string
// built); otherwise a trie walk from the root (word start) or from the "##" node
// (continuation) finds the longest piece in one pass.
#include "tokenizer/wordpiece.h"

#include "core/error.h"
#include "core/file_io.h"
#include "core/json_text.h"
#include "tokenizer/basic_tokenizer.h"
#include "tokenizer/tokenizer_json.h"
#include "tokenizer/unicode.h"

namespace bert {
namespace {

// vocab.txt as tokenizers' WordPiece::read_file reads it (what transformers' BertTokenizerFast
// loads): one token per line, trailing white space removed (Rust's trim_end: a space, a tab,
// U+00A0, ...), leading white space kept.
std::vector<std::string> read_vocab_lines(const std::string& path) {
  std::vector<std::string> lines = read_lines(path);
  std::u32string code_points;
  for (std::string& line : lines) {
    size_t bad = 0;
    code_points.clear();
    if (!unicode::decode_utf8(line, &code_points, &bad)) continue;  // build() names the bad byte
    size_t keep = code_points.size();
    while (keep > 0 && unicode::is_white_space(code_points[keep - 1])) --keep;
    if (keep == code_points.size()) continue;
    line.clear();
    for (size_t i = 0; i < keep; ++i) unicode::append_utf8(code_points[i], &line);
  }
  return lines;
}

}  // namespace

WordPieceTokenizer::WordPieceTokenizer(const std::string& vocab_path, bool do_lower_case)
    : tokens_(is_tokenizer_json(vocab_path) ? read_wordpiece_tokenizer_json(vocab_path).tokens
                                            : read_vocab_lines(vocab_path)),
      do_lower_case_(do_lower_case),
      trie_(tokens_),
      continuation_node_(trie_.node_of("##")) {
  build(vocab_path, /*require_mask=*/true);
}

WordPieceTokenizer::WordPieceTokenizer(std::vector<std::string> tokens, bool do_lower_case,
                                       const std::string& source)
    : tokens_(std::move(tokens)),
      do_lower_case_(do_lower_case),
      trie_(tokens_),
      continuation_node_(trie_.node_of("##")) {
  build(source, /*require_mask=*/false);
}

void WordPieceTokenizer::build(const std::string& source, bool require_mask) {
  if (tokens_.empty()) throw_input_error(source, "", "vocabulary is empty (one token per line)");
  // Part of token 0 otherwise (so "[PAD]" would be missing, or the first word never matched).
  if (starts_with_utf8_bom(tokens_.front()))
    throw_input_error(
        source, "line 1",
        "the file starts with a UTF-8 byte-order mark (BOM, bytes EF BB BF), which would become "
        "part of the first token; save it as UTF-8 without a BOM");
  for (size_t i = 0; i < tokens_.size(); ++i) {
    const std::string& token = tokens_[i];
    const auto id = static_cast<int32_t>(i);
    word_start_.insert(token, id);
    if (token.size() > 2 && token.compare(0, 2, "##") == 0) {
      continuation_.insert(std::string_view(token).substr(2), id);
    }
    std::u32string scratch;
    size_t bad = 0;
    if (!unicode::decode_utf8(token, &scratch, &bad)) {
      throw_input_error(source, "line " + std::to_string(i + 1),
                        "invalid UTF-8 at byte " + std::to_string(bad) + " of the token");
    }
  }
  struct Special {
    const char* name;
    int32_t* id;
  };
  int32_t mask_id = -1;
  for (const Special& s :
       {Special{"[CLS]", &cls_id_}, Special{"[SEP]", &sep_id_}, Special{"[UNK]", &unk_id_},
        Special{"[PAD]", &pad_id_}, Special{"[MASK]", &mask_id}}) {
    *s.id = word_start_.find(s.name);
    // Without [MASK], transformers adds it as a token past the vocabulary and matches "[MASK]"
    // in the text whole; here it would be split into pieces.
    if (*s.id < 0 && (s.id != &mask_id || require_mask)) {
      throw_input_error(source, "",
                        std::string("missing special token ") + s.name +
                            " (a WordPiece vocabulary needs [CLS], [SEP], [UNK], [PAD] "
                            "and [MASK], one token per line)");
    }
  }
  for (const char* name : kSpecialTokens) {
    const int32_t id = word_start_.find(name);
    if (id < 0) continue;
    specials_.push_back(name);
    special_ids_.push_back(id);
  }
}

std::string WordPieceTokenizer::id_to_token(int32_t id) const {
  BERT_CHECK(id >= 0 && id < vocab_size(), "token id " + std::to_string(id) +
                                               " outside the vocabulary of " +
                                               std::to_string(vocab_size()));
  return tokens_[id];
}

int32_t WordPieceTokenizer::token_to_id(std::string_view token) const {
  return word_start_.find(token);
}

Encoding WordPieceTokenizer::encode(std::string_view utf8_text) const {
  thread_local BasicTokens words;  // reused: encode is called once per text, many times
  basic_tokenize(utf8_text, do_lower_case_, specials_, &words);
  const std::string_view normalized = words.normalized;
  const std::vector<uint32_t>& byte = words.char_byte;
  const std::vector<int32_t>& source = words.char_source;

  Encoding out;
  out.ids.reserve(words.words.size() + words.words.size() / 4);
  out.offsets.reserve(out.ids.capacity());
  for (const BasicTokens::Word& w : words.words) {
    const TokenSpan whole{source[w.char_begin], source[w.char_end - 1] + 1};
    if (w.special >= 0) {
      out.ids.push_back(special_ids_[w.special]);
      out.offsets.push_back(whole);
      continue;
    }
    if (w.char_end - w.char_begin > kMaxInputCharsPerWord) {
      out.ids.push_back(unk_id_);
      out.offsets.push_back(whole);
      continue;
    }
    const size_t first_piece = out.ids.size();
    bool bad = false;
    for (int32_t start = w.char_begin; start < w.char_end;) {
      const bool at_word_start = start == w.char_begin;
      const uint32_t begin_byte = byte[start];
      const std::string_view rest = normalized.substr(begin_byte, byte[w.char_end] - begin_byte);
      int32_t id = (at_word_start ? word_start_ : continuation_).find(rest);
      int32_t end = w.char_end;
      if (id < 0) {
        const int32_t from = at_word_start ? TokenTrie::kRoot : continuation_node_;
        size_t length = 0;
        id = from < 0 ? -1 : trie_.longest_prefix(from, rest, &length);
        if (id < 0) {
          bad = true;
          break;
        }
        // Vocabulary tokens are whole UTF-8 characters, so the match ends on a boundary.
        end = start + 1;
        while (byte[end] - begin_byte < length) ++end;
      }
      out.ids.push_back(id);
      out.offsets.push_back({source[start], source[end - 1] + 1});
      start = end;
    }
    if (bad) {
      out.ids.resize(first_piece);
      out.offsets.resize(first_piece);
      out.ids.push_back(unk_id_);
      out.offsets.push_back(whole);
    }
  }
  return out;
}

}  // namespace bert
