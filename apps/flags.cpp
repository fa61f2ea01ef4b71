#include "apps/flags.h"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <optional>
#include <sstream>

#include "core/file_io.h"
#include "core/json_text.h"
#include "core/python_float.h"
#include "core/strings.h"

namespace bert {
namespace {

[[noreturn]] void fail(const std::string& message) { throw FlagError(message); }

template <typename T>
T parse_integer(const std::string& name, const std::string& value) {
  T parsed{};
  const char* end = value.data() + value.size();
  const auto result = std::from_chars(value.data(), end, parsed);
  if (!value.empty() && result.ec == std::errc::result_out_of_range && result.ptr == end)
    fail("--" + name + ": " + value + " is out of range (" +
         std::to_string(std::numeric_limits<T>::min()) + " to " +
         std::to_string(std::numeric_limits<T>::max()) + ")");
  if (value.empty() || result.ec != std::errc() || result.ptr != end)
    fail("--" + name + ": expected an integer, got '" + value + "'");
  return parsed;
}

double parse_double(const std::string& name, const std::string& value, bool infinity_allowed) {
  // As Python's float() reads it (core/python_float.h: a leading '+', "inf"/"infinity" in any
  // case, a number past the double range as infinity), but with neither the white space nor the
  // digit separators ('_') a command-line value does not need.
  const bool plain = value.find_first_of(" \t\n\r\f\v_") == std::string::npos;
  const std::optional<double> parsed = plain ? parse_python_float(value) : std::nullopt;
  if (!parsed || std::isnan(*parsed) || (std::isinf(*parsed) && !infinity_allowed))
    fail("--" + name + ": expected a " +
         (infinity_allowed ? "number (or inf, -inf)" : "finite number") + ", got '" + value + "'");
  return *parsed;
}

bool is_bool_word(const std::string& value) {
  return value == "true" || value == "false" || value == "True" || value == "False" ||
         value == "1" || value == "0";
}

// A bool word's value.
bool is_true_word(const std::string& value) { return value == "true" || value == "True" || value == "1"; }

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
  flags_.push_back({name, kind, target, help, std::move(default_text), false, {}, {}, {}, {}});
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
void FlagParser::add_double(const std::string& name, double* target, const std::string& help,
                            Infinity infinity) {
  add(name, infinity == Infinity::kAllowed ? Kind::kDoubleOrInfinity : Kind::kDouble, target, help,
      format_double(*target));
}
void FlagParser::add_bool(const std::string& name, bool* target, const std::string& help) {
  add(name, Kind::kBool, target, help, *target ? "true" : "false");
}

void FlagParser::add_bool_or_word(const std::string& name, std::string* target, const std::string& true_value,
                                  const std::string& false_value, const std::vector<std::string>& words,
                                  const std::string& help) {
  add(name, Kind::kBoolOrWord, target, help, *target);
  Flag& flag = flags_.back();
  flag.true_value = true_value;
  flag.false_value = false_value;
  flag.words = words;
}

bool FlagParser::Flag::value_follows(const std::vector<std::string>& args, size_t i) const {
  if (!takes_bare()) return true;
  if (i + 1 >= args.size()) return false;
  const std::string& next = args[i + 1];
  if (kind == Kind::kBoolOrWord) return !starts_with(next, "-") && !ends_with(next, ".json");
  return bool_word_value(next) >= 0;
}

void FlagParser::add_renamed(const std::string& old_name, const std::string& new_name, const std::string& why) {
  BERT_CHECK(find(old_name) == nullptr && find(new_name) != nullptr, "--" + old_name + " renamed to an unknown flag");
  renamed_.push_back({old_name, new_name, why});
}

namespace {

// Levenshtein distance: how many single-character edits turn a into b.
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

std::string FlagParser::unknown_hint(const std::string& spelled) const {
  std::string name = spelled;  // --no-cuda and --per-gpu-train-batch-size are looked up as with '_'
  std::replace(name.begin(), name.end(), '-', '_');
  for (const Renamed& r : renamed_)
    if (r.old_name == name) return ": use --" + r.new_name + " (" + r.why + ")";
  if (name.compare(0, 3, "no_") == 0) {
    const Flag* flag = find(name.substr(3));
    if (flag != nullptr && (flag->kind == Kind::kBool || flag->kind == Kind::kBoolOrWord))
      return " (--" + flag->name + " is " +
             (flag->default_text.empty() ? "unset" : flag->default_text) +
             " by default; --no_<name> exists only for a bool flag whose default is true, as in "
             "HfArgumentParser: give --" +
             flag->name + " false)";
  }
  // A typo: the nearest name within a quarter of its length (at least 2 edits).
  const Flag* nearest = nullptr;
  size_t best = std::max<size_t>(2, name.size() / 4) + 1;
  for (const Flag& flag : flags_) {
    const size_t distance = edit_distance(name, flag.name);
    if (distance < best) {
      best = distance;
      nearest = &flag;
    }
  }
  if (nearest != nullptr) return " (did you mean --" + nearest->name + "? see --help)";
  return " (see --help)";
}

FlagParser::Flag* FlagParser::find(const std::string& name) {
  for (Flag& flag : flags_)
    if (flag.name == name) return &flag;
  return nullptr;
}

std::function<bool(const std::string&, const std::string&)> FlagParser::value_rule() const {
  FlagParser copy(program_, description_);  // kinds only: its targets are never written
  copy.flags_ = flags_;
  return [copy](const std::string& name, const std::string& next) mutable {
    bool negated = false;
    const Flag* flag = copy.find_spelling(name, &negated);
    if (flag == nullptr) return next.compare(0, 2, "--") != 0;
    if (negated) return false;
    const std::vector<std::string> args = {"--" + name, next};
    return flag->value_follows(args, 0);
  };
}

FlagParser::Flag* FlagParser::find_spelling(const std::string& name, bool* negated) {
  *negated = false;
  std::string underscored = name;
  std::replace(underscored.begin(), underscored.end(), '-', '_');
  if (Flag* flag = find(underscored)) return flag;
  if (underscored.compare(0, 3, "no_") != 0) return nullptr;
  Flag* flag = find(underscored.substr(3));
  if (flag == nullptr || flag->kind != Kind::kBool || flag->default_text != "true") return nullptr;
  *negated = true;
  return flag;
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
    case Kind::kDoubleOrInfinity:
      *static_cast<double*>(flag->target) =
          parse_double(flag->name, value, flag->kind == Kind::kDoubleOrInfinity);
      break;
    case Kind::kBool:
      // Every spelling HfArgumentParser takes (yes, no, y, n, t, f, any case).
      if (bool_word_value(value) < 0)
        fail("--" + flag->name + ": expected true or false (or yes, no, 1, 0), got '" + value +
             "'");
      *static_cast<bool*>(flag->target) = bool_word_value(value) == 1;
      break;
    case Kind::kBoolOrWord: {
      if (!is_bool_word(value) && std::find(flag->words.begin(), flag->words.end(), value) == flag->words.end()) {
        std::string choices;
        for (const std::string& word : flag->words) choices += ", " + word;
        fail("--" + flag->name + ": expected true, false" + choices + "; got '" + value + "'");
      }
      std::string& target = *static_cast<std::string*>(flag->target);
      target = !is_bool_word(value) ? value : is_true_word(value) ? flag->true_value : flag->false_value;
      break;
    }
  }
  flag->set = true;
  flag->given.push_back(value);
}

bool FlagParser::parse(int argc, const char* const* argv) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
  return parse(args);
}

bool FlagParser::parse(const std::vector<std::string>& args) {
  for (const std::string& arg : args) {
    if (arg == "--help" || arg == "-h") {
      std::fputs(usage().c_str(), stdout);
      return false;
    }
  }
  // The arguments file first, wherever it stands: the command line overrides it.
  std::string arguments_file;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg.compare(0, 2, "--") == 0) {
      // Skip the flag's value so that `--output_dir x.json` is not taken for the file.
      const size_t equals = arg.find('=');
      const std::string name = arg.substr(2, equals == std::string::npos ? std::string::npos : equals - 2);
      bool negated = false;
      const Flag* flag = find_spelling(name, &negated);
      if (flag == nullptr) fail("unknown flag --" + name + unknown_hint(name));
      if (equals == std::string::npos && !negated && flag->value_follows(args, i)) ++i;
      continue;
    }
    if (!ends_with(arg, ".json"))
      fail("unexpected argument '" + arg + "' (flags are --name value or --name=value; a positional "
           "argument must be a .json arguments file)");
    if (!arguments_file.empty()) fail("two arguments files, '" + arguments_file + "' and '" + arg + "': give one");
    arguments_file = arg;
  }
  if (!arguments_file.empty()) apply_arguments_file(arguments_file);

  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == arguments_file) continue;
    const size_t equals = arg.find('=');
    const std::string name = arg.substr(2, equals == std::string::npos ? std::string::npos : equals - 2);
    bool negated = false;
    Flag* flag = find_spelling(name, &negated);
    if (flag == nullptr) fail("unknown flag --" + name + unknown_hint(name));
    if (negated) {  // argparse's store_false: no value
      if (equals != std::string::npos)
        fail("--" + name + " takes no value (it sets --" + flag->name + " false)");
      assign(flag, "false");
    } else if (equals != std::string::npos) {
      assign(flag, arg.substr(equals + 1));
    } else if (flag->value_follows(args, i)) {
      if (i + 1 >= args.size()) fail("--" + name + " expects a value");
      assign(flag, args[++i]);
    } else {
      assign(flag, "true");  // a bare bool flag means true
    }
  }
  notes_.clear();
  for (const Flag& flag : flags_) {
    if (flag.given.size() < 2) continue;
    std::string earlier;
    for (size_t k = 0; k + 1 < flag.given.size(); ++k) earlier += (k ? ", " : "") + flag.given[k];
    notes_.push_back("--" + flag.name + " given " + std::to_string(flag.given.size()) + " times: using the last, " +
                     flag.given.back() + " (overridden: " + earlier + ")");
  }
  return true;
}

