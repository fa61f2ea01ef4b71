// SentencePieceTokenizer and load_tokenizer: a small unigram model in ALBERT's layout is trained
// here (on text with accents, Cyrillic and CJK), then loaded through load_tokenizer and checked
// for round trips, code-point offsets, special ids and error messages; and the fixture model of
// tests/fixtures/sentencepiece-albert against transformers' AlbertTokenizer's ids and offsets.
#include <sentencepiece_trainer.h>
#include <simdjson.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/error.h"
#include "core/file_io.h"
#include "core/json_text.h"
#include "tests/test_support.h"
#include "tokenizer/sentencepiece_tokenizer.h"
#include "tokenizer/unicode.h"
#include "tokenizer/wordpiece.h"

namespace bert {
namespace {

const char* const kCorpus[] = {
    "The café on the corner serves naïve résumé writers every morning.",
    "Zürich and São Paulo are far apart, but both have great coffee.",
    "Привет мир, это небольшой текст для обучения модели.",
    "東京は日本の首都です。大阪も大きな都市です。",
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "Students read books in the library while the rain falls outside.",
    "Ελληνικά γράμματα και αριθμοί 12345 μαζί με σημεία στίξης!",
};

// A fresh directory under /tmp, removed with everything in it at scope exit.
struct TempDir {
  std::string path;
  TempDir() {
    char pattern[] = "/tmp/bert_test_spm_XXXXXX";
    const char* dir = ::mkdtemp(pattern);
    REQUIRE(dir != nullptr);
    path = dir;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

using Args = std::unordered_map<std::string, std::string>;

// Trains <dir>/<name> on kCorpus: a unigram model in ALBERT's layout (<pad> 0, <unk> 1, then the
// user symbols, which may be empty), with `changes` overriding the trainer's arguments.
void train_model(const std::string& dir, const std::string& name, const std::string& user_symbols,
                 const Args& changes = {}) {
  std::string corpus;
  for (int repeat = 0; repeat < 20; ++repeat) {
    for (const char* line : kCorpus) corpus += std::string(line) + "\n";
  }
  const std::string input = join_path(dir, "corpus.txt");
  write_file_atomic(input, corpus);
  Args args = {
      {"input", input},
      {"model_prefix", join_path(dir, "m")},
      {"vocab_size", "200"},
      {"model_type", "unigram"},
      {"character_coverage", "1.0"},
      {"hard_vocab_limit", "false"},
      {"minloglevel", "2"},
      {"pad_id", "0"},
      {"unk_id", "1"},
      {"bos_id", "-1"},
      {"eos_id", "-1"},
  };
  if (!user_symbols.empty()) args["user_defined_symbols"] = user_symbols;
  for (const auto& [key, value] : changes) args[key] = value;
  const auto status = sentencepiece::SentencePieceTrainer::Train(args);
  INFO(status.ToString());
  REQUIRE(status.ok());
  REQUIRE(std::rename(join_path(dir, "m.model").c_str(), join_path(dir, name).c_str()) == 0);
}

// The text a piece stands for: "▁" is a space.
std::string piece_text(const std::string& piece) {
  std::string out;
  for (size_t i = 0; i < piece.size();) {
    if (piece.compare(i, 3, "\xE2\x96\x81") == 0) {
      out += ' ';
      i += 3;
    } else {
      out += piece[i++];
    }
  }
  return out;
}

std::string substr_cp(const std::u32string& text, TokenSpan span) {
  return unicode::u32_to_utf8(text.substr(span.first, span.second - span.first));
}

struct TrainedModel {
  TempDir temp;
  std::string dir = temp.path;
  TrainedModel() { train_model(dir, "spiece.model", "[CLS],[SEP],[MASK]"); }
};

const TrainedModel& trained() {
  static const TrainedModel model;  // trained once per test binary (well under a second)
  return model;
}

}  // namespace

TEST_CASE("SentencePiece: load_tokenizer finds spiece.model, special ids resolve",
          "[tokenizer][sentencepiece]") {
  const auto tokenizer = load_tokenizer(trained().dir, false, true);
  REQUIRE(dynamic_cast<const SentencePieceTokenizer*>(tokenizer.get()) != nullptr);
  REQUIRE(tokenizer->id_to_token(tokenizer->cls_id()) == "[CLS]");
  REQUIRE(tokenizer->id_to_token(tokenizer->sep_id()) == "[SEP]");
  REQUIRE(tokenizer->id_to_token(tokenizer->pad_id()) == "<pad>");
  REQUIRE(tokenizer->unk_id() == 1);
  REQUIRE(tokenizer->id_to_token(tokenizer->unk_id()) == "<unk>");
  REQUIRE(tokenizer->vocab_size() >= 50);
  REQUIRE_THROWS_AS(tokenizer->id_to_token(tokenizer->vocab_size()), BertError);
}

TEST_CASE("SentencePiece: pieces round-trip and offsets map back in code points",
          "[tokenizer][sentencepiece]") {
  const auto tokenizer = load_tokenizer(trained().dir, false, true);
  const char* const texts[] = {
      "The café serves naïve writers.",
      "Zürich, São Paulo and 東京は日本の首都です。",
      "Привет мир and Ελληνικά 12345!",
      "river bank",
  };
  for (const char* text : texts) {
    INFO("text: " << text);
    const Encoding e = tokenizer->encode(text);
    REQUIRE(e.ids.size() == e.offsets.size());
    REQUIRE(!e.ids.empty());
    const std::u32string cps = unicode::utf8_to_u32(text);
    std::string joined;
    int32_t previous_end = 0;
    for (size_t i = 0; i < e.ids.size(); ++i) {
      REQUIRE(e.ids[i] != tokenizer->unk_id());  // every character was in the training text
      const std::string piece = piece_text(tokenizer->id_to_token(e.ids[i]));
      joined += piece;
      INFO("piece " << i << " '" << piece << "' at [" << e.offsets[i].first << ","
                    << e.offsets[i].second << ")");
      if (piece == " ") {
        // A lone "▁" is aligned with the character after its space, as the next piece starts.
        REQUIRE(i + 1 < e.ids.size());
        REQUIRE(e.offsets[i].second == e.offsets[i].first + 1);
        REQUIRE(e.offsets[i + 1].first == e.offsets[i].first);
        continue;
      }
      // The span is the piece's text without the space its "▁" stands for.
      const std::string visible = piece[0] == ' ' ? piece.substr(1) : piece;
      REQUIRE(substr_cp(cps, e.offsets[i]) == visible);
      REQUIRE(e.offsets[i].first >= previous_end);
      previous_end = e.offsets[i].second;
    }
    REQUIRE(joined == std::string(" ") + text);  // the dummy-prefix space, then the text
    REQUIRE(previous_end == static_cast<int32_t>(cps.size()));
  }
}

TEST_CASE("SentencePiece: lower-casing keeps offsets on the original text",
          "[tokenizer][sentencepiece]") {
  const auto lower = load_tokenizer(trained().dir, true, true);
  const auto cased = load_tokenizer(trained().dir, false, true);
  const std::string text = "THE CAF\xC3\x89 \xC4\xB0N Z\xC3\x9CRICH";  // "THE CAFÉ İN ZÜRICH"
  const Encoding a = lower->encode(text);
  const Encoding b = cased->encode("the caf\xC3\xA9 i\xCC\x87n z\xC3\xBCrich");
  REQUIRE(a.ids == b.ids);
  const std::u32string cps = unicode::utf8_to_u32(text);
  REQUIRE(a.offsets.back().second == static_cast<int32_t>(cps.size()));
  // "İ" lower-cases to two code points but is one character of the original.
  for (const TokenSpan& span : a.offsets) {
    REQUIRE(span.first <= span.second);
    REQUIRE(span.second <= static_cast<int32_t>(cps.size()));
  }
  // Every original non-space character is covered, spaces never; only İ (two code points
  // once lower-cased, which may land in two pieces) can be covered twice.
  std::vector<int> covered(cps.size(), 0);
  for (size_t i = 0; i < a.ids.size(); ++i) {
    if (lower->id_to_token(a.ids[i]) == "\xE2\x96\x81") continue;  // a lone "▁": the next character
    for (int32_t k = a.offsets[i].first; k < a.offsets[i].second; ++k) ++covered[k];
  }
  for (size_t k = 0; k < cps.size(); ++k) {
    INFO("character " << k);
    if (cps[k] == U' ') {
      REQUIRE(covered[k] == 0);
    } else {
      REQUIRE(covered[k] >= 1);
      REQUIRE(covered[k] <= (cps[k] == 0x130 ? 2 : 1));
    }
  }
}

TEST_CASE("SentencePiece: special tokens are matched whole in the text, invalid UTF-8 refused",
          "[tokenizer][sentencepiece]") {
  for (const bool lower : {false, true}) {
    const auto tokenizer = load_tokenizer(trained().dir, lower, true);
    const Encoding e = tokenizer->encode("[CLS] river [SEP]bank [MASK]");
    REQUIRE(e.ids.front() == tokenizer->cls_id());
    REQUIRE(e.offsets.front() == TokenSpan{0, 5});
    const auto sep = std::find(e.ids.begin(), e.ids.end(), tokenizer->sep_id());
    REQUIRE(sep != e.ids.end());
    REQUIRE(e.offsets[sep - e.ids.begin()] == TokenSpan{12, 17});
    REQUIRE(tokenizer->id_to_token(e.ids.back()) == "[MASK]");
    REQUIRE(e.offsets.back() == TokenSpan{22, 28});
    // Matched as written (transformers' special tokens are not normalised): "[cls]" is text.
    const Encoding text = tokenizer->encode("[cls] <Pad>");
    REQUIRE(std::find(text.ids.begin(), text.ids.end(), tokenizer->cls_id()) == text.ids.end());
    REQUIRE(std::find(text.ids.begin(), text.ids.end(), tokenizer->pad_id()) == text.ids.end());
  }
  const auto tokenizer = load_tokenizer(trained().dir, false, true);
  const Encoding padded = tokenizer->encode("a <pad> b <unk>");
  const auto at = [&](TokenSpan span) {
    return std::find(padded.offsets.begin(), padded.offsets.end(), span) - padded.offsets.begin();
  };
  REQUIRE(padded.ids.at(at({2, 7})) == tokenizer->pad_id());
  REQUIRE(padded.ids.at(at({10, 15})) == tokenizer->unk_id());
  REQUIRE_THROWS_WITH(tokenizer->encode("ok \xC3"), Catch::Contains("invalid UTF-8 at byte 3"));
}

TEST_CASE("SentencePiece: control pieces are matched whole, NEXT LINE splits words",
          "[tokenizer][sentencepiece]") {
  // <s> and </s> (bos/eos) and one more control symbol: transformers makes each a special token.
  const TempDir temp;
  train_model(temp.path, "spiece.model", "[CLS],[SEP]",
              {{"bos_id", "2"}, {"eos_id", "3"}, {"control_symbols", "<foo>"}});
  const auto tokenizer = load_tokenizer(temp.path, false, true);
  const Encoding e = tokenizer->encode("a<s>b </s> <foo>");
  std::vector<std::string> pieces;
  for (const int32_t id : e.ids) pieces.push_back(tokenizer->id_to_token(id));
  CHECK(std::count(pieces.begin(), pieces.end(), "<s>") == 1);
  CHECK(std::count(pieces.begin(), pieces.end(), "</s>") == 1);
  CHECK(std::count(pieces.begin(), pieces.end(), "<foo>") == 1);
  const auto s = std::find(pieces.begin(), pieces.end(), "<s>") - pieces.begin();
  CHECK(e.offsets[s] == TokenSpan{1, 4});
  // U+0085 between two words: the same pieces as a space there (the fast tokenizer's
  // WhitespaceSplit cuts at it), with offsets on the original text.
  const auto& trained_model = load_tokenizer(trained().dir, false, true);
  const Encoding nel = trained_model->encode(
      "river\xC2\x85"
      "bank");
  const Encoding space = trained_model->encode("river bank");
  CHECK(nel.ids == space.ids);
  CHECK(nel.offsets == space.offsets);
}

TEST_CASE("SentencePiece: tokens the config has matched whole must be special or control pieces",
          "[tokenizer][sentencepiece]") {
  const TempDir temp;
  train_model(temp.path, "spiece.model", "[CLS],[SEP],[MASK]", {{"control_symbols", "<foo>"}});
  const std::string config = join_path(temp.path, "tokenizer_config.json");
  // What transformers 5's save_pretrained writes: the specials and every control piece again.
  // (save_pretrained writes an unbounded model_max_length as int(1e30), too big for 64 bits.)
  write_file_atomic(config, R"({"tokenizer_class": "AlbertTokenizer", "bos_token": "[CLS]",
                               "model_max_length": 1000000000000000019884624838656,
                               "extra_special_tokens": ["<pad>", "[CLS]", "[SEP]", "[MASK]", "<foo>"],
                               "added_tokens_decoder": {"5": {"content": "<foo>", "special": true}}})");
  CHECK_NOTHROW(load_tokenizer(temp.path, false, true));
  struct Refused {
    const char* file;
    const char* json;
    const char* field;
  };
  for (const Refused& r :
       {Refused{"tokenizer_config.json",
                R"({"model_max_length": 1000000000000000019884624838656, "mask_token": "[MASK]",
                    "extra_special_tokens": ["[CLS]", "<ent>"]})",
                "extra_special_tokens"},
        Refused{"tokenizer_config.json", R"({"added_tokens_decoder": {"9": {"content": "<ent>"}}})",
                "added_tokens_decoder.\"9\""},
        Refused{"special_tokens_map.json", R"({"bos_token": "<s>"})", "bos_token"},
        Refused{"tokenizer_config.json", R"({"mask_token": null})", "mask_token"},
        Refused{"special_tokens_map.json", R"({"additional_special_tokens": {"x": "<mask>"}})",
                "additional_special_tokens"}}) {
    INFO(r.json);
    const std::string path = join_path(temp.path, r.file);
    write_file_atomic(path, r.json);
    CHECK_THROWS_WITH(
        load_tokenizer(temp.path, false, true),
        Catch::Contains(path + ": " + r.field) && Catch::Contains("is not supported"));
    std::filesystem::remove(path);
  }
}

