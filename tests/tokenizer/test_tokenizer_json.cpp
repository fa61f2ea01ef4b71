// tokenizer.json (transformers 5 saves a BERT tokenizer as this alone): the WordPiece vocabulary
// read from it tokenizes exactly as the same vocab.txt, and every setting WordPiece here does not
// follow is refused naming the field.
#include <catch2/catch.hpp>

#include <unistd.h>

#include "core/error.h"
#include "core/file_io.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_json.h"
#include "tokenizer/wordpiece.h"
#include "tests/test_support.h"

namespace bert {
namespace {

const std::vector<std::string> kTokens = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world",
                                          "un", "##aff", "##able", "café", "cafe", "!", "中"};

// The layout `tokenizers` writes for BertWordPieceTokenizer / transformers' BertTokenizer.
std::string tokenizer_json(bool lowercase = true) {
  std::string vocab;
  for (size_t i = 0; i < kTokens.size(); ++i)
    vocab += (i ? ", " : "") + std::string("\"") + kTokens[i] + "\": " + std::to_string(i);
  return std::string(R"({"version": "1.0", "truncation": null, "padding": null,
  "added_tokens": [{"id": 0, "content": "[PAD]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
                   {"id": 1, "content": "[UNK]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}],
  "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "strip_accents": null, "lowercase": )") +
         (lowercase ? "true" : "false") + R"(},
  "pre_tokenizer": {"type": "BertPreTokenizer"},
  "post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]},
  "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
  "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100,
            "vocab": {)" + vocab + "}}}";
}

std::string write_temp(const std::string& text) {
  const std::string dir = test::run_scratch_dir("bert_test_tokenizer_json");
  const std::string path = dir + "/tokenizer.json";
  write_file_atomic(path, text);
  return path;
}

}  // namespace

TEST_CASE("a tokenizer.json's WordPiece tokenizes as the same vocab.txt", "[tokenizer]") {
  const std::string path = write_temp(tokenizer_json());
  CHECK(is_tokenizer_json(path));
  const WordPieceJson read = read_wordpiece_tokenizer_json(path);
  CHECK(read.tokens == kTokens);
  CHECK(read.lowercase);
  CHECK_FALSE(read_wordpiece_tokenizer_json(write_temp(tokenizer_json(false))).lowercase);

  const WordPieceTokenizer from_json(write_temp(tokenizer_json()), true);
  const WordPieceTokenizer from_tokens(kTokens, true, "tokens");
  for (const char* text : {"Unaffable HELLO, world!", "Café 中文 [CLS] unknown"}) {
    INFO(text);
    const Encoding a = from_json.encode(text), b = from_tokens.encode(text);
    CHECK(a.ids == b.ids);
    CHECK(a.offsets == b.offsets);
  }
  CHECK(from_json.vocab_size() == int32_t(kTokens.size()));
}

