#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <initializer_list>
#include <vector>

#include "core/error.h"
#include "core/rng.h"
#include "slt/noise.h"
#include "slt/sampler.h"

using namespace llcpress;
using namespace llcpress::slt;

namespace {

// The update is computed in float; a hand computation in double differs by
// the float rounding of each term. Each of the ~6 float operations rounds to
// within 2⁻²⁴ relative, so 16·2⁻²⁴ of the largest term's magnitude bounds the
// difference with room to spare.
constexpr double kFloatOpsTolerance = 16.0 * 5.960464477539063e-08;

struct Buffers {
  std::vector<float> w, g, center;
};

Buffers random_buffers(std::size_t n, std::uint64_t seed) {
  Buffers b;
  b.w.resize(n);
  b.g.resize(n);
  b.center.resize(n);
  CounterRng(seed, 1).fill_normal(b.center.data(), n);
  CounterRng(seed, 2).fill_normal(b.g.data(), n);
  std::vector<float> offset(n);
  CounterRng(seed, 3).fill_normal(offset.data(), n, 0, 0.1f);
  for (std::size_t i = 0; i < n; ++i) b.w[i] = b.center[i] + offset[i];
  return b;
}

SamplerConfig example_config(SamplerKind kind) {
  SamplerConfig c;
  c.kind = kind;
  c.epsilon = 1e-3;
  c.nbeta = 25.0;
  c.localization = 100.0;
  c.weight_decay = 0.01;
  c.noise_scale = 0.7;
  return c;
}

}  // namespace

// w ← w − (ε/2)(nβg + γ(w − w*) + λw) + √ε·σ·ξ with ξ the Philox normal of the element.
TEST(Sampler, SgldStepMatchesHandComputation) {
  const std::size_t n = 37;  // not a multiple of 4: partial Philox blocks
  Buffers b = random_buffers(n, 11);
  const SamplerConfig c = example_config(SamplerKind::Sgld);
  Sampler sampler(c, SampledRanges::all(n), b.center, false);
  const std::vector<float> before = b.w;
  StepOptions options;
  options.seed = 99;
  options.noise_stream = stream_id(1, 2, 3);
  const StepSums sums = sampler.step(b.w, b.g, options);
  double distance_sq = 0, noise_sq = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double w = before[i], g = b.g[i], w0 = b.center[i];
    const double drift = c.nbeta * g + c.localization * (w - w0) + c.weight_decay * w;
    const double noise = std::sqrt(c.epsilon) * c.noise_scale * block_normal_at(99, options.noise_stream, i);
    const double expected = w - 0.5 * c.epsilon * drift + noise;
    const double scale = std::abs(w) + std::abs(0.5 * c.epsilon * drift) + std::abs(noise);
    EXPECT_NEAR(b.w[i], expected, kFloatOpsTolerance * scale) << "element " << i;
    distance_sq += (w - w0) * (w - w0);
    noise_sq += noise * noise;
  }
  // The sums add float terms in 8 float lanes (sampler.cpp): (w − w*)² is
  // formed with 2 roundings (≤ 3·2⁻²⁴ relative) and with 37 elements a lane
  // adds ≤ 5 terms (≤ 4·2⁻²⁴): ≤ 7·2⁻²⁴ ≈ 4.2e-7 < 1e-6. The noise term
  // carries a few more roundings (float √ε and σ, products): 1e-5 is ample.
  EXPECT_NEAR(sums.distance_sq, distance_sq, 1e-6 * distance_sq);
  EXPECT_NEAR(sums.noise_sq, noise_sq, 1e-5 * noise_sq);
  EXPECT_EQ(sums.nonfinite, 0u);
}

