// checksums.json: the size and CRC32C of every file of a checkpoint.
#pragma once

#include <string>
#include <vector>

namespace bert {

// {"format": "bert-squad checkpoint checksums", "version": 1,
//  "files": {"<name>": {"bytes": N, "crc32c": "<8 hex digits>"}, ...}}
// written last into every checkpoint (after trainer_state.json), and verified on resume, so a
// flipped bit or an edit of any file (one that parses and passes every range check, too) is
// refused instead of silently changing the resumed run.
// Writes <dir>/checksums.json over every regular file of dir (temporaries excluded).
void write_checkpoint_checksums(const std::string& dir);
// Verifies every file checksums.json lists (or only `names`, when given) and that every
// checkpoint file in dir is listed; InputError naming the file that differs, is missing or is
// not listed, and naming checksums.json when it is missing or damaged.
void verify_checkpoint_checksums(const std::string& dir, const std::vector<std::string>& names = {});

}  // namespace bert
