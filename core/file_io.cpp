#include "core/file_io.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>

#include "core/error.h"
#include "core/strings.h"
#include "core/temporaries.h"

namespace bert {
namespace {

// What a path that is not a regular file is, for messages.
std::string file_kind(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

// "cannot open: <reason>", saying when the path is a symbolic link that dangles or loops.
std::string open_failure(const std::string& path, int error) {
  std::string reason = std::strerror(error);
  struct stat link {};
  if ((error == ENOENT || error == ELOOP) && ::lstat(path.c_str(), &link) == 0 && S_ISLNK(link.st_mode))
    reason += error == ENOENT ? " (a symbolic link whose target does not exist)"
                              : " (a symbolic link that loops)";
  return "cannot open: " + reason;
}

}  // namespace

InputFile InputFile::open(const std::string& path, uint64_t max_bytes) {
  // O_NONBLOCK: opening a FIFO without a writer would otherwise wait forever; it is refused
  // below like every other file that is not regular.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) throw_input_error(path, "", open_failure(path, errno));
  InputFile file(path, fd, 0);  // closes fd on every exit below
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw_input_error(path, "", std::string("cannot stat: ") + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) throw_input_error(path, "", "is " + file_kind(st.st_mode) + ", expected a regular file");
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  file.size_ = static_cast<uint64_t>(st.st_size);
  const uint64_t limit = max_bytes > 0 ? max_bytes : physical_memory_bytes();
  if (file.size_ > limit)
    throw_input_error(path, "", "is " + format_bytes(double(file.size_)) + ", more than " +
                                    (max_bytes > 0 ? "the " + format_bytes(double(max_bytes)) + " such a file may hold"
                                                   : "this machine's " + format_bytes(double(limit)) + " of memory"));
  return file;
}

InputFile::InputFile(InputFile&& other) noexcept : path_(std::move(other.path_)), fd_(other.fd_), size_(other.size_) {
  other.fd_ = -1;
}

InputFile::~InputFile() {
  if (fd_ >= 0) ::close(fd_);
}

void InputFile::read_range(uint64_t offset, char* out, size_t bytes) const {
  size_t done = 0;
  while (done < bytes) {
    const ssize_t got = ::pread(fd_, out + done, bytes - done, static_cast<off_t>(offset + done));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) throw_input_error(path_, "", std::string("read error: ") + std::strerror(errno));
    if (got == 0)
      throw_input_error(path_, "", "ended after " + std::to_string(offset + done) + " of " +
                                       std::to_string(offset + bytes) + " bytes (did it shrink while being read?)");
    done += static_cast<size_t>(got);
  }
}

std::string read_file(const std::string& path) {
  const InputFile file = InputFile::open(path);
  std::string out(static_cast<size_t>(file.size()), '\0');
  file.read_into(out.data(), out.size());
  return out;
}

void check_input_file(const std::string& path) { InputFile::open(path); }

namespace {

std::string read_gzip(const std::string& path) {
  check_input_file(path);
  gzFile file = gzopen(path.c_str(), "rb");
  if (!file) throw_input_error(path, "", std::string("cannot open: ") + std::strerror(errno));
  const uint64_t limit = physical_memory_bytes();
  std::string out;
  char chunk[1 << 16];
  for (;;) {
    int got = gzread(file, chunk, sizeof chunk);
    if (got < 0) {
      int code = 0;
      std::string reason = gzerror(file, &code);
      gzclose(file);
      throw_input_error(path, "", "gzip error: " + reason);
    }
    if (got == 0) break;
    if (out.size() + static_cast<size_t>(got) > limit) {
      gzclose(file);
      throw_input_error(path, "", "decompresses to more than this machine's " + format_bytes(double(limit)) +
                                      " of memory");
    }
    out.append(chunk, static_cast<size_t>(got));
  }
  gzclose(file);
  return out;
}

}  // namespace

std::vector<std::string> read_lines(const std::string& path) {
  const bool gz = path.size() > 3 && path.compare(path.size() - 3, 3, ".gz") == 0;
  return split_lines(gz ? read_gzip(path) : read_file(path));
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t begin = 0;
  while (begin < text.size()) {
    size_t end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();
    size_t stop = end;
    if (stop > begin && text[stop - 1] == '\r') --stop;
    lines.emplace_back(text, begin, stop - begin);
    begin = end + 1;
  }
  return lines;
}

void check_output_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return;  // nothing there (yet): it will be created
  if (!S_ISREG(st.st_mode))
    throw_input_error(path, "", "exists and is " + file_kind(st.st_mode) +
                                    ", not a regular file: refusing to replace it (give the path of a new or "
                                    "regular file)");
}

