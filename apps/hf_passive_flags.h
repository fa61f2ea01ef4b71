// Hugging Face TrainingArguments flags (every one of transformers 5.25's that train_squad does
// not implement, and transformers 4's that 5 removed) and run_qa.py's own arguments that a
// run_qa.py command line may carry and that this engine either honours by doing nothing (they
// change no result here: accepted, and the log says why) or cannot honour (refused, saying what to
// do instead), so that no flag of such a command line passes silently and none is an "unknown flag"
// without explanation. Each is one row of a table in hf_passive_flags.cpp.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "apps/flags.h"

namespace bert {

// The values of the table's flags, by name (map nodes stay put, so the parser writes into them).
struct HfPassiveFlags {
  std::map<std::string, bool> bools;
  std::map<std::string, int64_t> ints;
  std::map<std::string, double> doubles;
  std::map<std::string, std::string> strings;
};

void register_hf_passive_flags(FlagParser* parser, HfPassiveFlags* flags);
// After parsing: FlagError for a refused flag given a value that asks for what this engine
// cannot do (e.g. --push_to_hub true; --push_to_hub false passes); a note per accepted flag
// that was given, saying why it changes nothing here.
void resolve_hf_passive_flags(const FlagParser& parser, const HfPassiveFlags& flags, std::vector<std::string>* notes);

}  // namespace bert
