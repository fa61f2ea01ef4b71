// The commands a stopped training run prints for the user: the one that resumes it, and the
// eval_squad one that runs the final evaluation a late signal skipped. Both are rebuilt from the
// run's own command line, read as the app's flag parser reads it (which argument is a flag's
// value), and quoted for a POSIX shell.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace bert {

struct CommandLine {
  std::vector<std::string> args;  // argv, the program first
  // Whether `next` is the value of the flag spelled `name` (without "--" and '='), as the
  // parser decides it (a bare bool flag takes only a true/false word). Unset: every flag but
  // one followed by another "--" argument takes the next argument.
  std::function<bool(const std::string& name, const std::string& next)> value_follows;
};

std::string shell_quote(const std::string& arg);

// The command line with --resume_from_checkpoint <checkpoint> instead of the flags that would
// stop it from continuing (--resume_from_checkpoint, --stop_after_steps, --overwrite_output_dir,
// in any spelling the parser takes).
std::string resume_command(const CommandLine& command, const std::string& checkpoint);

// The eval_squad command that evaluates the model this run saved in output_dir as its final
// evaluation would: the command line's evaluation flags (eval_squad_flags_of_training), with
// --use_cpu as --device cpu and --no_do_lower_case as --do_lower_case false, then
// --model_name_or_path and --output_dir output_dir; eval_squad beside argv[0]. "" when the
// command line holds an arguments file (its flags are not seen here).
std::string evaluation_command(const CommandLine& command, const std::string& output_dir);

// The flags of a train_squad command line that eval_squad takes as they are.
const std::vector<std::string>& eval_squad_flags_of_training();

}  // namespace bert