void FlagParser::apply_arguments_file(const std::string& path) {
  std::string text;
  try {
    text = read_file(path);
  } catch (const std::exception& e) {
    fail(std::string("arguments file: ") + e.what());
  }
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (const auto error = parser.parse(simdjson::padded_string(text)).get(root))
    fail(path + ": not valid JSON (" + simdjson::error_message(error) + "); expected an object {flag: value}");
  simdjson::dom::object object;
  if (root.get_object().get(object)) fail(path + ": expected a JSON object {flag name: value}");
  for (const simdjson::dom::key_value_pair field : object) {
    const std::string key(field.key);
    Flag* flag = find(key);
    if (flag == nullptr) {
      // A dataset given where the arguments file goes (run_qa.py also reads a lone .json so).
      const bool dataset = key == "data" || key == "version";
      fail(path + ": unknown key \"" + key + "\": not a flag of this program" +
           (dataset
                ? std::string(" (a lone ARGS.json argument is an arguments file {flag: value}; "
                              "this looks like a SQuAD dataset: pass it with its flag, see --help)")
                : unknown_hint(key)));
    }
    const simdjson::dom::element value = field.value;
    const std::string where = path + ": \"" + key + "\": ";
    std::string as_text;
    switch (value.type()) {
      case simdjson::dom::element_type::NULL_VALUE:
        continue;  // None: the default
      case simdjson::dom::element_type::STRING:
        as_text = std::string(value.get_string().value());
        break;
      case simdjson::dom::element_type::BOOL:
        if (!flag->takes_bare()) fail(where + "expected " + (flag->kind == Kind::kString ? "a string" : "a number") +
                                            ", found " + simdjson::minify(value));
        as_text = value.get_bool().value() ? "true" : "false";
        break;
      case simdjson::dom::element_type::INT64:
      case simdjson::dom::element_type::UINT64:
      case simdjson::dom::element_type::DOUBLE:
        if (flag->kind == Kind::kString || flag->takes_bare())
          fail(where + "expected " + (flag->kind == Kind::kString ? "a string" : "true, false or a word") + ", found " +
               simdjson::minify(value));
        as_text = simdjson::minify(value);
        break;
      case simdjson::dom::element_type::ARRAY: {
        if (flag->kind != Kind::kString) fail(where + "expected a single value, found " + simdjson::minify(value));
        simdjson::dom::array items;
        if (value.get_array().get(items)) fail(where + "expected an array");
        for (const simdjson::dom::element item : items) {
          if (!item.is_string()) fail(where + "expected an array of strings, found " + simdjson::minify(value));
          as_text += (as_text.empty() ? "" : ",") + std::string(item.get_string().value());
        }
        break;
      }
      default:
        fail(where + "expected a string, number or boolean, found " + simdjson::minify(value));
    }
    try {
      assign(flag, as_text);
    } catch (const FlagError& e) {
      fail(path + ": " + e.what());
    }
  }
}

