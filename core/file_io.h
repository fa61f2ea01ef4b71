// Whole-file reads and atomic writes. Every failure names the file and the reason
// (errno text), so apps can print it on one line.
//
// Inputs must be regular files (symbolic links are followed): a directory, a FIFO, a device
// or a socket is refused at once with a message saying what the path is, so an input can
// never block on a FIFO without a writer, grow without limit (/dev/zero) or report a
// nonsense size (a directory). A file larger than this machine's memory is refused before
// a buffer for it is requested.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace bert {

// An input file opened for reading: a regular file, with its size.
class InputFile {
 public:
  // Opens path (never blocking, even on a FIFO) and checks it: InputError naming the path
  // when it cannot be opened ("cannot open: <reason>", saying when a symbolic link dangles or
  // loops), is not a regular file ("is a directory, expected a regular file", ...) or holds
  // more than max_bytes (default: the machine's physical memory).
  static InputFile open(const std::string& path, uint64_t max_bytes = 0);
  InputFile(InputFile&& other) noexcept;
  InputFile& operator=(InputFile&& other) = delete;
  InputFile(const InputFile&) = delete;
  ~InputFile();

  uint64_t size() const { return size_; }
  int descriptor() const { return fd_; }  // owned: closed by the destructor
  // Reads exactly `bytes` bytes (<= size()) from the start into out; InputError naming the
  // file on a read error or when the file shrank meanwhile.
  void read_into(char* out, size_t bytes) const { read_range(0, out, bytes); }
  // The same from byte `offset` on (files read in pieces, e.g. to checksum them).
  void read_range(uint64_t offset, char* out, size_t bytes) const;

 private:
  InputFile(std::string path, int fd, uint64_t size) : path_(std::move(path)), fd_(fd), size_(size) {}
  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

// Reads the whole file (InputFile's checks); throws InputError("<path>: cannot open: <reason>")
// when it cannot.
std::string read_file(const std::string& path);

// InputFile's checks alone, for files a library opens itself (SentencePiece models).
void check_input_file(const std::string& path);

// Reads a text file line by line; a path ending in ".gz" is decompressed with zlib (the
// decompressed text is bounded by the machine's memory). Trailing '\n' (and '\r') are
// removed; a last line without '\n' is kept.
std::vector<std::string> read_lines(const std::string& path);
// The same lines of a text already in memory.
std::vector<std::string> split_lines(const std::string& text);

// Writes data to "<path>.tmp.<pid>", syncs it to the disk, then renames it over path, so a
// crash or a power loss never leaves a half-written file under the final name. Throws BertError
// naming the path on failure (the temporary is removed), and before writing anything when path
// exists and is not a regular file (check_output_file). The temporaries of the same path that
// killed writers left are removed first (remove_orphaned_temporaries).
void write_file_atomic(const std::string& path, const std::string& data);
// The same for a file written piece by piece: `fill` writes the temporary (a FILE* opened for
// binary writing) and returns false on a failed write (errno then says why).
void write_file_atomic_with(const std::string& path, const std::function<bool(std::FILE*)>& fill);

// Several files that must appear together or not at all (a model directory): each is written
// to "<path>.tmp.<pid>" (staged_path) and commit() renames them all into place, in the order
// they were staged; files staged but not committed are removed by the destructor, so a
// failed write (disk full, ulimit -f) leaves none of them under its final name. Staging a path
// removes the temporaries of it that killed writers left, as write_file_atomic does.
class StagedFiles {
 public:
  StagedFiles() = default;
  StagedFiles(const StagedFiles&) = delete;
  StagedFiles& operator=(const StagedFiles&) = delete;
  ~StagedFiles();
  // Checks final_path (check_output_file) and returns the temporary path to write it to.
  std::string staged_path(const std::string& final_path);
  // Renames every staged file over its final path; BertError naming the file on failure.
  void commit();

 private:
  std::vector<std::pair<std::string, std::string>> files_;  // (temporary, final)
};

// Refuses (InputError naming the path) an output path where something other than a regular
// file exists (a directory, a device such as /dev/null, a FIFO, a socket): renaming a new
// file over it would replace it, or fail after all the work.
void check_output_file(const std::string& path);

// True when anything is at the path: a file, a directory, also a symbolic link whose target
// is missing or loops (reading it then fails naming it, instead of the path being taken as
// absent).
bool path_exists(const std::string& path);

// Creates the directory and its parents (like mkdir -p); throws naming the path on failure.
void make_directories(const std::string& path);
// Writes and removes <dir>/.write_test: a directory that cannot take the outputs fails before
// the work that makes them, naming the path.
void check_writable_directory(const std::string& dir);

// Joins two path parts with exactly one '/'.
std::string join_path(const std::string& dir, const std::string& name);

// $name, or "" when it is unset.
std::string environment_variable(const char* name);

// Where $name's value stands among `choices`: unset or "" gives 0 (the first choice is the
// default); any other value is an InputError naming the variable, the choices and the value.
size_t environment_choice(const char* name, const std::vector<std::string>& choices);

// $name as a positive whole number: unset or "" gives 0; anything but the digits of a number
// from 1 to 2^63 - 1 is an InputError naming the variable and the value.
int64_t environment_positive_count(const char* name);

// A leading "~" (alone, or before '/') as $HOME, as Python's os.path.expanduser does.
std::string expand_user(const std::string& path);

// The Hugging Face cache home, as huggingface_hub and datasets both find it: $HF_HOME, else
// $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface ("~" expanded). The Hub cache
// (io/hub_cache.h) and the datasets cache (data/hf_datasets_cache.h) lie below it.
std::string huggingface_home();

// Physical memory of this machine in bytes (sysconf); a large value when it cannot be told.
uint64_t physical_memory_bytes();

// Address space this process may still map under its RLIMIT_AS (`ulimit -v`): the soft limit
// less the size mapped now (/proc/self/statm); a large value when there is no limit.
uint64_t address_space_left();

// "1.5 GiB", "512 MiB", "96 KiB", "12 bytes": sizes in messages.
std::string format_bytes(double bytes);

}  // namespace bert
