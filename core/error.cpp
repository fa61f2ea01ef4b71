#include "core/error.h"

namespace bert {

void throw_input_error(const std::string& file, const std::string& where, const std::string& what) {
  std::string message;
  for (const std::string* part : {&file, &where, &what}) {
    if (part->empty()) continue;
    if (!message.empty()) message += ": ";
    message += *part;
  }
  throw InputError(message);
}

void throw_check_failure(const char* call, const char* file, int line, const std::string& detail) {
  std::string message = std::string(call) + " failed at " + file + ":" + std::to_string(line);
  if (!detail.empty()) message += ": " + detail;
  throw BertError(message);
}

}  // namespace bert
