// Whole-file reads and atomic writes. Every failure names the file and the reason
// (errno text), so apps can print it on one line.
#pragma once

#include <string>
#include <vector>

namespace bert {

// Reads the whole file; throws InputError("<path>: cannot open: <reason>") when it cannot.
std::string read_file(const std::string& path);

// Reads a text file line by line; a path ending in ".gz" is decompressed with zlib.
// Trailing '\n' (and '\r') are removed; a last line without '\n' is kept.
std::vector<std::string> read_lines(const std::string& path);

// Writes data to "<path>.tmp.<pid>" then renames it over path, so a crash never leaves a
// half-written file under the final name. Throws BertError naming the path on failure.
void write_file_atomic(const std::string& path, const std::string& data);

// True when the path exists (file or directory).
bool path_exists(const std::string& path);

// Creates the directory and its parents (like mkdir -p); throws naming the path on failure.
void make_directories(const std::string& path);

// Joins two path parts with exactly one '/'.
std::string join_path(const std::string& dir, const std::string& name);

}  // namespace bert
