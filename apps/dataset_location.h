// run_qa.py's --dataset_name / --dataset_config_name, as load_dataset finds a dataset without a
// network: its splits in the Hugging Face datasets cache (data/hf_datasets_cache.h), read as
// SQuAD like any --train_file (data/squad_arrow.h). Nothing is downloaded.
#pragma once

#include <string>
#include <vector>

namespace bert {

class FlagParser;

// --dataset_name and --dataset_config_name as given.
struct DatasetFlags {
  std::string name, config;
};

// Registers both flags; `replaces` says what the splits stand for in this app (e.g. "its
// validation split replaces --validation_file").
void register_dataset_flags(FlagParser* parser, DatasetFlags* flags, const std::string& replaces);

struct DatasetSplitFiles {
  std::string* file;  // the file flag the split fills: --train_file, --validation_file, --test_file
  const char* flag;   // its name
  const char* split;  // run_qa's split: train, validation, test
  bool needed;        // --do_train, --do_eval, --do_predict
};

// For each needed split: its first cache file (read_squad reads the shards beside it) into
// *file; a file flag given as well is not used, as in run_qa (a note says so). FlagError naming
// --dataset_name for a dataset, configuration or split that is not cached, with what to do.
// --dataset_config_name without --dataset_name is refused.
void resolve_dataset_name(const DatasetFlags& dataset, const std::string& cache_dir,
                          const std::vector<DatasetSplitFiles>& splits, std::vector<std::string>* notes);

}  // namespace bert
