#include "data/prepared_squad.h"

#include <chrono>
#include <cstdio>
#include <string>

#include "core/error.h"
#include "core/file_io.h"
#include "data/window_cache.h"

namespace bert {

PreparedSquad prepare_squad(const std::string& path, const Tokenizer& tokenizer, const PrepareOptions& options,
                            const std::string& label) {
  const auto started = std::chrono::steady_clock::now();
  PreparedSquad out;
  out.dataset = read_squad(path);
  check_squad_version(out.dataset, path, options.version_2_with_negative,
                      /*answers_required=*/!options.predict_split);
  if (options.max_samples > 0 && out.dataset.examples.size() > static_cast<size_t>(options.max_samples))
    out.dataset.examples.resize(static_cast<size_t>(options.max_samples));
  if (out.dataset.examples.empty()) throw_input_error(path, "", "the " + label + " dataset holds no questions");

  bool from_cache = false;
  const int threads = window_threads(options.threads);
  if (!options.cache_file.empty()) {
    const WindowCacheKey key = make_window_cache_key(out.dataset, tokenizer, options.do_lower_case, options.window);
    if (path_exists(options.cache_file) && options.overwrite_cache && !options.quiet)
      std::fprintf(stderr, "[%s] --overwrite_cache: rebuilding %s\n", label.c_str(), options.cache_file.c_str());
    if (path_exists(options.cache_file) && !options.overwrite_cache) {
      try {
        out.windows = load_window_cache(options.cache_file, key, out.dataset).windows;
        from_cache = true;
      } catch (const StaleWindowCache& stale) {
        // A cache of other data or settings is rebuilt, as the datasets cache recomputes on a
        // changed fingerprint; a file that is no window cache at all stays refused, untouched.
        if (!options.quiet)
          std::fprintf(stderr, "[%s] %s: rebuilding it\n", label.c_str(), stale.what());
      } catch (const InputError& damaged) {
        // A damaged cache (truncated, a checksum that fails, another format version) or an
        // empty file is rebuilt too, as saving would replace it anyway.
        if (!window_cache_replaceable(options.cache_file)) throw;
        if (!options.quiet)
          std::fprintf(stderr, "[%s] unusable window cache: %s: rebuilding it\n", label.c_str(),
                       damaged.what());
      }
    }
    if (!from_cache) {
      out.windows = build_windows(out.dataset, tokenizer, options.window, threads);
      try {
        save_window_cache(options.cache_file, key, out.dataset, out.windows);
      } catch (const BertError& error) {
        // The cache only saves the next run the tokenizing: a place it cannot be written (a
        // read-only data volume) costs that, not this run.
        if (!options.quiet)
          std::fprintf(stderr, "[%s] warning: the windows are built but not cached: %s\n",
                       label.c_str(), error.what());
      }
    }
  } else {
    out.windows = build_windows(out.dataset, tokenizer, options.window, threads);
  }
  if (options.max_samples > 0 && out.windows.size() > static_cast<size_t>(options.max_samples))
    out.windows.resize(static_cast<size_t>(options.max_samples));
  size_t labelled = 0, tokens = 0;
  for (const Window& window : out.windows) {
    labelled += window.start_position != 0 || window.end_position != 0;
    tokens += window.input_ids.size();
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const std::string how = from_cache     ? " from the window cache"
                          : threads == 1 ? " on 1 thread"
                                         : " on " + std::to_string(threads) + " threads";
  if (!options.quiet)
    std::fprintf(stderr,
                 "[%s] %s: %zu questions -> %zu windows (%zu with the answer inside, mean %.1f "
                 "tokens)%s in %.2f s\n",
                 label.c_str(), path.c_str(), out.dataset.examples.size(), out.windows.size(),
                 labelled, out.windows.empty() ? 0.0 : double(tokens) / out.windows.size(),
                 how.c_str(), seconds);
  return out;
}

void check_impossible_questions(const SquadDataset& dataset, const std::string& path) {
  for (const SquadExample& example : dataset.examples)
    if (example.is_impossible && !example.answers.empty())
      throw_input_error(path, "question " + example.id,
                        "is_impossible is true but answers is not empty (SQuAD v2.0 lists an unanswerable "
                        "question's spans under plausible_answers)");
}

void check_squad_version(const SquadDataset& dataset, const std::string& path,
                         bool version_2_with_negative, bool answers_required) {
  check_impossible_questions(dataset, path);
  if (version_2_with_negative) return;
  const bool v2_version = dataset.version.rfind("v2", 0) == 0 || dataset.version.rfind("2", 0) == 0;
  // A question is unanswerable when it is marked is_impossible (the official layout) or has no
  // answers (any layout: datasets' rows mark it so, and an official file may too): the same data
  // is judged the same in every form. Where answers are not required (a test split, predicted
  // and scored only when every question has answers), only what marks v2.0 data is refused.
  const bool rows = !dataset.examples.empty() && dataset.examples.front().row >= 0;
  size_t marked = 0, unanswered = 0;
  const SquadExample* first = nullptr;  // the first question without answers
  for (const SquadExample& example : dataset.examples) {
    marked += example.is_impossible && !rows;  // rows derive is_impossible from empty answers
    const bool without = example.is_impossible || example.answers.empty();
    unanswered += without;
    if (without && first == nullptr) first = &example;
  }
  if (answers_required && unanswered == dataset.examples.size() && marked == 0 && !v2_version)
    throw_input_error(
        path, "answers",
        "none of the " + std::to_string(unanswered) +
            " questions has answers: an unlabelled split (a test set) can be neither trained on "
            "nor scored; predict it with train_squad --do_predict --test_file");
  if (v2_version || marked > 0 || (answers_required && unanswered > 0))
    throw_input_error(
        path,
        marked > 0       ? "is_impossible"
        : unanswered > 0 ? "answers"
                         : "version",
        "SQuAD v2 data (version '" + dataset.version + "', " + std::to_string(unanswered) +
            (marked > 0 ? " unanswerable questions" : " questions without answers") +
            (first != nullptr ? ", the first question " + first->id : std::string()) +
            "): give --version_2_with_negative, as run_qa.py needs for it (the v1.1 metric "
            "cannot score unanswerable questions)");
}

}  // namespace bert