void write_file_atomic_with(const std::string& path, const std::function<bool(std::FILE*)>& fill) {
  check_output_file(path);
  remove_orphaned_temporaries(path);
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  std::FILE* out = std::fopen(tmp.c_str(), "wbe");  // e: O_CLOEXEC
  if (out == nullptr) throw BertError(path + ": cannot write: " + std::strerror(errno));
  errno = 0;
  bool ok = fill(out);
  int reason = errno;
  if (ok && std::fflush(out) != 0) ok = false, reason = errno;
  // On the disk before the rename: after a power loss the name holds the old contents or the
  // new, never a file whose data was not written yet (file systems without ext4's
  // rename-over heuristics). File systems that cannot sync (EINVAL) are taken as they are.
  if (ok && ::fsync(::fileno(out)) != 0 && errno != EINVAL && errno != EROFS)
    ok = false, reason = errno;
  if (std::fclose(out) != 0 && ok) ok = false, reason = errno;
  if (!ok) {
    std::remove(tmp.c_str());
    throw BertError(path + ": write failed: " + std::strerror(reason != 0 ? reason : EIO));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    std::remove(tmp.c_str());
    throw BertError(path + ": cannot rename into place: " + why);
  }
}

void write_file_atomic(const std::string& path, const std::string& data) {
  write_file_atomic_with(path, [&](std::FILE* out) {
    return data.empty() || std::fwrite(data.data(), 1, data.size(), out) == data.size();
  });
}

StagedFiles::~StagedFiles() {
  for (const auto& [tmp, final_path] : files_) std::remove(tmp.c_str());
}

std::string StagedFiles::staged_path(const std::string& final_path) {
  check_output_file(final_path);
  remove_orphaned_temporaries(final_path);
  files_.emplace_back(final_path + ".tmp." + std::to_string(::getpid()), final_path);
  return files_.back().first;
}

void StagedFiles::commit() {
  while (!files_.empty()) {
    const auto [tmp, final_path] = files_.front();
    if (std::rename(tmp.c_str(), final_path.c_str()) != 0)
      throw BertError(final_path + ": cannot rename into place: " + std::strerror(errno));
    files_.erase(files_.begin());
  }
}

bool path_exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

void make_directories(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) throw BertError(path + ": cannot create directory: " + ec.message());
}

void check_writable_directory(const std::string& dir) {
  const std::string probe = join_path(dir, ".write_test");
  try {
    write_file_atomic(probe, "");
  } catch (const BertError& error) {
    // Named by the directory the user gave, not by the probe's name.
    std::string reason = error.what();
    if (reason.rfind(probe + ": ", 0) == 0) reason = reason.substr(probe.size() + 2);
    throw_input_error(dir, "", "cannot write files into this directory (" + reason + ")");
  }
  std::remove(probe.c_str());
}

std::string join_path(const std::string& dir, const std::string& name) {
  if (dir.empty()) return name;
  if (dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

std::string environment_variable(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? "" : value;
}

size_t environment_choice(const char* name, const std::vector<std::string>& choices) {
  const std::string value = environment_variable(name);
  if (value.empty()) return 0;
  for (size_t i = 0; i < choices.size(); ++i)
    if (value == choices[i]) return i;
  const std::vector<std::string> all_but_last(choices.begin(), choices.end() - 1);
  throw InputError(std::string(name) + ": expected " + joined(all_but_last) + " or " +
                   choices.back() + ", got '" + value + "'");
}

int64_t environment_positive_count(const char* name) {
  const std::string value = environment_variable(name);
  if (value.empty()) return 0;
  int64_t number = 0;
  const char* end = value.data() + value.size();
  const auto [stop, error] = std::from_chars(value.data(), end, number);
  if (error != std::errc() || stop != end || number < 1)
    throw InputError(std::string(name) + ": expected a positive whole number, got '" + value + "'");
  return number;
}

std::string expand_user(const std::string& path) {
  if (path.empty() || path[0] != '~' || (path.size() > 1 && path[1] != '/')) return path;
  return environment_variable("HOME") + path.substr(1);
}

std::string huggingface_home() {
  if (!environment_variable("HF_HOME").empty()) return expand_user(environment_variable("HF_HOME"));
  const std::string xdg = environment_variable("XDG_CACHE_HOME");
  return join_path(expand_user(xdg.empty() ? "~/.cache" : xdg), "huggingface");
}

uint64_t physical_memory_bytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page_size = ::sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page_size <= 0) return std::numeric_limits<uint64_t>::max() / 2;
  return static_cast<uint64_t>(pages) * static_cast<uint64_t>(page_size);
}

uint64_t address_space_left() {
  constexpr uint64_t kUnlimited = std::numeric_limits<uint64_t>::max() / 2;
  struct rlimit limit;
  if (::getrlimit(RLIMIT_AS, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return kUnlimited;
  unsigned long long pages = 0;
  if (FILE* statm = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(statm, "%llu", &pages) != 1) pages = 0;
    std::fclose(statm);
  }
  const long page_size = ::sysconf(_SC_PAGESIZE);
  const uint64_t mapped = pages * static_cast<uint64_t>(page_size > 0 ? page_size : 4096);
  const uint64_t cap = static_cast<uint64_t>(limit.rlim_cur);
  return cap > mapped ? cap - mapped : 0;
}

std::string format_bytes(double bytes) {
  static const char* const kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < 1024) return std::to_string(static_cast<long long>(bytes)) + " bytes";
  int unit = -1;
  while (bytes >= 1024 && unit < 5) {
    bytes /= 1024;
    ++unit;
  }
  char text[48];
  std::snprintf(text, sizeof text, bytes < 10 ? "%.1f %s" : "%.0f %s", bytes, kUnits[unit]);
  return text;
}

}  // namespace bert