TEST_CASE("SentencePiece: a model without [MASK] and added tokens only in tokenizer.json",
          "[tokenizer][sentencepiece]") {
  // AlbertTokenizer's default mask token, which transformers would add beyond the vocabulary.
  const TempDir temp;
  train_model(temp.path, "spiece.model", "[CLS],[SEP]");
  const std::string config = join_path(temp.path, "tokenizer_config.json");
  write_file_atomic(config, R"({"tokenizer_class": "AlbertTokenizer"})");
  CHECK_THROWS_WITH(load_tokenizer(temp.path, false, true),
                    Catch::Contains(config + ": mask_token") && Catch::Contains("no piece"));
  // "mask_token": null: transformers has no mask token either, and cuts "[MASK]" into pieces.
  write_file_atomic(config, R"({"tokenizer_class": "AlbertTokenizer", "mask_token": null})");
  CHECK_NOTHROW(load_tokenizer(temp.path, false, true));
  std::filesystem::remove(config);
  CHECK_NOTHROW(load_tokenizer(temp.path, false, true));  // no config: not AlbertTokenizer's case
  // transformers 5 keeps added tokens in tokenizer.json alone.
  const auto tokenizer = load_tokenizer(temp.path, false, true);
  const auto* model = dynamic_cast<const SentencePieceTokenizer*>(tokenizer.get());
  REQUIRE(model != nullptr);
  std::string vocab;
  for (int32_t id = 0; id < model->vocab_size(); ++id)
    vocab += std::string(id ? ", " : "") + "[" + json_quote(model->id_to_token(id)) + ", " +
             format_json_number(model->piece_score(id)) + "]";
  const auto with_added = [&](const std::string& added) {
    return R"({"added_tokens": [)" + added + R"(], "model": {"type": "Unigram", "vocab": [)" +
           vocab + "]}}";
  };
  const std::string json = join_path(temp.path, "tokenizer.json");
  const std::string cls = std::to_string(model->cls_id());
  write_file_atomic(json, with_added(R"({"id": )" + cls + R"(, "content": "[CLS]"})"));
  CHECK_NOTHROW(load_tokenizer(temp.path, false, true));
  write_file_atomic(json,
                    with_added(R"({"id": )" + cls + R"(, "content": "[CLS]"}, {"id": )" +
                               std::to_string(model->vocab_size()) + R"(, "content": "<ent>"})"));
  CHECK_THROWS_WITH(load_tokenizer(temp.path, false, true),
                    Catch::Contains(json + ": added_tokens[1]") && Catch::Contains("<ent>"));
}

