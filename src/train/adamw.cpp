#include "train/adamw.h"

#include <algorithm>
#include <cmath>

#include "core/check.h"

namespace llcpress {

AdamW::AdamW(std::size_t num_parameters, AdamWConfig config, std::vector<std::uint8_t> decay_mask)
    : config_(config),
      first_moment_(num_parameters, 0.0f),
      second_moment_(num_parameters, 0.0f),
      decay_mask_(std::move(decay_mask)) {
  LLC_CHECK(config.beta1 >= 0.0 && config.beta1 < 1.0 && config.beta2 >= 0.0 && config.beta2 < 1.0, ConfigError,
            "AdamW", "betas must lie in [0, 1), e.g. 0.9 and 0.95", "AdamW betas ({}, {}) out of range", config.beta1,
            config.beta2);
  LLC_CHECK(config.epsilon > 0.0, ConfigError, "AdamW", "use a small positive epsilon such as 1e-8",
            "AdamW epsilon {} is not positive", config.epsilon);
  LLC_CHECK(config.weight_decay >= 0.0, ConfigError, "AdamW", "use a weight decay >= 0 (Pythia: 0.01)",
            "AdamW weight decay {} is negative", config.weight_decay);
  if (decay_mask_.empty()) decay_mask_.assign(num_parameters, 1);
  LLC_CHECK(decay_mask_.size() == num_parameters, InputError, "AdamW", "pass one mask entry per parameter",
            "weight-decay mask has {} entries for {} parameters", decay_mask_.size(), num_parameters);
}

void AdamW::step(std::span<float> parameters, std::span<const float> gradient, double learning_rate) {
  const std::size_t count = first_moment_.size();
  LLC_CHECK(parameters.size() == count && gradient.size() == count, InputError, "AdamW::step",
            "the optimizer was built for a different model", "got {} parameters and {} gradients, expected {}",
            parameters.size(), gradient.size(), count);
  LLC_CHECK(std::isfinite(learning_rate) && learning_rate >= 0.0, ConfigError, "AdamW::step",
            "check the learning-rate schedule", "learning rate {} is not a finite non-negative number", learning_rate);
  ++steps_taken_;
  const double t = static_cast<double>(steps_taken_);
  // Bias corrections folded into two per-step scalars (computed in double so
  // 1 − β₂ᵗ keeps its precision for small t):
  //   m̂ / (√v̂ + ε) = (m / c₁) / (√v / √c₂ + ε)
  const double correction1 = 1.0 - std::pow(config_.beta1, t);
  const double correction2 = 1.0 - std::pow(config_.beta2, t);
  const float step_size = static_cast<float>(learning_rate / correction1);
  const float inverse_sqrt_correction2 = static_cast<float>(1.0 / std::sqrt(correction2));
  const float beta1 = static_cast<float>(config_.beta1), beta2 = static_cast<float>(config_.beta2);
  const float one_minus_beta1 = static_cast<float>(1.0 - config_.beta1);
  const float one_minus_beta2 = static_cast<float>(1.0 - config_.beta2);
  const float epsilon = static_cast<float>(config_.epsilon);
  const float decay_factor = static_cast<float>(learning_rate * config_.weight_decay);

  float* weights = parameters.data();
  const float* grads = gradient.data();
  float* first = first_moment_.data();
  float* second = second_moment_.data();
  const std::uint8_t* mask = decay_mask_.data();
  // Element-wise, so splitting across threads cannot change the result.
#pragma omp parallel for simd schedule(static) if (count > (1u << 16))
  for (std::size_t i = 0; i < count; ++i) {
    const float g = grads[i];
    first[i] = beta1 * first[i] + one_minus_beta1 * g;
    second[i] = beta2 * second[i] + one_minus_beta2 * g * g;
    const float denominator = std::sqrt(second[i]) * inverse_sqrt_correction2 + epsilon;
    float w = weights[i];
    w -= decay_factor * static_cast<float>(mask[i]) * w;
    weights[i] = w - step_size * first[i] / denominator;
  }
}

std::vector<std::uint8_t> neox_weight_decay_mask(const ParameterTable& table) {
  std::vector<std::uint8_t> mask(table.total_size(), 0);
  for (const ParameterView& view : table.views()) {
    const bool decayed =
        view.role == TensorRole::Embedding || view.role == TensorRole::Unembedding || view.role == TensorRole::Linear;
    std::fill_n(mask.begin() + static_cast<std::ptrdiff_t>(view.offset), view.size, decayed ? 1 : 0);
  }
  return mask;
}

double global_gradient_norm(std::span<const float> gradient) {
  double sum_of_squares = 0.0;
  for (float g : gradient) sum_of_squares += static_cast<double>(g) * g;
  return std::sqrt(sum_of_squares);
}

double clip_gradient_norm(std::span<float> gradient, double max_norm) {
  const double norm = global_gradient_norm(gradient);
  LLC_CHECK(std::isfinite(norm), NumericalError, "gradient clipping",
            "lower the learning rate or check the data for out-of-range tokens", "the gradient norm is {} (NaN or Inf)",
            norm);
  if (max_norm <= 0.0) return norm;
  const double factor = max_norm / (norm + 1e-6);
  if (factor < 1.0) {
    const float scale = static_cast<float>(factor);
    for (float& g : gradient) g *= scale;
  }
  return norm;
}

}  // namespace llcpress
