// Each registered backend's memory and ops against double-precision
// references computed here, independently of src/model/ops.
#include <cmath>
#include <vector>

#include "backend/elementwise.h"
#include "backend_test.h"
#include "core/rng.h"

namespace llcpress::backend::testing {
namespace {

std::vector<float> normals(std::size_t count, std::uint64_t stream, float scale = 1.0f) {
  std::vector<float> values(count);
  CounterRng(77, stream).fill_normal(values.data(), count, 0, scale);
  return values;
}

TEST_P(BackendTest, BuffersRoundTripAndCopyZero) {
  const std::vector<float> host = normals(1000, 1);
  Buffer<float> a = upload(host);
  EXPECT_EQ(a.space(), backend().memory_space());
  EXPECT_EQ(download(a), host);
  Buffer<float> b(backend(), host.size());
  backend().copy(b.data(), a.data(), static_cast<std::int64_t>(host.size()));
  EXPECT_EQ(download(b), host);
  backend().zero(b.data() + 10, 20);
  std::vector<float> expected = host;
  std::fill(expected.begin() + 10, expected.begin() + 30, 0.0f);
  EXPECT_EQ(download(b), expected);
  if (backend().memory_space() == MemorySpace::Device) {
    EXPECT_THROW(a.host_span(), UnsupportedOp);
  }
}

// LayerNorm in double: the reference the op must match within float rounding.
// Tolerance: a row of H = 96 values, each step a few fp32 roundings of O(1)
// numbers; relative 1e-5 is ~80 ulps, far above the ~H·2⁻²⁴ accumulated error.
TEST_P(BackendTest, LayernormForwardMatchesDoubleReference) {
  constexpr std::int64_t rows = 7;
  constexpr int hidden = 96;
  constexpr double kTolerance = 1e-5;
  const std::vector<float> x = normals(rows * hidden, 2), weight = normals(hidden, 3), bias = normals(hidden, 4);
  Buffer<float> dx = upload(x), dw = upload(weight), db = upload(bias);
  Buffer<float> out(backend(), rows * hidden), mean(backend(), rows), rstd(backend(), rows);
  LLC_BACKEND_OP(backend().layernorm_forward(out.data(), mean.data(), rstd.data(), dx.data(), dw.data(), db.data(),
                                             rows, hidden, 1e-5f));
  const std::vector<float> y = download(out);
  for (std::int64_t r = 0; r < rows; ++r) {
    double m = 0, v = 0;
    for (int i = 0; i < hidden; ++i) m += x[r * hidden + i];
    m /= hidden;
    for (int i = 0; i < hidden; ++i) v += (x[r * hidden + i] - m) * (x[r * hidden + i] - m);
    v /= hidden;
    for (int i = 0; i < hidden; ++i) {
      const double expected = (x[r * hidden + i] - m) / std::sqrt(v + 1e-5) * weight[i] + bias[i];
      EXPECT_NEAR(y[r * hidden + i], expected, kTolerance * (1 + std::fabs(expected))) << r << "," << i;
    }
  }
}

// The fused residual add + layer norm against the same double reference,
// applied to input + residual (tolerance as above: the add is one more
// correctly rounded operation per element). sum must be the float sum
// exactly; the backward must be layernorm_backward of sum, bit for bit on the
// same backend (the add's backward is the identity).
TEST_P(BackendTest, ResidualLayernormMatchesDoubleReferenceAndLayernormBackward) {
  constexpr std::int64_t rows = 7;
  constexpr int hidden = 96;
  constexpr double kTolerance = 1e-5;
  const std::vector<float> x = normals(rows * hidden, 5), r = normals(rows * hidden, 6, 0.5f);
  const std::vector<float> weight = normals(hidden, 7), bias = normals(hidden, 8), dy = normals(rows * hidden, 9);
  Buffer<float> dx = upload(x), dr = upload(r), dw = upload(weight), db = upload(bias), ddy = upload(dy);
  Buffer<float> sum(backend(), rows * hidden), out(backend(), rows * hidden), mean(backend(), rows),
      rstd(backend(), rows);
  LLC_BACKEND_OP(backend().residual_layernorm_forward(sum.data(), out.data(), mean.data(), rstd.data(), dx.data(),
                                                      dr.data(), dw.data(), db.data(), rows, hidden, 1e-5f));
  const std::vector<float> s = download(sum), y = download(out);
  for (std::int64_t row = 0; row < rows; ++row) {
    double m = 0, v = 0;
    for (int i = 0; i < hidden; ++i) {
      EXPECT_EQ(s[row * hidden + i], x[row * hidden + i] + r[row * hidden + i]);
      m += s[row * hidden + i];
    }
    m /= hidden;
    for (int i = 0; i < hidden; ++i) v += (s[row * hidden + i] - m) * (s[row * hidden + i] - m);
    v /= hidden;
    for (int i = 0; i < hidden; ++i) {
      const double expected = (s[row * hidden + i] - m) / std::sqrt(v + 1e-5) * weight[i] + bias[i];
      EXPECT_NEAR(y[row * hidden + i], expected, kTolerance * (1 + std::fabs(expected))) << row << "," << i;
    }
  }
  Buffer<float> fused_dx = upload(r), plain_dx = upload(r);  // ACCUMULATED onto a non-zero start
  Buffer<float> fused_dw(backend(), hidden), fused_db(backend(), hidden), plain_dw(backend(), hidden),
      plain_db(backend(), hidden);
  LLC_BACKEND_OP(backend().residual_layernorm_backward(fused_dx.data(), fused_dw.data(), fused_db.data(), ddy.data(),
                                                       sum.data(), mean.data(), rstd.data(), dw.data(), rows, hidden));
  backend().layernorm_backward(plain_dx.data(), plain_dw.data(), plain_db.data(), ddy.data(), sum.data(), mean.data(),
                               rstd.data(), dw.data(), rows, hidden);
  EXPECT_EQ(download(fused_dx), download(plain_dx));
  EXPECT_EQ(download(fused_dw), download(plain_dw));
  EXPECT_EQ(download(fused_db), download(plain_db));
}

// C = A·Bᵀ against a double product. Tolerance: k = 64 products of N(0,1)
// entries, fp32 accumulation: error ≲ k·2⁻²⁴·Σ|a||b| ≈ 64·6e-8·64 ≈ 2.5e-4.
TEST_P(BackendTest, GemmMatchesDoubleProduct) {
  constexpr std::int64_t m = 9, n = 11, k = 64;
  constexpr double kTolerance = 2.5e-4;
  const std::vector<float> a = normals(m * k, 5), b = normals(n * k, 6);
  Buffer<float> da = upload(a), db = upload(b), dc(backend(), m * n);
  LLC_BACKEND_OP(
      backend().gemm(dc.data(), da.data(), db.data(), m, n, k, Transpose::No, Transpose::Yes, 1.0f, 0.0f, k, k, n));
  const std::vector<float> c = download(dc);
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j) {
      double expected = 0;
      for (std::int64_t l = 0; l < k; ++l) expected += double(a[i * k + l]) * b[j * k + l];
      EXPECT_NEAR(c[i * n + j], expected, kTolerance) << i << "," << j;
    }
}

// One SGLD and one pSGLD step against the update written out in double from
// REFERENCE §3, with the sampler's normals (block_normal). Tolerance: a
// handful of fp32 roundings of the O(1e-2) step: 1e-6 absolute on O(1) weights.
TEST_P(BackendTest, SamplerStepMatchesDoubleUpdate) {
  constexpr std::size_t n = 3000;  // crosses sub-block boundaries (1024)
  constexpr double kTolerance = 1e-6;
  const std::vector<float> center = normals(n, 7), gradient = normals(n, 8, 0.5f);
  const std::vector<float> offset = normals(n, 9, 0.01f);
  std::vector<float> w = center;
  for (std::size_t i = 0; i < n; ++i) w[i] += offset[i];
  for (bool rmsprop : {false, true}) {
    SamplerStepScalars s;
    const double epsilon = 1e-4, nbeta = 20, gamma = 100, decay = 0.01, alpha = 0.99, eps_p = 0.1;
    s.half_epsilon = float(0.5 * epsilon);
    s.sqrt_epsilon = float(std::sqrt(epsilon));
    s.nbeta = float(nbeta), s.localization = float(gamma), s.weight_decay = float(decay), s.noise_scale = 1.0f;
    s.alpha = float(alpha), s.one_minus_alpha = float(1 - alpha), s.rmsprop_eps = float(eps_p);
    s.box = INFINITY;
    s.rmsprop = rmsprop;
    s.sums = true;
    s.seed = 11, s.stream = 12;
    Buffer<float> dw = upload(w), dg = upload(gradient), dc = upload(center);
    Buffer<float> v(backend(), n);
    backend().zero(v.data(), n);
    const std::vector<SamplerChunk> chunks = {{0, 1000, 0}, {1000, n, 1000}};
    StepSums sums;
    LLC_BACKEND_OP(sums = backend().sampler_step(dw.data(), rmsprop ? v.data() : nullptr, nullptr, dg.data(), dc.data(),
                                                 chunks, s));
    const std::vector<float> updated = download(dw);
    double distance_sq = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const double g = gradient[i], p = rmsprop ? 1.0 / (std::sqrt((1 - alpha) * g * g) + eps_p) : 1.0;
      const double drift = nbeta * g + gamma * (double(w[i]) - center[i]) + decay * w[i];
      const double xi = block_normal(11, 12, i);
      const double expected = w[i] - 0.5 * epsilon * p * drift + std::sqrt(epsilon) * std::sqrt(p) * xi;
      ASSERT_NEAR(updated[i], expected, kTolerance) << (rmsprop ? "psgld " : "sgld ") << i;
      distance_sq += (double(w[i]) - center[i]) * (double(w[i]) - center[i]);
    }
    EXPECT_NEAR(sums.distance_sq, distance_sq, 1e-5 * distance_sq);
    EXPECT_EQ(sums.nonfinite, 0u);
  }
}

