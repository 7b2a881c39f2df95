#include "lattice/gamma.h"

#include <cmath>
#include <numbers>

#include "core/check.h"

namespace llcpress::lattice {

double critical_rate() {
  // f(R) = ½·log2(1 + 4R·ln2) − R is concave with f(0) = 0 and
  // f'(R) = 2/(1 + 4R·ln2) − 1, so f'(0) = 1 > 0: f is positive on (0, R*) and
  // negative beyond, and bisection on a bracket with f(0.5) > 0 > f(2) finds R*.
  static const double root = [] {
    auto f = [](double r) { return 0.5 * std::log2(1.0 + 4.0 * r * std::numbers::ln2) - r; };
    double low = 0.5, high = 2.0;
    LLC_REQUIRE(f(low) > 0 && f(high) < 0, "R* bracket");
    for (int iteration = 0; iteration < 200 && high - low > 0; ++iteration) {
      double middle = 0.5 * (low + high);
      if (middle == low || middle == high) break;
      (f(middle) > 0 ? low : high) = middle;
    }
    return 0.5 * (low + high);
  }();
  return root;
}

double gamma_upper_curve(double rate) {
  double d = std::exp2(-2.0 * rate);
  return 2.0 * d - d * d;
}

double gamma_bound(double rate) {
  LLC_CHECK(rate >= 0 && std::isfinite(rate), ConfigError, "rate", "pass a rate in bits per entry >= 0",
            "rate {} is not a non-negative number", rate);
  double r_star = critical_rate();
  if (rate >= r_star) return gamma_upper_curve(rate);
  return 1.0 - (1.0 - gamma_upper_curve(r_star)) * rate / r_star;
}

double product_distortion_from_mmse(double mmse_distortion) {
  return 2.0 * mmse_distortion - mmse_distortion * mmse_distortion;
}

}  // namespace llcpress::lattice
