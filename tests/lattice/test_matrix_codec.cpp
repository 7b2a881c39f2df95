// The matrix codec: rate accounting, decoding, products, agreement with the
// design's calibration, and input checks.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <vector>

#include "core/error.h"
#include "core/rng.h"
#include "lattice/design.h"
#include "lattice/hadamard.h"
#include "lattice/matrix_codec.h"

namespace llcpress::lattice {
namespace {

std::vector<float> gaussian(std::int64_t count, std::uint64_t stream, float mean = 0) {
  std::vector<float> x(count);
  CounterRng(31, stream).fill_normal(x.data(), count);
  for (auto& v : x) v += mean;
  return x;
}

CodecSpec two_segment_spec() {
  CodecSpec spec;
  spec.lattice = "E8";
  spec.segments = {{7, {0.47f, 0.58f, 0.67f, 0.78f, 0.9f}, 0.6}, {0, {}, 0.4}};
  spec.seed = 5;
  return spec;
}

// Every bit is in one field; the fields are recounted independently here from
// the encoded arrays (decoded class indices, escape values, stream sizes).
TEST(MatrixCodec, RateAccountingAddsUp) {
  const std::int64_t vectors = 40, n = 300;  // 300 → rotated length 304 (19·16), 38 E8 blocks
  auto x = gaussian(vectors * n, 1, 0.3f);
  for (int i = 0; i < 5; ++i) x[i * 61] = 40.0f;  // a few outliers that escape
  CodecSpec spec = two_segment_spec();
  spec.segments[0].betas = {0.2f, 0.3f};
  auto encoded = encode_vectors(x.data(), vectors, n, spec);
  const auto& rate = encoded.rate;
  EXPECT_EQ(encoded.rotated_length, 304);
  EXPECT_EQ(encoded.blocks_per_vector, 38);
  EXPECT_EQ(rate.entries, vectors * n);
  double sum = rate.lattice_index_bits + rate.scale_index_bits + rate.frequency_table_bits + rate.escape_bits +
               rate.mean_bits + rate.norm_bits + rate.gain_bits + rate.codebook_bits + rate.header_bits;
  EXPECT_DOUBLE_EQ(rate.total_bits(), sum);
  EXPECT_DOUBLE_EQ(rate.bits_per_entry(), sum / (vectors * n));

  const auto& coded = encoded.segments[0];
  const auto& skipped = encoded.segments[1];
  EXPECT_EQ(coded.blocks, 23);  // round(0.6 · 38)
  EXPECT_EQ(skipped.blocks, 15);
  std::vector<std::uint8_t> classes(vectors * coded.groups);
  rans_decode(classes.data(), classes.size(), coded.stream, coded.table);
  std::int64_t escaped = 0, kept = 0;
  for (auto k : classes) (k == coded.spec.betas.size() ? escaped : kept) += 1;
  EXPECT_GT(escaped, 0) << "the outliers should escape at these small scales";
  EXPECT_DOUBLE_EQ(rate.lattice_index_bits, kept * 8 * std::log2(7.0));
  EXPECT_DOUBLE_EQ(rate.escape_bits, 32.0 * escaped * 8);
  EXPECT_EQ(static_cast<std::int64_t>(encoded.escapes.size()), escaped * 8);
  EXPECT_DOUBLE_EQ(rate.scale_index_bits, 8.0 * coded.stream.size());
  EXPECT_DOUBLE_EQ(rate.frequency_table_bits, static_cast<double>(coded.table.description_bits()));
  EXPECT_DOUBLE_EQ(rate.mean_bits, 32.0 * vectors);
  EXPECT_DOUBLE_EQ(rate.norm_bits, 32.0 * vectors);
  EXPECT_DOUBLE_EQ(rate.gain_bits, 32.0 * 2);
  EXPECT_DOUBLE_EQ(rate.codebook_bits, 32.0 * 2);
  EXPECT_TRUE(skipped.stream.empty());
  // The stream costs at most a few bytes more than the empirical entropy.
  EXPECT_LE(rate.scale_index_bits, rate.scale_index_entropy_bits * 1.01 + 64);
}

// Estimated products equal n·μμ' + (s s'/N)⟨ŷ, ŷ'⟩ from the decoded rotated
// vectors, computed here in double.
TEST(MatrixCodec, ProductsComeFromDecodedVectors) {
  const std::int64_t n = 256, a = 12, b = 9;
  auto x = gaussian(a * n, 2, 0.5f), y = gaussian(b * n, 3, -0.2f);
  CodecSpec spec = two_segment_spec();
  auto left = encode_vectors(x.data(), a, n, spec);
  spec.dither_tag = 1;
  auto right = encode_vectors(y.data(), b, n, spec);
  std::vector<float> c(a * b), ya(a * n), yb(b * n);
  estimate_products(c.data(), left, right);
  decode_rotated(ya.data(), left);
  decode_rotated(yb.data(), right);
  for (std::int64_t i = 0; i < a; ++i)
    for (std::int64_t j = 0; j < b; ++j) {
      double dot = 0;
      for (std::int64_t t = 0; t < n; ++t) dot += static_cast<double>(ya[i * n + t]) * yb[j * n + t];
      double expected = n * static_cast<double>(left.means[i]) * right.means[j] +
                        static_cast<double>(left.norms[i]) * right.norms[j] / n * dot;
      // float GEMM over 256 terms of size ~1, scaled by s s'/N ≈ n: relative 1e-5.
      EXPECT_NEAR(c[i * b + j], expected, 1e-5 * (std::fabs(expected) + n)) << i << "," << j;
    }
  // Time-sharing: the skipped segment decodes to zeros.
  const std::int64_t first_skipped = left.segments[1].first_block * 8;
  for (std::int64_t t = first_skipped; t < n; ++t) EXPECT_EQ(ya[t], 0.0f);
  // Different seeds mean different rotations: refused.
  spec.seed = 6;
  auto other = encode_vectors(y.data(), b, n, spec);
  EXPECT_THROW(estimate_products(c.data(), left, other), ConfigError);
}

// decode_vectors: exact means, and an error no larger than the rotated-domain
// error (inverse rotation is an isometry; dropping padding and the mean
// component are projections, which cannot increase it).
TEST(MatrixCodec, DecodedVectorsKeepMeansAndError) {
  const std::int64_t n = 200, vectors = 16;
  auto x = gaussian(vectors * n, 4, 2.0f);
  CodecSpec spec = two_segment_spec();
  spec.segments = {{9, {0.35f, 0.45f, 0.6f, 0.8f}, 1.0}};
  auto encoded = encode_vectors(x.data(), vectors, n, spec);
  std::vector<float> decoded(vectors * n), rotated_hat(vectors * encoded.rotated_length);
  decode_vectors(decoded.data(), encoded);
  decode_rotated(rotated_hat.data(), encoded);
  RandomizedRotation rotation(n, spec.seed);
  std::vector<float> centred(n), rotated(encoded.rotated_length);
  for (std::int64_t v = 0; v < vectors; ++v) {
    double mean = 0;
    for (std::int64_t t = 0; t < n; ++t) mean += decoded[v * n + t];
    EXPECT_NEAR(mean / n, encoded.means[v], 1e-5);
    for (std::int64_t t = 0; t < n; ++t) centred[t] = x[v * n + t] - encoded.means[v];
    const double scale = std::sqrt(static_cast<double>(encoded.rotated_length)) / encoded.norms[v];
    rotation.forward(rotated.data(), centred.data(), static_cast<float>(scale));
    double rotated_error = 0, error = 0;
    for (std::int64_t t = 0; t < encoded.rotated_length; ++t) {
      double e = rotated[t] - rotated_hat[v * encoded.rotated_length + t];
      rotated_error += e * e;
    }
    rotated_error /= scale * scale;
    for (std::int64_t t = 0; t < n; ++t) error += std::pow(x[v * n + t] - decoded[v * n + t], 2);
    EXPECT_LE(error, rotated_error * (1 + 1e-4) + 1e-8) << "vector " << v;
    EXPECT_GT(error, 0);
  }
}

// The per-coordinate MSE on a Gaussian matrix matches the design's calibration
// estimate. Both are means of iid per-group errors (the matrix's groups are
// blocks of independent rotated Gaussian columns), so the tolerance is five
// standard errors of the difference, from the matrix's own per-group spread.
TEST(MatrixCodec, MseMatchesTheDesignCalibration) {
  const std::int64_t n = 1024, vectors = 96;
  const auto& lattice = find_lattice("E8");
  DesignOptions options;
  const ScaleDesign& design = design_scales(lattice, 7, options);
  PlanOptions plan;
  plan.design = options;
  plan.seed = 12;
  CodecSpec spec = fixed_q_spec(7, {}, plan);
  auto x = gaussian(vectors * n, 5);
  auto encoded = encode_vectors(x.data(), vectors, n, spec);
  std::vector<float> rotated_hat(vectors * n);
  decode_rotated(rotated_hat.data(), encoded);
  RandomizedRotation rotation(n, spec.seed);
  std::vector<float> centred(n), rotated(n);
  double sum = 0, sum_squares = 0;
  std::int64_t groups = 0;
  for (std::int64_t v = 0; v < vectors; ++v) {
    for (std::int64_t t = 0; t < n; ++t) centred[t] = x[v * n + t] - encoded.means[v];
    rotation.forward(rotated.data(), centred.data(), static_cast<float>(std::sqrt(double(n)) / encoded.norms[v]));
    for (std::int64_t g = 0; g < n / 8; ++g) {
      double e = 0;
      for (int t = 0; t < 8; ++t) e += std::pow(rotated[g * 8 + t] - rotated_hat[v * n + g * 8 + t], 2);
      sum += e / 8;
      sum_squares += (e / 8) * (e / 8);
      ++groups;
    }
  }
  const double mse = sum / groups;
  const double variance = sum_squares / groups - mse * mse;
  const int design_groups = 98304 / 8;
  const double standard_error = std::sqrt(variance / groups + variance / design_groups);
  EXPECT_NEAR(mse, design.mmse_distortion, 5 * standard_error);
  EXPECT_NEAR(encoded.segments[0].mean_square_error_mmse, mse, 1e-3 * mse);  // the encoder's own bookkeeping
}

TEST(MatrixCodec, SameResultForAnyThreadCount) {
  const std::int64_t n = 512, vectors = 33;
  auto x = gaussian(vectors * n, 6);
  CodecSpec spec = two_segment_spec();
  spec.dither = true;
  int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  auto one = encode_vectors(x.data(), vectors, n, spec);
  omp_set_num_threads(2);
  auto two = encode_vectors(x.data(), vectors, n, spec);
  omp_set_num_threads(saved);
  EXPECT_EQ(one.digits, two.digits);
  EXPECT_EQ(one.segments[0].stream, two.segments[0].stream);
  EXPECT_EQ(one.segments[0].gains, two.segments[0].gains);
  EXPECT_EQ(one.rate.total_bits(), two.rate.total_bits());
}

TEST(MatrixCodec, RejectsBadInputAndSpecs) {
  std::vector<float> x(64, 1.0f);
  CodecSpec spec = two_segment_spec();
  x[5] = std::nanf("");
  EXPECT_THROW(encode_vectors(x.data(), 4, 16, spec), InputError);
  x[5] = 1.0f;
  auto bad = spec;
  bad.segments[0].q = 1;
  EXPECT_THROW(encode_vectors(x.data(), 4, 16, bad), ConfigError);
  bad = spec;
  bad.segments[0].betas = {0.5f, 0.4f};
  EXPECT_THROW(encode_vectors(x.data(), 4, 16, bad), ConfigError);
  bad = spec;
  bad.lattice = "Leech";
  EXPECT_THROW(encode_vectors(x.data(), 4, 16, bad), ConfigError);
  bad = spec;
  bad.group_blocks = 9;
  EXPECT_THROW(encode_vectors(x.data(), 4, 16, bad), ConfigError);
  // A constant vector (norm 0) round-trips exactly.
  auto encoded = encode_vectors(x.data(), 4, 16, spec);
  std::vector<float> decoded(64);
  decode_vectors(decoded.data(), encoded);
  for (float v : decoded) EXPECT_FLOAT_EQ(v, 1.0f);
  // A damaged stream is reported, not read past its end.
  auto damaged = encode_vectors(x.data(), 4, 16, spec);
  damaged.segments[0].stream.resize(2);
  EXPECT_THROW(decode_vectors(decoded.data(), damaged), InputError);
}

}  // namespace
}  // namespace llcpress::lattice