// Uniform quantization of rows against the closed form of the levels.
TEST_P(BackendTest, QuantizeRowsMatchesNearestLevel) {
  constexpr std::int64_t rows = 3, cols = 50;
  const std::vector<float> x = normals(rows * cols, 10);
  const std::vector<float> clips = {0.5f, 1.0f, 2.0f};
  Buffer<float> in = upload(x), out(backend(), rows * cols);
  LLC_BACKEND_OP(backend().quantize_rows_forward(out.data(), in.data(), clips.data(), rows, cols, 5));
  const std::vector<float> y = download(out);
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t i = 0; i < cols; ++i) {
      const double step = 2.0 * clips[r] / 4,
                   value = std::clamp(double(x[r * cols + i]), -double(clips[r]), double(clips[r]));
      double best = 0, best_distance = 1e30;
      for (int k = 0; k < 5; ++k) {
        const double level = (k - 2) * step;
        if (std::fabs(level - value) < best_distance) best_distance = std::fabs(level - value), best = level;
      }
      EXPECT_NEAR(y[r * cols + i], best, 1e-6) << r << "," << i;
    }
}

// out = in + σ·ξ with ξ_i the i-th Philox normal of (seed, stream), against
// the element-wise definition philox_normal_at (not the block fill the CPU
// op uses) evaluated in double. Tolerance: the op rounds σ·ξ and the sum to
// fp32 (two roundings, or one under FMA contraction): 2·2⁻²⁴ relative to
// |in| + |σ·ξ|, taken as 2.5e-7. The count 4099 is not a multiple of the
// 4-normal Philox block, so the tail of a block is checked too. The same
// call with out aliasing in must give the same floats.
TEST_P(BackendTest, NoiseForwardAddsScaledPhiloxNormals) {
  constexpr std::size_t n = 4099;
  constexpr double kRelative = 2.5e-7;
  constexpr float sigma = 0.03f;
  constexpr std::uint64_t seed = 0x6c6c6370ull, stream = 41;
  const std::vector<float> x = normals(n, 13);
  Buffer<float> in = upload(x), out(backend(), n), in_place = upload(x);
  LLC_BACKEND_OP(backend().noise_forward(out.data(), in.data(), sigma, seed, stream, static_cast<std::int64_t>(n)));
  LLC_BACKEND_OP(
      backend().noise_forward(in_place.data(), in_place.data(), sigma, seed, stream, static_cast<std::int64_t>(n)));
  const std::vector<float> y = download(out);
  EXPECT_EQ(download(in_place), y) << "aliased out == in gives different values";
  EXPECT_EQ(download(in), x) << "noise_forward changed its input";
  double sum = 0, squares = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double xi = philox_normal_at(seed, stream, i);
    const double expected = double(x[i]) + double(sigma) * xi;
    ASSERT_NEAR(y[i], expected, kRelative * (std::fabs(x[i]) + std::fabs(sigma * xi))) << i;
    const double recovered = (double(y[i]) - x[i]) / sigma;
    sum += recovered, squares += recovered * recovered;
  }
  // The added values are N(0, σ²): with n = 4099 the sample mean of ξ has
  // standard deviation 1/√n ≈ 0.016 and the sample variance ≈ √(2/n) ≈ 0.022;
  // 5 standard deviations of each.
  const double mean = sum / n;
  EXPECT_NEAR(mean, 0.0, 5 * 0.016);
  EXPECT_NEAR(squares / n - mean * mean, 1.0, 5 * 0.022);
}

