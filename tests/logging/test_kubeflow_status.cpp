// Progress reports to Kubeflow Trainer (logging/kubeflow_status.h): the request body and curl
// config, the environment that enables them, the reporter's cadence through a stand-in curl,
// and one report through the real curl to a local HTTP listener.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <simdjson.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "core/file_io.h"
#include "logging/kubeflow_status.h"
#include "logging_test_util.h"
#include "tests/test_support.h"

namespace bert {
namespace {

using test::LogTempDir;

// A stand-in for curl that keeps, for each report (report-<pid>), its arguments, the files its
// descriptors lead to, and the config it is given.
std::string fake_curl(const LogTempDir& dir) {
  const std::string path = dir.file("fake-curl");
  const std::string report = "\"" + dir.path() + "/report-$$\"";
  write_file_atomic(path, "#!/bin/sh\necho \"args: $*\" > " + report +
                              "\nfor fd in /proc/$$/fd/*; do readlink \"$fd\"; done >> " + report +
                              "\ncat >> " + report + "\n");
  chmod(path.c_str(), 0755);
  return path;
}

std::vector<std::string> reports(const LogTempDir& dir) {
  std::vector<std::string> out;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path()))
    if (entry.path().filename().string().rfind("report-", 0) == 0)
      out.push_back(read_file(entry.path().string()));
  return out;
}

// The JSON body of a curl config: its data-binary string, unescaped.
std::string body_of(const std::string& config) {
  const std::string key = "data-binary = \"";
  const size_t begin = config.find(key);
  REQUIRE(begin != std::string::npos);
  std::string body;
  for (size_t i = begin + key.size(); i < config.size() && config[i] != '"'; ++i) {
    if (config[i] == '\\') ++i;
    body += config[i];
  }
  return body;
}

TEST_CASE("the Kubeflow Trainer status body and curl config", "[logging][kubeflow]") {
  KubeflowTrainerStatus status;
  status.last_updated_time = "2026-12-07T16:40:05.123456+00:00";
  status.progress_percentage = 150;  // clamped, as KubeflowCallback clamps it
  status.estimated_remaining_seconds = -3;
  status.metrics = {{"loss", "0.25"}, {"na\"me", "1"}};
  const std::string body = kubeflow_status_json(status);
  CHECK(
      body ==
      "{\"trainerStatus\": {\"lastUpdatedTime\": \"2026-12-07T16:40:05.123456+00:00\", "
      "\"progressPercentage\": 100, "
      "\"estimatedRemainingSeconds\": 0, \"metrics\": [{\"name\": \"loss\", \"value\": \"0.25\"}, "
      "{\"name\": \"na\\\"me\", \"value\": \"1\"}]}}");
  simdjson::dom::parser parser;
  CHECK(parser.parse(body).error() == simdjson::SUCCESS);
  KubeflowTrainerStatus bare;
  bare.last_updated_time = "t";
  CHECK(kubeflow_status_json(bare) == "{\"trainerStatus\": {\"lastUpdatedTime\": \"t\"}}");

  const std::string config = kubeflow_curl_config(
      {"https://trainer.kubeflow:8082/status", "/ca.crt", "/token"}, "tok\"en", body);
  CHECK_THAT(config, Catch::Contains("url = \"https://trainer.kubeflow:8082/status\"\n") &&
                         Catch::Contains("header = \"Authorization: Bearer tok\\\"en\"\n") &&
                         Catch::Contains("cacert = \"/ca.crt\"\n") &&
                         Catch::Contains("request = \"POST\"\n"));
  CHECK(body_of(config) == body);
  CHECK_THAT(kubeflow_curl_config({"u", "", "t"}, "x", "{}"), !Catch::Contains("cacert"));
  CHECK_THAT(config, Catch::Contains("\ngloboff\n"));  // a URL's {} and [] are not patterns

  // Values as Python's str() writes numbers.
  CHECK(python_number_text(1.0) == "1.0");
  CHECK(python_number_text(3e-05) == "3e-05");
  CHECK(python_number_text(MetricValue::count(42)) == "42");
  CHECK(python_number_text(std::numeric_limits<double>::quiet_NaN()) == "nan");
  CHECK(python_number_text(-std::numeric_limits<double>::infinity()) == "-inf");
  // round(x, 2) and int(step / total * 100) as Python computes them.
  CHECK(python_number_text(python_round(0.125, 2)) == "0.12");
  CHECK(python_number_text(python_round(2.675, 2)) == "2.67");
  CHECK(python_number_text(python_round(17.125, 2)) == "17.12");
  CHECK(python_number_text(python_round(0.5, 2)) == "0.5");
  CHECK(python_number_text(python_round(2.0 / 3.0, 2)) == "0.67");
  CHECK(kubeflow_step_percentage(29, 100) == 28);
  CHECK(kubeflow_step_percentage(57, 100) == 56);
  CHECK(kubeflow_step_percentage(1, 3) == 33);
  CHECK(kubeflow_step_percentage(100, 100) == 99);
}

