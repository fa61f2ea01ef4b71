// Checks that every rank of a data-parallel job runs the same job: before step 1, each rank
// lists what shapes the training (flags, config.json fields, vocabulary, data fingerprint) as
// named text values, and the ranks compare them through the communicator with fixed-size
// messages (so a difference can never make a collective mismatch in size, as a different
// vocab_size would in the parameter broadcast). Every rank gets the same verdict: the first
// field (in list order) on which some rank differs from rank 0, with both values, so every
// rank stops with the same line instead of training replicas that silently diverge.
//
// Also: the exit status of a run stopped by a signal that reached only some ranks.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "comm/communicator.h"
#include "core/error.h"

namespace bert {

// One named value; the names (and their order) must be the same on every rank.
using AgreementField = std::pair<std::string, std::string>;

// "" when every rank has rank 0's values (also for world size 1); otherwise, identical on every
// rank, "<name>: rank 0 has <value>, rank R has <value>" for the first differing field and the
// lowest rank R that differs there (values cut to 48 bytes). Collective: every rank calls it.
std::string find_rank_disagreement(Communicator& comm, const std::vector<AgreementField>& fields);

// Thrown alike on every rank when find_rank_disagreement finds a difference in files or data
// (the apps report a flag difference as a bad command line instead).
class RanksDisagree : public InputError {
 public:
  using InputError::InputError;
};

// The signal every rank reports after a stop that the ranks agreed on (any_rank): SIGTERM when
// any rank received one, else SIGINT when any did, else the local signal (0 when none). So
// every rank exits alike, whichever rank the signal reached. Collective.
int agree_on_stop_signal(Communicator& comm, int local_signal);

}  // namespace bert
