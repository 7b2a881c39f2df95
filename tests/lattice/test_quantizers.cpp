// The LUT decoder, the scalar baseline, the planner and the weight quantizer.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/error.h"
#include "core/rng.h"
#include "lattice/design.h"
#include "lattice/gamma.h"
#include "lattice/lut_decoder.h"
#include "lattice/matrix_codec.h"
#include "lattice/scalar_quantizer.h"
#include "lattice/weight_quantizer.h"

namespace llcpress::lattice {
namespace {

std::vector<float> gaussian(std::int64_t count, std::uint64_t stream, float scale = 1, float mean = 0) {
  std::vector<float> x(count);
  CounterRng(41, stream).fill_normal(x.data(), count, 0, scale);
  for (auto& v : x) v += mean;
  return x;
}

// D3, q = 6: the table of the paper (216² int8 entries, < 64 KB), and the
// product from the table equals the product from decoded vectors.
TEST(LutDecoder, D3ModSixMatchesDecodedProducts) {
  const auto& lattice = find_lattice("D3");
  CodebookLut lut(lattice, 6);
  EXPECT_EQ(lut.codewords(), 216);
  EXPECT_TRUE(lut.is_int8());
  EXPECT_EQ(lut.bytes(), 216u * 216u);
  EXPECT_LE(lut.bytes(), 65536u);
  for (std::int64_t n : {96, 100}) {  // 96: blocks fill N exactly; 100 → N = 100, last block padded
    const std::int64_t a = 10, b = 7;
    auto x = gaussian(a * n, 1, 1.0f, 0.2f), y = gaussian(b * n, 2);
    x[3] = 30.0f;  // an escape
    CodecSpec spec;
    spec.lattice = "D3";
    spec.segments = {{6, {0.35f, 0.45f, 0.6f}, 1.0}};
    spec.group_blocks = 3;
    auto left = encode_vectors(x.data(), a, n, spec);
    spec.dither_tag = 1;
    auto right = encode_vectors(y.data(), b, n, spec);
    std::vector<float> from_lut(a * b), from_floats(a * b);
    estimate_products_lut(from_lut.data(), left, right, lut);
    estimate_products(from_floats.data(), left, right);
    for (std::int64_t i = 0; i < a * b; ++i)
      // Both sum the same n products; float GEMM rounding ~ n·6e-8 relative to Σ|terms| ≤ 10·n.
      EXPECT_NEAR(from_lut[i], from_floats[i], 1e-5 * 10 * n) << "n=" << n << " entry " << i;
  }
  // Z with even q has half-integer codewords (offset ½): the table stores 4×.
  CodebookLut z_lut(find_lattice("Z"), 8);
  EXPECT_EQ(z_lut.scale(), 4.0);
  EXPECT_EQ(z_lut.entry(0, 0), 1);   // digit 0: leader 0, codeword ½, ⟨½, ½⟩·4 = 1
  EXPECT_EQ(z_lut.entry(4, 4), 49);  // digit 4: leader −4 (leaders lie in [−4, 4)), codeword −3.5
  EXPECT_THROW(CodebookLut(find_lattice("E8"), 7), ConfigError);
}

// Every entry lands within half a cell of its value; rate = bits + 32/n.
TEST(ScalarQuantizer, HalfCellErrorAndRate) {
  const std::int64_t vectors = 5, n = 333;
  auto x = gaussian(vectors * n, 3, 2.0f);
  auto encoded = scalar_encode(x.data(), vectors, n, 3);
  std::vector<float> decoded(vectors * n);
  scalar_decode(decoded.data(), encoded);
  for (std::int64_t v = 0; v < vectors; ++v) {
    const float half_cell = encoded.max_abs[v] / 8;  // cell width 2m/8
    for (std::int64_t i = 0; i < n; ++i)
      EXPECT_LE(std::fabs(decoded[v * n + i] - x[v * n + i]), half_cell * (1 + 1e-6f));
  }
  EXPECT_DOUBLE_EQ(encoded.bits_per_entry(), 3.0 + 32.0 / n);
  EXPECT_THROW(scalar_encode(x.data(), vectors, n, 9), ConfigError);
}

// The plan's expected rate is the target (all side bits included), and the
// rate actually spent on a Gaussian matrix is close to it. Tolerance: the
// index entropy on this matrix (196k coordinates) differs from the
// calibration's by sampling noise ≲ 0.005 bits; 0.02 bits leaves margin.
TEST(Planner, SpendsTheTargetRate) {
  const std::int64_t n = 1024, vectors = 192;
  auto x = gaussian(vectors * n, 4);
  PlanOptions options;
  options.lattice = "E8";
  for (double target : {0.5, 3.0}) {
    CodecPlan plan = plan_codec(target, n, options, vectors);
    // The prediction includes the per-vector and per-matrix side bits.
    EXPECT_NEAR(plan.predicted_bits_per_entry, target, 1e-9) << "target " << target;
    auto encoded = encode_vectors(x.data(), vectors, n, plan.spec);
    EXPECT_NEAR(encoded.rate.bits_per_entry(), target, 0.02) << "target " << target;
    EXPECT_NEAR(encoded.rate.header_bits + encoded.rate.frequency_table_bits + encoded.rate.gain_bits +
                    encoded.rate.codebook_bits,
                fixed_bits(plan.spec), 1e-9);
  }
  // Below the lowest operating point part of the blocks is not sent.
  CodecPlan low = plan_codec(0.3, n, options, vectors);
  bool has_zero_segment = false;
  for (const auto& s : low.spec.segments) has_zero_segment |= s.q == 0;
  EXPECT_TRUE(has_zero_segment);
}

// In-place weight quantization: reconstruction replaces the weights, the
// reported rate is the spent one, the error falls with the rate.
TEST(WeightQuantizer, QuantizesInPlaceAtTheRequestedRate) {
  const std::int64_t rows = 64, cols = 768;
  auto original = gaussian(rows * cols, 5, 0.02f, 0.001f);
  double previous_error = 2.0;
  for (double rate : {1.0, 2.0, 3.0, 4.0}) {
    auto w = original;
    LatticeWeightOptions options;
    auto result = quantize_weights_lattice(w.data(), rows, cols, rate, options);
    EXPECT_NEAR(result.bits_per_weight, rate, 0.05) << rate;
    EXPECT_DOUBLE_EQ(result.bits_per_weight, result.rate.bits_per_entry());
    double error = 0, energy = 0;
    for (std::size_t i = 0; i < w.size(); ++i) {
      error += std::pow(w[i] - original[i], 2);
      energy += std::pow(original[i], 2);
    }
    EXPECT_NEAR(result.relative_error, error / energy, 1e-9);
    EXPECT_LT(result.relative_error, previous_error);
    // MSE-optimal Gaussian quantization gives 2^{−2R} relative error; the
    // lattice scheme is within a factor 2 of it (J ≈ 1.5 for E8).
    EXPECT_LT(result.relative_error, 2.0 * std::exp2(-2 * (rate - 0.1)));
    previous_error = result.relative_error;
  }
}

}  // namespace
}  // namespace llcpress::lattice