// pSGLD: V ← αV + (1−α)g² updated before use, P = 1/(√V + eps_p),
// w ← w − (ε/2)P·d + √ε·√P·σξ; two steps so the second uses accumulated V.
TEST(Sampler, RmspropStepsMatchHandComputation) {
  const std::size_t n = 23;
  Buffers b = random_buffers(n, 12);
  SamplerConfig c = example_config(SamplerKind::RmspropSgld);
  c.rmsprop_alpha = 0.9;
  c.rmsprop_eps = 0.05;
  Sampler sampler(c, SampledRanges::all(n), b.center, false);
  std::vector<double> w(b.w.begin(), b.w.end()), v(n, 0.0);
  for (int step = 0; step < 2; ++step) {
    std::vector<float> gradient(n);
    CounterRng(5, 100 + step).fill_normal(gradient.data(), n);
    StepOptions options;
    options.seed = 7;
    options.noise_stream = stream_id(4, step);
    sampler.step(b.w, gradient, options);
    for (std::size_t i = 0; i < n; ++i) {
      const double g = gradient[i];
      v[i] = c.rmsprop_alpha * v[i] + (1 - c.rmsprop_alpha) * g * g;
      const double p = 1.0 / (std::sqrt(v[i]) + c.rmsprop_eps);
      const double drift = c.nbeta * g + c.localization * (w[i] - b.center[i]) + c.weight_decay * w[i];
      const double noise =
          std::sqrt(c.epsilon) * std::sqrt(p) * c.noise_scale * block_normal_at(7, options.noise_stream, i);
      const double expected = w[i] - 0.5 * c.epsilon * p * drift + noise;
      const double scale = std::abs(w[i]) + std::abs(0.5 * c.epsilon * p * drift) + std::abs(noise);
      // Second step: w[i] carries the first step's float rounding too, so twice the budget.
      EXPECT_NEAR(b.w[i], expected, 2 * kFloatOpsTolerance * scale) << "step " << step << " element " << i;
      w[i] = b.w[i];  // continue from the sampler's own float state
    }
  }
}

TEST(Sampler, MaskedOutParametersAreUntouchedAndResetRestores) {
  const std::size_t n = 100;
  Buffers b = random_buffers(n, 13);
  const std::vector<float> start = b.w;
  const SampledRanges ranges = SampledRanges::from_ranges({{10, 30}, {25, 41}, {70, 71}}, n);
  ASSERT_EQ(ranges.ranges().size(), 2u);
  EXPECT_EQ(ranges.count(), 32u);
  for (auto kind : {SamplerKind::Sgld, SamplerKind::RmspropSgld}) {
    b.w = start;
    // w* is not copied by the sampler: it reads `start`, the reference.
    Sampler sampler(example_config(kind), ranges, start, true);
    for (int step = 0; step < 5; ++step) {
      StepOptions options;
      options.noise_stream = stream_id(step);
      options.open_mala = true;
      options.close_mala = step > 0;
      sampler.step(b.w, b.g, options);
    }
    for (std::size_t i = 0; i < n; ++i) {
      if (ranges.contains(i))
        EXPECT_NE(b.w[i], start[i]) << "sampled element " << i << " did not move";
      else
        EXPECT_EQ(b.w[i], start[i]) << "masked-out element " << i << " changed";
    }
    sampler.reset(b.w);
    EXPECT_EQ(b.w, start);
  }
}

TEST(Sampler, BoundingBoxKeepsWeightsNearTheCenter) {
  const std::size_t n = 64;
  Buffers b = random_buffers(n, 14);
  SamplerConfig c = example_config(SamplerKind::Sgld);
  c.epsilon = 1.0;  // huge steps: the box must do the work
  c.bounding_box = 0.05;
  Sampler sampler(c, SampledRanges::all(n), b.center, false);
  b.w = b.center;
  std::size_t clamped = 0;
  for (int step = 0; step < 3; ++step) {
    StepOptions options;
    options.noise_stream = stream_id(step);
    clamped += sampler.step(b.w, b.g, options).clamped;
    for (std::size_t i = 0; i < n; ++i) ASSERT_LE(std::abs(b.w[i] - b.center[i]), 0.05f + 1e-7f);
  }
  EXPECT_GT(clamped, 0u);
}

