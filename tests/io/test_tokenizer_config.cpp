// tokenizer_config.json: lower-casing as transformers decides it, model_max_length (also the
// int(1e30) Python writes for "no limit"), and every field the WordPiece tokenizer (or, with a
// SentencePiece model, AlbertTokenizer as followed here) cannot follow refused by name;
// added_tokens.json likewise. Also the JSON widening that lets simdjson
// read integers above 64 bits.
#include <catch2/catch.hpp>
#include <tuple>
#include <vector>

#include "core/json_text.h"
#include "io/tokenizer_config.h"
#include "tests/io/io_test_util.h"

using namespace bert;
using namespace bert::test;

namespace {

// A WordPiece directory (vocab.txt) with the given tokenizer_config.json text ("" for none).
void write_dir(const TempDir& dir, const std::string& tokenizer_config) {
  write_vocab(dir.file("vocab.txt"), 30);
  if (!tokenizer_config.empty()) write_file_atomic(dir.file("tokenizer_config.json"), tokenizer_config);
}

// A SentencePiece directory (only the model file's name matters here) likewise.
void write_sentencepiece_dir(const TempDir& dir, const std::string& tokenizer_config) {
  write_file_atomic(dir.file("spiece.model"), "a SentencePiece model (only its name matters here)");
  if (!tokenizer_config.empty()) write_file_atomic(dir.file("tokenizer_config.json"), tokenizer_config);
}

// A tokenizer_config.json text that read_tokenizer_config refuses: naming the file, the field
// (when not empty) and saying `expected`.
struct Refusal {
  std::string json, field, expected;
};

void check_refusals(const std::vector<Refusal>& refusals, void (*write)(const TempDir&, const std::string&)) {
  for (const Refusal& r : refusals) {
    TempDir dir;
    write(dir, r.json);
    const std::string message = input_error_of([&] { read_tokenizer_config(dir.path(), false, true); });
    INFO(r.json << " -> " << message);
    CHECK(contains(message, dir.file("tokenizer_config.json")));
    if (!r.field.empty()) CHECK(contains(message, "tokenizer_config.json: " + r.field + ":"));
    CHECK(contains(message, r.expected));
  }
}

}  // namespace

TEST_CASE("widen_big_json_integers writes integers above 64 bits as floats, nothing else", "[io][tokenizer_config]") {
  CHECK(widen_big_json_integers(R"({"a": 1000000000000000019884624838656})") == R"({"a": 1000000000000000019884624838656.0})");
  CHECK(widen_big_json_integers(R"([-123456789012345678901, 12345678901234567890])") ==
        R"([-123456789012345678901.0, 12345678901234567890.0])");
  // 19 digits fit 64 bits; floats, exponents and strings are left as they are.
  const std::string unchanged =
      R"({"n": 1234567890123456789, "f": 1.5e300, "e": 100000000000000000000e-3, "s": "12345678901234567890123", )"
      R"("q": "a \"12345678901234567890123\" b\\", "t": [true, false, null]})";
  CHECK(widen_big_json_integers(unchanged) == unchanged);
}

TEST_CASE("read_tokenizer_config decides lower-casing and reads model_max_length", "[io][tokenizer_config]") {
  {
    TempDir dir;
    write_dir(dir, "");
    const TokenizerChoice choice = read_tokenizer_config(dir.path(), false, true);
    CHECK(choice.do_lower_case);
    CHECK(contains(choice.note, "BertTokenizer's default"));
    CHECK(choice.model_max_length == 0);
  }
  {
    TempDir dir;
    write_dir(dir, R"({"do_lower_case": false, "model_max_length": 128, "tokenizer_class": "BertTokenizerFast",
                       "strip_accents": null, "tokenize_chinese_chars": true})");
    const TokenizerChoice choice = read_tokenizer_config(dir.path(), false, true);
    CHECK_FALSE(choice.do_lower_case);
    CHECK(choice.model_max_length == 128);
    const TokenizerChoice flagged = read_tokenizer_config(dir.path(), true, true);
    CHECK(flagged.do_lower_case);
    CHECK(contains(flagged.note, "the flag overrides it"));
  }
  {
    // What transformers writes for a tokenizer without a limit, and the special tokens it lists.
    TempDir dir;
    write_dir(dir, R"({"model_max_length": 1000000000000000019884624838656, "do_lower_case": true,
                       "added_tokens_decoder": {"0": {"content": "[PAD]", "special": true},
                                                "100": {"content": "[UNK]", "special": true}}})");
    const TokenizerChoice choice = read_tokenizer_config(dir.path(), false, false);
    CHECK(choice.model_max_length == 0);
    CHECK(choice.do_lower_case);  // the file's, since the flag was not given
  }
}