TEST_CASE("SentencePiece: a tokenizer.json beside the model must hold its pieces and scores",
          "[tokenizer][sentencepiece]") {
  const TempDir temp;
  train_model(temp.path, "spiece.model", "[CLS],[SEP]");
  const auto tokenizer = load_tokenizer(temp.path, false, true);
  const auto* model = dynamic_cast<const SentencePieceTokenizer*>(tokenizer.get());
  REQUIRE(model != nullptr);
  const auto vocab_json = [&](int32_t changed_id, double score_delta) {
    std::string vocab;
    for (int32_t id = 0; id < model->vocab_size(); ++id)
      vocab += std::string(id ? ", " : "") + "[" + json_quote(model->id_to_token(id)) + ", " +
               format_json_number(model->piece_score(id) + (id == changed_id ? score_delta : 0.0)) +
               "]";
    return R"({"model": {"type": "Unigram", "unk_id": 1, "vocab": [)" + vocab + "]}}";
  };
  const std::string json = join_path(temp.path, "tokenizer.json");
  write_file_atomic(json, vocab_json(-1, 0));
  CHECK_NOTHROW(load_tokenizer(temp.path, false, true));
  write_file_atomic(json, vocab_json(7, 0.5));  // retrained: same pieces, other scores
  CHECK_THROWS_WITH(load_tokenizer(temp.path, false, true),
                    Catch::Contains(json) && Catch::Contains("model.vocab[7]") &&
                        Catch::Contains("remove the stale one"));
  write_file_atomic(json, R"({"model": {"type": "WordPiece", "vocab": {}}})");
  CHECK_THROWS_WITH(load_tokenizer(temp.path, false, true), Catch::Contains("model.type"));
}

