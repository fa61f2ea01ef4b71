// Helpers of the prepare_squad app tests (test_squad_prepare_app, and its dev-set golden in
// test_squad_prepare_app_golden.cpp): running the app (PREPARE_SQUAD_BIN, a compile definition)
// and comparing JSON values parsed from its output.
#pragma once

#include <simdjson.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/file_io.h"
#include "tests/test_support.h"

namespace bert::test {

// What a run of prepare_squad returned: exit status, stdout, stderr.
struct RunResult {
  int status = -1;
  std::string out, err;
};

// This process's scratch directory for the app's outputs.
inline std::string temp_dir() {
  static const ScratchDir dir("bert_test_prepare_app");
  return dir.path;
}

// Runs PREPARE_SQUAD_BIN with `args` (a shell command line) and collects what it printed.
inline RunResult run_app(const std::string& args) {
  const std::string out = temp_dir() + "/stdout.txt", err = temp_dir() + "/stderr.txt";
  const std::string command = std::string(PREPARE_SQUAD_BIN) + " " + args + " >" + out + " 2>" + err;
  const int raw = std::system(command.c_str());
  RunResult result;
  result.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  result.out = read_file(out);
  result.err = read_file(err);
  return result;
}

// Structural equality of two parsed JSON values (numbers compared by kind and value).
inline bool same_json(simdjson::dom::element a, simdjson::dom::element b) {
  using T = simdjson::dom::element_type;
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case T::ARRAY: {
      simdjson::dom::array x = a.get_array(), y = b.get_array();
      if (x.size() != y.size()) return false;
      auto j = y.begin();
      for (simdjson::dom::element item : x)
        if (!same_json(item, *j++)) return false;
      return true;
    }
    case T::OBJECT: {
      simdjson::dom::object x = a.get_object(), y = b.get_object();
      if (x.size() != y.size()) return false;
      auto j = y.begin();
      for (auto field : x) {  // same keys in the same order
        if (field.key != j.key() || !same_json(field.value, j.value())) return false;
        ++j;
      }
      return true;
    }
    case T::INT64: return int64_t(a) == int64_t(b);
    case T::UINT64: return uint64_t(a) == uint64_t(b);
    case T::DOUBLE: return double(a) == double(b);
    case T::STRING: return std::string_view(a) == std::string_view(b);
    case T::BOOL: return bool(a) == bool(b);
    case T::NULL_VALUE: return true;
  }
  return false;
}

// The index of the first line where two JSON Lines files differ as parsed JSON (a missing line
// counts as differing), or -1 when they hold the same values line by line.
inline long first_differing_line(const std::vector<std::string>& ours, const std::vector<std::string>& theirs) {
  simdjson::dom::parser ours_parser, their_parser;
  for (size_t i = 0; i < std::max(ours.size(), theirs.size()); ++i)
    if (i >= ours.size() || i >= theirs.size() || !same_json(ours_parser.parse(ours[i]), their_parser.parse(theirs[i])))
      return static_cast<long>(i);
  return -1;
}

// The start of line `index` for a failure message ("(no such line)" past the end).
inline std::string line_start(const std::vector<std::string>& lines, long index) {
  return static_cast<size_t>(index) < lines.size() ? lines[index].substr(0, 300) : "(no such line)";
}

}  // namespace bert::test
