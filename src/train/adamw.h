// AdamW (Loshchilov & Hutter, decoupled weight decay) over one flat fp32
// parameter buffer, plus global-norm gradient clipping: the optimizer of
// Pythia's recipe (GPT-NeoX configs: betas 0.9/0.95, eps 1e-8, weight decay
// 0.01, clipping at 1.0).
//
// Update t (t = 1, 2, ...), per element, with learning rate lr:
//   m ← β₁ m + (1 − β₁) g          v ← β₂ v + (1 − β₂) g²
//   m̂ = m / (1 − β₁ᵗ)              v̂ = v / (1 − β₂ᵗ)
//   w ← w − lr · (m̂ / (√v̂ + ε) + λ · mask · w)
// which is torch.optim.AdamW's arithmetic (decay applied to the weight before
// the Adam step, both scaled by lr).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "model/parameters.h"

namespace llcpress {

struct AdamWConfig {
  double beta1 = 0.9;
  double beta2 = 0.95;
  double epsilon = 1e-8;
  double weight_decay = 0.01;
};

class AdamW {
 public:
  // `decay_mask` has one entry per parameter (1 = decayed, 0 = not); empty
  // means every parameter is decayed.
  AdamW(std::size_t num_parameters, AdamWConfig config, std::vector<std::uint8_t> decay_mask = {});

  // One update with the gradient of the loss at `parameters`.
  void step(std::span<float> parameters, std::span<const float> gradient, double learning_rate);

  const AdamWConfig& config() const { return config_; }
  std::int64_t steps_taken() const { return steps_taken_; }
  std::span<const float> first_moment() const { return first_moment_; }
  std::span<const float> second_moment() const { return second_moment_; }
  std::span<const std::uint8_t> decay_mask() const { return decay_mask_; }

 private:
  AdamWConfig config_;
  std::int64_t steps_taken_ = 0;
  std::vector<float> first_moment_;       // (num_parameters) m
  std::vector<float> second_moment_;      // (num_parameters) v
  std::vector<std::uint8_t> decay_mask_;  // (num_parameters)
};

// GPT-NeoX's parameter groups (megatron/model/utils.py,
// get_params_for_weight_decay_optimization): layer-norm weights and biases and
// every bias are not decayed; all other weights — the linear layers and both
// the input embedding and the unembedding — are.
std::vector<std::uint8_t> neox_weight_decay_mask(const ParameterTable& table);

// ‖g‖₂ over the whole buffer, accumulated in double in index order (so the
// result does not depend on the thread count).
double global_gradient_norm(std::span<const float> gradient);

// Scales `gradient` in place so its global norm is at most `max_norm`, the way
// torch.nn.utils.clip_grad_norm_ does: factor min(1, max_norm / (norm + 1e-6)).
// Returns the norm before clipping. max_norm <= 0 disables clipping.
double clip_gradient_norm(std::span<float> gradient, double max_norm);

}  // namespace llcpress
