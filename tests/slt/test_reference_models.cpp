#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <numeric>

#include "core/error.h"
#include "core/rng.h"
#include "slt/reference_models/monomial.h"
#include "slt/reference_models/normal_crossing.h"
#include "slt/reference_models/reduced_rank_regression.h"

using namespace llcpress;
using namespace llcpress::slt;

namespace {

// Central differences with step h on float parameters. Truncation error is
// h²/6·|∂³L| (polynomials of degree ≤ 6 in weights of size ≤ 1: |∂³L| ≲ 10²
// here) ≈ 2e-3 for h = 1e-2... too coarse, so h = 1e-3: truncation ≈ 2e-5;
// the float rounding of w ± h (2⁻²⁴·|w| ≈ 6e-8) divided by 2h adds ≈ 3e-5·|∂L|.
// Tolerance: 1e-3 relative to max(|g|, 1) covers both with a wide margin.
constexpr double kFiniteDifferenceStep = 1e-3;
constexpr double kFiniteDifferenceTolerance = 1e-3;

void expect_gradient_matches_finite_differences(LossModel& model, const std::vector<std::int64_t>& samples) {
  Batch batch{samples};
  auto w = model.parameters();
  std::vector<float> gradient(w.size());
  const double loss = model.loss_and_grad(batch, gradient);
  EXPECT_NEAR(loss, model.loss(batch), 1e-12 * std::max(1.0, std::abs(loss)));
  for (std::size_t i = 0; i < w.size(); ++i) {
    const float saved = w[i];
    w[i] = saved + float(kFiniteDifferenceStep);
    const double up = model.loss(batch);
    const double step_up = double(w[i]) - saved;
    w[i] = saved - float(kFiniteDifferenceStep);
    const double down = model.loss(batch);
    const double step_down = saved - double(w[i]);
    w[i] = saved;
    const double numeric = (up - down) / (step_up + step_down);
    EXPECT_NEAR(gradient[i], numeric, kFiniteDifferenceTolerance * std::max(1.0, std::abs(numeric)))
        << "parameter " << i;
  }
}

void set_random(std::span<float> w, std::uint64_t seed, float scale) {
  CounterRng(seed, 9).fill_normal(w.data(), w.size(), 0, scale);
}

std::vector<std::int64_t> first_samples(std::size_t count) {
  std::vector<std::int64_t> s(count);
  std::iota(s.begin(), s.end(), 0);
  return s;
}

}  // namespace

TEST(ReferenceModels, NormalCrossingGradient) {
  for (std::vector<int> powers : {std::vector<int>{1, 1}, {1, 2}, {2, 3}, {0, 2, 1}}) {
    NormalCrossingOptions o;
    o.powers = powers;
    o.samples = 50;
    NormalCrossingModel model(o);
    set_random(model.parameters(), 1, 0.8f);
    expect_gradient_matches_finite_differences(model, {0, 3, 7, 8, 20, 49});
    // At w* = 0 every partial derivative keeps a factor w_j = 0: the gradient vanishes.
    std::fill(model.parameters().begin(), model.parameters().end(), 0.0f);
    std::vector<float> gradient(powers.size(), 1.0f);
    model.loss_and_grad(Batch{first_samples(10)}, gradient);
    for (float g : gradient) EXPECT_EQ(g, 0.0f);
  }
}

TEST(ReferenceModels, NormalCrossingLossAtTruthIsTheNoise) {
  NormalCrossingOptions o;
  o.samples = 4000;
  NormalCrossingModel model(o);
  // ℓ = ε²/(2σ²) with ε ~ N(0, σ²) when noise_std = σ: mean ½, sd of the mean √(½/n) ≈ 0.011.
  const double l = model.loss(Batch{first_samples(o.samples)});
  EXPECT_NEAR(l, 0.5, 5 * std::sqrt(0.5 / o.samples));
  // Sample moments of x: E[x²] = input_std² = 4 (sd of the mean of x² is √(2·16/n) ≈ 0.09).
  double second = 0;
  for (double x : model.inputs()) second += x * x;
  EXPECT_NEAR(second / o.samples, 4.0, 5 * std::sqrt(32.0 / o.samples));
}

TEST(ReferenceModels, MonomialGradientAndValue) {
  MonomialOptions o;
  o.powers = {2, 4, 6};
  MonomialModel model(o);
  auto w = model.parameters();
  w[0] = 0.5f, w[1] = -0.7f, w[2] = 0.9f;
  const double expected = 0.5 * (0.25 + std::pow(0.7, 4) + std::pow(0.9, 6));
  EXPECT_NEAR(model.loss(Batch{first_samples(3)}), expected, 1e-6);
  expect_gradient_matches_finite_differences(model, {0, 1});
}

TEST(ReferenceModels, RrrGradientAndTruth) {
  for (auto [M, H, N, r] : {std::array{3, 2, 4, 1}, std::array{2, 3, 2, 0}, std::array{4, 3, 2, 2}}) {
    RrrOptions o;
    o.input_dim = M, o.hidden_dim = H, o.output_dim = N, o.rank = r;
    o.samples = 40;
    o.noise_std = 0.0;
    ReducedRankRegressionModel model(o);
    // Noiseless targets: w* fits every sample exactly.
    EXPECT_NEAR(model.loss(Batch{first_samples(40)}), 0.0, 1e-10);
    // A₀ has exactly r non-zero rows, B₀ exactly r non-zero columns.
    auto truth = model.true_parameters();
    int nonzero_rows = 0;
    for (int h = 0; h < H; ++h) {
      bool any = false;
      for (int m = 0; m < M; ++m) any |= truth[h * M + m] != 0.0f;
      nonzero_rows += any;
    }
    EXPECT_EQ(nonzero_rows, r);
    set_random(model.parameters(), 2, 0.5f);
    expect_gradient_matches_finite_differences(model, {1, 5, 9, 33});
  }
}

TEST(ReferenceModels, DataArePureFunctionsOfTheSeed) {
  NormalCrossingOptions o;
  o.samples = 10;
  NormalCrossingModel a(o), b(o);
  EXPECT_EQ(a.inputs(), b.inputs());
  o.data_seed = 1;
  NormalCrossingModel c(o);
  EXPECT_NE(a.inputs(), c.inputs());
}

TEST(ReferenceModels, BadBatchesAndOptionsAreRejected) {
  NormalCrossingOptions o;
  o.samples = 10;
  NormalCrossingModel model(o);
  std::vector<std::int64_t> bad = {0, 10};
  EXPECT_THROW(model.loss(Batch{bad}), InputError);
  EXPECT_THROW(model.loss(Batch{}), InputError);
  o.sigma = 0;
  EXPECT_THROW(NormalCrossingModel{o}, ConfigError);
  RrrOptions r;
  r.rank = 4;
  EXPECT_THROW(ReducedRankRegressionModel{r}, ConfigError);
}