TEST_CASE("read_tokenizer_config with a tokenizer.json vocabulary: cased only when said so", "[io][tokenizer_config]") {
  TempDir dir;  // what transformers 5 saves: tokenizer.json, no vocab.txt
  write_file_atomic(dir.file("tokenizer.json"), R"({"normalizer": {"type": "BertNormalizer", "lowercase": false}})");
  // transformers 4 would keep the case (the normaliser), transformers 5 lower-case (the default):
  // refused until the flag or tokenizer_config.json says which.
  const std::string message = input_error_of([&] { read_tokenizer_config(dir.path(), false, true); });
  CHECK(contains(message, dir.file("tokenizer.json") + ": normalizer.lowercase: false, with no do_lower_case"));
  CHECK_FALSE(read_tokenizer_config(dir.path(), true, false).do_lower_case);
  write_file_atomic(dir.file("tokenizer.json"), R"({"normalizer": {"type": "BertNormalizer", "lowercase": true}})");
  CHECK(read_tokenizer_config(dir.path(), false, true).do_lower_case);
  // tokenizer_config.json's do_lower_case comes first, as does the flag.
  write_file_atomic(dir.file("tokenizer_config.json"), R"({"do_lower_case": true})");
  CHECK(read_tokenizer_config(dir.path(), false, false).do_lower_case);
  CHECK_FALSE(read_tokenizer_config(dir.path(), true, false).do_lower_case);
  // And the directory is WordPiece: its tokenizer_config.json is held to WordPiece's fields.
  write_file_atomic(dir.file("tokenizer_config.json"), R"({"tokenizer_class": "XLNetTokenizer"})");
  CHECK(contains(input_error_of([&] { read_tokenizer_config(dir.path(), false, true); }), "tokenizer_class"));
}

