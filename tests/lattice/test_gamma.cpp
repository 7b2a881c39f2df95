// Γ(R) and R*: the defining equations, continuity and tangency.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "core/error.h"
#include "lattice/gamma.h"

namespace llcpress::lattice {
namespace {

TEST(CriticalRate, SolvesItsDefiningEquation) {
  const double r = critical_rate();
  // Bisection to machine precision: the residual is a few ulps of R.
  EXPECT_NEAR(r, 0.5 * std::log2(1.0 + 4.0 * r * std::numbers::ln2), 1e-14);
  // REFERENCE.md §5 quotes R* ≈ 0.906 (three digits).
  EXPECT_NEAR(r, 0.906, 5e-4);
}

TEST(Gamma, IsTheTangentLineFromOneBelowCriticalRate) {
  const double r = critical_rate();
  // Continuous at R*.
  EXPECT_NEAR(gamma_bound(r - 1e-12), gamma_bound(r + 1e-12), 1e-10);
  // The line through (0, 1) and (R*, Γ(R*)) has the slope of the upper curve at
  // R*: central difference with h = 1e-5 has error O(h²·Γ''') ≈ 1e-10.
  const double h = 1e-5;
  double curve_slope = (gamma_upper_curve(r + h) - gamma_upper_curve(r - h)) / (2 * h);
  double line_slope = (gamma_upper_curve(r) - 1.0) / r;
  EXPECT_NEAR(curve_slope, line_slope, 1e-8);
  // Closed form of the tangency: 2^{−2R*} = 1/(1 + 4R* ln 2).
  EXPECT_NEAR(std::exp2(-2 * r), 1.0 / (1.0 + 4.0 * r * std::numbers::ln2), 1e-14);
  // Below R* the bound is that line, and it lies below the upper curve (time-sharing helps).
  for (double rate : {0.1, 0.4, 0.8}) {
    EXPECT_NEAR(gamma_bound(rate), 1.0 + line_slope * rate, 1e-12);
    EXPECT_LT(gamma_bound(rate), gamma_upper_curve(rate));
  }
}

TEST(Gamma, EndpointsAndMonotone) {
  EXPECT_DOUBLE_EQ(gamma_bound(0.0), 1.0);
  EXPECT_NEAR(gamma_bound(3.0), 2.0 / 64 - 1.0 / 4096, 1e-15);
  double previous = 2.0;
  for (double rate = 0; rate < 8; rate += 0.05) {
    double g = gamma_bound(rate);
    EXPECT_LT(g, previous);
    previous = g;
  }
  EXPECT_THROW(gamma_bound(-0.1), ConfigError);
  EXPECT_NEAR(product_distortion_from_mmse(std::exp2(-6.0)), gamma_upper_curve(3.0), 1e-15);
}

}  // namespace
}  // namespace llcpress::lattice
