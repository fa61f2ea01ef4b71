#include "logging/kubeflow_status.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/json_text.h"

extern char** environ;

namespace bert {
namespace {

constexpr double kMinSecondsBetweenReports = 5.0;  // KubeflowCallback._MIN_UPDATE_INTERVAL
constexpr int kRequestSeconds = 5;                 // its urlopen timeout

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// datetime.now(UTC).isoformat(): 2026-12-07T16:40:05.123456+00:00 (no fraction at 0 µs).
std::string utc_now_iso8601() {
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  std::tm utc{};
  gmtime_r(&now.tv_sec, &utc);
  char text[64];
  const size_t n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  std::string out(text, n);
  const long micros = now.tv_nsec / 1000;
  if (micros != 0) {
    std::snprintf(text, sizeof text, ".%06ld", micros);
    out += text;
  }
  return out + "+00:00";
}

// A string in curl's config syntax: double-quoted, with \ and " escaped (and line breaks, which
// a token file may end with, written as escapes).
std::string curl_quote(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string read_token(const std::string& path) {
  if (path.empty()) return "";
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  std::ostringstream text;
  text << in.rdbuf();
  std::string token = text.str();
  // Python's str.strip(): white space at both ends.
  const auto space = [](char c) {
    return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\v' || c == '\f';
  };
  while (!token.empty() && space(token.back())) token.pop_back();
  size_t first = 0;
  while (first < token.size() && space(token[first])) ++first;
  return token.substr(first);
}

}  // namespace

std::optional<KubeflowEndpoint> kubeflow_endpoint_from_env() {
  if (const char* disable = std::getenv("DISABLE_KUBEFLOW_INTEGRATION")) {
    std::string upper = disable;
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (upper == "TRUE") return std::nullopt;
  }
  const char* url = std::getenv("KUBEFLOW_TRAINER_SERVER_URL");
  if (url == nullptr) return std::nullopt;
  const char* ca = std::getenv("KUBEFLOW_TRAINER_SERVER_CA_CERT");
  const char* token = std::getenv("KUBEFLOW_TRAINER_SERVER_TOKEN");
  return KubeflowEndpoint{url, ca != nullptr ? ca : "", token != nullptr ? token : ""};
}

std::string python_number_text(const MetricValue& value) {
  if (value.is_count) return std::to_string(value.count_value);
  if (std::isnan(value.number)) return "nan";
  if (std::isinf(value.number)) return value.number > 0 ? "inf" : "-inf";
  return format_json_number(value.number);  // repr(float): shortest round-trip digits
}

double python_round(double value, int digits) {
  // Python rounds the double's exact value to the nearest decimal of `digits` places, as printf's
  // %.*f does (glibc rounds exactly); std::round(value * 100) / 100 rounds 0.125 up and 2.675 up.
  if (!std::isfinite(value)) return value;
  char text[512];
  std::snprintf(text, sizeof text, "%.*f", digits, value);
  return std::strtod(text, nullptr);
}

int kubeflow_step_percentage(int64_t step, int64_t total_steps) {
  // int((step / max_steps) * 100) in floating point, as KubeflowCallback computes it (29/100
  // gives 28), and 99 at most until training has ended.
  const double percent = static_cast<double>(step) / static_cast<double>(total_steps) * 100.0;
  return static_cast<int>(std::clamp(percent, 0.0, 99.0));
}

std::string kubeflow_status_json(const KubeflowTrainerStatus& status) {
  std::string out =
      "{\"trainerStatus\": {\"lastUpdatedTime\": " + json_quote(status.last_updated_time);
  if (status.progress_percentage)
    out += ", \"progressPercentage\": " +
           std::to_string(std::clamp(*status.progress_percentage, 0, 100));
  if (status.estimated_remaining_seconds)
    out += ", \"estimatedRemainingSeconds\": " +
           std::to_string(std::max<int64_t>(0, *status.estimated_remaining_seconds));
  if (!status.metrics.empty()) {
    out += ", \"metrics\": [";
    for (size_t i = 0; i < status.metrics.size(); ++i)
      out += std::string(i ? ", " : "") + "{\"name\": " + json_quote(status.metrics[i].first) +
             ", \"value\": " + json_quote(status.metrics[i].second) + "}";
    out += "]";
  }
  return out + "}}";
}

std::string kubeflow_curl_config(const KubeflowEndpoint& endpoint, const std::string& token,
                                 const std::string& body) {
  std::string config = "url = " + curl_quote(endpoint.url) + "\n";
  config += "request = \"POST\"\n";
  config += "header = " + curl_quote("Authorization: Bearer " + token) + "\n";
  config += "header = \"Content-Type: application/json\"\n";
  config += "data-binary = " + curl_quote(body) + "\n";
  if (!endpoint.ca_cert.empty()) config += "cacert = " + curl_quote(endpoint.ca_cert) + "\n";
  config += "max-time = " + std::to_string(kRequestSeconds) + "\n";
  // The URL as it is: no {a,b} or [1-3] expansion (urllib has none).
  config += "globoff\nsilent\noutput = \"/dev/null\"\n";
  return config;
}

KubeflowStatusReporter::KubeflowStatusReporter(KubeflowEndpoint endpoint, std::string curl)
    : endpoint_(std::move(endpoint)), curl_(std::move(curl)) {}

KubeflowStatusReporter::~KubeflowStatusReporter() { previous_finished(/*wait=*/true); }

bool KubeflowStatusReporter::previous_finished(bool wait) {
  if (running_ < 0) return true;
  int status = 0;
  // curl's max-time bounds the wait; a curl that outlives it by far is killed.
  const double deadline = now_seconds() + kRequestSeconds + 2;
  for (;;) {
    const pid_t done = waitpid(running_, &status, WNOHANG);
    if (done == running_ || (done < 0 && errno != EINTR)) {
      running_ = -1;
      return true;
    }
    if (!wait) return false;
    if (now_seconds() > deadline) {
      kill(running_, SIGKILL);
      waitpid(running_, &status, 0);
      running_ = -1;
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void KubeflowStatusReporter::send(const KubeflowTrainerStatus& status, bool force) {
  const double now = now_seconds();
  if (!force && now - last_send_ < kMinSecondsBetweenReports) return;
  if (!previous_finished(/*wait=*/force)) return;  // the previous report is still on its way
  last_send_ = now;
  const std::string token = read_token(endpoint_.token_file);
  if (token.empty()) return;  // as KubeflowCallback: no token, no report
  const std::string config = kubeflow_curl_config(endpoint_, token, kubeflow_status_json(status));

  // A socket pair rather than a pipe: send() with MSG_NOSIGNAL turns a curl that died early
  // into EPIPE, without touching the process's SIGPIPE disposition (other threads run).
  int input[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, input) != 0) return;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, input[0], STDIN_FILENO);  // both ends close on exec
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
  // Nothing else of this process's (its logs, MPI's sockets) goes to curl.
  posix_spawn_file_actions_addclosefrom_np(&actions, STDERR_FILENO + 1);
#endif
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  // -q first: no ~/.curlrc, whose settings (insecure, a proxy) are not this request's.
  const char* argv[] = {curl_.c_str(), "-q", "--config", "-", nullptr};
  pid_t pid = -1;
  const int error =
      posix_spawnp(&pid, curl_.c_str(), &actions, nullptr, const_cast<char* const*>(argv), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(input[0]);
  if (error != 0) {
    close(input[1]);
    if (!curl_missing_said_)
      std::fprintf(stderr,
                   "[report_to] kubeflow: cannot run %s (%s): progress is not reported to Kubeflow "
                   "Trainer\n",
                   curl_.c_str(), std::strerror(error));
    curl_missing_said_ = true;
    return;
  }
  running_ = pid;
  // The config is a few kB, well within the socket's buffer: written at once, and a curl that
  // died early only loses this report.
  size_t written = 0;
  while (written < config.size()) {
    const ssize_t n =
        ::send(input[1], config.data() + written, config.size() - written, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    written += static_cast<size_t>(n);
  }
  close(input[1]);
}

void KubeflowStatusReporter::on_train_begin(int64_t total_steps) {
  started_ = true;
  logged_.clear();
  logged_order_.clear();
  KubeflowTrainerStatus status;
  status.last_updated_time = utc_now_iso8601();
  status.progress_percentage = 0;
  if (total_steps > 0) status.metrics.emplace_back("total_steps", std::to_string(total_steps));
  send(status, /*force=*/true);
}

void KubeflowStatusReporter::on_log(const MetricValues& values) {
  if (!started_) return;
  for (const auto& [name, value] : values) {
    if (logged_.find(name) == logged_.end()) logged_order_.push_back(name);
    logged_[name] = python_number_text(value);
  }
}

void KubeflowStatusReporter::on_step_end(int64_t step, int64_t total_steps, double epoch,
                                         double eta_seconds) {
  if (!started_ || total_steps <= 0) return;
  if (now_seconds() - last_send_ < kMinSecondsBetweenReports) return;  // before building anything
  KubeflowTrainerStatus status;
  status.last_updated_time = utc_now_iso8601();
  // 100% only once training has ended (on_train_end).
  status.progress_percentage = kubeflow_step_percentage(step, total_steps);
  if (std::isfinite(eta_seconds))  // clamped first: a cast past int64's range is undefined
    status.estimated_remaining_seconds = static_cast<int64_t>(std::clamp(eta_seconds, 0.0, 1e15));
  for (const std::string& name : logged_order_) status.metrics.emplace_back(name, logged_[name]);
  status.metrics.emplace_back("current_step", std::to_string(step));
  status.metrics.emplace_back("total_steps", std::to_string(total_steps));
  status.metrics.emplace_back("current_epoch", python_number_text(python_round(epoch, 2)));
  send(status, /*force=*/false);
}

void KubeflowStatusReporter::on_train_end() {
  if (!started_) return;
  KubeflowTrainerStatus status;
  status.last_updated_time = utc_now_iso8601();
  status.progress_percentage = 100;
  status.estimated_remaining_seconds = 0;
  for (const std::string& name : logged_order_) status.metrics.emplace_back(name, logged_[name]);
  send(status, /*force=*/true);
}

}  // namespace bert
