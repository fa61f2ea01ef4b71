// Progress display: the formatting functions exactly, and the reporter's output policy
// (terminal redraw throttling, plain lines only when forced) through a temporary file.
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <utility>

#include "core/error.h"
#include "logging/progress.h"
#include "tests/test_support.h"

namespace bert {
namespace {

// Everything written to file so far.
std::string contents(std::FILE* file) {
  std::fflush(file);
  std::rewind(file);
  std::string text;
  char buffer[4096];
  size_t got = 0;
  while ((got = std::fread(buffer, 1, sizeof buffer, file)) > 0) text.append(buffer, got);
  return text;
}

// text without trailing blanks (the padding that erases a longer previous bar).
std::string trim_blanks(std::string text) {
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

size_t count(const std::string& text, char c) {
  size_t n = 0;
  for (char x : text) n += x == c;
  return n;
}

TEST_CASE("format_duration writes h:mm:ss", "[logging][progress]") {
  CHECK(format_duration(0) == "0:00:00");
  CHECK(format_duration(59.4) == "0:00:59");
  CHECK(format_duration(59.6) == "0:01:00");
  CHECK(format_duration(61) == "0:01:01");
  CHECK(format_duration(3599) == "0:59:59");
  CHECK(format_duration(3600) == "1:00:00");
  CHECK(format_duration(100000) == "27:46:40");  // hours are not wrapped into days
  CHECK(format_duration(-1) == "?:??:??");
  CHECK(format_duration(std::nan("")) == "?:??:??");
  CHECK(format_duration(HUGE_VAL) == "?:??:??");
}

TEST_CASE("format_progress_bar fills in proportion and clamps", "[logging][progress]") {
  CHECK(format_progress_bar(0, 10, 10) == "[----------]");
  CHECK(format_progress_bar(5, 10, 10) == "[#####-----]");
  CHECK(format_progress_bar(9, 10, 4) == "[###-]");
  CHECK(format_progress_bar(10, 10, 4) == "[####]");
  CHECK(format_progress_bar(15, 10, 4) == "[####]");
  CHECK(format_progress_bar(-3, 10, 4) == "[----]");
  CHECK(format_progress_bar(3, 0, 4) == "[----]");
}

TEST_CASE("format_progress_line, with and without the bar", "[logging][progress]") {
  const ProgressStats stats{120, 1.23456, 2.97e-05, 85.34, 754.0, "epoch 0.05"};
  CHECK(format_progress_line(stats, 5000, false) ==
        "step 120/5000 (2.4%) | loss 1.2346 | lr 2.97e-05 | 85.3 win/s | ETA 0:12:34 | epoch 0.05");
  CHECK(format_progress_line(stats, 5000, true) ==
        "step 120/5000 [------------------------------]   2.4% | loss 1.2346 | lr 2.97e-05 | "
        "85.3 win/s | ETA 0:12:34 | epoch 0.05");
  ProgressStats no_extra = stats;
  no_extra.extra.clear();
  CHECK_THAT(format_progress_line(no_extra, 5000, false), Catch::EndsWith("ETA 0:12:34"));
}

TEST_CASE("not a terminal: lines only when forced, the last state at finish", "[logging][progress]") {
  std::FILE* file = std::tmpfile();
  REQUIRE(file);
  {
    ProgressReporter progress(100, /*is_terminal=*/false, file);
    progress.update(1, 2.0, 1e-5, 10.0, 99.0);
    CHECK(contents(file).empty());
    progress.update(10, 1.5, 1e-5, 10.0, 90.0, "", /*force_line=*/true);
    std::fseek(file, 0, SEEK_END);
    progress.update(11, 1.4, 1e-5, 10.0, 89.0);
    progress.finish();
    progress.finish();  // twice is harmless
  }
  const std::string text = contents(file);
  std::fclose(file);
  CHECK(text ==
        "step 10/100 (10.0%) | loss 1.5000 | lr 1e-05 | 10.0 win/s | ETA 0:01:30\n"
        "step 11/100 (11.0%) | loss 1.4000 | lr 1e-05 | 10.0 win/s | ETA 0:01:29\n");
}

TEST_CASE("not a terminal: with a line interval, also a line once that much time has passed",
          "[logging][progress]") {
  std::FILE* file = std::tmpfile();
  REQUIRE(file);
  {
    ProgressReporter progress(100, /*is_terminal=*/false, file);
    progress.set_line_interval(3600.0);  // not due within this test
    progress.update(1, 2.0, 1e-5, 10.0, 99.0);
    CHECK(contents(file).empty());
    progress.set_line_interval(0.0);  // due at every update
    progress.update(2, 1.9, 1e-5, 10.0, 98.0);
    progress.update(3, 1.8, 1e-5, 10.0, 97.0);
    progress.finish();  // the last state was shown: nothing more
  }
  const std::string text = contents(file);
  std::fclose(file);
  CHECK(text ==
        "step 2/100 (2.0%) | loss 1.9000 | lr 1e-05 | 10.0 win/s | ETA 0:01:38\n"
        "step 3/100 (3.0%) | loss 1.8000 | lr 1e-05 | 10.0 win/s | ETA 0:01:37\n");
}

TEST_CASE("not a terminal, forced lines only (--disable_tqdm): finish adds no last line",
          "[logging][progress]") {
  std::FILE* file = std::tmpfile();
  REQUIRE(file);
  {
    ProgressReporter progress(100, /*is_terminal=*/false, file);
    progress.set_forced_lines_only();
    progress.update(1, 2.0, 1e-5, 10.0, 99.0);
    progress.update(2, 1.9, 1e-5, 10.0, 98.0, "", /*force_line=*/true);
    progress.update(3, 1.8, 1e-5, 10.0, 97.0);
    progress.finish();
  }
  const std::string text = contents(file);
  std::fclose(file);
  CHECK(text == "step 2/100 (2.0%) | loss 1.9000 | lr 1e-05 | 10.0 win/s | ETA 0:01:38\n");
}

TEST_CASE("terminal: redraws in place, throttled, and ends the line", "[logging][progress]") {
  std::FILE* file = std::tmpfile();
  REQUIRE(file);
  constexpr int kUpdates = 2000;
  const auto start = std::chrono::steady_clock::now();
  {
    ProgressReporter progress(kUpdates, /*is_terminal=*/true, file);
    for (int step = 1; step < kUpdates; ++step) progress.update(step, 1.0, 1e-5, 100.0, 10.0);
    const double elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const std::string text = contents(file);
    std::fseek(file, 0, SEEK_END);
    INFO("elapsed " << elapsed_s << " s");
    CHECK(count(text, '\r') >= 1);
    CHECK(count(text, '\r') <= 2 + static_cast<size_t>(elapsed_s * 10));  // at most ~10 draws/s
    CHECK(count(text, '\n') == 0);
    progress.update(kUpdates, 0.5, 0.0, 100.0, 0.0);  // the last step is always drawn
    CHECK_THAT(trim_blanks(contents(file)), Catch::EndsWith("step 2000/2000 [" + std::string(30, '#') +
                                                              "] 100.0% | loss 0.5000 | lr 0 | 100.0 win/s | ETA 0:00:00"));
    std::fseek(file, 0, SEEK_END);
  }  // destructor finishes the line
  const std::string text = contents(file);
  std::fclose(file);
  REQUIRE(!text.empty());
  CHECK(text.back() == '\n');
  CHECK_THAT(trim_blanks(text.substr(0, text.size() - 1)), Catch::EndsWith("ETA 0:00:00"));
  CHECK(count(text, '\n') == 1);
}

TEST_CASE("terminal: a forced line is kept above the redrawn bar", "[logging][progress]") {
  std::FILE* file = std::tmpfile();
  REQUIRE(file);
  ProgressReporter progress(10, /*is_terminal=*/true, file);
  progress.update(1, 1.0, 1e-5, 5.0, 9.0, "a much longer extra text than later");
  progress.update(2, 1.0, 1e-5, 5.0, 8.0, "", /*force_line=*/true);
  progress.finish();
  const std::string text = contents(file);
  std::fclose(file);
  const std::string bar1 = format_progress_line({1, 1.0, 1e-5, 5.0, 9.0, "a much longer extra text than later"}, 10, true);
  const std::string plain2 = format_progress_line({2, 1.0, 1e-5, 5.0, 8.0, ""}, 10, false);
  const std::string bar2 = format_progress_line({2, 1.0, 1e-5, 5.0, 8.0, ""}, 10, true);
  CHECK(text == "\r" + bar1 + "\r" + std::string(bar1.size(), ' ') + "\r" + plain2 + "\n\r" + bar2 + "\n");
}

TEST_CASE("an evaluation's line counts windows, without loss or learning rate",
          "[logging][progress]") {
  ProgressStats stats{3200, 0.0, 0.0, 85.34, 89.0, "", "eval"};
  stats.has_loss = false;
  CHECK(format_progress_line(stats, 10784, false) ==
        "eval 3200/10784 (29.7%) | 85.3 win/s | ETA 0:01:29");
  CHECK(format_progress_line(stats, 10784, true) ==
        "eval 3200/10784 [########----------------------]  29.7% | 85.3 win/s | ETA 0:01:29");
}

// Plain lines carry the elapsed-time rate, so only their shape is checked here.
TEST_CASE("CountProgress off a terminal: a line when one is due, nothing otherwise",
          "[logging][progress]") {
  std::FILE* file = std::tmpfile();
  REQUIRE(file);
  {
    CountProgress every_call("eval", /*is_terminal=*/false, ProgressPace{0.1, 0.0}, file);
    every_call(512, 1000);
    every_call(1000, 1000);
    every_call.finish();  // both states were shown: nothing more
  }
  std::string text = contents(file);
  REQUIRE(count(text, '\n') == 2);
  CHECK_THAT(text, Catch::StartsWith("eval 512/1000 (51.2%) | "));
  CHECK_THAT(text, Catch::Contains("\neval 1000/1000 (100.0%) | "));
  CHECK_THAT(text, Catch::Contains(" win/s | ETA "));
  CHECK_THAT(text, !Catch::Contains("loss"));
  std::fclose(file);

  file = std::tmpfile();
  REQUIRE(file);
  {
    CountProgress never_due("predict", /*is_terminal=*/false, ProgressPace{0.1, 1e9}, file);
    for (size_t done = 100; done <= 1000; done += 100) never_due(done, 1000);
  }  // a short evaluation: its summary line says it all
  CHECK(contents(file).empty());
  std::fclose(file);
}

TEST_CASE("CountProgress on a terminal: a bar that ends full on its own line",
          "[logging][progress]") {
  std::FILE* file = std::tmpfile();
  REQUIRE(file);
  {
    CountProgress bar("eval", /*is_terminal=*/true, ProgressPace{0.1, 1e9}, file);
    for (size_t done = 100; done <= 1000; done += 100) bar(done, 1000);
    bar.finish();
  }
  const std::string text = contents(file);
  std::fclose(file);
  CHECK(count(text, '\n') == 1);  // the bar's line ended, no plain lines
  REQUIRE(text.size() > 2);
  CHECK_THAT(text, Catch::StartsWith("\reval 100/1000 ["));
  const size_t last = text.rfind('\r');
  CHECK_THAT(text.substr(last),
             Catch::StartsWith("\reval 1000/1000 [" + std::string(30, '#') + "] 100.0% | "));
}

TEST_CASE(
    "terminal: the redraw interval is the pace's (every update at 0, only the ends at an hour)",
    "[logging][progress]") {
  for (const double seconds : {0.0, 3600.0}) {
    std::FILE* file = std::tmpfile();
    REQUIRE(file);
    {
      ProgressReporter progress(50, /*is_terminal=*/true, file);
      progress.set_redraw_interval(seconds);
      for (int step = 1; step <= 50; ++step) progress.update(step, 1.0, 1e-5, 100.0, 10.0);
    }
    const std::string text = contents(file);
    std::fclose(file);
    INFO("redraw interval " << seconds << " s");
    CHECK(count(text, '\r') ==
          (seconds == 0.0 ? 50u : 2u));  // an hour: the first draw and the last step
  }
}

TEST_CASE("progress_pace_from_env: tqdm's TQDM_MININTERVAL sets both intervals",
          "[logging][progress]") {
  {
    test::ScopedEnv unset("TQDM_MININTERVAL", nullptr);
    const ProgressPace pace = progress_pace_from_env();
    CHECK(pace.redraw_seconds == 0.1);
    CHECK(pace.line_seconds == 30.0);
  }
  // Read with Python's float(), as tqdm's envwrap reads it; tqdm shows every update for a
  // negative interval and none for nan.
  const double inf = std::numeric_limits<double>::infinity();
  for (const auto& [text, seconds] : {std::pair<const char*, double>{"5", 5.0},
                                      {" 2.5 ", 2.5},
                                      {"0", 0.0},
                                      {"+5", 5.0},
                                      {"1e1", 10.0},
                                      {"1_000", 1000.0},
                                      {".5", 0.5},
                                      {"5.", 5.0},
                                      {"inf", inf},
                                      {"-Infinity", 0.0},
                                      {"1e400", inf},
                                      {"-1", 0.0},
                                      {"nan", inf},
                                      {"\t7\n", 7.0}}) {
    test::ScopedEnv set("TQDM_MININTERVAL", text);
    INFO("TQDM_MININTERVAL='" << text << "'");
    const ProgressPace pace = progress_pace_from_env();
    CHECK(pace.redraw_seconds == seconds);
    CHECK(pace.line_seconds == seconds);
  }
  // What float() refuses (tqdm then fails at import), hexadecimal included, which strtod reads.
  for (const char* text :
       {"", "  ", "abc", "5s", "0x10", "0x1p3", "1__000", "_1", "1_", "1e", ".", "infinit"}) {
    test::ScopedEnv set("TQDM_MININTERVAL", text);
    INFO("TQDM_MININTERVAL='" << text << "'");
    CHECK_THROWS_AS(progress_pace_from_env(), InputError);
    CHECK_THROWS_WITH(progress_pace_from_env(), Catch::StartsWith(std::string("TQDM_MININTERVAL=") +
                                                                  text + ": not a number"));
  }
}

}  // namespace
}  // namespace bert
