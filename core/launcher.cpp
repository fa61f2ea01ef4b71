// The launcher's environment variables (mpirun, mpiexec, srun): how many processes it started,
// and where this one stands among them.
#include "core/launcher.h"

#include <cstddef>
#include <cstdlib>
#include <string>

#include "core/error.h"

namespace bert {

namespace {

// The positive integer in environment variable `name`; 0 when unset; BertError when malformed.
int env_count(const char* name) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0') return 0;
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  if (*end != '\0' || value <= 0 || value > (1 << 24))
    throw BertError(std::string("environment variable ") + name + "=" + text +
                    ": expected a positive process count");
  return static_cast<int>(value);
}

constexpr const char* kSizeVariables[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"};
constexpr const char* kRankVariables[] = {"OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK"};
constexpr const char* kLocalRankVariables[] = {"OMPI_COMM_WORLD_LOCAL_RANK",
                                               "MPI_LOCALRANKID",
                                               "MV2_COMM_WORLD_LOCAL_RANK",
                                               "SLURM_LOCALID",
                                               "PMIX_LOCAL_RANK",
                                               "PMI_LOCAL_RANK"};
constexpr const char* kLocalSizeVariables[] = {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS",
                                               "MV2_COMM_WORLD_LOCAL_SIZE", "PMIX_LOCAL_SIZE"};

// The non-negative integer in the first of `names` that is set; -1 when none is; BertError
// naming the variable when malformed.
template <size_t N>
int first_rank(const char* const (&names)[N], const char* what) {
  for (const char* name : names) {
    const char* text = std::getenv(name);
    if (text == nullptr || *text == '\0') continue;
    char* end = nullptr;
    const long value = std::strtol(text, &end, 10);
    if (*end != '\0' || value < 0 || value > (1 << 24))
      throw BertError(std::string("environment variable ") + name + "=" + text +
                      ": expected a non-negative " + what);
    return static_cast<int>(value);
  }
  return -1;
}

}  // namespace

int launcher_world_size() {
  for (const char* name : kSizeVariables) {
    const int size = env_count(name);
    if (size > 0) return size;
  }
  return std::getenv("PMIX_RANK") != nullptr ? -1 : 1;
}

bool launched_by_mpi() {
  for (const char* name : kSizeVariables)
    if (std::getenv(name) != nullptr) return true;
  return std::getenv("PMIX_RANK") != nullptr;
}

int local_rank_from_launcher() {
  const int rank = first_rank(kLocalRankVariables, "local rank");
  return rank < 0 ? 0 : rank;
}

int launcher_rank() { return first_rank(kRankVariables, "rank"); }

std::string launcher_rank_prefix() {
  try {
    const int rank = launcher_rank();
    const int size = launcher_world_size();
    return (size > 1 || size < 0) && rank >= 0 ? "rank " + std::to_string(rank) + ": " : "";
  } catch (const BertError&) {
    return "";
  }
}

int local_size_from_launcher() {
  for (const char* name : kLocalSizeVariables) {
    const int size = env_count(name);
    if (size > 0) return size;
  }
  return 1;
}

}  // namespace bert
