// libFuzzer target: read_squad on arbitrary bytes. The reader must return a dataset or throw
// InputError (naming the file and position); any other exception, a crash, a leak or
// undefined behaviour is a finding. read_squad takes a path, so each input is written to a
// per-process file (in /dev/shm when it exists, to keep that cheap).
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "data/squad.h"
#include "core/error.h"

namespace {

const std::string& input_path() {
  static const std::string path = [] {
    const char* dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    return std::string(dir) + "/fuzz_squad_reader." + std::to_string(getpid()) + ".json";
  }();
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FILE* file = std::fopen(input_path().c_str(), "wb");
  if (!file) __builtin_trap();
  if (size && std::fwrite(data, 1, size, file) != size) __builtin_trap();
  std::fclose(file);
  try {
    const bert::SquadDataset dataset = bert::read_squad(input_path());
    // Everything the windowing code relies on later: answers lie inside their contexts.
    for (const bert::SquadExample& example : dataset.examples)
      for (const bert::SquadAnswer& answer : example.answers)
        if (answer.start_char < 0) __builtin_trap();
  } catch (const bert::InputError&) {
  }
  return 0;
}
