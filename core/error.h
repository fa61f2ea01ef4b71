// Errors: one exception type per kind of failure, and one checking helper behind every
// *_CHECK macro. Apps catch BertError at the top, print e.what() on one line, exit non-zero.
#pragma once

#include <stdexcept>
#include <string>

namespace bert {

// Base of every error the project throws on purpose.
class BertError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Bad user input: a file, a field, a flag. The message names the file, the position
// and what was expected, e.g. "dev.json: data[3].paragraphs[0].qas[2].answers[0]: ...".
class InputError : public BertError {
 public:
  using BertError::BertError;
};

// Formats "<file>: <where>: <what>" (parts left empty are dropped) and throws InputError.
[[noreturn]] void throw_input_error(const std::string& file, const std::string& where,
                                    const std::string& what);

// Throws BertError("<call> failed at <file>:<line>: <detail>"); used by the *_CHECK macros.
[[noreturn]] void throw_check_failure(const char* call, const char* file, int line,
                                      const std::string& detail);

}  // namespace bert

// Precondition check kept in Release builds (never assert for validation).
#define BERT_CHECK(cond, msg)                                                        \
  do {                                                                               \
    if (!(cond)) ::bert::throw_check_failure(#cond, __FILE__, __LINE__, (msg));      \
  } while (0)