// Element e gets the same variate however the loop is split across threads.
TEST(Sampler, UpdateIsIndependentOfThreadCount) {
  const std::size_t n = 100003;  // several reduction chunks
  Buffers base = random_buffers(n, 15);
  std::vector<float> results[2];
  StepSums sums[2];
  const int saved = omp_get_max_threads();
  for (int t = 0; t < 2; ++t) {
    omp_set_num_threads(t == 0 ? 1 : 3);
    Buffers b = base;
    Sampler sampler(example_config(SamplerKind::RmspropSgld), SampledRanges::all(n), b.center, false);
    StepOptions options;
    options.seed = 3;
    options.noise_stream = stream_id(8);
    sums[t] = sampler.step(b.w, b.g, options);
    results[t] = b.w;
  }
  omp_set_num_threads(saved);
  EXPECT_EQ(results[0], results[1]);
  EXPECT_EQ(sums[0].distance_sq, sums[1].distance_sq);
  EXPECT_EQ(sums[0].noise_sq, sums[1].noise_sq);
}

TEST(Sampler, NonFiniteUpdatesAreCounted) {
  const std::size_t n = 8;
  Buffers b = random_buffers(n, 16);
  b.g[3] = std::numeric_limits<float>::infinity();
  Sampler sampler(example_config(SamplerKind::Sgld), SampledRanges::all(n), b.center, false);
  StepOptions options;
  EXPECT_EQ(sampler.step(b.w, b.g, options).nonfinite, 1u);
}

// The MALA log ratio assembled from the fused loop's sums equals the textbook
// formula log π(w') − log π(w) + log q(w'|w... reversed) computed directly on a
// quadratic potential U(w) = ½ Σ h_i (w_i − c_i)², for SGLD and for pSGLD
// (whose P is held at the proposal's value, as documented).
TEST(Sampler, MalaLogRatioMatchesDirectFormula) {
  const std::size_t n = 9;
  for (auto kind : {SamplerKind::Sgld, SamplerKind::RmspropSgld}) {
    SamplerConfig c;
    c.kind = kind;
    c.epsilon = 0.05;
    c.nbeta = 3.0;
    c.localization = 2.0;
    c.weight_decay = 0.3;
    c.noise_scale = 1.0;
    std::vector<float> center(n), h(n), w(n), target(n);
    CounterRng(21, 1).fill_normal(center.data(), n);
    CounterRng(21, 3).fill_normal(target.data(), n);
    for (std::size_t i = 0; i < n; ++i) h[i] = 0.5f + 0.25f * i;
    w = center;
    // The "loss": L(w) = ½ Σ h_i (w_i − t_i)², gradient h_i (w_i − t_i).
    auto loss_and_grad = [&](const std::vector<float>& x, std::vector<float>& g) {
      double l = 0;
      for (std::size_t i = 0; i < n; ++i) {
        l += 0.5 * h[i] * (double(x[i]) - target[i]) * (double(x[i]) - target[i]);
        g[i] = h[i] * (x[i] - target[i]);
      }
      return l;
    };
    auto potential = [&](const std::vector<double>& x) {
      double u = 0;
      for (std::size_t i = 0; i < n; ++i)
        u += c.nbeta * 0.5 * h[i] * (x[i] - target[i]) * (x[i] - target[i]) +
             0.5 * c.localization * (x[i] - center[i]) * (x[i] - center[i]) + 0.5 * c.weight_decay * x[i] * x[i];
      return u;
    };
    auto grad_potential = [&](const std::vector<double>& x, std::size_t i) {
      return c.nbeta * h[i] * (x[i] - target[i]) + c.localization * (x[i] - center[i]) + c.weight_decay * x[i];
    };
    Sampler sampler(c, SampledRanges::all(n), center, true);
    std::vector<float> g(n);
    // Step 0 (burn one step so pSGLD's V is not fresh), step 1 opens, step 2 closes.
    double loss = loss_and_grad(w, g);
    StepOptions o0;
    o0.noise_stream = stream_id(0);
    sampler.step(w, g, o0);
    loss = loss_and_grad(w, g);
    const std::vector<double> x(w.begin(), w.end());
    const std::vector<float> g_before = g;
    StepOptions o1;
    o1.noise_stream = stream_id(1);
    o1.open_mala = true;
    const StepSums opening = sampler.step(w, g, o1);
    const double u_before = sampler_potential(c, loss, opening);
    loss = loss_and_grad(w, g);
    const std::vector<double> y(w.begin(), w.end());
    StepOptions o2;
    o2.noise_stream = stream_id(2);
    o2.close_mala = true;
    o2.apply = false;
    const StepSums closing = sampler.step(w, g, o2);
    const double u_after = sampler_potential(c, loss, closing);
    const double computed = mala_log_ratio(u_before, u_after, opening, closing, c.epsilon, c.noise_scale);

    // Direct: log α = U(x) − U(y) + log q(x | y) − log q(y | x), q(b | a) = N(b; a − (ε/2)P∇U(a), εP).
    // P of the proposal made at step 1 (pSGLD: V after steps 0 and 1's gradients).
    std::vector<double> p(n, 1.0);
    if (kind == SamplerKind::RmspropSgld) {
      std::vector<float> g0(n);
      std::vector<float> start = center;
      loss_and_grad(start, g0);  // step 0's gradient was at w*
      for (std::size_t i = 0; i < n; ++i) {
        double v = (1 - c.rmsprop_alpha) * double(g0[i]) * g0[i];
        v = c.rmsprop_alpha * v + (1 - c.rmsprop_alpha) * double(g_before[i]) * g_before[i];
        p[i] = 1.0 / (std::sqrt(v) + c.rmsprop_eps);
      }
    }
    double log_q_forward = 0, log_q_backward = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const double forward = y[i] - (x[i] - 0.5 * c.epsilon * p[i] * grad_potential(x, i));
      const double backward = x[i] - (y[i] - 0.5 * c.epsilon * p[i] * grad_potential(y, i));
      log_q_forward -= forward * forward / (2 * c.epsilon * p[i]);
      log_q_backward -= backward * backward / (2 * c.epsilon * p[i]);
    }
    const double direct = potential(x) - potential(y) + log_q_backward - log_q_forward;
    // Both sides are differences of O(1) terms computed from float weights and
    // gradients: agreement to 1e-4 absolute (float rounding of the ~n·ε-sized terms).
    EXPECT_NEAR(computed, direct, 1e-4) << sampler_kind_name(kind);
    EXPECT_TRUE(std::isfinite(computed));
  }
}

