#include "core/progress.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>

namespace llcpress {

using clock_type = std::chrono::steady_clock;

Progress::Progress(std::string label, std::size_t total, double log_every_seconds)
    : label_(std::move(label)), total_(total), log_every_seconds_(log_every_seconds),
      terminal_(isatty(fileno(stderr)) != 0), start_(clock_type::now()), last_draw_(start_), last_log_(start_) {}

Progress::~Progress() {
  if (!finished_ && terminal_ && done_ > 0) std::fputc('\n', stderr);
}

double Progress::rate() const {
  double elapsed = std::chrono::duration<double>(clock_type::now() - start_).count();
  return elapsed > 0 ? static_cast<double>(done_) / elapsed : 0.0;
}

double Progress::eta_seconds() const {
  double r = rate();
  return r > 0 && total_ > done_ ? static_cast<double>(total_ - done_) / r : 0.0;
}

std::string Progress::format_duration(double seconds) {
  long s = static_cast<long>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60);
  return fmt::format("{:02}:{:02}", s / 60, s % 60);
}

std::string Progress::render(const std::string& detail) const {
  std::string line = fmt::format("{} {}/{} | {:.3g} it/s | ETA {}", label_, done_, total_, rate(),
                                 format_duration(eta_seconds()));
  if (!detail.empty()) line += " | " + detail;
  return line;
}

void Progress::update(std::size_t done, const std::string& detail) {
  done_ = done;
  auto now = clock_type::now();
  if (terminal_) {
    if (now - last_draw_ < std::chrono::milliseconds(200) && done_ < total_) return;
    last_draw_ = now;
    std::fprintf(stderr, "\r\033[K%s", render(detail).c_str());
    std::fflush(stderr);
  } else if (log_every_seconds_ > 0 &&
             std::chrono::duration<double>(now - last_log_).count() >= log_every_seconds_) {
    last_log_ = now;
    spdlog::info("{}", render(detail));
  }
}

void Progress::finish(const std::string& detail) {
  if (finished_) return;
  finished_ = true;
  double elapsed = std::chrono::duration<double>(clock_type::now() - start_).count();
  if (terminal_) std::fprintf(stderr, "\r\033[K");
  spdlog::debug("{} done: {} in {}{}", label_, done_, format_duration(elapsed),
                detail.empty() ? "" : " | " + detail);
}

}  // namespace llcpress
