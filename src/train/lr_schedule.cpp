#include "train/lr_schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "core/check.h"

namespace llcpress {

CosineSchedule::CosineSchedule(LrScheduleConfig config) : config_(config) {
  LLC_CHECK(std::isfinite(config.peak_learning_rate) && config.peak_learning_rate > 0.0, ConfigError,
            "learning-rate schedule", "use a positive peak learning rate such as 1e-3",
            "peak learning rate {} is not positive", config.peak_learning_rate);
  LLC_CHECK(config.min_ratio >= 0.0 && config.min_ratio <= 1.0, ConfigError, "learning-rate schedule",
            "the floor is a fraction of the peak (Pythia: 0.1)", "min_ratio {} is outside [0, 1]", config.min_ratio);
  LLC_CHECK(config.total_steps >= 1, ConfigError, "learning-rate schedule", "train for at least one step",
            "total_steps {} < 1", config.total_steps);
  LLC_CHECK(config.warmup_steps >= 0 && config.warmup_steps <= config.total_steps, ConfigError,
            "learning-rate schedule", "warmup must fit inside training (Pythia: 1% of the steps)",
            "warmup_steps {} is outside [0, total_steps = {}]", config.warmup_steps, config.total_steps);
}

double CosineSchedule::learning_rate(std::int64_t step) const {
  const double peak = config_.peak_learning_rate;
  const double floor = config_.min_ratio * peak;
  const std::int64_t warmup = config_.warmup_steps;
  if (step < 0) return 0.0;
  if (step < warmup) return peak * static_cast<double>(step + 1) / static_cast<double>(warmup);
  if (step >= config_.total_steps) return floor;
  const double progress =
      static_cast<double>(step - warmup) / static_cast<double>(std::max<std::int64_t>(1, config_.total_steps - warmup));
  return floor + (peak - floor) * 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
}

std::int64_t CosineSchedule::warmup_for(std::int64_t total_steps, double warmup_fraction) {
  const auto steps = static_cast<std::int64_t>(std::llround(warmup_fraction * static_cast<double>(total_steps)));
  return std::clamp<std::int64_t>(steps, 1, std::max<std::int64_t>(1, total_steps));
}

}  // namespace llcpress
