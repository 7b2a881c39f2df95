// The critical-amount search on synthetic curves whose crossing is known:
// step functions (every possible threshold position of an integer axis),
// smooth monotone curves (continuous axes), noisy curves, and shared caches
// across tolerances. Every run asserts the evaluation bound.
#include <gtest/gtest.h>

#include <cmath>

#include "compress/critical_search.h"
#include "core/error.h"
#include "core/rng.h"

namespace llcpress::compress {
namespace {

// The axes of the registered methods (method.h): levels, kept fraction, σ.
SearchAxis levels_axis() {
  return {
      .least = 65536, .most = 2, .integer = true, .log_scale = true, .start = 16, .initial_step = 1, .resolution = 1};
}
SearchAxis fraction_axis() {
  return {.least = 1,
          .most = 0,
          .integer = false,
          .log_scale = false,
          .start = 0.5,
          .initial_step = 0.125,
          .resolution = 1.0 / 1024};
}
SearchAxis sigma_axis() {
  return {.least = 1e-4,
          .most = 16,
          .integer = false,
          .log_scale = true,
          .start = 0.1,
          .initial_step = 1,
          .resolution = std::log2(1.02)};
}
SearchAxis count_axis(double units) {
  return {.least = 0,
          .most = units,
          .integer = true,
          .log_scale = false,
          .start = std::round(units / 4),
          .initial_step = std::max(1.0, std::round(units / 16)),
          .resolution = 1};
}

TEST(CriticalSearch, EvaluationBoundsAreSmall) {
  // The stated bounds (critical_search.h), so a regression in the search's
  // economy shows up here as well as in the exhaustive tests below.
  // levels: 1 start + 4 brackets (steps 1, 2, 4, 8 in log2 levels cover the
  // 15 doublings) + bisection of an 8-doubling bracket to adjacent integers
  // at 65536 (gap log2(65536/65535)): ceil(log2(8/2.2e-5)) + 2 = 21.
  EXPECT_EQ(evaluation_bound(levels_axis()), 26);
  EXPECT_EQ(evaluation_bound(fraction_axis()), 1 + 4 + 10);  // 0.5-wide bracket to 1/1024
  EXPECT_EQ(evaluation_bound(sigma_axis()), 1 + 5 + 10);     // 16-doubling bracket to 2 %
  EXPECT_EQ(evaluation_bound(count_axis(16)), 1 + 5 + 6);
}

TEST(CriticalSearch, FindsEveryStepOfTheLevelsAxisExactly) {
  // L(n) = 0 for n >= c, 1 below: the critical level count is c, for every
  // c up to 4096 and every 7th above (all 65535 take 5 s), and the two
  // statuses beyond the axis ends.
  const SearchAxis axis = levels_axis();
  const int bound = evaluation_bound(axis);
  int worst = 0;
  for (int critical = 2; critical <= 65536; critical += critical < 4096 ? 1 : 7) {
    LossCurve curve([&](double n) { return n >= critical ? 0.0 : 1.0; });
    CriticalResult result = find_critical(axis, 0.5, curve);
    if (critical == 2) {
      ASSERT_EQ(result.status, CriticalStatus::AllWithin);
      EXPECT_EQ(result.critical, 2);
    } else {
      ASSERT_EQ(result.status, CriticalStatus::Found) << critical;
      ASSERT_EQ(result.critical, critical);
      ASSERT_EQ(result.first_failing, critical - 1);
    }
    ASSERT_LE(result.new_evaluations, bound) << "critical " << critical;
    worst = std::max(worst, result.new_evaluations);
  }
  RecordProperty("worst_evaluations", worst);
  LossCurve never([](double) { return 1.0; });
  CriticalResult none = find_critical(axis, 0.5, never);
  EXPECT_EQ(none.status, CriticalStatus::NoneWithin);
  EXPECT_EQ(none.first_failing, 65536);
  EXPECT_TRUE(std::isnan(none.critical));
}

TEST(CriticalSearch, FindsEveryCountOfAStructuredAxis) {
  for (double units : {4.0, 16.0, 48.0, 1000.0}) {
    const SearchAxis axis = count_axis(units);
    for (int critical = 0; critical <= units; ++critical) {
      // Removing up to `critical` units is fine, one more fails.
      LossCurve curve([&](double removed) { return removed <= critical ? 0.1 : 2.0; });
      CriticalResult result = find_critical(axis, 1.0, curve);
      if (critical == units) {
        ASSERT_EQ(result.status, CriticalStatus::AllWithin);
      } else {
        ASSERT_EQ(result.status, CriticalStatus::Found);
        ASSERT_EQ(result.first_failing, critical + 1);
      }
      ASSERT_EQ(result.critical, critical) << units;
      ASSERT_LE(result.new_evaluations, evaluation_bound(axis)) << units << " " << critical;
    }
  }
}

TEST(CriticalSearch, BracketsSmoothCurvesToTheResolution) {
  // Kept fraction: L(f) = 4(1 - f)², threshold t: f_c = 1 - sqrt(t/4).
  const SearchAxis fraction = fraction_axis();
  for (int i = 1; i < 400; ++i) {
    const double threshold = 4.0 * i / 400.0 * 0.999;
    const double exact = 1.0 - std::sqrt(threshold / 4.0);
    LossCurve curve([](double f) { return 4.0 * (1 - f) * (1 - f); });
    CriticalResult result = find_critical(fraction, threshold, curve);
    ASSERT_EQ(result.status, CriticalStatus::Found);
    EXPECT_GE(result.critical, exact);  // acceptable: at or above the exact fraction
    EXPECT_LT(result.first_failing, exact);
    EXPECT_LE(result.critical - result.first_failing, fraction.resolution);
    EXPECT_LE(result.new_evaluations, evaluation_bound(fraction));
  }
  // σ on a log axis: L(σ) = σ², threshold t: σ_c = sqrt(t).
  const SearchAxis sigma = sigma_axis();
  for (double threshold : {1e-7, 3e-5, 0.01, 0.2, 1.0, 7.5, 200.0}) {
    LossCurve curve([](double s) { return s * s; });
    CriticalResult result = find_critical(sigma, threshold, curve);
    ASSERT_EQ(result.status, CriticalStatus::Found) << threshold;
    // σ_c itself may fail by one rounding (0.1·0.1 > 0.01 in double).
    EXPECT_LE(result.critical, std::sqrt(threshold));
    EXPECT_GE(result.first_failing, std::sqrt(threshold));
    EXPECT_LE(std::log2(result.first_failing / result.critical), sigma.resolution);
    EXPECT_LE(result.new_evaluations, evaluation_bound(sigma));
  }
}

TEST(CriticalSearch, ReusesPointsAcrossTolerances) {
  // L(n) = 8/n: for thresholds 8/c the critical level count is c.
  const SearchAxis axis = levels_axis();
  LossCurve shared([](double n) { return 8.0 / n; });
  int total = 0;
  for (double critical : {100.0, 40.0, 27.0}) {  // ε ordered as the sweep orders them
    CriticalResult result = find_critical(axis, 8.0 / critical, shared);
    EXPECT_EQ(result.critical, critical);
    total += result.new_evaluations;
    // A fresh cache finds the same answer with at least as many evaluations.
    LossCurve fresh([](double n) { return 8.0 / n; });
    CriticalResult alone = find_critical(axis, 8.0 / critical, fresh);
    EXPECT_EQ(alone.critical, critical);
    EXPECT_LE(result.new_evaluations, alone.new_evaluations);
  }
  EXPECT_EQ(total, shared.evaluations());
  EXPECT_LT(total, 3 * evaluation_bound(axis) / 2);
}

TEST(CriticalSearch, SlightlyNoisyCurvesLandInTheNoiseBand) {
  // f(n) = 8/n plus deterministic noise of amplitude δ (uniform in [-δ, δ],
  // Philox-keyed by n): the answer c is an acceptable point, and by the
  // first-crossing rule f(c) ≤ t + δ and f(c - 1) ≥ t - δ.
  const SearchAxis axis = levels_axis();
  for (double delta : {1e-4, 1e-3, 1e-2}) {
    for (int seed = 0; seed < 20; ++seed) {
      for (double threshold : {0.02, 0.1, 0.33, 1.0}) {
        auto truth = [](double n) { return 8.0 / n; };
        auto noisy = [&](double n) {
          double u = philox_uniform_at(seed, 99, static_cast<std::uint64_t>(n));
          return truth(n) + delta * (2 * u - 1);
        };
        LossCurve curve(noisy);
        CriticalResult result = find_critical(axis, threshold, curve);
        ASSERT_EQ(result.status, CriticalStatus::Found);
        EXPECT_LE(noisy(result.critical), threshold);
        EXPECT_LE(truth(result.critical), threshold + delta);
        EXPECT_GE(truth(result.first_failing), threshold - delta);
        EXPECT_EQ(result.critical - result.first_failing, 1);
        EXPECT_LE(result.new_evaluations, evaluation_bound(axis));
      }
    }
  }
}

TEST(CriticalSearch, FirstCrossingRuleIgnoresAcceptablePointsBeyondAFailure) {
  // Pruned fraction: acceptable at 0.1, fails at 0.3, acceptable again at
  // 0.5 (a non-monotone curve). The critical amount stays below 0.3.
  SearchAxis axis{.least = 0,
                  .most = 1,
                  .integer = false,
                  .log_scale = false,
                  .start = 0.5,
                  .initial_step = 0.125,
                  .resolution = 0.01};
  auto bumpy = [](double p) { return (p > 0.25 && p < 0.35) ? 2.0 : p; };
  LossCurve curve(bumpy);
  curve.at(0.1), curve.at(0.3), curve.at(0.5);
  CriticalResult result = find_critical(axis, 0.9, curve);
  ASSERT_EQ(result.status, CriticalStatus::Found);
  EXPECT_GE(result.critical, 0.25 - axis.resolution);
  EXPECT_LE(result.critical, 0.25);
  EXPECT_LE(result.first_failing, 0.3);
}

TEST(CriticalSearch, NanLossesCountAsFailures) {
  const SearchAxis axis = levels_axis();
  LossCurve curve([](double n) { return n < 50 ? std::nan("") : 0.0; });
  CriticalResult result = find_critical(axis, 1.0, curve);
  EXPECT_EQ(result.status, CriticalStatus::Found);
  EXPECT_EQ(result.critical, 50);
}

TEST(CriticalSearch, RejectsABrokenAxis) {
  SearchAxis axis = levels_axis();
  axis.start = 1;  // outside [2, 65536]
  LossCurve curve([](double) { return 0.0; });
  EXPECT_THROW(find_critical(axis, 1.0, curve), ConfigError);
  axis = sigma_axis();
  axis.least = 0;  // log of 0
  EXPECT_THROW(find_critical(axis, 1.0, curve), ConfigError);
}

}  // namespace
}  // namespace llcpress::compress
