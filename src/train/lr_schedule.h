// Learning-rate schedule of Pythia's recipe: linear warmup, then cosine decay
// to a floor (GPT-NeoX `lr_decay_style: cosine`, `min_lr` = 10% of the peak).
//
// For update s = 0, 1, ..., total_steps − 1 (W = warmup_steps, η = peak,
// η_min = min_ratio · η):
//   s < W:  η · (s + 1) / W
//   s ≥ W:  η_min + (η − η_min) · ½ (1 + cos(π · (s − W) / (total_steps − W)))
// and η_min beyond the end. Megatron's scheduler uses s / W in the warmup, so its
// first update runs at learning rate 0 — one reason Pythia's step1 weights equal
// step0. Using s + 1 makes every saved checkpoint of the demo suite distinct.
#pragma once

#include <cstdint>

namespace llcpress {

struct LrScheduleConfig {
  double peak_learning_rate = 1e-3;
  double min_ratio = 0.1;  // floor as a fraction of the peak
  std::int64_t warmup_steps = 1;
  std::int64_t total_steps = 1;
};

class CosineSchedule {
 public:
  explicit CosineSchedule(LrScheduleConfig config);
  // Learning rate for update `step` (0-based: the update that turns the
  // weights of step s into those of step s + 1).
  double learning_rate(std::int64_t step) const;
  const LrScheduleConfig& config() const { return config_; }

  // Pythia's warmup is 1% of training; at least one step.
  static std::int64_t warmup_for(std::int64_t total_steps, double warmup_fraction = 0.01);

 private:
  LrScheduleConfig config_;
};

}  // namespace llcpress