TEST_CASE("a tokenizer.json that WordPiece here would not follow is refused by field", "[tokenizer]") {
  struct Case {
    std::string from, to, field, expected;
  };
  const std::vector<Case> cases = {
      {R"("type": "WordPiece", "unk)", R"("type": "BPE", "unk)", "model.type", "\"BPE\" is not supported"},
      {R"("unk_token": "[UNK]")", R"("unk_token": "<unk>")", "model.unk_token", "\"<unk>\" is not supported"},
      {R"("continuing_subword_prefix": "##")", R"("continuing_subword_prefix": "@@")", "model.continuing_subword_prefix",
       "expected \"##\""},
      {R"("max_input_chars_per_word": 100)", R"("max_input_chars_per_word": 200)", "model.max_input_chars_per_word",
       "expected 100"},
      {R"("type": "BertNormalizer")", R"("type": "NFKC")", "normalizer.type", "\"NFKC\" is not supported"},
      {R"("strip_accents": null)", R"("strip_accents": false)", "normalizer.strip_accents",
       "false with lowercase true is not supported"},
      {R"("handle_chinese_chars": true)", R"("handle_chinese_chars": false)", "normalizer.handle_chinese_chars",
       "false is not supported"},
      {R"({"type": "BertPreTokenizer"})", R"({"type": "Whitespace"})", "pre_tokenizer.type", "\"Whitespace\" is not supported"},
      {R"("content": "[UNK]")", R"("content": "<ent>")", "added_tokens[1].content", "added token \"<ent>\""},
      {R"("world": 6)", R"("world": 5)", "model.vocab.\"world\"", "is also \"hello\"'s"},
      {R"("world": 6)", R"("world": 60)", "model.vocab.\"world\"", "expected an id in [0, 14)"},
      {R"("normalizer": {)", R"("normalizer_": {)", "normalizer", "missing"},
      {R"("content": "[UNK]", "single_word": false, "lstrip": false)", R"("content": "[UNK]", "single_word": false, "lstrip": true)",
       "added_tokens[1].lstrip", "true is not supported for \"[UNK]\""},
      {R"("content": "[PAD]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false)",
       R"("content": "[PAD]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": true)",
       "added_tokens[0].normalized", "true is not supported"},
      {R"({"id": 1, "content": "[UNK]")", R"({"id": 7, "content": "[UNK]")", "added_tokens[1].id",
       "7 is not \"[UNK]\"'s id in model.vocab (1)"},
      {R"("truncation": null)", R"("truncation": {"direction": "Left", "max_length": 512, "strategy": "LongestFirst", "stride": 0})",
       "truncation.direction", "\"Left\" is not supported"},
      {R"("padding": null)", R"("padding": {"strategy": "BatchLongest", "direction": "Left", "pad_id": 0})",
       "padding.direction", "\"Left\" is not supported"},
  };
  for (const Case& c : cases) {
    std::string text = tokenizer_json();
    const size_t at = text.find(c.from);
    REQUIRE(at != std::string::npos);
    const std::string path = write_temp(text.replace(at, c.from.size(), c.to));
    std::string message;
    try {
      read_wordpiece_tokenizer_json(path);
    } catch (const InputError& e) {
      message = e.what();
    }
    INFO(c.to << " -> " << message);
    CHECK_THAT(message, Catch::Contains(path + ": " + c.field + ":") && Catch::Contains(c.expected));
  }
}

TEST_CASE("a vocab.txt with a tokenizer.json beside it is used only when the two agree", "[tokenizer]") {
  // transformers tokenizes with tokenizer.json whenever a directory holds one.
  const std::string json = write_temp(tokenizer_json());
  const std::string vocab = json.substr(0, json.size() - std::string("tokenizer.json").size()) + "vocab.txt";
  std::string lines;
  for (const std::string& token : kTokens) lines += token + "\n";
  write_file_atomic(vocab, lines);
  CHECK(load_tokenizer_file(vocab, true, true)->vocab_size() == int32_t(kTokens.size()));
  // Swapped ids, a token more: refused naming tokenizer.json and the first differing id.
  std::string swapped = tokenizer_json();
  swapped.replace(swapped.find(R"("hello": 5, "world": 6)"), 22, R"("world": 5, "hello": 6)");
  write_file_atomic(json, swapped);
  std::string message;
  try {
    load_tokenizer_file(vocab, true, true);
  } catch (const InputError& e) {
    message = e.what();
  }
  CHECK_THAT(message, Catch::Contains(json + ": model.vocab: differs from " + vocab + " at id 5"));
  write_file_atomic(json, tokenizer_json());
  write_file_atomic(vocab, lines + "extra\n");
  CHECK_THROWS_WITH(load_tokenizer_file(vocab, true, true),
                    Catch::Contains("at id 14 (\"(none)\" against \"extra\")"));
  // A tokenizer.json refused on its own is refused beside a vocab.txt too.
  write_file_atomic(vocab, lines);
  std::string cased = tokenizer_json();
  cased.replace(cased.find(R"("type": "BertPreTokenizer")"), 26, R"("type": "Whitespace")");
  write_file_atomic(json, cased);
  CHECK_THROWS_WITH(load_tokenizer_file(vocab, true, true), Catch::Contains("pre_tokenizer.type"));
}

}  // namespace bert
