// bench_host_pipeline: the host data pipeline (read + validate a SQuAD file, tokenize,
// build windows) on one thread, repeated, reporting MB/s of SQuAD JSON and windows/s.
//   bench_host_pipeline [--input_file F] [--vocab_file V] [--repetitions N]
// Defaults are the shared dev set and bert-base-uncased vocab, relative to the repository
// root. The target is >= 10 MB/s, so preparing even the 30 MB train set takes seconds.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "apps/app_main.h"
#include "apps/flags.h"
#include "data/squad.h"
#include "data/windows.h"
#include "core/error.h"
#include "core/file_io.h"
#include "tokenizer/wordpiece.h"

namespace bert {
namespace {

struct BenchOptions {
  std::string input_file = "../shared/data/squad/dev-v1.1.json";
  std::string vocab_file = "../shared/data/bert-base-uncased/vocab.txt";
  int32_t repetitions = 5;
  int32_t max_seq_length = 384;
  int32_t doc_stride = 128;
  bool do_lower_case = true;
};

struct Timing {
  double read_s = 0, window_s = 0;
  double total() const { return read_s + window_s; }
};

double seconds_since(std::chrono::steady_clock::time_point begin) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
}

int run(int argc, char** argv) {
  BenchOptions options;
  FlagParser parser("bench_host_pipeline",
                    "Times read + tokenize + window of a SQuAD file on one thread.");
  parser.add_string("input_file", &options.input_file, "SQuAD JSON file");
  parser.add_string("vocab_file", &options.vocab_file, "WordPiece vocab.txt");
  parser.add_int("repetitions", &options.repetitions, "timed repetitions (after one warm-up)");
  parser.add_int("max_seq_length", &options.max_seq_length, "tokens per window");
  parser.add_int("doc_stride", &options.doc_stride, "overlap between windows");
  parser.add_bool("do_lower_case", &options.do_lower_case, "lower-case the text");
  if (!parser.parse(argc, argv)) return 0;
  if (options.repetitions < 1) throw FlagError("--repetitions must be at least 1");

  const double megabytes = static_cast<double>(read_file(options.input_file).size()) / 1e6;
  const WordPieceTokenizer tokenizer(options.vocab_file, options.do_lower_case);
  const WindowConfig config{options.max_seq_length, options.doc_stride};
  std::vector<Timing> timings;
  size_t windows = 0, examples = 0;
  for (int32_t rep = 0; rep <= options.repetitions; ++rep) {  // rep 0 warms caches
    Timing timing;
    auto begin = std::chrono::steady_clock::now();
    const SquadDataset dataset = read_squad(options.input_file);
    timing.read_s = seconds_since(begin);
    begin = std::chrono::steady_clock::now();
    windows = build_windows(dataset, tokenizer, config).size();
    timing.window_s = seconds_since(begin);
    examples = dataset.examples.size();
    if (rep > 0) timings.push_back(timing);
  }
  std::sort(timings.begin(), timings.end(),
            [](const Timing& a, const Timing& b) { return a.total() < b.total(); });
  const Timing& best = timings.front();
  const Timing& median = timings[timings.size() / 2];
  std::printf("%s: %.2f MB, %zu examples, %zu windows (%d/%d), %d repetitions, one thread\n",
              options.input_file.c_str(), megabytes, examples, windows, options.max_seq_length,
              options.doc_stride, options.repetitions);
  for (const auto& [name, t] : {std::pair<const char*, const Timing*>{"best", &best}, {"median", &median}}) {
    std::printf("%-6s  read+validate %6.1f ms  tokenize+window %6.1f ms  total %6.1f ms  "
                "%6.1f MB/s  %8.0f windows/s\n",
                name, 1e3 * t->read_s, 1e3 * t->window_s, 1e3 * t->total(), megabytes / t->total(),
                static_cast<double>(windows) / t->total());
  }
  return 0;
}

}  // namespace
}  // namespace bert

int main(int argc, char** argv) { return bert::run_app(bert::run, argc, argv); }
