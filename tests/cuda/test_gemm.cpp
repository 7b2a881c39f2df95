// cuda::gemm / linear_forward / linear_backward (cuBLASLt) against a
// double-precision host reference and the CPU twin ops::gemm, in each
// precision; the bf16 cast and the bias-gradient column sum exactly or to
// fp32 rounding. Every test skips without a GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <tuple>
#include <vector>

#include "cuda/cuda_context.h"
#include "cuda/gemm.h"
#include "cuda_test_util.h"
#include "model/ops/gemm.h"

using namespace llcpress;
using namespace llcpress::cuda;
using llcpress::cuda::testing::DeviceVector;
using llcpress::cuda::testing::normalised_mse;

namespace {

// Normalised MSE a product of k-term dot products may show, per precision,
// for the tests' inputs (independent, uniform on [−1, 1], zero mean):
// the error of Σ a_i·b_i relative to its own size is dominated by how the
// inputs are rounded before multiplying, each product carrying the sum of
// its two inputs' relative rounding errors δ. With zero-mean, independent
// terms, NMSE ≈ E[(δ_a + δ_b)²] (the random part) plus the square of the
// errors' mean (a coherent part, when the rounding is biased).
//   fp32: inputs exact; only accumulation rounding, relative ≲ √k·2⁻²⁴ per
//         sum: NMSE ≲ k·2⁻⁴⁸ = 1.5e-11 at k = 4096. Tolerance 1e-10.
//   tf32: 10 explicit mantissa bits. If the tensor cores truncate (the
//         worst case), δ ∈ [0, 2⁻¹⁰): random part 2·(2⁻¹⁰)²/12 = 1.6e-7,
//         coherent part (2·2⁻¹¹)² = 9.5e-7, ≈ 1.1e-6. Tolerance 5e-6 (4.5×).
//   bf16: our cast rounds to nearest even, |δ| ≤ 2⁻⁸, variance ≤ (2⁻⁸)²/3,
//         unbiased: NMSE ≤ 2·(2⁻⁸)²/3 = 1.0e-5. Tolerance 4e-5 (4×).
// A wrong transpose, stride or operand order gives NMSE ≈ 2: far outside all three.
double gemm_tolerance(Precision precision) {
  switch (precision) {
    case Precision::Fp32:
      return 1e-10;
    case Precision::Tf32:
      return 5e-6;
    case Precision::Bf16:
      return 4e-5;
  }
  return 0;
}

std::vector<float> uniform(std::size_t count, std::uint32_t seed) {
  std::mt19937 generator(seed);
  std::uniform_real_distribution<float> distribution(-1.0f, 1.0f);
  std::vector<float> values(count);
  for (float& value : values) value = distribution(generator);
  return values;
}

// Row-major op(A)(i, p) with A stored (rows, ld).
double element(const std::vector<float>& matrix, bool transposed, std::int64_t ld, std::int64_t i, std::int64_t p) {
  return transposed ? matrix[p * ld + i] : matrix[i * ld + p];
}

struct GemmCase {
  std::int64_t m, n, k, pad;  // pad: extra elements per row of every operand (strided buffers)
};

class GemmPrecision : public ::testing::TestWithParam<std::tuple<Precision, bool, bool>> {};

TEST_P(GemmPrecision, MatchesDoubleReference) {
  LLC_SKIP_WITHOUT_GPU();
  const auto [precision, transpose_a, transpose_b] = GetParam();
  CudaContext context(0, precision);
  // Odd sizes (no vector path fits), a strided case, and a Pythia-160m QKV shape (256 tokens × 768 → 2304).
  for (const GemmCase shape : {GemmCase{37, 53, 29, 0}, GemmCase{64, 96, 200, 3}, GemmCase{256, 2304, 768, 0}}) {
    const std::int64_t a_rows = transpose_a ? shape.k : shape.m, a_cols = transpose_a ? shape.m : shape.k;
    const std::int64_t b_rows = transpose_b ? shape.n : shape.k, b_cols = transpose_b ? shape.k : shape.n;
    const std::int64_t lda = a_cols + shape.pad, ldb = b_cols + shape.pad, ldc = shape.n + shape.pad;
    const std::vector<float> a = uniform(a_rows * lda, 1),
                             b = uniform(b_rows * ldb, 2);  // (a_rows, lda), (b_rows, ldb)
    // c: (m, ldc), NaN: with beta = 0 the old contents must not be read.
    std::vector<float> c_initial(shape.m * ldc, std::numeric_limits<float>::quiet_NaN());
    DeviceVector<float> a_device(a), b_device(b), c_device(c_initial);
    const float alpha = 0.5f;
    gemm(context, c_device.data(), a_device.data(), b_device.data(), shape.m, shape.n, shape.k,
         transpose_a ? Transpose::Yes : Transpose::No, transpose_b ? Transpose::Yes : Transpose::No, alpha, 0.0f, lda,
         ldb, ldc);
    const std::vector<float> c_all = c_device.download();
    std::vector<float> c;           // (m, n) without the padding
    std::vector<double> reference;  // (m, n)
    for (std::int64_t i = 0; i < shape.m; ++i)
      for (std::int64_t j = 0; j < shape.n; ++j) {
        double sum = 0;
        for (std::int64_t p = 0; p < shape.k; ++p)
          sum += element(a, transpose_a, lda, i, p) * element(b, !transpose_b, ldb, j, p);
        reference.push_back(alpha * sum);
        c.push_back(c_all[i * ldc + j]);
      }
    EXPECT_LE(normalised_mse(c, reference), gemm_tolerance(precision))
        << precision_name(precision) << " m=" << shape.m << " n=" << shape.n << " k=" << shape.k
        << " pad=" << shape.pad;
    // The padding between rows is not the GEMM's to write.
    for (std::int64_t i = 0; i < shape.m; ++i)
      for (std::int64_t j = shape.n; j < ldc; ++j) ASSERT_TRUE(std::isnan(c_all[i * ldc + j]));
  }
}

INSTANTIATE_TEST_SUITE_P(Cuda, GemmPrecision,
                         ::testing::Combine(::testing::Values(Precision::Fp32, Precision::Tf32, Precision::Bf16),
                                            ::testing::Bool(), ::testing::Bool()),
                         [](const auto& info) {  // "bf16_AT_B": which operands are transposed
                           return std::string(precision_name(std::get<0>(info.param))) + "_" +
                                  (std::get<1>(info.param) ? "AT" : "A") + "_" + (std::get<2>(info.param) ? "BT" : "B");
                         });

TEST(CudaGemm, BetaAccumulatesAndFp32MatchesTheCpuTwin) {
  LLC_SKIP_WITHOUT_GPU();
  CudaContext context(0, Precision::Fp32);
  const std::int64_t m = 300, n = 130, k = 257;
  const std::vector<float> a = uniform(m * k, 3), b = uniform(n * k, 4), c_old = uniform(m * n, 5);
  DeviceVector<float> a_device(a), b_device(b), c_device(c_old);
  gemm(context, c_device.data(), a_device.data(), b_device.data(), m, n, k, Transpose::No, Transpose::Yes, 1.0f, 1.0f,
       k, k, n);
  std::vector<float> cpu = c_old;
  ops::gemm(cpu.data(), a.data(), b.data(), m, n, k, Transpose::No, Transpose::Yes, 1.0f, 1.0f, k, k, n);
  std::vector<double> cpu_double(cpu.begin(), cpu.end());
  // Both fp32 with different summation orders: each within the fp32 bound of the exact value.
  EXPECT_LE(normalised_mse(c_device.download(), cpu_double), 2 * gemm_tolerance(Precision::Fp32));
}

// y = x·Wᵀ + b and its backward, in each precision.
class LinearPrecision : public ::testing::TestWithParam<Precision> {};

TEST_P(LinearPrecision, ForwardAndBackwardMatchDoubleReference) {
  LLC_SKIP_WITHOUT_GPU();
  const Precision precision = GetParam();
  CudaContext context(0, precision);
  const int rows = 96, in = 64, out = 80;
  const std::vector<float> x = uniform(rows * in, 6), w = uniform(out * in, 7), bias = uniform(out, 8),
                           dy = uniform(rows * out, 9), y_old = uniform(rows * out, 10);
  DeviceVector<float> x_device(x), w_device(w), b_device(bias), dy_device(dy), y_device(rows * out);
  DeviceVector<float> dx_device(rows * in), dw_device(out * in), db_device(out);
  std::vector<double> y_ref(rows * out), dx_ref(rows * in, 0), dw_ref(out * in, 0), db_ref(out, 0);
  for (int r = 0; r < rows; ++r)
    for (int o = 0; o < out; ++o) {
      double sum = bias[o];
      for (int i = 0; i < in; ++i) sum += double(x[r * in + i]) * w[o * in + i];
      y_ref[r * out + o] = sum;
      db_ref[o] += dy[r * out + o];
      for (int i = 0; i < in; ++i) {
        dx_ref[r * in + i] += double(dy[r * out + o]) * w[o * in + i];
        dw_ref[o * in + i] += double(dy[r * out + o]) * x[r * in + i];
      }
    }
  const double tolerance = gemm_tolerance(precision);
  linear_forward(context, y_device.data(), x_device.data(), w_device.data(), b_device.data(), rows, in, out);
  EXPECT_LE(normalised_mse(y_device.download(), y_ref), tolerance) << "forward";
  // accumulate: y_old + x·Wᵀ + b
  y_device.upload(y_old);
  linear_forward(context, y_device.data(), x_device.data(), w_device.data(), b_device.data(), rows, in, out, true);
  std::vector<double> accumulated(rows * out);
  for (int i = 0; i < rows * out; ++i) accumulated[i] = y_ref[i] + y_old[i];
  EXPECT_LE(normalised_mse(y_device.download(), accumulated), tolerance) << "accumulate";

  linear_backward(context, dx_device.data(), dw_device.data(), db_device.data(), dy_device.data(), x_device.data(),
                  w_device.data(), rows, in, out);
  EXPECT_LE(normalised_mse(dx_device.download(), dx_ref), tolerance) << "d_input";
  EXPECT_LE(normalised_mse(dw_device.download(), dw_ref), tolerance) << "d_weight";
  // d_bias is an fp32 column sum in every precision (no cast): the fp32 bound.
  const std::vector<float> db_first = db_device.download();
  EXPECT_LE(normalised_mse(db_first, db_ref), gemm_tolerance(Precision::Fp32)) << "d_bias";
  // Bitwise reproducible: the same call again gives the same bits.
  linear_backward(context, nullptr, dw_device.data(), db_device.data(), dy_device.data(), x_device.data(),
                  w_device.data(), rows, in, out);
  const std::vector<float> db_second = db_device.download();
  EXPECT_EQ(std::memcmp(db_first.data(), db_second.data(), out * sizeof(float)), 0);
}

TEST_P(LinearPrecision, GeluTanhEpilogueMatchesReference) {
  LLC_SKIP_WITHOUT_GPU();
  const Precision precision = GetParam();
  CudaContext context(0, precision);
  const int rows = 64, in = 96, out = 384;
  const std::vector<float> x = uniform(rows * in, 11), w = uniform(out * in, 12), bias = uniform(out, 13);
  DeviceVector<float> x_device(x), w_device(w), b_device(bias), y_device(rows * out), pre_device(rows * out);
  std::vector<double> pre_ref(rows * out), y_ref(rows * out);
  for (int r = 0; r < rows; ++r)
    for (int o = 0; o < out; ++o) {
      double sum = bias[o];
      for (int i = 0; i < in; ++i) sum += double(x[r * in + i]) * w[o * in + i];
      pre_ref[r * out + o] = sum;
      // tanh-form GELU: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
      y_ref[r * out + o] = 0.5 * sum * (1 + std::tanh(std::sqrt(2 / M_PI) * (sum + 0.044715 * sum * sum * sum)));
    }
  linear_gelu_tanh_forward(context, y_device.data(), pre_device.data(), x_device.data(), w_device.data(),
                           b_device.data(), rows, in, out);
  EXPECT_LE(normalised_mse(pre_device.download(), pre_ref), gemm_tolerance(precision)) << "pre-activation";
  // The epilogue may evaluate tanh with the hardware approximation (relative
  // error ≤ 2⁻¹⁰·⁹⁹): the GELU's error ≤ ½|x|·2⁻¹¹, NMSE ≲ (2⁻¹¹)² = 2.4e-7
  // on top of the product's. Tolerance 1e-6 plus the product's.
  EXPECT_LE(normalised_mse(y_device.download(), y_ref), 1e-6 + gemm_tolerance(precision)) << "gelu";
}

INSTANTIATE_TEST_SUITE_P(Cuda, LinearPrecision, ::testing::Values(Precision::Fp32, Precision::Tf32, Precision::Bf16),
                         [](const auto& info) { return std::string(precision_name(info.param)); });

TEST(CudaGemm, Bf16WeightsAreCastOncePerStepAndRefreshedAfterAChange) {
  LLC_SKIP_WITHOUT_GPU();
  CudaContext context(0, Precision::Bf16);
  const int rows = 32, in = 48, out = 40;
  const std::vector<float> x = uniform(rows * in, 14), w = uniform(out * in, 15), dy = uniform(rows * out, 16);
  DeviceVector<float> x_device(x), w_device(w), dy_device(dy), y_device(rows * out), dx_device(rows * in),
      dw_device(out * in);
  linear_forward(context, y_device.data(), x_device.data(), w_device.data(), nullptr, rows, in, out);
  linear_backward(context, dx_device.data(), dw_device.data(), nullptr, dy_device.data(), x_device.data(),
                  w_device.data(), rows, in, out);
  EXPECT_EQ(context.weight_casts(), 1);  // forward and d_input share one bf16 copy
  // An SGLD step moved the weights: the next product must see the new ones.
  std::vector<float> moved = w;
  for (float& value : moved) value = -2 * value;
  w_device.upload(moved);
  context.mark_weights_changed();
  linear_forward(context, y_device.data(), x_device.data(), w_device.data(), nullptr, rows, in, out);
  EXPECT_EQ(context.weight_casts(), 2);
  std::vector<double> y_ref(rows * out);
  for (int r = 0; r < rows; ++r)
    for (int o = 0; o < out; ++o) {
      double sum = 0;
      for (int i = 0; i < in; ++i) sum += double(x[r * in + i]) * moved[o * in + i];
      y_ref[r * out + o] = sum;
    }
  EXPECT_LE(normalised_mse(y_device.download(), y_ref), gemm_tolerance(Precision::Bf16));
}

// Round to nearest even, on the bits (finite inputs): the definition the cast must meet exactly.
std::uint16_t bf16_bits(float value) {
  std::uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<std::uint16_t>(bits >> 16);
}

TEST(CudaGemm, CastToBf16RoundsToNearestEvenOnEveryPath) {
  LLC_SKIP_WITHOUT_GPU();
  std::mt19937 generator(17);
  std::uniform_int_distribution<std::uint32_t> mantissa(0, (1u << 23) - 1), exponent(100, 150);
  std::vector<float> input(4099);
  for (float& value : input) {
    std::uint32_t bits = (exponent(generator) << 23) | mantissa(generator) | (generator() & 1u) << 31;
    if (generator() % 8 == 0) bits = (bits & ~0xffffu) | 0x8000u;  // an exact tie
    std::memcpy(&value, &bits, sizeof value);
  }
  DeviceVector<float> input_device(input);
  DeviceVector<__nv_bfloat16> output_device(input.size());
  // offset 0: the 16-byte vector path and its scalar tail; offset 1: unaligned, scalar only; short counts.
  for (const auto& [offset, count] : {std::pair<int, int>{0, 4099}, {1, 4098}, {0, 3}, {5, 1}}) {
    cast_to_bf16(output_device.data() + offset, input_device.data() + offset, count, nullptr);
    const std::vector<__nv_bfloat16> output = output_device.download();
    for (int i = offset; i < offset + count; ++i) {
      std::uint16_t bits;
      std::memcpy(&bits, &output[i], sizeof bits);
      ASSERT_EQ(bits, bf16_bits(input[i])) << "element " << i << " offset " << offset << " count " << count;
    }
  }
}

TEST(CudaGemm, ColumnSumMatchesReferenceAndDependsOnTheShapeOnly) {
  LLC_SKIP_WITHOUT_GPU();
  for (const auto& [rows, columns] : {std::pair<std::int64_t, std::int64_t>{1, 3}, {255, 300}, {256, 7}, {1000, 300}}) {
    const std::vector<float> input = uniform(rows * columns, 18);
    std::vector<double> reference(columns, 0);
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t c = 0; c < columns; ++c) reference[c] += input[r * columns + c];
    DeviceVector<float> input_device(input), output_device(columns), partials(column_sum_partials(rows, columns));
    column_sum(output_device.data(), input_device.data(), rows, columns, partials.data(), nullptr);
    // fp32 sums of ≤ 1000 terms: relative error ≲ √1000·2⁻²⁴, NMSE ≲ 1000·2⁻⁴⁸ = 3.6e-12.
    EXPECT_LE(normalised_mse(output_device.download(), reference), 1e-10) << rows << "x" << columns;
  }
}

}  // namespace
