// Temporaries named after the process that writes them ("<file>.tmp.<pid>" of
// write_file_atomic and StagedFiles, "<dir>.tmp-<pid>" checkpoint directories) and whether
// that process still runs, so that what a killed process left can be told from what a live
// one is writing.
#pragma once

#include <string>

namespace bert {

// The pid in "<anything><marker><digits>" (marker ".tmp." for files, ".tmp-" for
// directories), or -1 when the name does not end so.
long temporary_owner(const std::string& name, const std::string& marker);
// The pid that `digits` spells (1 to 9 decimal digits, as a pid is written), or -1.
long pid_of(const std::string& digits);

// A process that exists and has not ended: a zombie (killed, not yet reaped by its parent, as
// an orphaned rank of a killed mpirun may stay for a while) has ended.
bool process_alive(long pid);

// Removes the "<path>.tmp.<pid>" files beside path whose process has ended (also a staged file's
// "<path>.tmp.<pid>.tmp.<pid>", by its last pid): a writer killed between writing its temporary
// and renaming it (SIGKILL, the OOM killer) leaves one, and the next write of the same path
// clears it. This process's own pid and live processes' are kept. "Ended" is judged in this
// machine's process table (this pid namespace): an output directory shared with writers on
// other hosts or in other containers (NFS, a shared volume) must not be written by two at once,
// as for any output. Best effort: a temporary that cannot be removed stays. Returns how many
// were removed.
int remove_orphaned_temporaries(const std::string& path);

}  // namespace bert
