#include "logging/progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <optional>
#include <utility>

#include "core/error.h"
#include "core/python_float.h"

namespace bert {

namespace {

constexpr int kBarWidth = 30;
// Beyond ~31700 years an ETA is noise, and llround would overflow long before 9e18.
constexpr double kLongestDuration = 1e12;

std::string printf_string(const char* format, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format, value);
  return buffer;
}

// Columns of the terminal behind out, or 0 when unknown (then lines are not cut).
size_t terminal_columns(std::FILE* out) {
  winsize size{};
  if (::ioctl(::fileno(out), TIOCGWINSZ, &size) != 0) return 0;
  return size.ws_col;
}

}  // namespace

ProgressPace progress_pace_from_env() {
  ProgressPace pace;
  const char* text = std::getenv("TQDM_MININTERVAL");
  if (text == nullptr) return pace;
  const std::optional<double> seconds = parse_python_float(text);
  if (!seconds) {
    throw InputError(std::string("TQDM_MININTERVAL=") + text +
                     ": not a number (the progress bar's minimum update interval in seconds, "
                     "read as tqdm reads it, with Python's float())");
  }
  // tqdm compares the time since the last update with it: a negative interval shows every
  // update, NaN none.
  const double interval =
      std::isnan(*seconds) ? std::numeric_limits<double>::infinity() : std::max(0.0, *seconds);
  pace.redraw_seconds = pace.line_seconds = interval;
  return pace;
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0 || seconds > kLongestDuration) return "?:??:??";
  const long long total = std::llround(seconds);
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%lld:%02lld:%02lld", total / 3600, total / 60 % 60,
                total % 60);
  return buffer;
}

std::string format_progress_bar(int64_t step, int64_t total, int width) {
  int64_t filled = 0;
  if (total > 0) filled = std::clamp<int64_t>(step * width / total, 0, width);
  return "[" + std::string(static_cast<size_t>(filled), '#') +
         std::string(static_cast<size_t>(width - filled), '-') + "]";
}

std::string format_progress_line(const ProgressStats& stats, int64_t total, bool with_bar) {
  const double percent = total > 0 ? 100.0 * static_cast<double>(stats.step) / total : 0.0;
  std::string line = stats.label + " " + std::to_string(stats.step) + "/" + std::to_string(total);
  if (with_bar) {
    line += " " + format_progress_bar(stats.step, total, kBarWidth) + " " +
            printf_string("%5.1f%%", percent);
  } else {
    line += " (" + printf_string("%.1f%%", percent) + ")";
  }
  if (stats.has_loss) {
    line += " | loss " + printf_string("%.4f", stats.loss);
    line += " | lr " + printf_string("%.3g", stats.learning_rate);
  }
  line += " | " + printf_string("%.1f", stats.windows_per_second) + " win/s";
  line += " | ETA " + format_duration(stats.eta_seconds);
  if (!stats.extra.empty()) line += " | " + stats.extra;
  return line;
}

ProgressReporter::ProgressReporter(int64_t total_steps, bool is_terminal, std::FILE* out,
                                   std::string label)
    : total_steps_(total_steps), label_(std::move(label)), is_terminal_(is_terminal), out_(out) {}

ProgressReporter::~ProgressReporter() { finish(); }

bool ProgressReporter::stderr_is_terminal() { return ::isatty(STDERR_FILENO) == 1; }

void ProgressReporter::write(const std::string& text) {
  // Progress output is best effort: a closed stderr must not stop training.
  std::fwrite(text.data(), 1, text.size(), out_);
  std::fflush(out_);
}

void ProgressReporter::draw_bar() {
  std::string line = format_progress_line(latest_, total_steps_, /*with_bar=*/true);
  const size_t columns = terminal_columns(out_);
  if (columns > 1 && line.size() > columns - 1) line.resize(columns - 1);
  const size_t drawn = line.size();
  // Blank what a longer previous line left behind (no ANSI codes needed).
  if (drawn < bar_length_) line.append(bar_length_ - drawn, ' ');
  write("\r" + line);
  bar_length_ = drawn;
  bar_on_screen_ = true;
  latest_drawn_ = true;
  last_draw_ = std::chrono::steady_clock::now();
}

void ProgressReporter::update(int64_t step, double loss, double learning_rate,
                              double windows_per_second, double eta_seconds,
                              const std::string& extra, bool force_line) {
  show(ProgressStats{step, loss, learning_rate, windows_per_second, eta_seconds, extra, label_},
       force_line);
}

void ProgressReporter::update_count(int64_t done, double windows_per_second, double eta_seconds,
                                    bool force_line) {
  ProgressStats stats{done, 0.0, 0.0, windows_per_second, eta_seconds, "", label_};
  stats.has_loss = false;
  show(stats, force_line);
}

void ProgressReporter::show(const ProgressStats& stats, bool force_line) {
  const int64_t step = stats.step;
  latest_ = stats;
  have_latest_ = true;
  latest_drawn_ = false;
  if (!is_terminal_) {
    const auto now = std::chrono::steady_clock::now();
    const bool due =
        line_interval_seconds_ >= 0 &&
        std::chrono::duration<double>(now - last_line_).count() >= line_interval_seconds_;
    if (force_line || due) {
      write(format_progress_line(latest_, total_steps_, /*with_bar=*/false) + "\n");
      latest_drawn_ = true;
      last_line_ = now;
    }
    return;
  }
  if (force_line) {
    if (bar_on_screen_) write("\r" + std::string(bar_length_, ' ') + "\r");
    write(format_progress_line(latest_, total_steps_, /*with_bar=*/false) + "\n");
    bar_on_screen_ = false;
    bar_length_ = 0;
    draw_bar();
    return;
  }
  const auto now = std::chrono::steady_clock::now();
  if (!bar_on_screen_ || step == total_steps_ ||
      std::chrono::duration<double>(now - last_draw_).count() >= redraw_interval_seconds_)
    draw_bar();
}

void ProgressReporter::finish() {
  if (have_latest_ && !latest_drawn_ && !(forced_lines_only_ && !is_terminal_)) {
    if (is_terminal_) {
      draw_bar();
    } else {
      write(format_progress_line(latest_, total_steps_, /*with_bar=*/false) + "\n");
    }
  }
  if (bar_on_screen_) write("\n");
  bar_on_screen_ = false;
  bar_length_ = 0;
  have_latest_ = false;
  latest_drawn_ = true;
}

CountProgress::CountProgress(const std::string& label, bool is_terminal, const ProgressPace& pace,
                             std::FILE* out)
    : reporter_(0, is_terminal, out, label),
      is_terminal_(is_terminal),
      line_seconds_(pace.line_seconds) {
  reporter_.set_redraw_interval(pace.redraw_seconds);
}

void CountProgress::operator()(size_t done, size_t total) {
  const auto now = std::chrono::steady_clock::now();
  const bool line_due = std::chrono::duration<double>(now - last_line_).count() >= line_seconds_;
  // Off a terminal only a due line is shown: nothing is left pending for finish() to print.
  if (!is_terminal_ && !line_due) return;
  if (line_due) last_line_ = now;
  const double elapsed = std::chrono::duration<double>(now - started_).count();
  const double per_second = elapsed > 0 ? static_cast<double>(done) / elapsed : 0.0;
  const double eta = per_second > 0 ? static_cast<double>(total - done) / per_second : -1.0;
  reporter_.set_total(static_cast<int64_t>(total));
  reporter_.update_count(static_cast<int64_t>(done), per_second, eta, line_due && !is_terminal_);
}

}  // namespace bert