TEST_CASE("read_tokenizer_config refuses what WordPiece here would tokenize differently", "[io][tokenizer_config]") {
  check_refusals(
      {
          {R"({"do_lower_case": true, "strip_accents": false})", "strip_accents",
           "false with do_lower_case true is not supported"},
          {R"({"do_lower_case": false, "strip_accents": true})", "strip_accents",
           "true with do_lower_case false"},
          {R"({"strip_accents": "yes"})", "strip_accents", "expected true, false or null"},
          {R"({"tokenize_chinese_chars": false})", "tokenize_chinese_chars",
           "false is not supported"},
          {R"({"tokenizer_class": "BertJapaneseTokenizer"})", "tokenizer_class",
           "\"BertJapaneseTokenizer\" is not supported"},
          {R"({"added_tokens_decoder": {"30522": {"content": "<ent>", "special": false}}})",
           "added_tokens_decoder.\"30522\"", "added token \"<ent>\" is not supported"},
          {R"({"model_max_length": "long"})", "model_max_length", "expected a positive number"},
          {R"({"do_lower_case": "yes"})", "do_lower_case", "expected true or false"},
          {R"({"do_lower_case": true,})", "", "not valid JSON"},
          {R"({"unk_token": "[unused1]"})", "unk_token", "\"[unused1]\" is not supported"},
          {R"({"cls_token": {"content": "<s>", "special": true}})", "cls_token",
           "\"<s>\" is not supported"},
          {R"({"mask_token": 4})", "mask_token", "expected a string or an object"},
          {R"({"extra_special_tokens": ["<ent>"]})", "extra_special_tokens", "not supported"},
          {R"({"additional_special_tokens": {"a": "<b>"}})", "additional_special_tokens",
           "not supported"},
          {R"({"split_special_tokens": true})", "split_special_tokens", "true is not supported"},
          {R"({"truncation_side": "left"})", "truncation_side", "\"left\" is not supported"},
          {R"({"padding_side": "left"})", "padding_side", "\"left\" is not supported"},
          // transformers would have no such token (literal "[MASK]" split, no [SEP] at all).
          {R"({"mask_token": null})", "mask_token", "null is not supported"},
          {R"({"sep_token": null})", "sep_token", "null is not supported"},
          // Matching switches transformers honours and WordPiece here does not.
          {R"({"added_tokens_decoder": {"103": {"content": "[MASK]", "lstrip": true, "special": true}}})",
           "added_tokens_decoder.\"103\".lstrip", "true is not supported for \"[MASK]\""},
          {R"({"added_tokens_decoder": {"102": {"content": "[SEP]", "single_word": true}}})",
           "added_tokens_decoder.\"102\".single_word", "true is not supported"},
          {R"({"added_tokens_decoder": {"102": {"content": "[SEP]", "normalized": true}}})",
           "added_tokens_decoder.\"102\".normalized", "true is not supported"},
          {R"({"mask_token": {"content": "[MASK]", "rstrip": true}})", "mask_token.rstrip",
           "true is not supported"},
      },
      write_dir);

  // special_tokens_map.json (transformers reads it beside the config) and config.json's
  // tokenizer_class (AutoTokenizer follows it when the config names none) are held alike.
  for (const auto& [file, json, field, expected] :
       std::vector<std::tuple<std::string, std::string, std::string, std::string>>{
           {"special_tokens_map.json", R"({"additional_special_tokens": ["[E1]"]})",
            "additional_special_tokens", "not supported"},
           {"special_tokens_map.json", R"({"mask_token": "[E1]"})", "mask_token",
            "\"[E1]\" is not supported"},
           {"config.json", R"({"model_type": "bert", "tokenizer_class": "RobertaTokenizer"})",
            "tokenizer_class", "\"RobertaTokenizer\" is not supported"}}) {
    TempDir beside;
    write_dir(beside, R"({"do_lower_case": true})");
    write_file_atomic(beside.file(file), json);
    const std::string refused =
        input_error_of([&] { read_tokenizer_config(beside.path(), false, true); });
    INFO(refused);
    CHECK(contains(refused, beside.file(file) + ": " + field + ":"));
    CHECK(contains(refused, expected));
  }
  // What transformers saves for BERT: accepted; a tokenizer_config.json naming its class wins
  // over config.json's.
  TempDir map;
  write_dir(map, R"({"tokenizer_class": "BertTokenizer"})");
  write_file_atomic(
      map.file("special_tokens_map.json"),
      R"({"cls_token": "[CLS]", "mask_token": {"content": "[MASK]", "lstrip": false, "normalized": false,)"
      R"( "rstrip": false, "single_word": false}, "pad_token": "[PAD]", "sep_token": "[SEP]", "unk_token": "[UNK]"})");
  write_file_atomic(map.file("config.json"),
                    R"({"model_type": "bert", "tokenizer_class": "RobertaTokenizer"})");
  CHECK(read_tokenizer_config(map.path(), false, true).do_lower_case);

  // What transformers writes for BERT's own is accepted.
  TempDir saved;
  write_dir(saved, R"({"unk_token": "[UNK]", "cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]", )"
                   R"("mask_token": "[MASK]", "extra_special_tokens": {}, "split_special_tokens": false, )"
                   R"("truncation_side": "right", "padding_side": "right"})");
  CHECK(read_tokenizer_config(saved.path(), false, true).do_lower_case);

  TempDir dir;
  write_dir(dir, R"({"do_lower_case": true})");
  write_file_atomic(dir.file("added_tokens.json"), R"({"[MASK]": 4, "<new>": 30})");
  const std::string message = input_error_of([&] { read_tokenizer_config(dir.path(), false, true); });
  INFO(message);
  CHECK(contains(message, dir.file("added_tokens.json")));
  CHECK(contains(message, "added token \"<new>\""));

  // A SentencePiece directory is not held to WordPiece's fields.
  TempDir spiece;
  write_sentencepiece_dir(spiece, R"({"tokenizer_class": "AlbertTokenizer", "do_lower_case": true, "keep_accents": )"
                                  R"(true, "strip_accents": false, "added_tokens_decoder": {"4": {"content": "[MASK]"}}})");
  CHECK(read_tokenizer_config(spiece.path(), false, false).do_lower_case);
}