void FlagParser::default_is_none(const std::string& name) {
  Flag* flag = find(name);
  BERT_CHECK(flag != nullptr, "unregistered flag --" + name);
  flag->default_text = "None";
}

bool FlagParser::was_set(const std::string& name) const {
  const Flag* flag = find(name);
  BERT_CHECK(flag != nullptr, "unregistered flag --" + name);
  return flag->set;
}

void FlagParser::require(const std::string& name, const std::string& context) const {
  if (!was_set(name)) fail("--" + name + " is required" + (context.empty() ? "" : " " + context));
}

std::string FlagParser::value_json(const Flag& flag) const {
  if (!flag.set && flag.default_text == "None") return "null";
  switch (flag.kind) {
    case Kind::kString: {  // unset (empty) is None, as Hugging Face records it: "" is no value
      // Non-ASCII escaped, as TrainingArguments.to_json_string's json.dumps writes it.
      const std::string& text = *static_cast<const std::string*>(flag.target);
      return text.empty() ? "null" : json_quote(text, JsonChars::kAscii);
    }
    case Kind::kInt: return std::to_string(*static_cast<const int32_t*>(flag.target));
    case Kind::kInt64: return std::to_string(*static_cast<const int64_t*>(flag.target));
    case Kind::kDouble: return format_json_number(*static_cast<const double*>(flag.target));
    case Kind::kDoubleOrInfinity: {  // JSON has no infinity: "inf" as a string reads back
      const double value = *static_cast<const double*>(flag.target);
      return std::isinf(value) ? json_quote(value > 0 ? "inf" : "-inf") : format_json_number(value);
    }
    case Kind::kBool: return *static_cast<const bool*>(flag.target) ? "true" : "false";
    case Kind::kBoolOrWord: return json_quote(*static_cast<const std::string*>(flag.target));
  }
  return "null";
}

