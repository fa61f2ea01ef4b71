// See sentencepiece_dir.h.
#include "tokenizer/sentencepiece_dir.h"

#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/file_io.h"
#include "core/json_text.h"

namespace bert {
namespace {

// transformers 4's AlbertConverter wrote the score of every piece that ends in a digit and a
// comma ("1,", "▁9,") 100 lower into tokenizer.json (ALBERT's own tokenizer split such pieces
// again), and transformers segments with those scores when it reads that file.
constexpr double kNumberCommaPenalty = 100;
// (Python's isdigit is true for other scripts' digits too, so any character before the comma
// is taken: the file's own score, exactly 100 lower, tells which pieces the rule lowered.)
bool ends_in_number_comma(std::string_view piece) {
  return piece.size() >= 2 && piece.back() == ',' && piece[piece.size() - 2] != ',';
}

// The same for a SentencePiece model: transformers builds AlbertTokenizer from the
// tokenizer.json beside spiece.model when there is one, so its unigram pieces and scores must be
// the model's (a stale tokenizer.json from another training segments the text otherwise), but
// for the number-comma pieces AlbertConverter lowered: those are lowered in the model too.
void check_unigram_json_beside(const std::string& model_path, SentencePieceTokenizer* tokenizer) {
  const SentencePieceTokenizer& model = *tokenizer;
  const std::string json =
      join_path(std::filesystem::path(model_path).parent_path().string(), "tokenizer.json");
  if (!path_exists(json)) return;
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(simdjson::padded_string(read_file(json))).get(root))
    throw_input_error(json, "", "not valid JSON");
  std::string_view type;
  simdjson::dom::array vocab;
  if (root["model"]["type"].get_string().get(type) || type != "Unigram")
    throw_input_error(json, "model.type",
                      "expected \"Unigram\" beside the SentencePiece model " + model_path +
                          " (transformers tokenizes with tokenizer.json): remove the stale one");
  if (root["model"]["vocab"].get_array().get(vocab))
    throw_input_error(json, "model.vocab", "expected an array of [piece, score] pairs");
  const size_t count = static_cast<size_t>(model.vocab_size());
  if (vocab.size() != count)
    throw_input_error(json, "model.vocab",
                      std::to_string(vocab.size()) + " pieces, where " + model_path + " has " +
                          std::to_string(count) +
                          ": transformers tokenizes with tokenizer.json, so the two must agree; "
                          "remove the stale one");
  size_t id = 0;
  std::vector<int32_t> lowered;
  for (simdjson::dom::element entry : vocab) {
    std::string_view piece;
    double score = 0;
    const std::string field = "model.vocab[" + std::to_string(id) + "]";
    if (entry.at(0).get_string().get(piece) || entry.at(1).get_double().get(score))
      throw_input_error(json, field, "expected a [piece, score] pair");
    const std::string ours = model.id_to_token(static_cast<int32_t>(id));
    const double our_score = model.piece_score(static_cast<int32_t>(id));
    const auto near = [](double a, double b) {
      return std::fabs(a - b) <= 1e-6 * std::max(1.0, std::fabs(b));
    };
    if (piece == ours && ends_in_number_comma(ours) &&
        near(score, our_score - kNumberCommaPenalty)) {
      lowered.push_back(static_cast<int32_t>(id));
      ++id;
      continue;
    }
    if (piece != ours || !near(score, our_score))
      throw_input_error(json, field,
                        "[\"" + std::string(piece) + "\", " + std::to_string(score) +
                            "] differs from " + model_path + "'s piece " + std::to_string(id) +
                            " (\"" + ours + "\", " + std::to_string(our_score) +
                            "): transformers tokenizes with tokenizer.json, so the two must "
                            "agree; remove the stale one");
    ++id;
  }
  // transformers 5 keeps added tokens in tokenizer.json alone: each is matched whole there, so
  // each must be a special or control piece of the model, at its id.
  simdjson::dom::array added;
  if (root["added_tokens"].get_array().get(added) == simdjson::SUCCESS) {
    size_t index = 0;
    for (simdjson::dom::element token : added) {
      const std::string field = "added_tokens[" + std::to_string(index++) + "]";
      std::string_view content;
      int64_t token_id = -1;
      if (token["content"].get_string().get(content) || token["id"].get_int64().get(token_id))
        throw_input_error(json, field,
                          "expected an object with a string content and an integer id");
      if (token_id < 0 || token_id >= model.vocab_size() ||
          model.id_to_token(static_cast<int32_t>(token_id)) != content ||
          !model.matches_whole(content))
        throw_input_error(json, field,
                          "\"" + std::string(content) + "\" (id " + std::to_string(token_id) +
                              ") is not supported: transformers matches added tokens whole, and "
                              "this engine matches only the special and control pieces of " +
                              model_path + " so, at their ids");
    }
  }
  tokenizer->lower_scores(lowered, static_cast<float>(kNumberCommaPenalty));
}

// transformers matches every token these fields name whole in the text (an added token, or a
// special token it adds when the model has no such piece); SentencePieceTokenizer does so for
// the model's special and control pieces only, so any other is refused by file and field.
// (read_tokenizer_config has checked the files' syntax and the named special tokens.)
void check_special_tokens_are_pieces(const std::string& model_path,
                                     const SentencePieceTokenizer& model) {
  const std::string dir = std::filesystem::path(model_path).parent_path().string();
  for (const char* name : {"tokenizer_config.json", "special_tokens_map.json"}) {
    const std::string path = join_path(dir, name);
    if (!path_exists(path)) continue;
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    simdjson::dom::object object;
    // Widened as read_tokenizer_config reads it: save_pretrained writes an unbounded
    // model_max_length as int(1e30), which simdjson refuses as an integer.
    if (parser.parse(simdjson::padded_string(widen_big_json_integers(read_file(path)))).get(root) ||
        root.get_object().get(object))
      throw_input_error(path, "", "not a JSON object");
    std::vector<std::pair<std::string, simdjson::dom::element>> named;  // (field, token)
    simdjson::dom::element value;
    for (const char* field : {"bos_token", "eos_token"})
      if (object[field].get(value) == simdjson::SUCCESS) named.emplace_back(field, value);
    // AlbertTokenizer's mask token ([MASK], its default when the config names none): without
    // such a piece transformers adds it as a token beyond the model's vocabulary.
    if (std::string_view(name) == "tokenizer_config.json" &&
        object["mask_token"].get(value) != simdjson::SUCCESS && !model.matches_whole("[MASK]"))
      throw_input_error(path, "mask_token",
                        "absent, so AlbertTokenizer's default \"[MASK]\", which is no piece of " +
                            model_path +
                            ": transformers would add it as a token beyond the model's "
                            "vocabulary and match it whole, this engine would cut it into "
                            "pieces; train the model with [MASK] as a user-defined or control "
                            "symbol");
    if (object["mask_token"].get(value) == simdjson::SUCCESS) {
      // null: no mask token, so "[MASK]" is text to transformers; a [MASK] piece the engine
      // matches whole would then tokenize otherwise.
      if (value.is_null() && model.matches_whole("[MASK]"))
        throw_input_error(path, "mask_token",
                          "null is not supported with a [MASK] piece in " + model_path +
                              ": transformers would cut \"[MASK]\" in the text into pieces, "
                              "this engine matches it whole; write \"[MASK]\", or leave the "
                              "field out");
      named.emplace_back("mask_token", value);
    }
    for (const char* field : {"extra_special_tokens", "additional_special_tokens"}) {
      if (object[field].get(value) != simdjson::SUCCESS) continue;
      if (value.is_array())
        for (simdjson::dom::element token : value.get_array()) named.emplace_back(field, token);
      else if (value.is_object())
        for (auto entry : value.get_object()) named.emplace_back(field, entry.value);
    }
    simdjson::dom::object added;
    if (object["added_tokens_decoder"].get_object().get(added) == simdjson::SUCCESS)
      for (auto entry : added)
        named.emplace_back("added_tokens_decoder.\"" + std::string(entry.key) + "\"", entry.value);
    for (const auto& [field, token] : named) {
      std::string_view content;
      if (token.get_string().get(content) && token["content"].get_string().get(content)) continue;
      if (!model.matches_whole(content))
        throw_input_error(path, field,
                          "\"" + std::string(content) +
                              "\" is not supported: transformers matches it whole in the text as a "
                              "special token, and it is none of " +
                              model_path +
                              "'s special or control pieces, which this engine matches whole (it "
                              "would cut it into pieces)");
    }
  }
}

}  // namespace

void check_sentencepiece_directory(const std::string& model_path, SentencePieceTokenizer* model) {
  check_unigram_json_beside(model_path, model);
  check_special_tokens_are_pieces(model_path, *model);
}

}  // namespace bert
