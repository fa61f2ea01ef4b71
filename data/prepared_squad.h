// A SQuAD file turned into the model's windows, as train_squad and eval_squad both need it:
// read (SQuAD v2 data only with --version_2_with_negative), cut to --max_*_samples, windowed (or read from the binary
// window cache when one is named and matches), with one summary line on stderr.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/squad.h"
#include "data/windows.h"
#include "tokenizer/tokenizer.h"

namespace bert {

struct PreparedSquad {
  SquadDataset dataset;
  std::vector<Window> windows;
};

struct PrepareOptions {
  WindowConfig window;
  bool do_lower_case = true;
  int64_t max_samples = -1;  // > 0: the first N examples, then at most N windows (run_qa.py's rule)
  std::string cache_file;  // optional: read windows from it when its key matches, else write it (a
                           // failed write is a warning: the windows are built either way)
  bool overwrite_cache = false;  // rebuild and rewrite cache_file even when it matches (--overwrite_cache)
  bool quiet = false;        // no summary line (ranks other than 0 of a data-parallel run)
  bool version_2_with_negative = false;  // SQuAD v2.0: unanswerable questions are taken
  // A test split (--do_predict): predicted, and scored only when every question has answers, so
  // questions without answers are no sign of v2.0 data there (check_squad_version's
  // answers_required false); a v2.0 version or is_impossible still needs the flag.
  bool predict_split = false;
  int threads = 0;  // host threads building the windows (build_windows; 0: the available cores)
};

// Reads the file (check_squad_version), windows it (or
// loads the cache) and logs counts and timing to stderr with the label ("train", "eval").
PreparedSquad prepare_squad(const std::string& path, const Tokenizer& tokenizer, const PrepareOptions& options,
                            const std::string& label);

// Refuses a question marked is_impossible that still lists answers (InputError naming the file
// and question): its windows would be labelled with that answer while the metric counts it
// answerable.
void check_impossible_questions(const SquadDataset& dataset, const std::string& path);

// check_impossible_questions, and without --version_2_with_negative refuses SQuAD v2 data (a
// version "v2.0" file, questions marked is_impossible, or, where answers are required (training,
// evaluation), questions without answers in any layout), as run_qa.py's v1.1 metric cannot score
// unanswerable questions: throws InputError naming the file and saying which flag takes it; a
// split where no question has answers is refused as unlabelled there. With the flag, takes v1.1
// and v2.0 alike (run_qa.py does). A test split (answers_required false) may lack answers.
void check_squad_version(const SquadDataset& dataset, const std::string& path,
                         bool version_2_with_negative, bool answers_required = true);

}  // namespace bert
