// AdamW, gradient clipping and the learning-rate schedule against independent
// double-precision references and closed forms.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <vector>

#include "core/error.h"
#include "train/adamw.h"
#include "train/lr_schedule.h"

namespace llcpress {
namespace {

// Textbook AdamW in double, written from the paper's algorithm (bias-corrected
// moments formed explicitly, decay applied as a separate term) rather than the
// folded form the implementation uses.
struct ReferenceAdamW {
  AdamWConfig config;
  std::vector<double> m, v;
  std::vector<int> decayed;
  int t = 0;
  void step(std::vector<double>& w, const std::vector<double>& g, double lr) {
    ++t;
    for (std::size_t i = 0; i < w.size(); ++i) {
      m[i] = config.beta1 * m[i] + (1 - config.beta1) * g[i];
      v[i] = config.beta2 * v[i] + (1 - config.beta2) * g[i] * g[i];
      const double m_hat = m[i] / (1 - std::pow(config.beta1, t));
      const double v_hat = v[i] / (1 - std::pow(config.beta2, t));
      w[i] = w[i] - lr * config.weight_decay * decayed[i] * w[i] - lr * m_hat / (std::sqrt(v_hat) + config.epsilon);
    }
  }
};

// fp32 against double: every quantity is O(1) (|w| <= 2, |update| <= lr), and
// a step does ~10 roundings of relative size 2^-24 ≈ 6e-8 on values of at
// most 2, so one step's discrepancy is below 10 · 6e-8 · 2 ≈ 1.2e-6; errors add
// over steps at worst linearly.
constexpr double kFloatStepError = 1.2e-6;

TEST(AdamW, MatchesDoubleReferenceOverSeveralSteps) {
  AdamWConfig config;         // Pythia: 0.9, 0.95, 1e-8, 0.01
  config.weight_decay = 0.1;  // larger than Pythia's so the decay term is visible
  const std::vector<std::uint8_t> mask = {1, 1, 0, 1, 0, 1, 1};
  std::vector<float> weights = {0.5f, -1.25f, 2.0f, 0.0f, -0.3f, 1.0f, -2.0f};
  const int steps = 6;
  // Gradients that change sign and scale between steps, one exactly zero.
  auto gradient_at = [](int step, int i) {
    if (i == 3 && step % 2 == 0) return 0.0;
    return std::sin(1.7 * i + 0.9 * step) * std::pow(10.0, (i % 3) - 1);
  };
  ReferenceAdamW reference{config, std::vector<double>(7, 0.0), std::vector<double>(7, 0.0),
                           std::vector<int>(mask.begin(), mask.end())};
  std::vector<double> reference_weights(weights.begin(), weights.end());
  AdamW optimizer(weights.size(), config, mask);
  for (int step = 0; step < steps; ++step) {
    std::vector<float> gradient(7);
    std::vector<double> reference_gradient(7);
    for (int i = 0; i < 7; ++i) {
      gradient[i] = static_cast<float>(gradient_at(step, i));
      reference_gradient[i] = gradient[i];  // the same fp32 inputs
    }
    const double lr = 0.05 * (step + 1) / steps;
    optimizer.step(weights, gradient, lr);
    reference.step(reference_weights, reference_gradient, lr);
    for (int i = 0; i < 7; ++i) {
      EXPECT_NEAR(weights[i], reference_weights[i], kFloatStepError * (step + 1)) << "step " << step << " i " << i;
      EXPECT_NEAR(optimizer.first_moment()[i], reference.m[i], kFloatStepError * (step + 1));
      EXPECT_NEAR(optimizer.second_moment()[i], reference.v[i], kFloatStepError * (step + 1));
    }
  }
  EXPECT_EQ(optimizer.steps_taken(), steps);
}

TEST(AdamW, ConstantGradientClosedForm) {
  // With a constant gradient g the bias corrections make m̂ = g and v̂ = g²
  // exactly, so every update is lr·g/(|g| + ε) on top of the decay factor
  // (1 − lr·λ): w_t = (1 − lr·λ)^t w_0 − lr·s·Σ_{k<t} (1 − lr·λ)^k, s = g/(|g| + ε).
  AdamWConfig config;
  const double lr = 1e-2;
  const std::vector<double> gradients = {3.0, -0.02, 1e-4};
  std::vector<float> weights = {1.0f, -0.5f, 0.25f};
  const std::vector<float> initial = weights;
  AdamW optimizer(3, config);
  const int steps = 20;
  std::vector<float> gradient(gradients.begin(), gradients.end());
  for (int t = 0; t < steps; ++t) optimizer.step(weights, gradient, lr);
  for (int i = 0; i < 3; ++i) {
    const double g = static_cast<float>(gradients[i]);
    const double decay = 1.0 - lr * config.weight_decay;
    const double s = g / (std::abs(g) + config.epsilon);
    double geometric = 0.0;
    for (int k = 0; k < steps; ++k) geometric += std::pow(decay, k);
    const double expected = std::pow(decay, steps) * initial[i] - lr * s * geometric;
    EXPECT_NEAR(weights[i], expected, kFloatStepError * steps) << i;
  }
}

TEST(AdamW, FirstStepIsSignedLearningRate) {
  // After one step m̂ = g, v̂ = g²: the update is lr·g/(|g|+ε) ≈ ±lr whatever |g|.
  AdamWConfig config;
  config.weight_decay = 0.0;
  std::vector<float> weights = {0.0f, 0.0f};
  std::vector<float> gradient = {1e3f, -1e-3f};
  AdamW optimizer(2, config);
  optimizer.step(weights, gradient, 0.1);
  EXPECT_NEAR(weights[0], -0.1, 1e-7);
  EXPECT_NEAR(weights[1], 0.1 * (1e-3 / (1e-3 + 1e-8)), 1e-7);
}

TEST(AdamW, RejectsMismatchedSizesAndBadConfig) {
  AdamW optimizer(3, AdamWConfig{});
  std::vector<float> weights(3), gradient(2);
  EXPECT_THROW(optimizer.step(weights, gradient, 1e-3), InputError);
  std::vector<float> gradient3(3);
  EXPECT_THROW(optimizer.step(weights, gradient3, std::nan("")), ConfigError);
  AdamWConfig bad;
  bad.beta2 = 1.0;
  EXPECT_THROW(AdamW(3, bad), ConfigError);
  EXPECT_THROW(AdamW(3, AdamWConfig{}, std::vector<std::uint8_t>(2, 1)), InputError);
}

TEST(GradientClipping, ScalesToMaxNormLikeTorch) {
  std::vector<float> gradient = {3.0f, 4.0f, 0.0f};
  EXPECT_DOUBLE_EQ(global_gradient_norm(gradient), 5.0);
  const double norm = clip_gradient_norm(gradient, 1.0);
  EXPECT_DOUBLE_EQ(norm, 5.0);
  const double factor = 1.0 / (5.0 + 1e-6);  // torch: max_norm / (total_norm + 1e-6)
  // One fp32 multiply: relative error 2^-24.
  EXPECT_NEAR(gradient[0], 3.0 * factor, 3.0 * 6e-8);
  EXPECT_NEAR(gradient[1], 4.0 * factor, 4.0 * 6e-8);
  EXPECT_EQ(gradient[2], 0.0f);

  std::vector<float> small = {0.3f, -0.4f};
  clip_gradient_norm(small, 1.0);
  EXPECT_EQ(small[0], 0.3f);  // under the limit: untouched
  EXPECT_EQ(small[1], -0.4f);

  std::vector<float> disabled = {30.0f, 40.0f};
  EXPECT_DOUBLE_EQ(clip_gradient_norm(disabled, 0.0), 50.0);
  EXPECT_EQ(disabled[0], 30.0f);

  std::vector<float> broken = {1.0f, std::nanf("")};
  EXPECT_THROW(clip_gradient_norm(broken, 1.0), NumericalError);
}

TEST(CosineSchedule, FollowsWarmupAndCosineFormula) {
  LrScheduleConfig config{.peak_learning_rate = 1e-3, .min_ratio = 0.1, .warmup_steps = 10, .total_steps = 110};
  CosineSchedule schedule(config);
  for (std::int64_t s = 0; s < 10; ++s) EXPECT_DOUBLE_EQ(schedule.learning_rate(s), 1e-3 * (s + 1) / 10.0) << s;
  EXPECT_DOUBLE_EQ(schedule.learning_rate(10), 1e-3);  // cosine starts at the peak
  // Halfway through the decay the cosine term is ½: the midpoint of peak and floor.
  EXPECT_NEAR(schedule.learning_rate(60), 0.5 * (1e-3 + 1e-4), 1e-18);
  for (std::int64_t s = 10; s < 110; ++s) {
    const double progress = (s - 10) / 100.0;
    const double expected = 1e-4 + 0.9e-3 * 0.5 * (1 + std::cos(std::numbers::pi * progress));
    EXPECT_NEAR(schedule.learning_rate(s), expected, 1e-18) << s;
    EXPECT_LE(schedule.learning_rate(s + 1), schedule.learning_rate(s)) << s;
  }
  EXPECT_DOUBLE_EQ(schedule.learning_rate(110), 1e-4);
  EXPECT_DOUBLE_EQ(schedule.learning_rate(100000), 1e-4);
  EXPECT_GT(schedule.learning_rate(109), 1e-4);
}

TEST(CosineSchedule, PythiaWarmupIsOnePercent) {
  EXPECT_EQ(CosineSchedule::warmup_for(143000), 1430);
  EXPECT_EQ(CosineSchedule::warmup_for(400), 4);
  EXPECT_EQ(CosineSchedule::warmup_for(20), 1);  // never zero
  EXPECT_THROW(CosineSchedule(LrScheduleConfig{.peak_learning_rate = 1e-3, .warmup_steps = 5, .total_steps = 4}),
               ConfigError);
  EXPECT_THROW(CosineSchedule(LrScheduleConfig{.peak_learning_rate = -1.0}), ConfigError);
}

}  // namespace
}  // namespace llcpress
