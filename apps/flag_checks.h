// Range checks of flag values shared by the apps, run right after parsing and before any
// work, so every bad value exits 2 (argparse's convention) with a line naming the flag, the
// value and the accepted range. Ranges follow Hugging Face's TrainingArguments and PyTorch's
// AdamW (betas in [0, 1), weight decay >= 0, learning rate >= 0); where they accept a value
// that can only produce a broken run here, the range is narrower and says why
// (adam_epsilon 0 makes 0/0 for a parameter whose gradient and moments are 0).
#pragma once

#include <cstdint>
#include <string>

#include "apps/flags.h"

namespace bert {

// Largest max_seq_length any app accepts (also config.json's max_position_embeddings bound).
inline constexpr int32_t kMaxSeqLengthLimit = 1 << 20;
// Largest num_train_epochs: with at most 2^31 windows the step count then fits int64.
inline constexpr double kMaxTrainEpochs = 2147483647.0;

// A flag's number as messages show it: "3", "0.25", "1e-05".
std::string flag_number(double value);
// value > 0.
void check_flag_positive(const char* name, int64_t value);
// transformers' logging_steps / save_steps / eval_steps: a whole number of steps, or a fraction
// of the run's steps below 1; > 0 where positive (logging_steps), else <= 0 allowed (never, or
// the default). As TrainingArguments: "must be an integer if bigger than 1".
void check_interval_flag(const char* name, double value, bool positive);
// value >= 0.
void check_flag_non_negative(const char* name, double value);
// lo <= value < hi.
void check_flag_half_open(const char* name, double value, double lo, double hi);
// -1 (no limit) or > 0: --max_train_samples, --max_eval_samples.
void check_flag_sample_limit(const char* name, int64_t value);
// 5 <= max_seq_length <= kMaxSeqLengthLimit ([CLS], a question token, [SEP], a context token,
// [SEP]) and doc_stride >= 0 (whether a stride leaves a window room to move depends on each
// question's length: build_windows checks it where a context needs several windows).
void check_window_flags(int32_t max_seq_length, int32_t doc_stride);
// run_qa.py's rule for a tokenizer with a length limit (tokenizer_config.json's model_max_length,
// `limit_file`): a larger --max_seq_length is lowered to it, with a warning returned ("" when the
// flag fits or there is no limit, model_max_length 0).
std::string clamp_max_seq_length(int64_t model_max_length, const std::string& limit_file, int32_t* max_seq_length);
// --max_seq_length within config.json's max_position_embeddings (`config_path` names the file):
// FlagError otherwise (transformers would fail indexing the position embeddings).
void check_max_seq_length_fits(int32_t max_seq_length, int64_t max_position_embeddings,
                               const std::string& config_path);
// batch > 0 and batch x max_seq_length packed tokens fit a 32-bit count.
void check_batch_flag(const char* name, int32_t batch, int32_t max_seq_length);
// --device: auto, cpu or cuda (cpu-double, the double-precision test oracle, too).
void check_device_flag(const std::string& device);
// --n_best_size and --max_answer_length: both > 0.
void check_span_flags(int32_t n_best_size, int32_t max_answer_length);
// Whether the two paths name the same existing file or directory (after following links).
bool paths_name_same_file(const std::string& a, const std::string& b);
// Throws FlagError when the two paths name the same existing file or directory (after
// following links): "--<a> and --<b> name the same file ...".
void check_distinct_paths(const char* name_a, const std::string& a, const char* name_b, const std::string& b,
                          const std::string& why);

// FlagError when an MPI launcher started this one-process program several times (mpirun -np N):
// each copy would `repeat` ("evaluate everything") and write the same files; `instead` says
// what to do.
void refuse_several_ranks(const char* program, const std::string& repeat,
                          const std::string& instead);

}  // namespace bert
