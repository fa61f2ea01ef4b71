#include "apps/flags.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace bert {
namespace {

[[noreturn]] void fail(const std::string& message) { throw FlagError(message); }

template <typename T>
T parse_integer(const std::string& name, const std::string& value) {
  T parsed{};
  const char* end = value.data() + value.size();
  const auto result = std::from_chars(value.data(), end, parsed);
  if (value.empty() || result.ec != std::errc() || result.ptr != end)
    fail("--" + name + ": expected an integer, got '" + value + "'");
  return parsed;
}

double parse_double(const std::string& name, const std::string& value) {
  double parsed = 0;
  const char* end = value.data() + value.size();
  const auto result = std::from_chars(value.data(), end, parsed);
  if (value.empty() || result.ec != std::errc() || result.ptr != end || !std::isfinite(parsed))
    fail("--" + name + ": expected a finite number, got '" + value + "'");
  return parsed;
}

bool is_bool_word(const std::string& value) {
  return value == "true" || value == "false" || value == "True" || value == "False" ||
         value == "1" || value == "0";
}

std::string format_double(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

}  // namespace

FlagParser::FlagParser(std::string program, std::string description)
    : program_(std::move(program)), description_(std::move(description)) {}

void FlagParser::add(const std::string& name, Kind kind, void* target, const std::string& help,
                     std::string default_text) {
  BERT_CHECK(find(name) == nullptr, "flag --" + name + " registered twice");
  BERT_CHECK(name != "help" && name != "h", "--help is built in");
  flags_.push_back({name, kind, target, help, std::move(default_text)});
}

void FlagParser::add_string(const std::string& name, std::string* target, const std::string& help) {
  add(name, Kind::kString, target, help, target->empty() ? "" : "'" + *target + "'");
}
void FlagParser::add_int(const std::string& name, int32_t* target, const std::string& help) {
  add(name, Kind::kInt, target, help, std::to_string(*target));
}
void FlagParser::add_int64(const std::string& name, int64_t* target, const std::string& help) {
  add(name, Kind::kInt64, target, help, std::to_string(*target));
}
void FlagParser::add_double(const std::string& name, double* target, const std::string& help) {
  add(name, Kind::kDouble, target, help, format_double(*target));
}
void FlagParser::add_bool(const std::string& name, bool* target, const std::string& help) {
  add(name, Kind::kBool, target, help, *target ? "true" : "false");
}

FlagParser::Flag* FlagParser::find(const std::string& name) {
  for (Flag& flag : flags_)
    if (flag.name == name) return &flag;
  return nullptr;
}

const FlagParser::Flag* FlagParser::find(const std::string& name) const {
  for (const Flag& flag : flags_)
    if (flag.name == name) return &flag;
  return nullptr;
}

void FlagParser::assign(Flag* flag, const std::string& value) {
  switch (flag->kind) {
    case Kind::kString:
      // Every string flag names a file, directory or choice: an empty one is a typo
      // (`--model_name_or_path=`, an unset shell variable), not a value.
      if (value.empty()) fail("--" + flag->name + ": expected a non-empty value");
      *static_cast<std::string*>(flag->target) = value;
      break;
    case Kind::kInt:
      *static_cast<int32_t*>(flag->target) = parse_integer<int32_t>(flag->name, value);
      break;
    case Kind::kInt64:
      *static_cast<int64_t*>(flag->target) = parse_integer<int64_t>(flag->name, value);
      break;
    case Kind::kDouble:
      *static_cast<double*>(flag->target) = parse_double(flag->name, value);
      break;
    case Kind::kBool:
      if (!is_bool_word(value))
        fail("--" + flag->name + ": expected true or false, got '" + value + "'");
      *static_cast<bool*>(flag->target) = value == "true" || value == "True" || value == "1";
      break;
  }
  flag->set = true;
}

bool FlagParser::parse(int argc, const char* const* argv) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
  return parse(args);
}

bool FlagParser::parse(const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(usage().c_str(), stdout);
      return false;
    }
    if (arg.size() < 3 || arg.compare(0, 2, "--") != 0)
      fail("unexpected argument '" + arg + "' (flags are --name value or --name=value)");
    const size_t equals = arg.find('=');
    const std::string name = arg.substr(2, equals == std::string::npos ? std::string::npos : equals - 2);
    Flag* flag = find(name);
    if (flag == nullptr) fail("unknown flag --" + name + " (see --help)");
    if (flag->set) fail("--" + name + " given twice");
    if (equals != std::string::npos) {
      assign(flag, arg.substr(equals + 1));
    } else if (flag->kind == Kind::kBool) {
      // A bare bool flag means true; a following true/false word is its value.
      const bool has_value = i + 1 < args.size() && is_bool_word(args[i + 1]);
      assign(flag, has_value ? args[++i] : "true");
    } else {
      if (i + 1 >= args.size()) fail("--" + name + " expects a value");
      assign(flag, args[++i]);
    }
  }
  return true;
}

bool FlagParser::was_set(const std::string& name) const {
  const Flag* flag = find(name);
  BERT_CHECK(flag != nullptr, "unregistered flag --" + name);
  return flag->set;
}

void FlagParser::require(const std::string& name, const std::string& context) const {
  if (!was_set(name)) fail("--" + name + " is required" + (context.empty() ? "" : " " + context));
}

std::string FlagParser::usage() const {
  static const char* const kKindNames[] = {"STRING", "INT", "INT", "FLOAT", "[BOOL]"};
  std::string out = "usage: " + program_ + " [flags]\n" + description_ + "\n\nflags:\n";
  for (const Flag& flag : flags_) {
    out += "  --" + flag.name + " " + kKindNames[static_cast<int>(flag.kind)] + "\n      " +
           flag.help;
    if (!flag.default_text.empty()) out += " (default: " + flag.default_text + ")";
    out += "\n";
  }
  out += "  --help\n      print this message and exit\n";
  return out;
}

}  // namespace bert
