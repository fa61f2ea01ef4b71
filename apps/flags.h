// Command-line flags for the apps, in the style of Hugging Face's run_qa.py arguments:
// `--name value` or `--name=value`; a bool flag alone (`--do_eval`) means true and takes an
// optional true/false/1/0 value (`--do_eval=false`, `--do_eval false`). Every flag has a
// default (the target's value when it is registered) and a help line; `--help` / `-h` prints
// them. Unknown flags, missing or malformed values (an empty string value too), flags given
// twice and positional arguments throw FlagError, which apps report with exit status 2 (argparse's convention).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/core/error.h"

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
  void add_double(const std::string& name, double* target, const std::string& help);
  void add_bool(const std::string& name, bool* target, const std::string& help);

  // Parses argv[1..argc). Returns false when --help was given (usage already printed to
  // stdout: the app should exit 0); throws FlagError on a bad command line.
  bool parse(int argc, const char* const* argv);
  bool parse(const std::vector<std::string>& args);  // args without the program name

  // True when the flag appeared on the command line.
  bool was_set(const std::string& name) const;
  // Throws FlagError("--<name> is required <context>") unless the flag was given.
  void require(const std::string& name, const std::string& context = "") const;

  std::string usage() const;

 private:
  enum class Kind { kString, kInt, kInt64, kDouble, kBool };
  struct Flag {
    std::string name;
    Kind kind;
    void* target;
    std::string help;
    std::string default_text;
    bool set = false;
  };
  void add(const std::string& name, Kind kind, void* target, const std::string& help,
           std::string default_text);
  Flag* find(const std::string& name);
  const Flag* find(const std::string& name) const;
  void assign(Flag* flag, const std::string& value);

  std::string program_;
  std::string description_;
  std::vector<Flag> flags_;
};

}  // namespace bert