TEST_CASE("read_tokenizer_config holds a SentencePiece directory to AlbertTokenizer",
          "[io][tokenizer_config]") {
  check_refusals(
      {
          {"", "",
           "missing: a SentencePiece model's tokenizer is chosen by tokenizer_config.json's "
           "tokenizer_class"},
          {R"({"do_lower_case": false})", "tokenizer_class", "missing"},
          {R"({"tokenizer_class": "XLNetTokenizer", "keep_accents": true})", "tokenizer_class",
           "\"XLNetTokenizer\" is not supported with a SentencePiece model: XLNet pads on the "
           "left"},
          {R"({"tokenizer_class": "CamembertTokenizerFast"})", "tokenizer_class", "fairseq"},
          {R"({"tokenizer_class": "T5Tokenizer"})", "tokenizer_class", "no [CLS]/[SEP]"},
          {R"({"tokenizer_class": "BertTokenizer"})", "tokenizer_class", "as AlbertTokenizer does"},
          {R"({"tokenizer_class": "AlbertTokenizer", "keep_accents": "yes"})", "keep_accents",
           "expected true or false"},
          {R"({"tokenizer_class": "AlbertTokenizer", "keep_accents": true, "add_prefix_space": false})",
           "add_prefix_space", "false is not supported"},
          // AlbertTokenizer's special tokens, which transformers would take from here instead.
          {R"({"tokenizer_class": "AlbertTokenizer", "cls_token": "<s>"})", "cls_token",
           "\"<s>\" is not supported: this engine tokenizes a SentencePiece model with "
           "AlbertTokenizer's [CLS]"},
          {R"({"tokenizer_class": "AlbertTokenizer", "sep_token": {"content": "</s>"}})",
           "sep_token", "\"</s>\" is not supported"},
          {R"({"tokenizer_class": "AlbertTokenizer", "unk_token": "[UNK]"})", "unk_token",
           "\"[UNK]\" is not supported"},
          {R"({"tokenizer_class": "AlbertTokenizer", "padding_side": "left"})", "padding_side",
           "\"left\" is not supported"},
      },
      write_sentencepiece_dir);
  {
    // What transformers 5's save_pretrained writes for AlbertTokenizer: its own specials again
    // as extra special tokens, which changes nothing.
    TempDir saved;
    write_sentencepiece_dir(
        saved,
        R"({"tokenizer_class": "AlbertTokenizer", "cls_token": "[CLS]", "sep_token": "[SEP]",
            "pad_token": "<pad>", "unk_token": "<unk>", "mask_token": "[MASK]",
            "extra_special_tokens": ["<pad>", "[CLS]", "[SEP]", "[MASK]"]})");
    CHECK_NOTHROW(read_tokenizer_config(saved.path(), false, false));
    // transformers 4 saved ALBERT's [MASK] with lstrip: let through (and only there).
    TempDir old;
    write_sentencepiece_dir(old, R"({"tokenizer_class": "AlbertTokenizer",
                 "mask_token": {"content": "[MASK]", "lstrip": true, "normalized": false},
                 "added_tokens_decoder": {"4": {"content": "[MASK]", "lstrip": true}}})");
    CHECK_NOTHROW(read_tokenizer_config(old.path(), false, false));
    write_sentencepiece_dir(old, R"({"tokenizer_class": "AlbertTokenizer",
                 "added_tokens_decoder": {"2": {"content": "[CLS]", "lstrip": true}}})");
    CHECK_THROWS_WITH(read_tokenizer_config(old.path(), false, false),
                      Catch::Contains("added_tokens_decoder.\"2\".lstrip"));
    write_file_atomic(join_path(saved.path(), "special_tokens_map.json"),
                      R"({"cls_token": "<s>"})");
    CHECK_THROWS_WITH(read_tokenizer_config(saved.path(), false, false),
                      Catch::Contains("special_tokens_map.json: cls_token") &&
                          Catch::Contains("\"<s>\" is not supported"));
  }
  TempDir dir;
  write_sentencepiece_dir(dir, R"({"tokenizer_class": "AlbertTokenizer", "keep_accents": true})");
  const TokenizerChoice choice = read_tokenizer_config(dir.path(), false, false);
  CHECK(choice.do_lower_case);  // AlbertTokenizer's default, like BertTokenizer's
  CHECK(contains(choice.note, "has no do_lower_case, and lower-casing is AlbertTokenizer's default"));
  CHECK(choice.keep_accents);
  CHECK(contains(choice.note, "keep_accents true"));

  // keep_accents false, also when absent (AlbertTokenizer's default): NFKD, marks removed.
  for (const char* config : {R"({"tokenizer_class": "AlbertTokenizer"})",
                             R"({"tokenizer_class": "AlbertTokenizerFast", "keep_accents": false})",
                             R"({"tokenizer_class": "AlbertTokenizer", "keep_accents": null})"}) {
    INFO(config);
    TempDir without;
    write_sentencepiece_dir(without, config);
    const TokenizerChoice stripped = read_tokenizer_config(without.path(), false, false);
    CHECK_FALSE(stripped.keep_accents);
    CHECK(contains(stripped.note, "keep_accents false"));
  }
}
