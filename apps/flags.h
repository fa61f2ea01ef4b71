// Command-line flags for the apps, in the style of Hugging Face's run_qa.py arguments:
// `--name value` or `--name=value`; a bool flag alone (`--do_eval`) means true and takes an
// optional true/false/1/0 value (`--do_eval=false`, `--do_eval false`). Every flag has a
// default (the target's value when it is registered) and a help line; `--help` / `-h` prints
// them. A flag given more than once takes its last value, as argparse and HfArgumentParser
// do; notes() says which value was taken, for the app's log. On the command line a name may
// also be spelled with '-' for '_' (`--do-train`), and a bool flag whose default is true also
// takes `--no_<name>` / `--no-<name>` (false, no value), the aliases HfArgumentParser adds.
//
// Arguments file: one positional argument ending in ".json" (`train_squad args.json`, as
// HfArgumentParser.parse_json_file reads run_qa.py's) holds a JSON object {flag name: value};
// its values are applied first, so flags on the command line override them. Values: strings
// for string flags (an array of strings is joined with ','), numbers (or numeric strings) for
// numeric flags, true/false for bool flags; null leaves the default (Python's None).
//
// Unknown flags or keys, missing or malformed values (an empty string value too), other
// positional arguments and a bad arguments file throw FlagError, which apps report with exit status
// 2 (argparse's convention).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/error.h"

namespace bert {

// A bad command line. Apps print "error: <message>" and exit 2.
class FlagError : public InputError {
 public:
  using InputError::InputError;
};

class FlagParser {
 public:
  FlagParser(std::string program, std::string description);

  // Register a flag writing into *target; *target's current value is the default.
  void add_string(const std::string& name, std::string* target, const std::string& help);
  void add_int(const std::string& name, int32_t* target, const std::string& help);
  void add_int64(const std::string& name, int64_t* target, const std::string& help);
  // A finite number; with Infinity::kAllowed also inf / -inf (Python's float() spellings
  // "inf", "infinity", any case), as argparse's float takes them for a threshold.
  enum class Infinity { kRefused, kAllowed };
  void add_double(const std::string& name, double* target, const std::string& help,
                  Infinity infinity = Infinity::kRefused);
  void add_bool(const std::string& name, bool* target, const std::string& help);
  // A flag that takes a bool or a word (transformers' `str | bool` arguments): alone or with a
  // true word it stores true_value, with a false word false_value, else one of `words` as given.
  // An arguments file may give it true/false or a string.
  void add_bool_or_word(const std::string& name, std::string* target, const std::string& true_value,
                        const std::string& false_value, const std::vector<std::string>& words,
                        const std::string& help);
  // The flag's default is Python's None, which its target cannot hold: --help shows None, and
  // values_json() records null while the flag is not given.
  void default_is_none(const std::string& name);
  // A name this program does not take but a user may bring from elsewhere (a flag another
  // version renamed): the unknown-flag error names the flag to use instead and why.
  void add_renamed(const std::string& old_name, const std::string& new_name, const std::string& why);

  // Parses argv[1..argc). Returns false when --help was given (usage already printed to
  // stdout: the app should exit 0); throws FlagError on a bad command line.
  bool parse(int argc, const char* const* argv);
  bool parse(const std::vector<std::string>& args);  // args without the program name

  // True when the flag appeared on the command line or in the arguments file.
  bool was_set(const std::string& name) const;
  // One line per flag given more than once: which value was used and which were overridden
  // ("--learning_rate given 2 times: using the last, 3e-5 (overridden: 1e-3)").
  const std::vector<std::string>& notes() const { return notes_; }
  // Every flag's current value as a JSON object (2-space indent, registration order): the
  // record of a run, readable back as an arguments file.
  std::string values_json() const;
  // Throws FlagError("--<name> is required <context>") unless the flag was given.
  void require(const std::string& name, const std::string& context = "") const;

  std::string usage() const;

  // Whether `next` is the value of the flag spelled `name` (without "--" and '='), as parse()
  // decides it: a self-contained copy of the flags' kinds, for code that re-reads the command
  // line after the parser is gone (the command that resumes a run).
  std::function<bool(const std::string& name, const std::string& next)> value_rule() const;

 private:
  enum class Kind { kString, kInt, kInt64, kDouble, kDoubleOrInfinity, kBool, kBoolOrWord };
  static const char* kind_name(Kind kind);  // as --help shows it
  struct Flag {
    std::string name;
    Kind kind;
    void* target;
    std::string help;
    std::string default_text;
    bool set = false;
    std::vector<std::string> given;  // every value given, in order (file first)
    // kBoolOrWord: what true and false store, and the words taken as they are.
    std::string true_value, false_value;
    std::vector<std::string> words;
    // Bare on the command line (kBool, kBoolOrWord): then the next argument may be its value or not.
    bool takes_bare() const { return kind == Kind::kBool || kind == Kind::kBoolOrWord; }
    // Whether args[i + 1] is the value of this flag, given as args[i] = --name (without =):
    // always for flags that need a value; after a bare kBool a true/false word; after a bare
    // kBoolOrWord anything but a flag or the arguments file (a wrong word is then named).
    bool value_follows(const std::vector<std::string>& args, size_t i) const;
  };
  void add(const std::string& name, Kind kind, void* target, const std::string& help,
           std::string default_text);
  Flag* find(const std::string& name);
  const Flag* find(const std::string& name) const;
  // A command-line name: the flag's own, '-' for '_', or --no_<name> of a bool flag whose
  // default is true (then *negated); nullptr if none.
  Flag* find_spelling(const std::string& name, bool* negated);
  void assign(Flag* flag, const std::string& value);
  // Applies the JSON object of an arguments file.
  void apply_arguments_file(const std::string& path);
  std::string value_json(const Flag& flag) const;
  // What follows "unknown flag --name": the renamed flag, else the nearest name (a typo), else
  // a pointer to --help.
  std::string unknown_hint(const std::string& name) const;

  std::string program_;
  std::string description_;
  std::vector<Flag> flags_;
  std::vector<std::string> notes_;
  struct Renamed {
    std::string old_name, new_name, why;
  };
  std::vector<Renamed> renamed_;
};

}  // namespace bert
