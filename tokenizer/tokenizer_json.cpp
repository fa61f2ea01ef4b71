// tokenizer.json for BERT WordPiece, read and held to what WordPieceTokenizer does. See
// tokenizer_json.h.
#include "tokenizer/tokenizer_json.h"

#include <filesystem>
#include <algorithm>
#include <iterator>

#include <simdjson.h>

#include "core/error.h"
#include "core/file_io.h"
#include "core/json_text.h"
#include "tokenizer/wordpiece.h"

namespace bert {
namespace {

class JsonFields {
 public:
  JsonFields(const std::string& path, simdjson::dom::object object, std::string prefix)
      : path_(path), object_(object), prefix_(std::move(prefix)) {}

  simdjson::dom::element get(const char* key) const {
    simdjson::dom::element value;
    if (object_[key].get(value)) throw_input_error(path_, name(key), "missing");
    return value;
  }
  simdjson::dom::object object(const char* key) const {
    simdjson::dom::object out;
    if (get(key).get_object().get(out)) throw_input_error(path_, name(key), "expected an object");
    return out;
  }
  std::string string(const char* key) const {
    std::string_view out;
    if (get(key).get_string().get(out)) throw_input_error(path_, name(key), "expected a string");
    return std::string(out);
  }
  // An optional boolean: `fallback` when absent.
  bool boolean(const char* key, bool fallback) const {
    simdjson::dom::element value;
    if (object_[key].get(value)) return fallback;
    bool out = false;
    if (value.get_bool().get(out)) throw_input_error(path_, name(key), "expected true or false");
    return out;
  }
  void require_string(const char* key, const std::string& expected, const std::string& why) const {
    const std::string found = string(key);
    if (found != expected)
      throw_input_error(path_, name(key), "\"" + found + "\" is not supported: expected \"" + expected + "\" (" + why + ")");
  }
  std::string name(const char* key) const { return prefix_ + key; }