TEST_CASE("Kubeflow reporting is on where the TrainJob's environment asks for it",
          "[logging][kubeflow]") {
  const test::ScopedEnv url("KUBEFLOW_TRAINER_SERVER_URL", "https://x/status");
  const test::ScopedEnv ca("KUBEFLOW_TRAINER_SERVER_CA_CERT", "/ca.crt");
  const test::ScopedEnv token("KUBEFLOW_TRAINER_SERVER_TOKEN", "/token");
  {
    const test::ScopedEnv enabled("DISABLE_KUBEFLOW_INTEGRATION", "false");
    const auto endpoint = kubeflow_endpoint_from_env();
    REQUIRE(endpoint.has_value());
    CHECK(endpoint->url == "https://x/status");
    CHECK(endpoint->ca_cert == "/ca.crt");
    CHECK(endpoint->token_file == "/token");
  }
  {
    const test::ScopedEnv disabled("DISABLE_KUBEFLOW_INTEGRATION", "True");
    CHECK_FALSE(kubeflow_endpoint_from_env().has_value());
  }
  const test::ScopedEnv no_url("KUBEFLOW_TRAINER_SERVER_URL", nullptr);
  CHECK_FALSE(kubeflow_endpoint_from_env().has_value());
}

TEST_CASE("the reporter sends the start and the end, and steps at most every 5 s",
          "[logging][kubeflow]") {
  LogTempDir dir;
  write_file_atomic(dir.file("token"), "secret-token\n");
  // A descriptor this process opened without close-on-exec (as a library might): not curl's.
  std::FILE* leak = std::fopen(dir.file("leak.txt").c_str(), "a");
  REQUIRE(leak != nullptr);
  {
    KubeflowStatusReporter reporter({"https://x/status", "", dir.file("token")}, fake_curl(dir));
    reporter.on_train_begin(10);
    reporter.on_log({{"loss", 2.5}, {"learning_rate", 5e-05}, {"epoch", 0.5}});
    reporter.on_step_end(5, 10, 0.5, 12.0);  // within 5 s of the start: not sent
    reporter.on_log({{"loss", 1.25}, {"train_runtime", 3.0}});
    reporter.on_train_end();
  }  // waits for the last report
  std::fclose(leak);
  std::vector<std::string> sent = reports(dir);
  REQUIRE(sent.size() == 2);
  for (const std::string& config : sent) {
    CHECK(config.rfind("args: -q --config -\n", 0) == 0);  // -q first: no ~/.curlrc
    CHECK_THAT(config, Catch::Contains("Authorization: Bearer secret-token\"") &&
                           !Catch::Contains("leak.txt"));
  }
  std::sort(sent.begin(), sent.end(), [](const std::string& a, const std::string& b) {
    return a.find("\\\"progressPercentage\\\": 0") != std::string::npos &&
           b.find("\\\"progressPercentage\\\": 0") == std::string::npos;
  });
  const std::string begin = body_of(sent[0]), end = body_of(sent[1]);
  CHECK_THAT(begin,
             Catch::Contains("\"progressPercentage\": 0, \"metrics\": [{\"name\": \"total_steps\", "
                             "\"value\": \"10\"}]"));
  CHECK_THAT(end,
             Catch::Contains(
                 "\"progressPercentage\": 100, \"estimatedRemainingSeconds\": 0, \"metrics\": "
                 "[{\"name\": \"loss\", \"value\": \"1.25\"}, {\"name\": \"learning_rate\", "
                 "\"value\": \"5e-05\"}, {\"name\": \"epoch\", \"value\": \"0.5\"}, {\"name\": "
                 "\"train_runtime\", \"value\": \"3.0\"}]"));

  // No token file: nothing is sent (as KubeflowCallback), and training is not disturbed.
  LogTempDir quiet;
  {
    KubeflowStatusReporter reporter({"https://x/status", "", quiet.file("missing-token")},
                                    fake_curl(quiet));
    reporter.on_train_begin(10);
    reporter.on_train_end();
  }
  CHECK(reports(quiet).empty());
  // No curl: said once, nothing else happens.
  {
    KubeflowStatusReporter reporter({"https://x/status", "", dir.file("token")},
                                    dir.file("no-such-curl"));
    reporter.on_train_begin(10);
    reporter.on_train_end();
  }
}