// The sampler's normals are core/rng.h's Philox words through r123's
// Box–Muller mapping, with polynomial log/sin/cos: they must agree with
// philox_normal_at value by value (any difference in the Philox words would
// give unrelated numbers). Tolerance: the polynomials are accurate to ~1e-7
// relative, and r123 itself rounds π·a in float (up to 2⁻²⁴·π ≈ 1.9e-7 in the
// angle), so 1e-6·max(1, |z|) bounds the difference with a 5× margin.
TEST(Noise, BlockNormalsMatchPhiloxNormalsValueByValue) {
  const std::size_t n = 200003;
  std::vector<float> fast(n + 3);
  fill_block_normals(17, stream_id(5, 6), 0, (n + 3) / 4, fast.data());
  double worst = 0, mean = 0, second = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double reference = philox_normal_at(17, stream_id(5, 6), i);
    worst = std::max(worst, std::abs(fast[i] - reference) / std::max(1.0, std::abs(reference)));
    mean += fast[i];
    second += double(fast[i]) * fast[i];
  }
  EXPECT_LT(worst, 1e-6);
  // Moments of N(0, 1) over n draws: standard errors 1/√n and √(2/n).
  EXPECT_NEAR(mean / n, 0.0, 5 / std::sqrt(double(n)));
  EXPECT_NEAR(second / n, 1.0, 5 * std::sqrt(2.0 / n));
  // Any offset gives the same element values.
  std::vector<float> part(8);
  fill_block_normals(17, stream_id(5, 6), 1000, 2, part.data());
  for (std::size_t i = 0; i < 8; ++i) EXPECT_EQ(part[i], fast[4000 + i]);
  EXPECT_EQ(block_normal_at(17, stream_id(5, 6), 123457), fast[123457]);
}

