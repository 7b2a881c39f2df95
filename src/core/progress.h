// Progress of a long loop: "chain 2 draw 40/100 | 3.1 it/s | ETA 00:19 | loss 3.21".
// On a terminal it redraws one line on stderr at most every 0.2 s; when stderr
// is not a terminal (batch jobs, CI) it stays quiet except for a log line every
// `log_every_seconds` (0 = never), so SLURM logs do not fill with carriage returns.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

namespace llcpress {

class Progress {
 public:
  Progress(std::string label, std::size_t total, double log_every_seconds = 60.0);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Reports that `done` of `total` units are finished; `detail` is appended.
  void update(std::size_t done, const std::string& detail = {});
  void finish(const std::string& detail = {});

  double rate() const;             // units per second so far
  double eta_seconds() const;      // remaining time at the current rate
  static std::string format_duration(double seconds);

 private:
  std::string render(const std::string& detail) const;
  std::string label_;
  std::size_t total_;
  std::size_t done_ = 0;
  double log_every_seconds_;
  bool terminal_;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_, last_log_;
};

}  // namespace llcpress
