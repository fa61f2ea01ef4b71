#include "engine/run_commands.h"

#include <algorithm>
#include <utility>

#include "core/strings.h"

namespace bert {
namespace {

// A flag's name as the parser reads it ('-' may stand for '_': --overwrite-output-dir is
// --overwrite_output_dir), or "" for an argument that is no flag.
std::string flag_name(const std::string& arg) {
  if (arg.compare(0, 2, "--") != 0) return "";
  const size_t equals = arg.find('=');
  std::string name = arg.substr(2, equals == std::string::npos ? std::string::npos : equals - 2);
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

struct FlagGroup {
  std::string name;                // "" for an argument that is no flag
  std::vector<std::string> words;  // the flag and its value, if it took the next argument
};

std::vector<FlagGroup> flag_groups(const CommandLine& command) {
  std::vector<FlagGroup> groups;
  const std::vector<std::string>& args = command.args;
  for (size_t i = 1; i < args.size(); ++i) {
    FlagGroup group{flag_name(args[i]), {args[i]}};
    const bool has_value = args[i].find('=') != std::string::npos;
    if (!group.name.empty() && !has_value && i + 1 < args.size()) {
      const std::string raw_name = args[i].substr(2);
      const bool takes_next = command.value_follows ? command.value_follows(raw_name, args[i + 1])
                                                    : args[i + 1].compare(0, 2, "--") != 0;
      if (takes_next) group.words.push_back(args[++i]);
    }
    groups.push_back(std::move(group));
  }
  return groups;
}

}  // namespace

std::string shell_quote(const std::string& arg) {
  if (!arg.empty() &&
      arg.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                            "-_./=:,+@%") == std::string::npos)
    return arg;
  std::string out = "'";
  for (char c : arg) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string resume_command(const CommandLine& command, const std::string& checkpoint) {
  std::string out = shell_quote(command.args.at(0));
  for (const FlagGroup& group : flag_groups(command)) {
    if (group.name == "resume_from_checkpoint" || group.name == "stop_after_steps" ||
        group.name == "overwrite_output_dir")
      continue;
    for (const std::string& word : group.words) out += " " + shell_quote(word);
  }
  return out + " --resume_from_checkpoint " + shell_quote(checkpoint);
}

const std::vector<std::string>& eval_squad_flags_of_training() {
  static const std::vector<std::string> kFlags = {"validation_file",
                                                  "version_2_with_negative",
                                                  "null_score_diff_threshold",
                                                  "dataset_name",
                                                  "dataset_config_name",
                                                  "cache_dir",
                                                  "device",
                                                  "max_seq_length",
                                                  "doc_stride",
                                                  "per_device_eval_batch_size",
                                                  "n_best_size",
                                                  "max_answer_length",
                                                  "max_eval_samples",
                                                  "seed",
                                                  "do_lower_case"};
  return kFlags;
}

std::string evaluation_command(const CommandLine& command, const std::string& output_dir) {
  const std::vector<std::string>& kept = eval_squad_flags_of_training();
  const auto is_kept = [&](const std::string& name) {
    return std::find(kept.begin(), kept.end(), name) != kept.end();
  };
  const std::string& program = command.args.at(0);
  const size_t slash = program.rfind('/');
  std::string out =
      shell_quote((slash == std::string::npos ? "" : program.substr(0, slash + 1)) + "eval_squad");
  const std::vector<FlagGroup> groups = flag_groups(command);
  // --use_cpu may be repeated, the last value winning, as in train_squad's own parse: only the
  // last one decides whether eval_squad gets --device cpu.
  size_t last_use_cpu = groups.size();
  for (size_t i = 0; i < groups.size(); ++i)
    if (groups[i].name == "use_cpu") last_use_cpu = i;
  for (size_t i = 0; i < groups.size(); ++i) {
    const FlagGroup& group = groups[i];
    if (group.name.empty()) return "";  // an arguments file holds flags this command cannot see
    const size_t equals = group.words[0].find('=');
    const std::string value = group.words.size() > 1        ? group.words[1]
                              : equals != std::string::npos ? group.words[0].substr(equals + 1)
                                                            : "true";
    const bool given_true = bool_word_value(value) == 1;
    if (is_kept(group.name)) {
      for (const std::string& word : group.words) out += " " + shell_quote(word);
    } else if (i == last_use_cpu && given_true) {
      out += " --device cpu";
    } else if (group.name.compare(0, 3, "no_") == 0 && is_kept(group.name.substr(3))) {
      out += " --" + group.name.substr(3) + " false";  // --no_do_lower_case
    }
  }
  return out + " --model_name_or_path " + shell_quote(output_dir) + " --output_dir " +
         shell_quote(output_dir);
}

}  // namespace bert