// σ = 0 leaves the values exactly (in + 0·ξ = in for finite ξ).
TEST_P(BackendTest, NoiseForwardWithZeroSigmaIsIdentity) {
  const std::vector<float> x = normals(257, 14);
  Buffer<float> in = upload(x), out(backend(), x.size());
  LLC_BACKEND_OP(backend().noise_forward(out.data(), in.data(), 0.0f, 3, 4, static_cast<std::int64_t>(x.size())));
  EXPECT_EQ(download(out), x);
}

// Entries at host-given indices (unsorted, as a magnitude order is) set to
// zero, every other entry unchanged: exact.
TEST_P(BackendTest, ZeroElementsZeroesExactlyTheGivenIndices) {
  constexpr std::size_t n = 1000;
  const std::vector<float> x = normals(n, 15);
  std::vector<std::size_t> indices;
  for (std::size_t i = 0; i < 300; ++i) indices.push_back((i * 7919) % n);  // distinct: 7919 is prime to 1000
  Buffer<float> buffer = upload(x);
  LLC_BACKEND_OP(backend().zero_elements(buffer.data(), indices.data(), static_cast<std::int64_t>(indices.size())));
  std::vector<float> expected = x;
  for (std::size_t index : indices) expected[index] = 0.0f;
  EXPECT_EQ(download(buffer), expected);
  // count 0 touches nothing.
  Buffer<float> untouched = upload(x);
  LLC_BACKEND_OP(backend().zero_elements(untouched.data(), indices.data(), 0));
  EXPECT_EQ(download(untouched), x);
}

// Columns [first, first + count) of a row-major (rows, cols) matrix set to
// zero, including the first and the last column; exact.
TEST_P(BackendTest, ZeroColumnsZeroesExactlyTheColumnBlock) {
  constexpr std::int64_t rows = 13, cols = 37;
  const std::vector<float> x = normals(rows * cols, 16);
  struct Block {
    std::int64_t first, count;
  };
  for (const Block block : {Block{0, 1}, Block{5, 9}, Block{cols - 3, 3}, Block{0, cols}, Block{4, 0}}) {
    Buffer<float> matrix = upload(x);
    LLC_BACKEND_OP(backend().zero_columns(matrix.data(), rows, cols, block.first, block.count));
    std::vector<float> expected = x;
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t c = block.first; c < block.first + block.count; ++c) expected[r * cols + c] = 0.0f;
    EXPECT_EQ(download(matrix), expected) << "columns [" << block.first << ", " << block.first + block.count << ")";
  }
}

LLC_INSTANTIATE_BACKEND_TESTS(BackendTest);

}  // namespace
}  // namespace llcpress::backend::testing