TEST_CASE(
    "SentencePiece: number-comma pieces lowered as transformers 4's AlbertConverter wrote them",
    "[tokenizer][sentencepiece]") {
  // A model whose pieces join numbers and commas ("4,", "▁5,"), as ALBERT's own model has them.
  const TempDir temp;
  std::string corpus;
  for (int i = 0; i < 300; ++i)
    corpus += "In 19" + std::to_string(10 + i % 90) + ", " + std::to_string(i % 10) + ", " +
              std::to_string((i * 7) % 10) + ", and 1," + std::to_string(100 + i) + " more.\n";
  const std::string input = join_path(temp.path, "numbers.txt");
  write_file_atomic(input, corpus);
  train_model(temp.path, "spiece.model", "[CLS],[SEP]",
              {{"input", input}, {"split_by_number", "false"}, {"vocab_size", "120"}});
  const auto plain = load_tokenizer(temp.path, false, true);
  const auto* model = dynamic_cast<const SentencePieceTokenizer*>(plain.get());
  REQUIRE(model != nullptr);
  const auto number_comma = [](const std::string& piece) {
    return piece.size() >= 2 && piece.back() == ',' && piece[piece.size() - 2] >= '0' &&
           piece[piece.size() - 2] <= '9';
  };
  const auto pieces_of = [](const Tokenizer& tokenizer, const std::string& text) {
    std::vector<std::string> pieces;
    for (const int32_t id : tokenizer.encode(text).ids) pieces.push_back(tokenizer.id_to_token(id));
    return pieces;
  };
  const std::string text = "In 1995, 1, 1, and 1,234 more.";
  const std::vector<std::string> before = pieces_of(*plain, text);
  REQUIRE(std::any_of(before.begin(), before.end(), number_comma));
  std::string vocab;
  for (int32_t id = 0; id < model->vocab_size(); ++id) {
    const std::string piece = model->id_to_token(id);
    vocab += std::string(id ? ", " : "") + "[" + json_quote(piece) + ", " +
             format_json_number(double(model->piece_score(id)) - (number_comma(piece) ? 100 : 0)) +
             "]";
  }
  write_file_atomic(join_path(temp.path, "tokenizer.json"),
                    R"({"model": {"type": "Unigram", "unk_id": 1, "vocab": [)" + vocab + "]}}");
  const auto lowered = load_tokenizer(temp.path, false, true);
  const std::vector<std::string> after = pieces_of(*lowered, text);
  CHECK_FALSE(std::any_of(after.begin(), after.end(), number_comma));
  CHECK(lowered->text_rules() != plain->text_rules());  // window caches tell the two apart
}

