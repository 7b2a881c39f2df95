// Test helpers for the CPU ops: random data, the error metric, and central
// differences on double-precision reference implementations.
//
// Error metric (used by every model test): for a computed tensor a and a
// reference b, relative error = max_i |a_i − b_i| / max_i |b_i|. Normalising by
// the tensor's largest entry rather than entry by entry keeps entries that are
// near zero by cancellation (most gradient entries of a few-token batch) from
// turning harmless float rounding into huge "relative" errors, while any wrong
// index, sign or missing term still shows up at O(1).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "core/rng.h"

namespace llcpress::test {

inline std::vector<float> random_normal(std::size_t count, std::uint64_t stream, float scale = 1.0f) {
  std::vector<float> values(count);
  CounterRng(12345, stream).fill_normal(values.data(), count, 0, scale);
  return values;
}

inline std::vector<double> to_double(std::span<const float> values) { return {values.begin(), values.end()}; }

template <typename A, typename B>
double max_relative_error(std::span<const A> actual, std::span<const B> expected) {
  double max_difference = 0.0, max_reference = 0.0;
  const std::size_t count = std::min(actual.size(), expected.size());
  for (std::size_t i = 0; i < count; ++i) {
    max_difference =
        std::max(max_difference, std::abs(static_cast<double>(actual[i]) - static_cast<double>(expected[i])));
    max_reference = std::max(max_reference, std::abs(static_cast<double>(expected[i])));
  }
  if (actual.size() != expected.size()) return INFINITY;
  return max_reference > 0.0 ? max_difference / max_reference : max_difference;
}

template <typename A, typename B>
double max_relative_error(const std::vector<A>& actual, const std::vector<B>& expected) {
  return max_relative_error(std::span<const A>(actual), std::span<const B>(expected));
}

// Gradient of the scalar Σ_i weights_i · f(x)_i with respect to x by central
// differences in double precision. With step h the truncation error is
// O(h²·|f'''|) and the rounding error O(u_double·|f|/h); h = 1e-4 puts both
// near 1e-9 relative for the O(1) inputs these tests use, four orders of
// magnitude below the float tolerances the ops are held to.
inline std::vector<double> central_difference_gradient(
    const std::function<std::vector<double>(const std::vector<double>&)>& f, std::vector<double> x,
    const std::vector<double>& weights, double step = 1e-4) {
  std::vector<double> gradient(x.size());
  auto objective = [&](const std::vector<double>& point) {
    const std::vector<double> output = f(point);
    double sum = 0.0;
    for (std::size_t i = 0; i < output.size(); ++i) sum += weights[i] * output[i];
    return sum;
  };
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double saved = x[i];
    x[i] = saved + step;
    const double plus = objective(x);
    x[i] = saved - step;
    const double minus = objective(x);
    x[i] = saved;
    gradient[i] = (plus - minus) / (2.0 * step);
  }
  return gradient;
}

}  // namespace llcpress::test
