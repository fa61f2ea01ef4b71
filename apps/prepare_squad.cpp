// prepare_squad: SQuAD JSON → the model's sliding windows, as JSON Lines (the golden
// features schema) and/or a binary window cache that training loads instead of
// re-tokenizing:
//   prepare_squad --vocab_file vocab.txt --input_file dev-v1.1.json
//       --max_seq_length 384 --doc_stride 128 --output_file dev.jsonl [--cache_file dev.bin]
// Outputs are written atomically. Exit status: 0 success, 1 an error (bad file, ...),
// 2 a bad command line.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <utility>

#include "apps/app_main.h"
#include "apps/flag_checks.h"
#include "apps/flags.h"
#include "core/error.h"
#include "core/file_io.h"
#include "data/prepared_squad.h"
#include "data/squad.h"
#include "data/window_cache.h"
#include "data/window_jsonl.h"
#include "data/windows.h"
#include "io/model_dir.h"
#include "io/tokenizer_config.h"
#include "tokenizer/tokenizer.h"

namespace bert {
namespace {

struct PrepareOptions {
  std::string vocab_file;
  std::string input_file;
  std::string output_file;
  std::string cache_file;
  int32_t max_seq_length = 384;
  int32_t doc_stride = 128;
  bool do_lower_case = true;
};

void register_flags(FlagParser* parser, PrepareOptions* options) {
  parser->add_string("vocab_file", &options->vocab_file,
                     "the tokenizer: WordPiece vocab.txt (one token per line) or tokenizer.json, or a "
                     "SentencePiece *.model (tokenized as AlbertTokenizer; tokenizer_config.json "
                     "beside it must say so)");
  parser->add_string("input_file", &options->input_file,
                     "SQuAD v1.1/v2.0: the official JSON, datasets' rows (JSON, JSON Lines) or a datasets Arrow "
                     "cache file");
  parser->add_string("output_file", &options->output_file,
                     "where to write the windows as JSON Lines (one window per line)");
  parser->add_string("cache_file", &options->cache_file,
                     "where to write the binary window cache that training reads");
  parser->add_int("max_seq_length", &options->max_seq_length,
                  "tokens per window: [CLS] question [SEP] context part [SEP]");
  parser->add_int("doc_stride", &options->doc_stride, "context tokens shared by consecutive windows");
  parser->add_bool("do_lower_case", &options->do_lower_case,
                   "lower-case and strip accents (true for uncased models); when not given, a "
                   "tokenizer_config.json beside --vocab_file decides (as train_squad reads the model "
                   "directory's), else true");
}

double milliseconds_since(std::chrono::steady_clock::time_point begin) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - begin).count();
}

int run(int argc, char** argv) {
  PrepareOptions options;
  FlagParser parser("prepare_squad",
                    "Tokenizes a SQuAD file into sliding windows (Hugging Face run_qa.py's) and "
                    "writes them as JSON Lines and/or a binary window cache.");
  register_flags(&parser, &options);
  if (!parser.parse(argc, argv)) return 0;  // --help
  refuse_several_ranks(
      "prepare_squad", "tokenize the whole file",
      "run it without mpirun (train_squad under mpirun builds the windows once, on rank 0, when "
      "its --train_cache_file is missing or stale)");
  for (const std::string& note : parser.notes()) std::fprintf(stderr, "[flags] %s\n", note.c_str());
  parser.require("vocab_file");
  parser.require("input_file");
  if (options.output_file.empty() && options.cache_file.empty())
    throw FlagError("nothing to write: give --output_file and/or --cache_file");
  check_window_flags(options.max_seq_length, options.doc_stride);
  // An output must never replace an input (or the other output).
  for (const auto& [name, path] : {std::pair<const char*, const std::string*>{"output_file", &options.output_file},
                                   {"cache_file", &options.cache_file}}) {
    check_distinct_paths(name, *path, "input_file", options.input_file, "writing it would replace the input");
    check_distinct_paths(name, *path, "vocab_file", options.vocab_file, "writing it would replace the input");
  }
  if (!options.output_file.empty() && options.output_file == options.cache_file)
    throw FlagError("--output_file and --cache_file name the same file " + options.output_file + ": give two paths");
  check_distinct_paths("output_file", options.output_file, "cache_file", options.cache_file, "give two paths");
  // Every output is checked before any work, and written beside its final name first: a run
  // that fails (a refused or unwritable path, a full disk) replaces neither.
  if (!options.output_file.empty()) check_output_file(options.output_file);
  if (!options.cache_file.empty()) require_window_cache_replaceable(options.cache_file);

  const auto begin = std::chrono::steady_clock::now();
  const SquadDataset dataset = read_squad(options.input_file);
  check_impossible_questions(dataset, options.input_file);  // as train_squad refuses it
  const double read_ms = milliseconds_since(begin);
  // The same choice train_squad makes for the model directory, so their window caches match.
  const std::string vocab_dir = std::filesystem::path(options.vocab_file).parent_path().string();
  const std::string tokenizer_dir = vocab_dir.empty() ? "." : vocab_dir;
  const TokenizerChoice lower =
      read_tokenizer_config(tokenizer_dir, parser.was_set("do_lower_case"), options.do_lower_case);
  options.do_lower_case = lower.do_lower_case;
  std::fprintf(stderr, "[tokenizer] %s\n", lower.note.c_str());
  const std::string clamped = clamp_max_seq_length(
      lower.model_max_length, join_path(tokenizer_dir, "tokenizer_config.json"), &options.max_seq_length);
  if (!clamped.empty()) std::fprintf(stderr, "%s\n", clamped.c_str());
  const std::unique_ptr<Tokenizer> loaded =
      load_tokenizer_file(options.vocab_file, options.do_lower_case, lower.keep_accents);
  const Tokenizer& tokenizer = *loaded;
  const WindowConfig config{options.max_seq_length, options.doc_stride};
  const auto window_begin = std::chrono::steady_clock::now();
  const std::vector<Window> windows = build_windows(dataset, tokenizer, config);
  const double window_ms = milliseconds_since(window_begin);

  const auto write_begin = std::chrono::steady_clock::now();
  StagedFiles staged;
  if (!options.output_file.empty())
    write_windows_jsonl(staged.staged_path(options.output_file), dataset, windows);
  if (!options.cache_file.empty()) {
    const WindowCacheKey key = make_window_cache_key(dataset, tokenizer, options.do_lower_case, config);
    save_window_cache(staged.staged_path(options.cache_file), key, dataset, windows);
  }
  staged.commit();
  const double write_ms = milliseconds_since(write_begin);

  size_t labelled = 0, tokens = 0;
  for (const Window& window : windows) {
    labelled += window.start_position != 0;
    tokens += window.input_ids.size();
  }
  std::printf("%s: %zu examples, %zu windows (%zu labelled, mean length %.1f tokens) at "
              "max_seq_length %d, doc_stride %d\n",
              options.input_file.c_str(), dataset.examples.size(), windows.size(), labelled,
              windows.empty() ? 0.0 : static_cast<double>(tokens) / windows.size(),
              options.max_seq_length, options.doc_stride);
  std::printf("time: read %.0f ms, tokenize + window %.0f ms, write %.0f ms, total %.0f ms\n", read_ms,
              window_ms, write_ms, milliseconds_since(begin));
  if (!options.output_file.empty()) std::printf("wrote %s\n", options.output_file.c_str());
  if (!options.cache_file.empty()) std::printf("wrote %s\n", options.cache_file.c_str());
  return 0;
}

}  // namespace
}  // namespace bert

int main(int argc, char** argv) { return bert::run_app(bert::run, argc, argv); }