TEST_CASE("SentencePiece: models AlbertTokenizer would read otherwise are refused by field",
          "[tokenizer][sentencepiece]") {
  const TempDir temp;
  const std::string& dir = temp.path;
  const std::string model = join_path(dir, "tokenizer.model");
  struct Refused {
    const char* what;
    Args changes;
    const char* symbols;
    const char* field;
  };
  for (const Refused& r :
       {Refused{"BPE", {{"model_type", "bpe"}}, "[CLS],[SEP]", "trainer_spec.model_type"},
        Refused{"byte fallback",
                {{"byte_fallback", "true"}, {"vocab_size", "400"}},
                "[CLS],[SEP]",
                "trainer_spec.byte_fallback"},
        Refused{"unk 0", {{"unk_id", "0"}, {"pad_id", "1"}}, "[CLS],[SEP]", "trainer_spec.unk_id"},
        Refused{"no CLS", {}, "", "CLS"},
        Refused{"<s> but no [CLS]", {{"bos_id", "2"}, {"eos_id", "3"}}, "", "[CLS]"},
        Refused{"pieces across words",
                {{"split_by_whitespace", "false"}},
                "[CLS],[SEP]",
                "trainer_spec.split_by_whitespace"},
        Refused{"suffix spaces",
                {{"treat_whitespace_as_suffix", "true"}},
                "[CLS],[SEP]",
                "trainer_spec.treat_whitespace_as_suffix"},
        Refused{"no dummy prefix",
                {{"add_dummy_prefix", "false"}},
                "[CLS],[SEP]",
                "normalizer_spec.add_dummy_prefix"},
        Refused{"spaces kept",
                {{"remove_extra_whitespaces", "false"}},
                "[CLS],[SEP]",
                "normalizer_spec.remove_extra_whitespaces"},
        Refused{"identity",
                {{"normalization_rule_name", "identity"}},
                "[CLS],[SEP]",
                "normalizer_spec.name"},
        Refused{"case folded",
                {{"normalization_rule_name", "nmt_nfkc_cf"}},
                "[CLS],[SEP]",
                "normalizer_spec.name"}}) {
    INFO(r.what);
    train_model(dir, "tokenizer.model", r.symbols, r.changes);
    REQUIRE_THROWS_AS(load_tokenizer(dir, false, true), InputError);
    REQUIRE_THROWS_WITH(load_tokenizer(dir, false, true),
                        Catch::Contains(model) && Catch::Contains(r.field));
  }

  const TempDir broken_dir;
  const std::string& broken = broken_dir.path;
  write_file_atomic(join_path(broken, "sentencepiece.bpe.model"), "not a model");
  REQUIRE_THROWS_WITH(load_tokenizer(broken, false, true),
                      Catch::Contains(join_path(broken, "sentencepiece.bpe.model")));
}

