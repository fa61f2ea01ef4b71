#include "tests/test_support.h"

#include <filesystem>
#include <unistd.h>

namespace bert::test {

std::string fixture_path(const std::string& name) {
  return std::string(BERT_SOURCE_DIR) + "/tests/fixtures/" + name;
}

ScratchDir::ScratchDir(const std::string& name)
    : path((std::filesystem::temp_directory_path() / (name + "_" + std::to_string(::getpid()))).string()) {
  std::filesystem::create_directories(path);
}

ScratchDir::~ScratchDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path, ignored);
}

}  // namespace bert::test
