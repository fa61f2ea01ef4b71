// Training progress reported to Kubeflow Trainer, as transformers 5.25's KubeflowCallback
// reports it: inside a TrainJob whose runtime status is enabled (the TrainJobRuntimeStatus
// feature), the controller gives each pod KUBEFLOW_TRAINER_SERVER_URL (an HTTPS endpoint),
// KUBEFLOW_TRAINER_SERVER_CA_CERT (the CA file that verifies it) and KUBEFLOW_TRAINER_SERVER_TOKEN
// (a service-account token file, sent as a Bearer token), and rank 0 POSTs
//   {"trainerStatus": {"lastUpdatedTime": "<ISO 8601, UTC>", "progressPercentage": 0-100,
//    "estimatedRemainingSeconds": N, "metrics": [{"name": "loss", "value": "0.25"}, ...]}}
// at the start (0%, total_steps), after steps (at most every 5 s; capped at 99% until the end)
// and at the end of training (100%, forced), so that `kubectl get trainjob` shows its progress.
// The metrics are the latest value of every number logged so far (loss, learning_rate,
// grad_norm, eval_f1, ...) with current_step, total_steps and current_epoch, each value as
// Python's str() writes it. DISABLE_KUBEFLOW_INTEGRATION=TRUE turns it off, as in transformers.
//
// The request is made by the curl program (no TLS library is linked into the engine): started
// in the background with its settings on its standard input (so the token never shows on a
// command line), at most one at a time and each bounded by 5 s. As in transformers, a failed
// report is dropped without a word and never stops training; a missing curl is said once.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "logging/metrics_log.h"

namespace bert {

struct KubeflowEndpoint {
  std::string url;         // KUBEFLOW_TRAINER_SERVER_URL
  std::string ca_cert;     // KUBEFLOW_TRAINER_SERVER_CA_CERT (may be empty: the system's CAs)
  std::string token_file;  // KUBEFLOW_TRAINER_SERVER_TOKEN
};

// The endpoint the environment names, or none (no URL, or DISABLE_KUBEFLOW_INTEGRATION=TRUE in
// any case): transformers' is_kubeflow_available.
std::optional<KubeflowEndpoint> kubeflow_endpoint_from_env();

struct KubeflowTrainerStatus {
  std::string last_updated_time;  // ISO 8601 in UTC, as datetime.now(UTC).isoformat() writes it
  std::optional<int> progress_percentage;
  std::optional<int64_t> estimated_remaining_seconds;
  std::vector<std::pair<std::string, std::string>> metrics;  // name, value as a string
};
// The request body: {"trainerStatus": {...}} with the fields that are set.
std::string kubeflow_status_json(const KubeflowTrainerStatus& status);
// The curl config (curl -K -) that POSTs `body` to the endpoint with the token.
std::string kubeflow_curl_config(const KubeflowEndpoint& endpoint, const std::string& token,
                                 const std::string& body);
// A value as Python's str() writes a number: repr of a float (1.0, 3e-05, nan, inf), an int as
// an integer.
std::string python_number_text(const MetricValue& value);
// Python's round(value, digits) (exact value, nearest; 0.125 -> 0.12, 2.675 -> 2.67).
double python_round(double value, int digits);
// The progress after `step` of `total_steps` as KubeflowCallback.on_step_end reports it.
int kubeflow_step_percentage(int64_t step, int64_t total_steps);

class KubeflowStatusReporter {
 public:
  // `curl`: the program to run (found on PATH when it has no '/').
  explicit KubeflowStatusReporter(KubeflowEndpoint endpoint, std::string curl = "curl");
  ~KubeflowStatusReporter();  // waits (at most curl's 5 s) for the last report
  KubeflowStatusReporter(const KubeflowStatusReporter&) = delete;
  KubeflowStatusReporter& operator=(const KubeflowStatusReporter&) = delete;

  void on_train_begin(int64_t total_steps);
  void on_log(const MetricValues& values);  // every logged dict: its numbers are kept
  // After a step: progress and, from this run's pace, the seconds left.
  void on_step_end(int64_t step, int64_t total_steps, double epoch, double eta_seconds);
  void on_train_end();

 private:
  // Starts curl unless a report went less than 5 s ago (or one is still running), unless forced:
  // then it waits for the one running first.
  void send(const KubeflowTrainerStatus& status, bool force);
  bool previous_finished(bool wait);

  KubeflowEndpoint endpoint_;
  std::string curl_;
  bool started_ = false;
  bool curl_missing_said_ = false;
  double last_send_ = -1e300;  // steady-clock seconds
  pid_t running_ = -1;
  std::map<std::string, std::string> logged_;  // name -> latest value
  std::vector<std::string> logged_order_;      // the names in the order first logged
};

}  // namespace bert
