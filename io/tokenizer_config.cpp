// tokenizer_config.json and added_tokens.json, read and held to what the tokenizers here do.
// See tokenizer_config.h.
#include "io/tokenizer_config.h"

#include <simdjson.h>

#include <set>
#include <vector>

#include "core/error.h"
#include "core/file_io.h"
#include "core/json_text.h"
#include "io/model_dir.h"

namespace bert {
namespace {

// The tokens WordPieceTokenizer cuts out of raw text whole (see basic_tokenizer.h).
const std::set<std::string> kBertSpecialTokens = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};

std::string word(bool value) { return value ? "true" : "false"; }

simdjson::dom::object parse_object(const std::string& path, simdjson::dom::parser* parser) {
  // widen_big_json_integers: transformers writes an unbounded model_max_length as int(1e30).
  const simdjson::padded_string text(widen_big_json_integers(read_file(path)));
  simdjson::dom::element root;
  if (const auto error = parser->parse(text).get(root)) {
    if (starts_with_utf8_bom(std::string_view(text.data(), text.size())))
      throw_input_error(path, "byte 0", kUtf8BomMessage);
    throw_input_error(path, "", std::string("not valid JSON: ") + simdjson::error_message(error));
  }
  simdjson::dom::object object;
  if (root.get_object().get(object)) throw_input_error(path, "", "expected a JSON object");
  return object;
}

// Why an added token is refused, after "transformers matches added tokens whole ".
constexpr const char* kWordPieceAddedTokens =
    "before WordPiece, and this engine's tokenizer knows only BERT's special tokens [PAD] [UNK] "
    "[CLS] [SEP] [MASK]; remove the added tokens (and their embedding rows) or add them to "
    "vocab.txt";

[[noreturn]] void refuse_added_token(const std::string& path, const std::string& field,
                                     const std::string& token,
                                     const char* why = kWordPieceAddedTokens) {
  throw_input_error(path, field,
                    "added token \"" + token +
                        "\" is not supported: transformers matches added tokens whole " + why);
}

// An AddedToken's matching switches (an added_tokens_decoder entry, or a special token written
// as an object): transformers honours them; the tokenizers here match special tokens as written,
// without the spaces around them, anywhere in a word, so a true one is refused by name. With
// mask_lstrip, [MASK]'s lstrip is let through: transformers 4 saved ALBERT tokenizers so, and
// before a SentencePiece piece the space it takes is dropped anyway (only the [MASK]'s offset
// may then start at the bracket where transformers starts it at the space).
void check_added_token_flags(const std::string& path, const std::string& field,
                             simdjson::dom::element token, std::string_view content,
                             bool mask_lstrip = false) {
  if (!token.is_object()) return;
  for (const char* flag : {"lstrip", "rstrip", "single_word", "normalized"}) {
    bool value = false;
    if (mask_lstrip && content == "[MASK]" && std::string_view(flag) == "lstrip") continue;
    if (token[flag].get_bool().get(value) == simdjson::SUCCESS && value)
      throw_input_error(
          path, field + "." + flag,
          "true is not supported for \"" + std::string(content) +
              "\": special tokens are matched here as written, without the spaces around them "
              "and inside words (transformers would match it otherwise)");
  }
}

// tokenizer_config.json's added_tokens_decoder: every token's content must be one of `known`,
// matched as written (known null: checked against the model when it is loaded, see
// load_tokenizer.h).
void check_added_tokens_decoder(const std::string& path, simdjson::dom::object object,
                                const std::set<std::string>* known, const char* why,
                                bool mask_lstrip = false) {
  simdjson::dom::object added;
  if (object["added_tokens_decoder"].get_object().get(added) != simdjson::SUCCESS) return;
  for (auto entry : added) {
    std::string_view content;
    const std::string field = "added_tokens_decoder.\"" + std::string(entry.key) + "\"";
    if (entry.value["content"].get_string().get(content))
      throw_input_error(path, field, "expected an object with a string \"content\"");
    if (known != nullptr && !known->count(std::string(content)))
      refuse_added_token(path, field, std::string(content), why);
    check_added_token_flags(path, field, entry.value, content, mask_lstrip);
  }
}

// A tokenizer's special tokens as this engine uses them: (field, token), and how to name the
// tokenizer in messages.
struct SpecialTokens {
  std::pair<const char*, const char*> fields[5];
  const char* engine;  // "this engine's WordPiece uses BERT's"
  const char* known;   // the list of specials, for extra_special_tokens' message
  // The tokens the engine cuts out of text whole; null: the model's special and control pieces,
  // checked when it is loaded (load_tokenizer.h).
  const std::set<std::string>* matched_whole;
  bool mask_lstrip;   // [MASK]'s lstrip let through (check_added_token_flags)
  bool mask_null_ok;  // "mask_token": null let through (checked against the model later)
};
const SpecialTokens kWordPieceSpecials = {{{"unk_token", "[UNK]"},
                                           {"cls_token", "[CLS]"},
                                           {"sep_token", "[SEP]"},
                                           {"pad_token", "[PAD]"},
                                           {"mask_token", "[MASK]"}},
                                          "this engine's WordPiece uses BERT's",
                                          "BERT's [PAD] [UNK] [CLS] [SEP] [MASK]",
                                          &kBertSpecialTokens,
                                          false,
                                          false};
// AlbertTokenizer's defaults, which SentencePieceTokenizer resolves in the model.
const SpecialTokens kSentencePieceSpecials = {
    {{"unk_token", "<unk>"},
     {"cls_token", "[CLS]"},
     {"sep_token", "[SEP]"},
     {"pad_token", "<pad>"},
     {"mask_token", "[MASK]"}},
    "this engine tokenizes a SentencePiece model with AlbertTokenizer's",
    "",
    nullptr,
    true,
    true};

// What transformers takes from tokenizer_config.json (or special_tokens_map.json) beyond the
// normaliser's switches: its special tokens (each the engine's own, or absent), no extra special
// tokens, special tokens matched whole (split_special_tokens false), and right-side truncation
// and padding (padding on the left makes run_qa lay a window out context first).
void check_special_tokens(const std::string& path, simdjson::dom::object object,
                          const SpecialTokens& specials = kWordPieceSpecials) {
  simdjson::dom::element value;
  for (const auto& [field, bert] : specials.fields) {
    if (object[field].get(value) != simdjson::SUCCESS) continue;
    // A SentencePiece model without a [MASK] piece: transformers then has no mask token and cuts
    // "[MASK]" in the text into pieces, as the engine does (load_tokenizer refuses a null one
    // when the model has the piece).
    if (value.is_null() && specials.mask_null_ok && std::string_view(field) == "mask_token")
      continue;
    if (value.is_null())
      throw_input_error(
          path, field,
          std::string("null is not supported: transformers would then have no such token (") +
              bert +
              " written in the text split into pieces, or no unknown or separator token at all); " +
              specials.engine + " " + bert + ": write it, or leave the field out");
    std::string_view token;
    if (value.get_string().get(token) && value["content"].get_string().get(token))
      throw_input_error(path, field, "expected a string or an object with a string \"content\"");
    if (token != bert)
      throw_input_error(path, field,
                        "\"" + std::string(token) + "\" is not supported: " + specials.engine +
                            " " + bert + " (transformers would use the token named here)");
    check_added_token_flags(path, field, value, token, specials.mask_lstrip);
  }
  for (const char* field : {"extra_special_tokens", "additional_special_tokens"}) {
    if (object[field].get(value) != simdjson::SUCCESS || value.is_null()) continue;
    // A list (or transformers 5's dict of names) of tokens; the engine's own specials listed
    // again (as transformers 5 saves AlbertTokenizer's) change nothing.
    std::vector<simdjson::dom::element> tokens;
    if (value.is_array())
      for (simdjson::dom::element token : value.get_array()) tokens.push_back(token);
    else if (value.is_object())
      for (auto entry : value.get_object()) tokens.push_back(entry.value);
    else
      throw_input_error(path, field, "expected a list of tokens");
    for (simdjson::dom::element token : tokens) {
      std::string_view content;
      if (token.get_string().get(content) && token["content"].get_string().get(content))
        throw_input_error(path, field, "expected strings or objects with a string \"content\"");
      if (specials.matched_whole != nullptr && !specials.matched_whole->count(std::string(content)))
        throw_input_error(path, field,
                          "\"" + std::string(content) +
                              "\" is not supported: transformers matches extra special tokens "
                              "whole and this engine knows only " +
                              specials.known);
    }
  }
  if (object["split_special_tokens"].get(value) == simdjson::SUCCESS && value.is_bool() &&
      value.get_bool().value())
    throw_input_error(path, "split_special_tokens",
                      "true is not supported: this engine matches the special tokens written in "
                      "the text whole");
  for (const char* field : {"truncation_side", "padding_side"}) {
    std::string_view side;
    if (object[field].get_string().get(side) == simdjson::SUCCESS && side != "right")
      throw_input_error(
          path, field,
          "\"" + std::string(side) +
              "\" is not supported: windows are laid out and cut as run_qa does with right-side "
              "truncation and padding ([CLS] question [SEP] context [SEP])");
  }
}

// The fields WordPiece here cannot follow, refused by name (see tokenizer_config.h).
void check_wordpiece_fields(const std::string& path, simdjson::dom::object object, bool do_lower_case) {
  simdjson::dom::element value;
  if (object["strip_accents"].get(value) == simdjson::SUCCESS && !value.is_null()) {
    if (!value.is_bool()) throw_input_error(path, "strip_accents", "expected true, false or null");
    if (value.get_bool().value() != do_lower_case)
      throw_input_error(path, "strip_accents",
                        word(value.get_bool().value()) + " with do_lower_case " + word(do_lower_case) +
                            " is not supported: this engine strips accents exactly when it lower-cases "
                            "(BertTokenizer's default, strip_accents null)");
  }
  if (object["tokenize_chinese_chars"].get(value) == simdjson::SUCCESS) {
    if (!value.is_bool()) throw_input_error(path, "tokenize_chinese_chars", "expected true or false");
    if (!value.get_bool().value())
      throw_input_error(path, "tokenize_chinese_chars",
                        "false is not supported: this engine splits every CJK ideograph into a word of its own "
                        "(BertTokenizer's default)");
  }
  std::string_view tokenizer_class;
  if (object["tokenizer_class"].get(value) == simdjson::SUCCESS && !value.is_null()) {
    if (value.get_string().get(tokenizer_class)) throw_input_error(path, "tokenizer_class", "expected a string");
    if (tokenizer_class.substr(0, 15) == "AlbertTokenizer")
      throw_input_error(path, "tokenizer_class",
                        "\"" + std::string(tokenizer_class) +
                            "\" needs its SentencePiece model, spiece.model, which this directory "
                            "lacks (transformers 5's save_pretrained writes only tokenizer.json "
                            "for it: copy spiece.model from the model the tokenizer came from)");
    if (tokenizer_class != "BertTokenizer" && tokenizer_class != "BertTokenizerFast")
      throw_input_error(path, "tokenizer_class",
                        "\"" + std::string(tokenizer_class) +
                            "\" is not supported: with a WordPiece vocabulary this engine "
                            "tokenizes as BertTokenizer (BERT's basic tokenizer + WordPiece), "
                            "which this class does not");
  }
  check_added_tokens_decoder(path, object, &kBertSpecialTokens, kWordPieceAddedTokens);
  check_special_tokens(path, object);
}

// Why a tokenizer class other than AlbertTokenizer would tokenize a SentencePiece model otherwise.
std::string sentencepiece_class_reason(std::string_view tokenizer_class) {
  const auto is = [&](std::string_view name) { return tokenizer_class.substr(0, name.size()) == name; };
  if (is("XLNetTokenizer"))
    return "XLNet pads on the left and puts the context first and <cls> last (c <sep> q <sep> <cls>)";
  if (is("CamembertTokenizer") || is("XLMRobertaTokenizer"))
    return "it shifts the model's ids by fairseq's offset and lays a pair out as <s> q </s></s> c </s>";
  if (is("T5Tokenizer") || is("LlamaTokenizer"))
    return "it adds no [CLS]/[SEP] around the question and context";
  return "this engine tokenizes a SentencePiece model as AlbertTokenizer does ([CLS] q [SEP] c [SEP])";
}

// A SentencePiece directory is tokenized as AlbertTokenizer (see sentencepiece_tokenizer.h):
// refuses by field what transformers would do otherwise; returns keep_accents.
bool check_sentencepiece_fields(const std::string& dir, const std::string& path, bool have_file,
                                simdjson::dom::object object) {
  if (!have_file)
    throw_input_error(
        path, "",
        "missing: a SentencePiece model's tokenizer is chosen by tokenizer_config.json's "
        "tokenizer_class (transformers' AutoTokenizer builds an unusable BertTokenizer without "
        "it); write {\"tokenizer_class\": \"AlbertTokenizer\", \"keep_accents\": ..., "
        "\"do_lower_case\": ...}");
  simdjson::dom::element value;
  std::string_view tokenizer_class;
  if (object["tokenizer_class"].get(value) != simdjson::SUCCESS || value.is_null())
    throw_input_error(path, "tokenizer_class", "missing: with a SentencePiece model in " + dir +
                      " transformers' AutoTokenizer decides the tokenizer by it; this engine tokenizes as "
                      "\"AlbertTokenizer\"");
  if (value.get_string().get(tokenizer_class)) throw_input_error(path, "tokenizer_class", "expected a string");
  if (tokenizer_class != "AlbertTokenizer" && tokenizer_class != "AlbertTokenizerFast")
    throw_input_error(path, "tokenizer_class",
                      "\"" + std::string(tokenizer_class) + "\" is not supported with a SentencePiece model: " +
                          sentencepiece_class_reason(tokenizer_class));
  bool keep_accents = false;  // AlbertTokenizer's default
  if (object["keep_accents"].get(value) == simdjson::SUCCESS && !value.is_null()) {
    if (!value.is_bool()) throw_input_error(path, "keep_accents", "expected true or false");
    keep_accents = value.get_bool().value();
  }
  if (object["add_prefix_space"].get(value) == simdjson::SUCCESS && value.is_bool() && !value.get_bool().value())
    throw_input_error(path, "add_prefix_space",
                      "false is not supported: sentencepiece here prefixes every text with \"\u2581\" "
                      "(AlbertTokenizer's default)");
  // Which tokens the model matches whole is known once it is loaded (load_tokenizer.h).
  check_added_tokens_decoder(path, object, nullptr, nullptr, /*mask_lstrip=*/true);
  check_special_tokens(path, object, kSentencePieceSpecials);
  return keep_accents;
}

// special_tokens_map.json, which transformers reads beside tokenizer_config.json (its values
// override the config's): held to the same rules as the config's special tokens.
void check_special_tokens_map(const std::string& dir, const SpecialTokens& specials) {
  const std::string path = join_path(dir, "special_tokens_map.json");
  if (!path_exists(path)) return;
  simdjson::dom::parser parser;
  check_special_tokens(path, parse_object(path, &parser), specials);
}

// config.json's tokenizer_class, which AutoTokenizer follows when tokenizer_config.json names
// none.
void check_config_tokenizer_class(const std::string& dir) {
  const std::string path = join_path(dir, "config.json");
  if (!path_exists(path)) return;
  simdjson::dom::parser parser;
  simdjson::dom::element value;
  std::string_view tokenizer_class;
  const simdjson::dom::object object = parse_object(path, &parser);
  if (object["tokenizer_class"].get(value) != simdjson::SUCCESS || value.is_null()) return;
  if (value.get_string().get(tokenizer_class))
    throw_input_error(path, "tokenizer_class", "expected a string");
  if (tokenizer_class != "BertTokenizer" && tokenizer_class != "BertTokenizerFast")
    throw_input_error(
        path, "tokenizer_class",
        "\"" + std::string(tokenizer_class) +
            "\" is not supported: transformers' AutoTokenizer builds that class for this directory "
            "(tokenizer_config.json names none), and with a WordPiece vocabulary this engine "
            "tokenizes as BertTokenizer");
}

void check_added_tokens_file(const std::string& dir) {
  const std::string path = join_path(dir, "added_tokens.json");
  if (!path_exists(path)) return;
  simdjson::dom::parser parser;
  for (auto entry : parse_object(path, &parser)) {
    const std::string token(entry.key);
    if (!kBertSpecialTokens.count(token)) refuse_added_token(path, "\"" + token + "\"", token);
  }
}

// "model_max_length" as transformers reads it: a number; 1e9 and above means no limit.
int64_t read_model_max_length(const std::string& path, simdjson::dom::object object) {
  simdjson::dom::element value;
  if (object["model_max_length"].get(value) != simdjson::SUCCESS || value.is_null()) return 0;
  double limit = 0;
  if (value.get_double().get(limit) || !(limit >= 1))
    throw_input_error(path, "model_max_length", "expected a positive number, found " + simdjson::minify(value));
  return limit >= 1e9 ? 0 : static_cast<int64_t>(limit);
}

// tokenizer.json's normalizer.lowercase, -1 when it says nothing (read_wordpiece_tokenizer_json
// checks the rest of the file when the tokenizer is built).
int tokenizer_json_lowercase(const std::string& path) {
  simdjson::dom::parser parser;
  bool lowercase = true;
  for (auto field : parse_object(path, &parser))
    if (field.key == "normalizer" && field.value["lowercase"].get_bool().get(lowercase) == simdjson::SUCCESS)
      return lowercase ? 1 : 0;
  return -1;
}

}  // namespace

