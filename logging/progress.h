// Training and evaluation progress on stderr.
//   Terminal (isatty): one line redrawn in place with '\r', at most 10 times a second (or
//   every TQDM_MININTERVAL seconds: progress_pace_from_env):
//     step 120/5000 [#-------]   2.4% | loss 1.2345 | lr 2.97e-05 | 85.3 win/s | ETA 0:12:34 | x
//   (the bar is 30 characters wide; x: the extra text)
//   (an evaluation's line counts windows and has no loss or learning rate:
//     eval 3200/10784 [##------]  29.7% | 85.3 win/s | ETA 0:01:29)
//   The line is cut to the terminal width so it never wraps (a wrapped line cannot be
//   redrawn with '\r'). A force_line update also leaves a permanent copy above the bar.
//   Not a terminal (log file, CI): nothing but force_line updates (and, with
//   set_line_interval, one every so many seconds), each on its own line,
//     step 120/5000 (2.4%) | loss 1.2345 | lr 2.97e-05 | 85.3 win/s | ETA 0:12:34 | extra
//   so a redirected log is not flooded with carriage returns.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace bert {

struct ProgressStats {
  int64_t step = 0;
  double loss = 0;
  double learning_rate = 0;
  double windows_per_second = 0;
  double eta_seconds = 0;
  std::string extra;  // appended as "| extra" when not empty
  std::string label = "step";  // what is counted: "step 120/5000", "eval 3200/10784"
  bool has_loss = true;        // false: no loss and learning-rate fields (evaluation)
};

// How often progress shows: a terminal's bar is redrawn at most every redraw_seconds; off a
// terminal, a timed line comes every line_seconds (besides the forced ones).
struct ProgressPace {
  double redraw_seconds = 0.1;
  double line_seconds = 30.0;
};

// The default pace, or tqdm's TQDM_MININTERVAL (seconds) for both intervals when it is set:
// tqdm >= 4.66 reads it for every bar, so a Hugging Face job calms its logs with
// "export TQDM_MININTERVAL=5", and the same job gets the same here (0 or less: every update;
// nan: none). Read as tqdm reads it, with Python's float() ("1_000", "inf"); anything float()
// refuses (tqdm then fails at import) throws InputError naming the variable.
ProgressPace progress_pace_from_env();

// h:mm:ss, hours not wrapped at 24 ("27:46:40"); rounds to whole seconds; "?:??:??" for a
// negative, NaN or infinite duration (an ETA before the first timing).
std::string format_duration(double seconds);

// "[#####---------]": width characters inside the brackets, filled in proportion step/total
// (clamped to 0..width so a step past total still draws a full bar).
std::string format_progress_bar(int64_t step, int64_t total, int width);

// The terminal line (with_bar) or the plain line, without '\r' or '\n'.
std::string format_progress_line(const ProgressStats& stats, int64_t total, bool with_bar);

class ProgressReporter {
 public:
  // out is stderr in the trainer; tests pass a temporary file. is_terminal usually comes
  // from stderr_is_terminal(). label names what is counted ("step"; "eval" for windows).
  ProgressReporter(int64_t total_steps, bool is_terminal, std::FILE* out = stderr,
                   std::string label = "step");
  ~ProgressReporter();  // finish()es, so the shell prompt never lands on the bar
  ProgressReporter(const ProgressReporter&) = delete;
  ProgressReporter& operator=(const ProgressReporter&) = delete;

  static bool stderr_is_terminal();

  // Reports the state after `step`. Terminal: redraws the bar when the redraw interval (100 ms
  // unless set_redraw_interval) has passed since the last draw, at the last step, or when
  // force_line. force_line (e.g. at logging_steps)
  // also writes a permanent line: above the bar on a terminal, the only output otherwise.
  void update(int64_t step, double loss, double learning_rate, double windows_per_second,
              double eta_seconds, const std::string& extra = "", bool force_line = false);
  void set_total(int64_t total_steps) { total_steps_ = total_steps; }
  // Off a terminal, also a line when this many seconds passed since the last one (0: at every
  // update; never called: forced lines only): a long run redirected to a log (nohup, kubectl
  // logs) shows its progress and ETA between --logging_steps lines.
  void set_line_interval(double seconds) { line_interval_seconds_ = seconds; }
  void set_redraw_interval(double seconds) { redraw_interval_seconds_ = seconds; }
  // Off a terminal, the forced lines only: finish() leaves out the last state's line too
  // (--disable_tqdm: no progress shown, the logging lines kept).
  void set_forced_lines_only() { forced_lines_only_ = true; }
  // The same for a count without a loss (an evaluation's windows).
  void update_count(int64_t done, double windows_per_second, double eta_seconds,
                    bool force_line = false);

  // Shows the latest state if it was not shown (a throttled redraw on a terminal; a step
  // after the last force_line otherwise) and ends the bar's line. Safe to call twice;
  // later updates start a new bar.
  void finish();

 private:
  void show(const ProgressStats& stats, bool force_line);
  void draw_bar();
  void write(const std::string& text);

  int64_t total_steps_;
  std::string label_;
  bool is_terminal_;
  std::FILE* out_;
  ProgressStats latest_;
  bool have_latest_ = false;
  bool latest_drawn_ = true;
  bool bar_on_screen_ = false;
  size_t bar_length_ = 0;  // characters of the bar line now on screen, to blank leftovers
  std::chrono::steady_clock::time_point last_draw_{};
  double line_interval_seconds_ = -1;  // < 0: no timed lines
  double redraw_interval_seconds_ = ProgressPace{}.redraw_seconds;
  bool forced_lines_only_ = false;
  std::chrono::steady_clock::time_point last_line_ = std::chrono::steady_clock::now();
};

// The progress of an evaluation or prediction over `total` windows, as predict_windows'
// callback (done, total): a redrawn bar on a terminal; otherwise a line every line_seconds of
// the pace (and none at all for an evaluation shorter than that, whose summary line says it all).
class CountProgress {
 public:
  CountProgress(const std::string& label, bool is_terminal, const ProgressPace& pace = {},
                std::FILE* out = stderr);
  void operator()(size_t done, size_t total);
  void finish() { reporter_.finish(); }  // before the summary line; the destructor does it too

 private:
  ProgressReporter reporter_;
  bool is_terminal_;
  double line_seconds_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_line_ = started_;
};

}  // namespace bert
