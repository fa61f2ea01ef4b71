// load_tokenizer: which tokenizer a model directory holds, by the files in it.
#include <algorithm>
#include <filesystem>

#include "core/error.h"
#include "core/file_io.h"
#include "tokenizer/sentencepiece_dir.h"
#include "tokenizer/sentencepiece_tokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_json.h"
#include "tokenizer/wordpiece.h"

namespace bert {

namespace {

// transformers reads tokenizer.json whenever a directory holds one, vocab.txt beside it or not:
// a vocab.txt is tokenized with here only when the tokenizer.json beside it (all its checks
// passed) has the same tokens at the same ids.
void check_tokenizer_json_beside(const std::string& vocab_path, const WordPieceTokenizer& vocab) {
  const std::string json =
      join_path(std::filesystem::path(vocab_path).parent_path().string(), "tokenizer.json");
  if (!path_exists(json)) return;
  const WordPieceJson beside = read_wordpiece_tokenizer_json(json);
  const size_t count = static_cast<size_t>(vocab.vocab_size());
  for (size_t id = 0; id < std::max(count, beside.tokens.size()); ++id) {
    const std::string ours = id < count ? vocab.id_to_token(static_cast<int32_t>(id)) : "(none)";
    const std::string theirs = id < beside.tokens.size() ? beside.tokens[id] : "(none)";
    if (ours != theirs)
      throw_input_error(json, "model.vocab",
                        "differs from " + vocab_path + " at id " + std::to_string(id) + " (\"" +
                            theirs + "\" against \"" + ours +
                            "\"): transformers tokenizes with tokenizer.json, so the two "
                            "must agree; remove the stale one");
  }
}

}  // namespace

std::unique_ptr<Tokenizer> load_tokenizer_file(const std::string& path, bool do_lower_case,
                                               bool keep_accents) {
  const bool sentencepiece = path.size() >= 6 && path.compare(path.size() - 6, 6, ".model") == 0;
  if (sentencepiece) {
    auto model = std::make_unique<SentencePieceTokenizer>(path, do_lower_case, keep_accents);
    check_sentencepiece_directory(path, model.get());
    return model;
  }
  auto tokenizer = std::make_unique<WordPieceTokenizer>(path, do_lower_case);
  if (!is_tokenizer_json(path)) check_tokenizer_json_beside(path, *tokenizer);
  return tokenizer;
}

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& model_dir, bool do_lower_case,
                                          bool keep_accents) {
  const std::string vocab = join_path(model_dir, "vocab.txt");
  if (path_exists(vocab)) return load_tokenizer_file(vocab, do_lower_case, keep_accents);
  for (const char* name : {"spiece.model", "sentencepiece.bpe.model", "tokenizer.model"}) {
    const std::string model = join_path(model_dir, name);
    if (path_exists(model)) return load_tokenizer_file(model, do_lower_case, keep_accents);
  }
  // Last, as find_vocab_file orders them: transformers 5 may save a BERT tokenizer as this alone.
  const std::string json = join_path(model_dir, "tokenizer.json");
  if (path_exists(json)) return load_tokenizer_file(json, do_lower_case, keep_accents);
  throw_input_error(model_dir, "",
                    "no tokenizer found (expected vocab.txt, spiece.model, "
                    "sentencepiece.bpe.model, tokenizer.model or tokenizer.json)");
}

}  // namespace bert
