// load_tokenizer: which tokenizer a model directory holds, by the files in it.
#include "core/error.h"
#include "core/file_io.h"
#include "tokenizer/sentencepiece_tokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/wordpiece.h"

namespace bert {

std::unique_ptr<Tokenizer> load_tokenizer_file(const std::string& path, bool do_lower_case) {
  const bool sentencepiece = path.size() >= 6 && path.compare(path.size() - 6, 6, ".model") == 0;
  if (sentencepiece) return std::make_unique<SentencePieceTokenizer>(path, do_lower_case);
  return std::make_unique<WordPieceTokenizer>(path, do_lower_case);
}

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& model_dir, bool do_lower_case) {
  const std::string vocab = join_path(model_dir, "vocab.txt");
  if (path_exists(vocab)) return load_tokenizer_file(vocab, do_lower_case);
  for (const char* name : {"spiece.model", "sentencepiece.bpe.model", "tokenizer.model"}) {
    const std::string model = join_path(model_dir, name);
    if (path_exists(model)) return load_tokenizer_file(model, do_lower_case);
  }
  // Last, as find_vocab_file orders them: transformers 5 may save a BERT tokenizer as this alone.
  const std::string json = join_path(model_dir, "tokenizer.json");
  if (path_exists(json)) return load_tokenizer_file(json, do_lower_case);
  throw_input_error(model_dir, "",
                    "no tokenizer found (expected vocab.txt, spiece.model, "
                    "sentencepiece.bpe.model, tokenizer.model or tokenizer.json)");
}

}  // namespace bert
