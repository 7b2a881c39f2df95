// The shared element-wise math (backend/elementwise.h) against independent
// forms: Random123's libm Box–Muller, the CPU GELU op, the quantizer's symmetry.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "backend/cpu_normals.h"
#include "backend/elementwise.h"
#include "core/rng.h"
#include "model/ops/gelu.h"

namespace llcpress::backend {
namespace {

// The polynomial Box–Muller against r123::boxmuller (libm log/sin/cos) on the
// same Philox words: within 8 float ulps of the result's magnitude, plus an
// absolute 1e-6 for values near zero (sin/cos of a near-multiple of π).
TEST(Elementwise, BlockNormalsMatchLibmBoxMuller) {
  for (std::uint64_t block = 0; block < 20000; ++block) {
    const Float4 expected = philox_normal4(3, 4, block);
    for (int lane = 0; lane < 4; ++lane) {
      const float actual = block_normal(3, 4, 4 * block + lane);
      const float e = expected.v[lane];
      ASSERT_NEAR(actual, e, 8 * std::ldexp(1.0f, -23) * std::fabs(e) + 1e-6f) << block << "." << lane;
    }
  }
}

// The batch (AVX2 Philox where available) equals the shared scalar function bit for bit.
TEST(Elementwise, CpuBatchEqualsScalarBlockNormal) {
  std::vector<float> batch(4 * 100);
  fill_block_normals(5, 6, 1234, 100, batch.data());
  for (std::size_t e = 0; e < batch.size(); ++e) ASSERT_EQ(batch[e], block_normal(5, 6, 4 * 1234 + e)) << e;
}

// The CPU GELU op evaluates the same formulas with Eigen's vectorised
// erf/exp/tanh. Tolerance: 4 ulps of the result, plus the cancellation both
// forms share in the negative tail: 1 + erf(x/√2) (or 1 + tanh) is formed in
// float at magnitude ≤ 2, so it carries up to 2⁻²³ absolute error in either
// form, scaled by ½|x| in the value (and ½ plus the φ term in the
// derivative): 2⁻²²·(½|x| + 1) absolute covers the two forms' difference.
// The tanh derivative also forms 1 − t² at magnitude 1 and scales it by
// ½|x|·√(2/π)(1 + 3·0.044715x²) (≈ 9 at x = −5), so its absolute term carries
// that factor instead, plus the whole (1 − t²) term where Eigen's vectorised
// tanh saturates to exactly ±1 (its argument clamp, |u| ≳ 7.9: beyond it the
// CPU op drops a term that libm still resolves, ≈ 3e-6 at x = −4.9).
TEST(Elementwise, GeluMatchesCpuOp) {
  std::vector<float> x(2001), y(x.size()), dx(x.size()), ones(x.size(), 1.0f);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = -8.0f + 0.008f * static_cast<float>(i);
  for (auto kind : {ops::GeluKind::Erf, ops::GeluKind::Tanh}) {
    ops::gelu_forward(y.data(), x.data(), static_cast<std::int64_t>(x.size()), kind);
    ops::gelu_backward(dx.data(), ones.data(), x.data(), static_cast<std::int64_t>(x.size()), kind);
    for (std::size_t i = 0; i < x.size(); ++i) {
      const float f = kind == ops::GeluKind::Erf ? gelu_erf(x[i]) : gelu_tanh(x[i]);
      const float d = kind == ops::GeluKind::Erf ? gelu_erf_derivative(x[i]) : gelu_tanh_derivative(x[i]);
      const float cancellation = std::ldexp(1.0f, -22) * (0.5f * std::fabs(x[i]) + 1.0f);
      const float tanh_factor =
          0.5f * std::fabs(x[i]) * kGeluSqrt2OverPi * (1.0f + 3.0f * kGeluTanhCubic * x[i] * x[i]);
      const double u = kGeluSqrt2OverPi * (double(x[i]) + kGeluTanhCubic * double(x[i]) * x[i] * x[i]);
      const double saturated_term = tanh_factor * (1.0 - std::tanh(u) * std::tanh(u));
      const float derivative_cancellation = kind == ops::GeluKind::Erf ? cancellation
                                                                       : std::ldexp(1.0f, -22) * (1.0f + tanh_factor) +
                                                                             static_cast<float>(saturated_term);
      EXPECT_NEAR(y[i], f, 4 * std::ldexp(1.0f, -23) * std::fabs(f) + cancellation) << x[i];
      EXPECT_NEAR(dx[i], d, 4 * std::ldexp(1.0f, -23) * std::fabs(d) + derivative_cancellation) << x[i];
    }
  }
}

TEST(Elementwise, QuantizerIsOddAndHitsTheLevels) {
  for (int levels : {2, 3, 16, 4097}) {
    const LevelMap map(levels, 1.5f);
    for (int i = -300; i <= 300; ++i) {
      const float w = 0.01f * static_cast<float>(i);
      // Exact decision boundaries round up (documented), so Q(−w) = −Q(w)
      // holds everywhere else; skip the ties.
      const double t = std::clamp(static_cast<double>(w), -map.clip, map.clip) * map.inverse_step + map.centre;
      if (t - std::floor(t) == 0.5) continue;
      EXPECT_EQ(map(-w), -map(w)) << levels << " " << w;
      const double index = map(w) / map.step + map.centre;
      EXPECT_NEAR(index, std::round(index), 1e-6) << levels << " " << w;
    }
  }
}

}  // namespace
}  // namespace llcpress::backend
