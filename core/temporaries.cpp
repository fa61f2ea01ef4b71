// Temporaries named after their writer's pid, and whether that writer still runs.
#include "core/temporaries.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <vector>

namespace bert {

long pid_of(const std::string& digits) {
  if (digits.empty() || digits.size() > 9 ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return -1;
  return std::stol(digits);
}

long temporary_owner(const std::string& name, const std::string& marker) {
  const size_t at = name.rfind(marker);
  return at == std::string::npos ? -1 : pid_of(name.substr(at + marker.size()));
}

bool process_alive(long pid) {
  if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno != EPERM) return false;
  // /proc/<pid>/stat's state follows the command name's closing parenthesis. Read as a
  // stream: procfs files report size 0.
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!in || !std::getline(in, stat)) return true;  // no procfs: what kill says
  const size_t close = stat.rfind(')');
  return !(close != std::string::npos && close + 2 < stat.size() && stat[close + 2] == 'Z');
}

int remove_orphaned_temporaries(const std::string& path) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const std::string prefix = target.filename().string() + ".tmp.";
  fs::path dir = target.parent_path();
  if (dir.empty()) dir = ".";
  const long self = static_cast<long>(::getpid());
  std::vector<fs::path> orphans;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    // "<file>.tmp.<pid>", or "<file>.tmp.<pid>.tmp.<pid>": a staged file's (StagedFiles) own
    // temporary, whose writer is the last pid.
    const long owner = temporary_owner(name, ".tmp.");
    if (owner <= 0) continue;
    const std::string rest = name.substr(prefix.size()), last = std::to_string(owner);
    const std::string first = rest.substr(0, rest.find('.'));
    const bool first_is_pid = pid_of(first) > 0;
    if (rest != last && !(first_is_pid && rest == first + ".tmp." + last)) continue;
    std::error_code kind;
    if (owner != self && it->is_regular_file(kind) && !it->is_symlink(kind) &&
        !process_alive(owner))
      orphans.push_back(it->path());
  }
  int removed = 0;
  for (const fs::path& orphan : orphans) removed += fs::remove(orphan, ec) ? 1 : 0;
  return removed;
}

}  // namespace bert