TokenizerChoice read_tokenizer_config(const std::string& dir, bool flag_given, bool flag_value) {
  const std::string path = join_path(dir, "tokenizer_config.json");
  // "" when the directory has none: prepare_squad's --vocab_file may have another name.
  const std::string vocabulary = vocab_file_in(dir);
  const bool wordpiece = vocabulary.empty() || is_wordpiece_vocab(vocabulary);
  const std::string tokenizer_json = join_path(dir, "tokenizer.json");
  int from_file = -1;  // -1: no value in a file
  simdjson::dom::parser parser;
  simdjson::dom::object object;
  const bool have_file = path_exists(path);
  TokenizerChoice choice;
  if (have_file) {
    object = parse_object(path, &parser);
    simdjson::dom::element value;
    if (object["do_lower_case"].get(value) == simdjson::SUCCESS) {
      if (!value.is_bool()) throw_input_error(path, "do_lower_case", "expected true or false, found " + simdjson::minify(value));
      from_file = value.get_bool().value() ? 1 : 0;
    }
    choice.model_max_length = read_model_max_length(path, object);
  }
  if (flag_given) {
    choice.do_lower_case = flag_value;
    choice.note = "do_lower_case " + word(flag_value) + " (--do_lower_case)";
    if (from_file >= 0 && (from_file == 1) != flag_value)
      choice.note += "; warning: " + path + " says do_lower_case " + word(from_file == 1) +
                     ": the flag overrides it, so the text is tokenized unlike the model's pre-training";
  } else if (from_file >= 0) {
    choice.do_lower_case = from_file == 1;
    choice.note = "do_lower_case " + word(choice.do_lower_case) + " from " + path;
  } else if (wordpiece && path_exists(tokenizer_json) &&
             tokenizer_json_lowercase(tokenizer_json) == 0) {
    // transformers 4 reads the normaliser from tokenizer.json (beside vocab.txt or not) and keeps
    // the case; transformers 5 rebuilds it from tokenizer_config.json, where BertTokenizer's
    // default lower-cases.
    throw_input_error(
        tokenizer_json, "normalizer.lowercase",
        "false, with no do_lower_case in " + (have_file ? path : dir + "/tokenizer_config.json") +
            ": transformers 4 keeps the case, transformers 5 lower-cases (BertTokenizer's "
            "default); say which with --do_lower_case, or write do_lower_case into "
            "tokenizer_config.json");
  } else {
    choice.do_lower_case = true;
    choice.note = "do_lower_case true: " + (have_file ? path + " has no do_lower_case" : dir + " has no tokenizer_config.json") +
                  ", and lower-casing is " + (wordpiece ? "BertTokenizer" : "AlbertTokenizer") +
                  "'s default (give --do_lower_case false for a cased model)";
  }
  if (wordpiece) {
    if (have_file) check_wordpiece_fields(path, object, choice.do_lower_case);
    check_added_tokens_file(dir);
    check_special_tokens_map(dir, kWordPieceSpecials);
    simdjson::dom::element value;
    if (!have_file || object["tokenizer_class"].get(value) != simdjson::SUCCESS || value.is_null())
      check_config_tokenizer_class(dir);
  } else {
    choice.keep_accents = check_sentencepiece_fields(dir, path, have_file, object);
    check_special_tokens_map(dir, kSentencePieceSpecials);
    choice.note +=
        choice.keep_accents ? "; keep_accents true" : "; keep_accents false (NFKD, marks removed)";
  }
  return choice;
}

}  // namespace bert