TEST_CASE(
    "SentencePiece: ids and offsets are transformers' AlbertTokenizer's (keep_accents both ways)",
    "[tokenizer][sentencepiece]") {
  // tests/fixtures/sentencepiece-albert: written by tools/golden/sentencepiece_fixture.py.
  const std::string dir = test::fixture_path("sentencepiece-albert");
  simdjson::dom::parser parser;
  const simdjson::padded_string json(read_file(join_path(dir, "expected.json")));
  simdjson::dom::array cases = parser.parse(json)["cases"].get_array();
  // [keep_accents][do_lower_case]
  const std::unique_ptr<Tokenizer> tokenizers[2][2] = {
      {load_tokenizer(dir, false, false), load_tokenizer(dir, true, false)},
      {load_tokenizer(dir, false, true), load_tokenizer(dir, true, true)}};
  size_t checked = 0, pieces = 0, without_accents = 0;
  for (simdjson::dom::element c : cases) {
    const std::string text(std::string_view(c["text"].get_string()));
    const bool do_lower_case = c["do_lower_case"].get_bool();
    const bool keep_accents = c["keep_accents"].get_bool();
    INFO("text \"" << text << "\", do_lower_case " << do_lower_case << ", keep_accents "
                   << keep_accents);
    std::vector<int32_t> ids;
    std::vector<TokenSpan> offsets;
    for (int64_t id : c["ids"].get_array()) ids.push_back(static_cast<int32_t>(id));
    for (simdjson::dom::array o : c["offsets"].get_array())
      offsets.push_back({static_cast<int32_t>(int64_t(o.at(0))), static_cast<int32_t>(int64_t(o.at(1)))});
    const Encoding e = tokenizers[keep_accents][do_lower_case]->encode(text);
    CHECK(e.ids == ids);
    CHECK(e.offsets == offsets);
    ++checked;
    without_accents += !keep_accents;
    pieces += ids.size();
  }
  // Window caches and resumed runs tell the two apart (tokenizer_fingerprint hashes this).
  CHECK(tokenizers[0][0]->text_rules() != tokenizers[1][0]->text_rules());
  // Every byte of the model counts (its scores, types and normaliser too, not the pieces alone).
  uint64_t fnv = 0xcbf29ce484222325ull;
  for (const char c : read_file(join_path(dir, "spiece.model")))
    fnv = (fnv ^ static_cast<uint8_t>(c)) * 0x100000001b3ull;
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(fnv));
  CHECK(tokenizers[1][0]->text_rules() == std::string("sentencepiece model ") + hex);
  CHECK(tokenizers[0][0]->text_rules() ==
        std::string("sentencepiece model ") + hex + ", keep_accents false");
  CHECK(checked == 62);
  CHECK(without_accents == 32);
  CHECK(pieces > 1000);
}

TEST_CASE("load_tokenizer prefers vocab.txt and names an empty directory",
          "[tokenizer]") {
  const TempDir temp;
  const std::string& dir = temp.path;
  REQUIRE_THROWS_AS(load_tokenizer(dir, true, true), InputError);
  REQUIRE_THROWS_WITH(load_tokenizer(dir, true, true),
                      Catch::Contains(dir) && Catch::Contains("vocab.txt"));
  write_file_atomic(join_path(dir, "vocab.txt"), "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\n");
  const auto tokenizer = load_tokenizer(dir, true, true);
  REQUIRE(dynamic_cast<const WordPieceTokenizer*>(tokenizer.get()) != nullptr);
  REQUIRE(tokenizer->encode("Hello").ids == std::vector<int32_t>{5});
}

}  // namespace bert
