// Embedding, rotary and the linear layer's bias kernels against the CPU ops.
#include <gtest/gtest.h>

#include <cmath>

#include "cuda/embedding.h"
#include "cuda/linear_bias.h"
#include "cuda/rotary.h"
#include "kernel_test_support.h"
#include "model/ops/embedding.h"
#include "model/ops/linear.h"
#include "model/ops/rotary.h"

namespace llcpress::cuda::test {
namespace {

constexpr int kVocab = 50;
constexpr std::int64_t kRows = 300;  // many repeats of each token
constexpr int kHidden = 72;          // not a multiple of 32

std::vector<std::int32_t> random_tokens(std::int64_t rows, int vocab) {
  std::vector<float> uniform(rows);
  CounterRng(3, 3).fill_uniform(uniform.data(), uniform.size());
  std::vector<std::int32_t> tokens(rows);  // (rows)
  for (std::int64_t r = 0; r < rows; ++r)
    tokens[r] = std::min(vocab - 1, static_cast<int>(uniform[r] * static_cast<float>(vocab)));
  return tokens;
}

TEST(CudaEmbedding, ForwardIsAnExactCopy) {
  LLC_SKIP_WITHOUT_DEVICE();
  const std::vector<std::int32_t> tokens = random_tokens(kRows, kVocab);              // (rows)
  const std::vector<float> table = random_normal(std::size_t{kVocab} * kHidden, 50);  // (vocab, hidden)
  std::vector<float> expected(kRows * kHidden);
  ops::embedding_forward(expected.data(), tokens.data(), table.data(), kRows, kHidden);
  DeviceVector<std::int32_t> dev_tokens(tokens);
  DeviceVector<float> dev_table(table), dev_output(expected.size());
  cuda::embedding_forward(dev_output.data(), dev_tokens.data(), dev_table.data(), kRows, kHidden);
  EXPECT_EQ(dev_output.download(), expected);
}

// Deterministic scatter in the CPU's row order: bit-identical sums, and a
// table row that no token uses keeps its prior value.
TEST(CudaEmbedding, BackwardAccumulatesBitIdenticallyToCpu) {
  LLC_SKIP_WITHOUT_DEVICE();
  std::vector<std::int32_t> tokens = random_tokens(kRows, kVocab);  // (rows)
  for (auto& token : tokens)
    if (token == 7) token = 8;                                                                 // row 7 unused
  const std::vector<float> d_output = random_normal(kRows * kHidden, 51);                      // (rows, hidden)
  const std::vector<float> d_table_before = random_normal(std::size_t{kVocab} * kHidden, 52);  // accumulated into
  std::vector<float> expected = d_table_before;
  ops::embedding_backward(expected.data(), d_output.data(), tokens.data(), kRows, kHidden);
  DeviceVector<std::int32_t> dev_tokens(tokens);
  DeviceVector<float> dev_d_output(d_output), dev_d_table(d_table_before);
  cuda::embedding_backward(dev_d_table.data(), dev_d_output.data(), dev_tokens.data(), kRows, kHidden);
  const std::vector<float> actual = dev_d_table.download();
  EXPECT_EQ(actual, expected);
  for (int j = 0; j < kHidden; ++j) EXPECT_EQ(actual[7 * kHidden + j], d_table_before[7 * kHidden + j]);
}

struct RotaryShape {
  std::int64_t batch;
  int seq_len, heads, head_dim, rotary_dims;
};

class CudaRotary : public ::testing::TestWithParam<RotaryShape> {};

// Four float operations per output on identical inputs (the tables are the
// CPU's): the kernels agree with the CPU to rounding (nmse bound with K = 2).
TEST_P(CudaRotary, ForwardAndBackwardMatchCpu) {
  LLC_SKIP_WITHOUT_DEVICE();
  const RotaryShape s = GetParam();
  const int half = s.rotary_dims / 2;
  std::vector<float> cos_table(static_cast<std::size_t>(s.seq_len) * half), sin_table(cos_table.size());
  ops::rotary_tables(cos_table.data(), sin_table.data(), s.seq_len, s.rotary_dims, 10000.0);
  const std::size_t elements = static_cast<std::size_t>(s.batch) * s.seq_len * 3 * s.heads * s.head_dim;
  const std::vector<float> qkv = random_normal(elements, 60);  // (batch · seq_len, 3 · heads · head_dim)
  DeviceVector<float> dev_cos(cos_table), dev_sin(sin_table), dev_qkv(qkv);
  const double tolerance = nmse_tolerance(Precision::Fp32, 2);

  std::vector<float> expected = qkv;
  ops::rotary_forward(expected.data(), cos_table.data(), sin_table.data(), s.batch, s.seq_len, s.heads, s.head_dim,
                      s.rotary_dims);
  cuda::rotary_forward(dev_qkv.data(), dev_cos.data(), dev_sin.data(), s.batch, s.seq_len, s.heads, s.head_dim,
                       s.rotary_dims);
  const std::vector<float> rotated = dev_qkv.download();
  EXPECT_LE(nmse(rotated, expected), tolerance);
  // v and the features past rotary_dims pass through untouched.
  const std::int64_t row_width = 3LL * s.heads * s.head_dim;
  for (std::int64_t i = 0; i < static_cast<std::int64_t>(elements); ++i) {
    const int in_head = static_cast<int>((i % row_width) % (3 * s.head_dim));
    if (in_head >= 2 * s.head_dim || in_head % s.head_dim >= s.rotary_dims) {
      ASSERT_EQ(rotated[i], qkv[i]) << i;
    }
  }

  ops::rotary_backward(expected.data(), cos_table.data(), sin_table.data(), s.batch, s.seq_len, s.heads, s.head_dim,
                       s.rotary_dims);
  cuda::rotary_backward(dev_qkv.data(), dev_cos.data(), dev_sin.data(), s.batch, s.seq_len, s.heads, s.head_dim,
                        s.rotary_dims);
  EXPECT_LE(nmse(dev_qkv.download(), expected), tolerance);
}

// Pythia's partial rotary (rotary_pct 0.25: 16 of 64) and a full one.
INSTANTIATE_TEST_SUITE_P(
    Shapes, CudaRotary, ::testing::Values(RotaryShape{2, 11, 3, 64, 16}, RotaryShape{1, 7, 2, 32, 32}),
    [](const auto& info) {
      return test_name({{"heads", info.param.heads}, {"d", info.param.head_dim}, {"r", info.param.rotary_dims}});
    });

TEST(CudaLinearBias, ForwardAddsAndBackwardSumsColumns) {
  LLC_SKIP_WITHOUT_DEVICE();
  constexpr std::int64_t rows = 45;
  constexpr int in_features = 8, out_features = 70;
  const std::vector<float> input = random_normal(rows * in_features, 70);                        // (rows, in)
  const std::vector<float> weight = random_normal(std::size_t{out_features} * in_features, 71);  // (out, in)
  const std::vector<float> bias = random_normal(out_features, 72);                               // (out)
  const std::vector<float> d_output = random_normal(rows * out_features, 73);                    // (rows, out)

  // Forward: the CPU linear with and without bias differ by exactly the bias.
  std::vector<float> with_bias(rows * out_features), without_bias(rows * out_features);
  ops::linear_forward(with_bias.data(), input.data(), weight.data(), bias.data(), rows, in_features, out_features);
  ops::linear_forward(without_bias.data(), input.data(), weight.data(), nullptr, rows, in_features, out_features);
  DeviceVector<float> dev_output(without_bias), dev_bias(bias);
  cuda::linear_bias_forward(dev_output.data(), dev_bias.data(), rows, out_features);
  EXPECT_LE(nmse(dev_output.download(), with_bias), nmse_tolerance(Precision::Fp32, 1));

  // Backward: d_bias of the CPU linear_backward (a sum over `rows`).
  std::vector<float> d_input(rows * in_features), d_weight(std::size_t{out_features} * in_features),
      d_bias(out_features);
  ops::linear_backward(d_input.data(), d_weight.data(), d_bias.data(), d_output.data(), input.data(), weight.data(),
                       rows, in_features, out_features);
  DeviceVector<float> dev_d_output(d_output), dev_d_bias(out_features);
  cuda::linear_bias_backward(dev_d_bias.data(), dev_d_output.data(), rows, out_features);
  EXPECT_LE(nmse(dev_d_bias.download(), d_bias), nmse_tolerance(Precision::Fp32, rows));
}

}  // namespace
}  // namespace llcpress::cuda::test