std::string FlagParser::values_json() const {
  std::string out = "{\n";
  for (size_t i = 0; i < flags_.size(); ++i)
    out += "  " + json_quote(flags_[i].name) + ": " + value_json(flags_[i]) + (i + 1 < flags_.size() ? ",\n" : "\n");
  return out + "}\n";
}

const char* FlagParser::kind_name(Kind kind) {
  switch (kind) {
    case Kind::kString:
      return "STRING";
    case Kind::kInt:
    case Kind::kInt64:
      return "INT";
    case Kind::kDouble:
    case Kind::kDoubleOrInfinity:
      return "FLOAT";
    case Kind::kBool:
      return "[BOOL]";
    case Kind::kBoolOrWord:
      return "[BOOL|WORD]";
  }
  return "VALUE";
}

std::string FlagParser::usage() const {
  std::string out = "usage: " + program_ + " [ARGS.json] [flags]\n" + description_ + "\n\nflags:\n";
  for (const Flag& flag : flags_) {
    out += "  --" + flag.name + " " + kind_name(flag.kind) + "\n      " + flag.help;
    if (!flag.default_text.empty()) out += " (default: " + flag.default_text + ")";
    out += "\n";
  }
  out += "  --help\n      print this message and exit\n";
  out +=
      "\nA flag given twice takes its last value. '-' may stand for '_' in a name (--do-train), "
      "and\n"
      "--no_<name> sets a bool flag whose default is true to false. A single positional ARGS.json\n"
      "argument is an arguments file {flag: value} (as HfArgumentParser reads), not a dataset;\n"
      "flags on the command line override it.\n";
  return out;
}

}  // namespace bert
