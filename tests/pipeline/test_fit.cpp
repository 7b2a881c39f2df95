#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "core/check.h"
#include "core/rng.h"
#include "pipeline/fit.h"

using namespace llcpress;

namespace {

// Relative agreement with the numpy reference. Both sides compute in double;
// the sums involved have < 100 terms of similar magnitude, so rounding
// differences are ~1e-14 relative. 1e-9 is the bar.
constexpr double kReferenceTolerance = 1e-9;

void expect_relative(double actual, double expected, const char* what) {
  double scale = std::max(1.0, std::abs(expected));
  EXPECT_LE(std::abs(actual - expected) / scale, kReferenceTolerance) << what << ": " << actual << " vs " << expected;
}

nlohmann::json run_numpy_reference(const std::vector<double>& x, const std::vector<double>& y) {
  std::string input_path = testing::TempDir() + "/fit_points.json";
  std::ofstream(input_path) << nlohmann::json{{"x", x}, {"y", y}}.dump();
  std::string command =
      "/usr/bin/python3 " LLCPRESS_SOURCE_DIR "/tests/pipeline/fit_reference.py < " + input_path + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  std::string output;
  char buffer[4096];
  while (pipe && fgets(buffer, sizeof buffer, pipe)) output += buffer;
  int status = pipe ? pclose(pipe) : -1;
  if (status != 0) return nlohmann::json{{"error", output}};
  return nlohmann::json::parse(output);
}

}  // namespace

TEST(Fit, MatchesNumpyReference) {
  // Uneven spacing, negative values and ties in both x and y (Spearman's tie rule).
  std::vector<double> x = {0.5, 1.25, 1.25, 2.0, 3.5, 3.75, 5.0, 8.25, 9.0, 11.5};
  std::vector<double> y = {3.0, 3.5, 4.5, 4.5, 6.0, 7.25, 7.0, 9.5, 12.0, 12.5};
  for (double& value : y) value = value * 1.7 - 2.0;
  auto reference = run_numpy_reference(x, y);
  if (reference.contains("error")) GTEST_SKIP() << "python3 with numpy unavailable: " << reference["error"];
  LinearFit fit = fit_linear(x, y);
  EXPECT_EQ(fit.n, x.size());
  expect_relative(fit.slope, reference["slope"], "slope");
  expect_relative(fit.intercept, reference["intercept"], "intercept");
  expect_relative(fit.r_squared, reference["r_squared"], "r_squared");
  expect_relative(fit.pearson, reference["pearson"], "pearson");
  expect_relative(fit.spearman, reference["spearman"], "spearman");
  expect_relative(fit.slope_standard_error, reference["slope_standard_error"], "slope standard error");
}

TEST(Fit, ExactLineAndMonotoneCurve) {
  std::vector<double> x = {1, 2, 3, 4, 5}, y = {5, 7, 9, 11, 13};
  LinearFit fit = fit_linear(x, y);
  EXPECT_DOUBLE_EQ(fit.slope, 2.0);
  EXPECT_DOUBLE_EQ(fit.intercept, 3.0);
  EXPECT_DOUBLE_EQ(fit.r_squared, 1.0);
  // A monotone but curved relation: Spearman is exactly 1, Pearson below 1.
  std::vector<double> curved = {1, 4, 9, 16, 100};
  LinearFit curved_fit = fit_linear(x, curved);
  EXPECT_DOUBLE_EQ(curved_fit.spearman, 1.0);
  EXPECT_LT(curved_fit.pearson, 0.95);
}

TEST(Fit, AverageRanksHandleTies) {
  std::vector<double> values = {10, 20, 20, 5, 20};
  auto ranks = average_ranks(values);
  std::vector<double> expected = {2, 4, 4, 1, 4};
  EXPECT_EQ(ranks, expected);
}

TEST(Fit, RejectsDegenerateInput) {
  std::vector<double> same = {2, 2, 2, 2}, y = {1, 2, 3, 4};
  EXPECT_THROW(fit_linear(same, y), InputError);
  std::vector<double> with_nan = {1, 2, NAN, 4};
  try {
    fit_linear(with_nan, y);
    FAIL();
  } catch (const InputError& error) {
    EXPECT_NE(std::string(error.what()).find("point 2 is not finite"), std::string::npos) << error.what();
  }
  std::vector<double> two = {1, 2};
  EXPECT_THROW(fit_linear(two, two), InputError);
}

// Coverage: on data drawn from y = 1 + 2x + N(0, 1²) with x observed through
// N(0, 0.1²) noise (the chains' standard error), the 95% interval must contain
// the true slope in 95% of datasets. With 400 datasets the binomial standard
// deviation of the observed rate is sqrt(0.95·0.05/400) = 0.0109; we accept
// ±3 of those: [0.917, 0.983]. The x noise attenuates the OLS slope by
// var(x)/(var(x)+0.01) ≈ 0.9988 (x uniform on [0, 10]): negligible here.
class FitCoverage : public testing::TestWithParam<int> {};

// Run at 12 points (a suite's typical checkpoint count) and at 8, the fewest
// for which `llcpress fit` reports intervals (FitStageOptions).
TEST_P(FitCoverage, BootstrapIntervalCoversTrueSlopeAtStatedRate) {
  const int datasets = 400, n = GetParam();
  const double true_slope = 2.0, true_intercept = 1.0, noise = 1.0, x_error = 0.1;
  int covered = 0;
  for (int d = 0; d < datasets; ++d) {
    std::vector<double> x(n), y(n), x_se(n, x_error);
    for (int i = 0; i < n; ++i) {
      std::uint64_t element = std::uint64_t(d) * n + i;
      double x_true = 10.0 * philox_uniform_at(99, stream_id(1), element);
      y[i] = true_intercept + true_slope * x_true + noise * philox_normal_at(99, stream_id(2), element);
      x[i] = x_true + x_error * philox_normal_at(99, stream_id(3), element);
    }
    BootstrapOptions options;
    options.replicates = 999;
    options.seed = 1000 + d;
    BootstrapFit fit = bootstrap_fit(x, y, x_se, options);
    EXPECT_LT(fit.slope.low, fit.point.slope);
    EXPECT_GT(fit.slope.high, fit.point.slope);
    if (fit.slope.low <= true_slope && true_slope <= fit.slope.high) ++covered;
  }
  double rate = double(covered) / datasets;
  EXPECT_GE(rate, 0.917);
  EXPECT_LE(rate, 0.983);
  std::printf("bootstrap slope coverage at n = %d: %.3f over %d datasets\n", n, rate, datasets);
}

INSTANTIATE_TEST_SUITE_P(Fit, FitCoverage, testing::Values(8, 12));

TEST(Fit, IntervalWidensWithChainUncertainty) {
  std::vector<double> x = {1, 2, 3, 4, 5, 6, 7, 8}, y = {2.1, 3.9, 6.2, 7.8, 10.1, 12.2, 13.8, 16.1};
  BootstrapOptions options;
  options.replicates = 2000;
  auto precise = bootstrap_fit(x, y, {}, options);
  std::vector<double> noisy_se(x.size(), 0.8);
  auto noisy = bootstrap_fit(x, y, noisy_se, options);
  EXPECT_GT(noisy.slope.high - noisy.slope.low, 1.5 * (precise.slope.high - precise.slope.low));
}