 private:
  std::string path_;
  simdjson::dom::object object_;
  std::string prefix_;
};

std::vector<std::string> read_vocab(const std::string& path, simdjson::dom::object vocab) {
  std::vector<std::string> tokens(vocab.size());
  std::vector<bool> seen(vocab.size(), false);
  for (auto entry : vocab) {
    int64_t id = -1;
    const std::string token(entry.key);
    if (entry.value.get_int64().get(id) || id < 0 || id >= int64_t(tokens.size()))
      throw_input_error(path, "model.vocab.\"" + token + "\"",
                        "expected an id in [0, " + std::to_string(tokens.size()) + "), found " +
                            simdjson::minify(entry.value) + " (the ids must number the tokens 0..n-1)");
    if (seen[size_t(id)])
      throw_input_error(path, "model.vocab.\"" + token + "\"",
                        "id " + std::to_string(id) + " is also \"" + tokens[size_t(id)] + "\"'s");
    seen[size_t(id)] = true;
    tokens[size_t(id)] = token;
  }
  return tokens;  // n ids in [0, n), none twice: every id is someone's
}

// added_tokens: only BERT's special tokens, at their vocabulary ids, matched as
// WordPieceTokenizer matches them: as written (normalized false), without eating the spaces
// around them (lstrip, rstrip false) or requiring word boundaries (single_word false).
void check_added_tokens(const std::string& path, simdjson::dom::object root,
                        const std::vector<std::string>& tokens) {
  simdjson::dom::array added;
  if (root["added_tokens"].get_array().get(added)) return;
  size_t index = 0;
  for (simdjson::dom::element token : added) {
    const std::string at = "added_tokens[" + std::to_string(index++) + "]";
    std::string_view content;
    if (token["content"].get_string().get(content))
      throw_input_error(path, at + ".content", "expected a string");
    if (std::find(std::begin(WordPieceTokenizer::kSpecialTokens),
                  std::end(WordPieceTokenizer::kSpecialTokens),
                  content) == std::end(WordPieceTokenizer::kSpecialTokens))
      throw_input_error(
          path, at + ".content",
          "added token \"" + std::string(content) +
              "\" is not supported: only BERT's special tokens [PAD] [UNK] [CLS] [SEP] [MASK] are "
              "matched whole here");
    for (const char* flag : {"lstrip", "rstrip", "single_word", "normalized"}) {
      bool value = false;
      if (token[flag].get_bool().get(value) == simdjson::SUCCESS && value)
        throw_input_error(
            path, at + "." + flag,
            "true is not supported for \"" + std::string(content) +
                "\": BERT's special tokens are matched as written, without the spaces around them");
    }
    int64_t id = -1;
    const auto in_vocab = std::find(tokens.begin(), tokens.end(), content);
    if (token["id"].get_int64().get(id) == simdjson::SUCCESS &&
        (in_vocab == tokens.end() || id != in_vocab - tokens.begin()))
      throw_input_error(path, at + ".id",
                        std::to_string(id) + " is not \"" + std::string(content) +
                            "\"'s id in model.vocab (" +
                            (in_vocab == tokens.end() ? std::string("absent")
                                                      : std::to_string(in_vocab - tokens.begin())) +
                            "): transformers would give the token this id");
  }
}

// truncation and padding: run_qa truncates the context on the right and, with padding on the
// left, lays a window out context first; here the question always comes first.
void check_sides(const std::string& path, simdjson::dom::object root) {
  for (const char* section : {"truncation", "padding"}) {
    std::string_view direction;
    if (root[section]["direction"].get_string().get(direction) == simdjson::SUCCESS &&
        direction != "Right")
      throw_input_error(
          path, std::string(section) + ".direction",
          "\"" + std::string(direction) +
              "\" is not supported: windows are laid out and cut as run_qa does with right-side "
              "truncation and padding ([CLS] question [SEP] context [SEP])");
  }
}

}  // namespace

bool is_tokenizer_json(const std::string& path) {
  return std::filesystem::path(path).filename() == "tokenizer.json";
}

WordPieceJson read_wordpiece_tokenizer_json(const std::string& path) {
  simdjson::dom::parser parser;
  const simdjson::padded_string text(widen_big_json_integers(read_file(path)));
  simdjson::dom::element root_element;
  if (const auto error = parser.parse(text).get(root_element))
    throw_input_error(path, "", std::string("not valid JSON: ") + simdjson::error_message(error));
  simdjson::dom::object root_object;
  if (root_element.get_object().get(root_object)) throw_input_error(path, "", "expected a JSON object");
  const JsonFields root(path, root_object, "");

  const JsonFields model(path, root.object("model"), "model.");
  model.require_string("type", "WordPiece", "this engine's tokenizer for a tokenizer.json is BERT's WordPiece");
  model.require_string("unk_token", "[UNK]", "BERT's unknown token");
  model.require_string("continuing_subword_prefix", "##", "BERT's continuation prefix");
  int64_t max_chars = 0;
  if (model.get("max_input_chars_per_word").get_int64().get(max_chars) ||
      max_chars != WordPieceTokenizer::kMaxInputCharsPerWord)
    throw_input_error(path, "model.max_input_chars_per_word",
                      "expected " + std::to_string(WordPieceTokenizer::kMaxInputCharsPerWord) + " (BERT's), found " +
                          simdjson::minify(model.get("max_input_chars_per_word")));
  WordPieceJson out;
  out.tokens = read_vocab(path, model.object("vocab"));

  const JsonFields normalizer(path, root.object("normalizer"), "normalizer.");
  normalizer.require_string("type", "BertNormalizer", "the BERT normaliser this engine implements");
  out.lowercase = normalizer.boolean("lowercase", true);
  if (!normalizer.boolean("clean_text", true))
    throw_input_error(path, "normalizer.clean_text", "false is not supported: control characters are always removed here");
  if (!normalizer.boolean("handle_chinese_chars", true))
    throw_input_error(path, "normalizer.handle_chinese_chars",
                      "false is not supported: CJK ideographs are always split into words of their own here");
  simdjson::dom::element strip;
  if (!root_object["normalizer"]["strip_accents"].get(strip) && !strip.is_null()) {
    bool value = false;
    if (strip.get_bool().get(value) || value != out.lowercase)
      throw_input_error(path, "normalizer.strip_accents",
                        simdjson::minify(strip) + " with lowercase " + (out.lowercase ? "true" : "false") +
                            " is not supported: accents are stripped exactly when lower-casing here (null)");
  }
  const JsonFields pre_tokenizer(path, root.object("pre_tokenizer"), "pre_tokenizer.");
  pre_tokenizer.require_string("type", "BertPreTokenizer", "BERT's whitespace and punctuation split");

  check_added_tokens(path, root_object, out.tokens);
  check_sides(path, root_object);
  return out;
}

}  // namespace bert
