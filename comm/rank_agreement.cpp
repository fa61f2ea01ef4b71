// Rank agreement through fixed-size collectives. See rank_agreement.h.
#include "comm/rank_agreement.h"

#include <algorithm>
#include <csignal>
#include <cstdint>
#include <cstring>

namespace bert {
namespace {

constexpr size_t kValueBytes = 48;

// One field as rank 0 broadcasts it: a 64-bit hash of the whole value and its first bytes.
struct FieldRecord {
  uint64_t hash = 0;
  char value[kValueBytes] = {};
};

uint64_t fnv1a(const std::string& text) {
  uint64_t hash = 0xcbf29ce484222325ull;
  for (unsigned char c : text) hash = (hash ^ c) * 0x100000001b3ull;
  return hash;
}

FieldRecord make_record(const std::string& value) {
  FieldRecord record;
  record.hash = fnv1a(value);
  std::memcpy(record.value, value.data(), std::min(value.size(), kValueBytes - 1));
  return record;
}

std::string shown(const char* bytes) {
  const std::string text(bytes, strnlen(bytes, kValueBytes));
  return text.size() == kValueBytes - 1 ? text + "..." : text;
}

}  // namespace

std::string find_rank_disagreement(Communicator& comm, const std::vector<AgreementField>& fields) {
  if (comm.world_size() == 1) return "";
  // The field count first: a rank of another build would otherwise misread the records.
  uint64_t count = fields.size();
  comm.broadcast(&count, sizeof count);
  if (comm.all_reduce_sum_double(count == fields.size() ? 0.0 : 1.0) > 0)
    return "the settings compared (" + std::to_string(count) + " on rank 0, " + std::to_string(fields.size()) +
           " on some rank): the ranks run different versions of the program";

  std::vector<FieldRecord> mine(fields.size()), root(fields.size());
  for (size_t i = 0; i < fields.size(); ++i) root[i] = mine[i] = make_record(fields[i].second);
  comm.broadcast(root.data(), root.size() * sizeof(FieldRecord));
  // differs[i]: how many ranks differ from rank 0 on field i.
  std::vector<double> differs(fields.size(), 0.0);
  for (size_t i = 0; i < fields.size(); ++i) differs[i] = mine[i].hash != root[i].hash ? 1.0 : 0.0;
  comm.all_reduce_sum(differs.data(), differs.size());
  const auto first = std::find_if(differs.begin(), differs.end(), [](double n) { return n > 0; });
  if (first == differs.end()) return "";
  const size_t field = static_cast<size_t>(first - differs.begin());

  // The lowest rank that differs there, then its value (summed with zeros from every other rank).
  std::vector<double> ranks(static_cast<size_t>(comm.world_size()), 0.0);
  const bool differ_here = mine[field].hash != root[field].hash;
  if (differ_here) ranks[static_cast<size_t>(comm.rank())] = 1.0;
  comm.all_reduce_sum(ranks.data(), ranks.size());
  const int shown_rank = static_cast<int>(std::find_if(ranks.begin(), ranks.end(), [](double n) { return n > 0; }) -
                                          ranks.begin());
  std::vector<double> value(kValueBytes, 0.0);
  if (comm.rank() == shown_rank)
    for (size_t b = 0; b < kValueBytes; ++b) value[b] = static_cast<unsigned char>(mine[field].value[b]);
  comm.all_reduce_sum(value.data(), value.size());
  char other[kValueBytes] = {};
  for (size_t b = 0; b < kValueBytes; ++b) other[b] = static_cast<char>(static_cast<unsigned char>(value[b]));
  return fields[field].first + ": rank 0 has " + shown(root[field].value) + ", rank " + std::to_string(shown_rank) +
         " has " + shown(other);
}

int agree_on_stop_signal(Communicator& comm, int local_signal) {
  if (comm.world_size() == 1) return local_signal;
  double received[2] = {local_signal == SIGTERM ? 1.0 : 0.0, local_signal == SIGINT ? 1.0 : 0.0};
  comm.all_reduce_sum(received, 2);
  if (received[0] > 0) return SIGTERM;
  if (received[1] > 0) return SIGINT;
  return local_signal;
}

}  // namespace bert