// A one-request HTTP listener on 127.0.0.1: returns what it received, answers 200.
class OneRequestServer {
 public:
  OneRequestServer() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(listen(fd_, 1) == 0);
    socklen_t length = sizeof address;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~OneRequestServer() {
    if (thread_.joinable()) thread_.join();
    close(fd_);
  }
  int port() const { return port_; }
  std::string received() {
    thread_.join();
    return request_;
  }

 private:
  void serve() {
    pollfd waiting{fd_, POLLIN, 0};
    if (poll(&waiting, 1, 20000) != 1) return;  // no request in 20 s: the test fails, not hangs
    const int client = accept(fd_, nullptr, nullptr);
    if (client < 0) return;
    char buffer[4096];
    for (;;) {  // headers, then Content-Length bytes of body
      const ssize_t n = recv(client, buffer, sizeof buffer, 0);
      if (n <= 0) break;
      request_.append(buffer, static_cast<size_t>(n));
      const size_t headers_end = request_.find("\r\n\r\n");
      const size_t length_at = request_.find("Content-Length: ");
      if (headers_end != std::string::npos && length_at != std::string::npos &&
          request_.size() >= headers_end + 4 + std::stoul(request_.substr(length_at + 16)))
        break;
    }
    const std::string reply = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    send(client, reply.data(), reply.size(), MSG_NOSIGNAL);
    close(client);
  }
  int fd_ = -1, port_ = 0;
  std::thread thread_;
  std::string request_;
};

TEST_CASE("the real curl POSTs the report with the token", "[logging][kubeflow]") {
  LogTempDir dir;
  write_file_atomic(dir.file("token"), "secret-token");
  OneRequestServer server;
  {
    KubeflowStatusReporter reporter({"http://127.0.0.1:" + std::to_string(server.port()) +
                                         "/apis/trainer.kubeflow.org/v1alpha1/status",
                                     "", dir.file("token")});
    reporter.on_train_begin(7);
  }
  const std::string request = server.received();
  INFO(request);
  CHECK(request.rfind("POST /apis/trainer.kubeflow.org/v1alpha1/status HTTP/1.1\r\n", 0) == 0);
  CHECK_THAT(
      request,
      Catch::Contains("Authorization: Bearer secret-token\r\n") &&
          Catch::Contains("Content-Type: application/json\r\n") &&
          Catch::Contains("\"progressPercentage\": 0, \"metrics\": [{\"name\": \"total_steps\", "
                          "\"value\": \"7\"}]}}"));
}

}  // namespace
}  // namespace bert