// fill_block_normals makes 16 blocks at a time with AVX2 Philox where it can
// and single blocks (block_normal_at) with the scalar code: both agree bit for
// bit, also where the 64-bit block index carries into its high word inside a
// group of 16, and for seeds and streams with high words set.
TEST(Noise, VectorPhiloxAgreesWithSingleBlocksAcrossIndexCarries) {
  const std::uint64_t seed = 0x1234567890ull, stream = 0xabcdef12345ull;
  for (std::uint64_t first : {std::uint64_t{0}, std::uint64_t{123}, (std::uint64_t{1} << 32) - 5,
                              (std::uint64_t{1} << 32) - 9, (std::uint64_t{3} << 32) - 1}) {
    std::vector<float> block(4 * 100);
    fill_block_normals(seed, stream, first, 100, block.data());
    for (std::size_t e = 0; e < block.size(); ++e)
      ASSERT_EQ(block[e], block_normal_at(seed, stream, 4 * first + e)) << "block " << first << " + " << e / 4;
  }
}

// The diagnostic sums over several sub-blocks (partial lane groups at range
// ends included) against double sums of the same terms. Derivation of the
// tolerance: a term is formed from float inputs with at most 8 roundings in
// its factor (float scalars, products), so the square carries ≤ 16·2⁻²⁴
// relative error; a float lane adds ≤ 1024/8 = 128 terms, whose recursive sum
// of non-negative terms is within 127·2⁻²⁴ relative; folding the lanes in
// double adds nothing of note. Hence (128 + 16)·2⁻²⁴ ≈ 8.6e-6 relative.
TEST(Sampler, SumsMatchDoubleSumsWithinTheFloatLaneBound) {
  const std::size_t n = 5000;
  Buffers b = random_buffers(n, 21);
  const SamplerConfig c = example_config(SamplerKind::Sgld);
  const SampledRanges ranges = SampledRanges::from_ranges({{3, 2051}, {2100, 4999}}, n);
  Sampler sampler(c, ranges, b.center, false);
  const std::vector<float> before = b.w;
  StepOptions options;
  options.seed = 4;
  options.noise_stream = stream_id(9);
  const StepSums sums = sampler.step(b.w, b.g, options);
  double distance = 0, weight = 0, gradient = 0, drift_gradient = 0, noise = 0, after = 0;
  for (const auto& range : ranges.ranges()) {
    for (std::size_t i = range.begin; i < range.end; ++i) {
      const double w = before[i], g = b.g[i], w0 = b.center[i];
      const double xi = std::sqrt(c.epsilon) * c.noise_scale * block_normal_at(4, options.noise_stream, i);
      const double dg = 0.5 * c.epsilon * c.nbeta * g;
      distance += (w - w0) * (w - w0);
      weight += w * w;
      gradient += g * g;
      drift_gradient += dg * dg;
      noise += xi * xi;
      after += (double(b.w[i]) - w0) * (double(b.w[i]) - w0);
    }
  }
  const double bound = (128 + 16) * 5.960464477539063e-08;
  EXPECT_NEAR(sums.distance_sq, distance, bound * distance);
  EXPECT_NEAR(sums.weight_sq, weight, bound * weight);
  EXPECT_NEAR(sums.gradient_sq, gradient, bound * gradient);
  EXPECT_NEAR(sums.drift_gradient_sq, drift_gradient, bound * drift_gradient);
  EXPECT_NEAR(sums.noise_sq, noise, bound * noise);
  EXPECT_NEAR(sums.distance_after_sq, after, bound * after);
}

TEST(Sampler, ConfigValidationNamesTheKey) {
  SamplerConfig c;
  c.epsilon = -1;
  try {
    c.validate();
    FAIL() << "negative epsilon accepted";
  } catch (const ConfigError& error) {
    EXPECT_EQ(error.where(), "epsilon");
  }
  EXPECT_EQ(parse_sampler_kind("rmsprop-sgld"), SamplerKind::RmspropSgld);
  EXPECT_THROW(parse_sampler_kind("adam"), ConfigError);
}
