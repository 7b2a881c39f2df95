// Every op of every registered backend (backend::registered_backends: the
// CPU ops through the CpuBackend, and any device backend this build has)
// against a straightforward double-precision reference written here
// (forward), and its backward against central differences of that reference
// (REFERENCE-independent: no torch). Inputs are uploaded to the backend and
// outputs downloaded (Mirror); a backend that cannot run here, or lacks an
// op, skips with the reason. The CPU-only properties (workspace sizing,
// bit-identity across thread counts, the host rotary tables) stay TESTs. Sizes are chosen to cross the
// ops' internal block boundaries (64-column chunks, 64-row query blocks, the
// 1024-entry exp-sum segments, the 2048-element GELU chunks).
//
// Tolerances. An op output is a short chain of float reductions over at most
// n ≈ 1100 terms. Float rounding (u = 2⁻²⁴ ≈ 6e-8) of an n-term sum of
// random-sign terms grows like √n·u·Σ|terms|; at n = 1100 that is ≈ 2e-6 of
// Σ|terms|, and for our O(1) random inputs Σ|terms| is within a small factor of
// the largest output, so errors of a few 1e-6 are expected.
// kOpTolerance = 2e-5 (≈ 330 u) leaves a margin of several times that while
// any wrong index, sign, scale or missing term gives errors ≥ 1e-2. The
// central-difference references carry ≈ 1e-9 error (op_reference.h), so they
// do not count against the budget.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstring>
#include <numeric>
#include <type_traits>

#include "../backend/backend_test.h"
#include "model/ops/attention.h"
#include "model/ops/cross_entropy.h"
#include "model/ops/embedding.h"
#include "model/ops/gelu.h"
#include "model/ops/layernorm.h"
#include "model/ops/linear.h"
#include "model/ops/rotary.h"
#include "op_reference.h"

namespace llcpress {
namespace {

using test::central_difference_gradient;
using test::max_relative_error;
using test::random_normal;
using test::to_double;

constexpr double kOpTolerance = 2e-5;

using backend::Backend;
using OpsTest = backend::testing::BackendTest;

// A host vector mirrored in a buffer of the backend under test: uploaded on
// construction; a non-const vector gets the buffer's contents back on
// back() (the op's outputs).
template <typename Vector>
class Mirror {
  using T = typename std::remove_const_t<Vector>::value_type;

 public:
  Mirror(Backend& backend, Vector& host) : host_(host), buffer_(backend, host.size()) { buffer_.upload(host); }
  T* data() { return buffer_.data(); }
  void back() requires(!std::is_const_v<Vector>) { buffer_.download(host_); }

 private:
  Vector& host_;
  backend::Buffer<T> buffer_;
};

// Runs a test body with 1 and with 3 OpenMP threads (3 does not divide the
// work evenly, so chunk-boundary bugs show up on a 2-core machine too).
template <typename Body>
void with_thread_counts(Body body) {
  const int saved = omp_get_max_threads();
  for (int threads : {1, 3}) {
    SCOPED_TRACE(testing::Message() << threads << " OpenMP threads");
    omp_set_num_threads(threads);
    body();
  }
  omp_set_num_threads(saved);
}

// ------------------------------------------------------------------ linear

std::vector<double> linear_reference(const std::vector<double>& x, const std::vector<double>& w,
                                     const std::vector<double>* b, int rows, int in, int out) {
  std::vector<double> y(static_cast<std::size_t>(rows) * out);
  for (int r = 0; r < rows; ++r)
    for (int o = 0; o < out; ++o) {
      double sum = b ? (*b)[o] : 0.0;
      for (int i = 0; i < in; ++i) sum += x[r * in + i] * w[o * in + i];
      y[r * out + o] = sum;
    }
  return y;
}

TEST_P(OpsTest, LinearForwardMatchesReference) {
  with_thread_counts([&] {
    const int rows = 5, in = 37, out = 70;
    auto x = random_normal(rows * in, 1), w = random_normal(out * in, 2, 0.2f), b = random_normal(out, 3);
    const auto xd = to_double(x), wd = to_double(w), bd = to_double(b);
    std::vector<float> y(rows * out, 123.0f);
    Mirror my(backend(), y), mx(backend(), x), mw(backend(), w), mb(backend(), b);
    LLC_BACKEND_OP(backend().linear_forward(my.data(), mx.data(), mw.data(), mb.data(), rows, in, out, false));
    my.back();
    EXPECT_LE(max_relative_error(y, linear_reference(xd, wd, &bd, rows, in, out)), kOpTolerance);
    LLC_BACKEND_OP(backend().linear_forward(my.data(), mx.data(), mw.data(), nullptr, rows, in, out, false));
    my.back();
    EXPECT_LE(max_relative_error(y, linear_reference(xd, wd, nullptr, rows, in, out)), kOpTolerance);
    // accumulate: y ← y + x·Wᵀ + b on top of existing values.
    auto base = random_normal(rows * out, 4);
    y = base;
    Mirror my_base(backend(), y);
    LLC_BACKEND_OP(
        backend().linear_forward(my_base.data(), mx.data(), mw.data(), mb.data(), rows, in, out, /*accumulate=*/true));
    my_base.back();
    auto expected = linear_reference(xd, wd, &bd, rows, in, out);
    for (std::size_t i = 0; i < expected.size(); ++i) expected[i] += base[i];
    EXPECT_LE(max_relative_error(y, expected), kOpTolerance);
  });
}

TEST_P(OpsTest, LinearBackwardMatchesCentralDifferences) {
  with_thread_counts([&] {
    const int rows = 6, in = 9, out = 70;
    auto x = random_normal(rows * in, 11), w = random_normal(out * in, 12, 0.3f), b = random_normal(out, 13);
    auto d_output = random_normal(rows * out, 14);
    // Pack (x, W, b) into one vector for the central differences.
    std::vector<double> packed = to_double(x);
    for (float v : w) packed.push_back(v);
    for (float v : b) packed.push_back(v);
    auto reference = [&](const std::vector<double>& p) {
      std::vector<double> xs(p.begin(), p.begin() + rows * in),
          ws(p.begin() + rows * in, p.begin() + rows * in + out * in), bs(p.begin() + rows * in + out * in, p.end());
      return linear_reference(xs, ws, &bs, rows, in, out);
    };
    const auto expected = central_difference_gradient(reference, packed, to_double(d_output));
    std::vector<float> d_x(rows * in), d_w(out * in), d_b(out);
    {
      Mirror md_x(backend(), d_x), md_w(backend(), d_w), md_b(backend(), d_b), md_out(backend(), d_output),
          mx(backend(), x), mw(backend(), w);
      LLC_BACKEND_OP(backend().linear_backward(md_x.data(), md_w.data(), md_b.data(), md_out.data(), mx.data(),
                                               mw.data(), rows, in, out));
      md_x.back(), md_w.back(), md_b.back();
    }
    const std::vector<double> expected_x(expected.begin(), expected.begin() + rows * in);
    const std::vector<double> expected_w(expected.begin() + rows * in, expected.begin() + rows * in + out * in);
    const std::vector<double> expected_b(expected.begin() + rows * in + out * in, expected.end());
    EXPECT_LE(max_relative_error(d_x, expected_x), kOpTolerance);
    EXPECT_LE(max_relative_error(d_w, expected_w), kOpTolerance);
    EXPECT_LE(max_relative_error(d_b, expected_b), kOpTolerance);
  });
}

// ------------------------------------------------------------------ layer norm

std::vector<double> layernorm_reference(const std::vector<double>& x, const std::vector<double>& weight,
                                        const std::vector<double>& bias, int rows, int hidden, double eps) {
  std::vector<double> y(x.size());
  for (int r = 0; r < rows; ++r) {
    double mean = 0.0, variance = 0.0;
    for (int j = 0; j < hidden; ++j) mean += x[r * hidden + j];
    mean /= hidden;
    for (int j = 0; j < hidden; ++j) variance += (x[r * hidden + j] - mean) * (x[r * hidden + j] - mean);
    variance /= hidden;
    for (int j = 0; j < hidden; ++j)
      y[r * hidden + j] = (x[r * hidden + j] - mean) / std::sqrt(variance + eps) * weight[j] + bias[j];
  }
  return y;
}

TEST_P(OpsTest, LayerNormForwardAndBackward) {
  with_thread_counts([&] {
    const int rows = 4, hidden = 70;
    const float eps = 1e-5f;
    auto x = random_normal(rows * hidden, 21);
    for (float& v : x) v += 3.0f;  // a mean far from 0 exposes single-pass variance formulas
    auto weight = random_normal(hidden, 22, 0.2f), bias = random_normal(hidden, 23);
    for (float& v : weight) v += 1.0f;
    std::vector<float> y(rows * hidden), mean(rows), rstd(rows);
    Mirror my(backend(), y), mmean(backend(), mean), mrstd(backend(), rstd), mx(backend(), x),
        mweight(backend(), weight), mbias(backend(), bias);
    LLC_BACKEND_OP(backend().layernorm_forward(my.data(), mmean.data(), mrstd.data(), mx.data(), mweight.data(),
                                               mbias.data(), rows, hidden, eps));
    my.back();
    EXPECT_LE(
        max_relative_error(y, layernorm_reference(to_double(x), to_double(weight), to_double(bias), rows, hidden, eps)),
        kOpTolerance);

    auto d_output = random_normal(rows * hidden, 24);
    std::vector<double> packed = to_double(x);
    for (float v : weight) packed.push_back(v);
    for (float v : bias) packed.push_back(v);
    auto reference = [&](const std::vector<double>& p) {
      return layernorm_reference(std::vector<double>(p.begin(), p.begin() + rows * hidden),
                                 std::vector<double>(p.begin() + rows * hidden, p.begin() + rows * hidden + hidden),
                                 std::vector<double>(p.begin() + rows * hidden + hidden, p.end()), rows, hidden, eps);
    };
    const auto expected = central_difference_gradient(reference, packed, to_double(d_output));
    // d_input accumulates: start from a known buffer and subtract it after.
    auto d_x = random_normal(rows * hidden, 25);
    const auto d_x_before = d_x;
    std::vector<float> d_weight(hidden, 7.0f), d_bias(hidden, 7.0f);
    {
      Mirror md_x(backend(), d_x), md_weight(backend(), d_weight), md_bias(backend(), d_bias),
          md_out(backend(), d_output);
      // mean and rstd stay in the backend's buffers, as the model keeps them.
      LLC_BACKEND_OP(backend().layernorm_backward(md_x.data(), md_weight.data(), md_bias.data(), md_out.data(),
                                                  mx.data(), mmean.data(), mrstd.data(), mweight.data(), rows, hidden));
      md_x.back(), md_weight.back(), md_bias.back();
    }
    std::vector<double> d_x_added(d_x.size());
    for (std::size_t i = 0; i < d_x.size(); ++i)
      d_x_added[i] = static_cast<double>(d_x[i]) - static_cast<double>(d_x_before[i]);
    EXPECT_LE(max_relative_error(d_x_added, std::vector<double>(expected.begin(), expected.begin() + rows * hidden)),
              kOpTolerance);
    EXPECT_LE(max_relative_error(d_weight, std::vector<double>(expected.begin() + rows * hidden,
                                                               expected.begin() + rows * hidden + hidden)),
              kOpTolerance);
    EXPECT_LE(
        max_relative_error(d_bias, std::vector<double>(expected.begin() + rows * hidden + hidden, expected.end())),
        kOpTolerance);
  });
}

// ------------------------------------------------------------------ embedding

TEST_P(OpsTest, EmbeddingForwardAndBackward) {
  with_thread_counts([&] {
    const int vocab = 9, hidden = 70, rows = 12;
    const std::vector<std::int32_t> tokens = {3, 0, 8, 3, 3, 5, 1, 0, 8, 2, 7, 3};  // repeats on purpose
    auto table = random_normal(vocab * hidden, 31);
    std::vector<float> output(rows * hidden);
    Mirror moutput(backend(), output), mtable(backend(), table);
    Mirror mtokens(backend(), tokens);
    LLC_BACKEND_OP(backend().embedding_forward(moutput.data(), mtokens.data(), mtable.data(), rows, hidden));
    moutput.back();
    for (int r = 0; r < rows; ++r)
      for (int j = 0; j < hidden; ++j) ASSERT_EQ(output[r * hidden + j], table[tokens[r] * hidden + j]);

    auto d_output = random_normal(rows * hidden, 32);
    auto reference = [&](const std::vector<double>& t) {
      std::vector<double> out(rows * hidden);
      for (int r = 0; r < rows; ++r)
        for (int j = 0; j < hidden; ++j) out[r * hidden + j] = t[tokens[r] * hidden + j];
      return out;
    };
    const auto expected = central_difference_gradient(reference, to_double(table), to_double(d_output));
    std::vector<float> d_table(vocab * hidden, 0.0f);
    Mirror md_table(backend(), d_table), md_output(backend(), d_output);
    LLC_BACKEND_OP(backend().embedding_backward(md_table.data(), md_output.data(), mtokens.data(), rows, hidden));
    md_table.back();
    EXPECT_LE(max_relative_error(d_table, expected), kOpTolerance);
    // Row 4 and 6 never occur: their gradient stays exactly zero.
    for (int j = 0; j < hidden; ++j) EXPECT_EQ(d_table[4 * hidden + j], 0.0f);
  });
}

// ------------------------------------------------------------------ rotary

std::vector<double> rotary_reference(std::vector<double> qkv, int batch, int seq_len, int heads, int head_dim,
                                     int rotary_dims, double base) {
  const int half = rotary_dims / 2, width = 3 * heads * head_dim;
  for (int b = 0; b < batch; ++b)
    for (int t = 0; t < seq_len; ++t)
      for (int h = 0; h < heads; ++h)
        for (int part = 0; part < 2; ++part) {
          double* x = qkv.data() + (b * seq_len + t) * width + h * 3 * head_dim + part * head_dim;
          for (int j = 0; j < half; ++j) {
            const double angle = t * std::pow(base, -2.0 * j / rotary_dims);
            const double first = x[j], second = x[j + half];
            x[j] = first * std::cos(angle) - second * std::sin(angle);
            x[j + half] = second * std::cos(angle) + first * std::sin(angle);
          }
        }
  return qkv;
}

TEST_P(OpsTest, RotaryForwardAndBackward) {
  with_thread_counts([&] {
    const int batch = 2, seq_len = 6, heads = 3, head_dim = 8;
    const double base = 10000.0;
    for (int rotary_dims : {2, 4, 8}) {
      SCOPED_TRACE(testing::Message() << "rotary_dims " << rotary_dims);
      const int half = rotary_dims / 2, width = 3 * heads * head_dim;
      std::vector<float> cos_table(seq_len * half), sin_table(seq_len * half);
      ops::rotary_tables(cos_table.data(), sin_table.data(), seq_len, rotary_dims, base);
      auto qkv = random_normal(batch * seq_len * width, 41);
      const auto expected = rotary_reference(to_double(qkv), batch, seq_len, heads, head_dim, rotary_dims, base);
      // The tables are computed on the host and uploaded, as the model does.
      Mirror mcos(backend(), cos_table), msin(backend(), sin_table), mqkv(backend(), qkv);
      LLC_BACKEND_OP(backend().rotary_forward(mqkv.data(), mcos.data(), msin.data(), batch, seq_len, heads, head_dim,
                                              rotary_dims));
      mqkv.back();
      EXPECT_LE(max_relative_error(qkv, expected), kOpTolerance);

      auto d_qkv = random_normal(batch * seq_len * width, 42);
      const auto d_expected = central_difference_gradient(
          [&](const std::vector<double>& p) {
            return rotary_reference(p, batch, seq_len, heads, head_dim, rotary_dims, base);
          },
          to_double(random_normal(batch * seq_len * width, 43)), to_double(d_qkv));
      Mirror md_qkv(backend(), d_qkv);
      LLC_BACKEND_OP(backend().rotary_backward(md_qkv.data(), mcos.data(), msin.data(), batch, seq_len, heads, head_dim,
                                               rotary_dims));
      md_qkv.back();
      EXPECT_LE(max_relative_error(d_qkv, d_expected), kOpTolerance);
    }
  });
}

TEST(Ops, RotaryTablesFollowFloat32AngleArithmetic) {
  // transformers forms the angle as fp32(position) · fp32(inv_freq); at
  // position 2047 an angle differs from the exact real one by up to ~1e-4, so
  // the table must be checked against that fp32 angle (to one rounding of
  // cos/sin), not against the exact angle.
  const int positions = 2048, rotary_dims = 16, half = rotary_dims / 2;
  std::vector<float> cos_table(positions * half), sin_table(positions * half);
  ops::rotary_tables(cos_table.data(), sin_table.data(), positions, rotary_dims, 10000.0);
  double worst = 0.0;
  for (int j = 0; j < half; ++j) {
    const float inv_freq =
        1.0f / static_cast<float>(std::pow(10000.0, static_cast<double>(static_cast<float>(2 * j) / rotary_dims)));
    for (int p = 0; p < positions; ++p) {
      const float angle = static_cast<float>(p) * inv_freq;
      worst = std::max(worst, std::abs(cos_table[p * half + j] - std::cos(static_cast<double>(angle))));
      worst = std::max(worst, std::abs(sin_table[p * half + j] - std::sin(static_cast<double>(angle))));
    }
  }
  EXPECT_LE(worst, 6e-8);  // one float rounding of a value in [−1, 1]: ≤ 2⁻²⁴
}

// ------------------------------------------------------------------ attention

// Naive causal attention in double; also returns each row's log-sum-exp.
std::vector<double> attention_reference(const std::vector<double>& qkv, int batch, int seq_len, int heads, int head_dim,
                                        std::vector<double>* lse = nullptr) {
  const int width = 3 * heads * head_dim, hidden = heads * head_dim;
  std::vector<double> out(static_cast<std::size_t>(batch) * seq_len * hidden);
  if (lse) lse->assign(static_cast<std::size_t>(batch) * heads * seq_len, 0.0);
  const double scale = 1.0 / std::sqrt(static_cast<double>(head_dim));
  std::vector<double> scores(seq_len);
  for (int b = 0; b < batch; ++b)
    for (int h = 0; h < heads; ++h)
      for (int i = 0; i < seq_len; ++i) {
        const double* q = qkv.data() + (b * seq_len + i) * width + h * 3 * head_dim;
        double max_score = -INFINITY;
        for (int j = 0; j <= i; ++j) {
          const double* k = qkv.data() + (b * seq_len + j) * width + h * 3 * head_dim + head_dim;
          double dot = 0.0;
          for (int c = 0; c < head_dim; ++c) dot += q[c] * k[c];
          scores[j] = dot * scale;
          max_score = std::max(max_score, scores[j]);
        }
        double sum = 0.0;
        for (int j = 0; j <= i; ++j) sum += std::exp(scores[j] - max_score);
        if (lse) (*lse)[(b * heads + h) * seq_len + i] = max_score + std::log(sum);
        for (int c = 0; c < head_dim; ++c) {
          double value = 0.0;
          for (int j = 0; j <= i; ++j)
            value += std::exp(scores[j] - max_score) / sum *
                     qkv[(b * seq_len + j) * width + h * 3 * head_dim + 2 * head_dim + c];
          out[(b * seq_len + i) * hidden + h * head_dim + c] = value;
        }
      }
  return out;
}

// Runs attention forward and backward with 1 and 3 threads and checks the
// output, the log-sum-exp and d_qkv against double-precision references.
// Outputs start as garbage (77, 99) so that an element never written fails.
void expect_attention_matches(Backend& backend, const std::vector<float>& qkv, const std::vector<float>& d_out,
                              const std::vector<double>& expected, const std::vector<double>& expected_lse,
                              const std::vector<double>& d_expected, int batch, int seq_len, int heads, int head_dim,
                              int workspace_seq_len) {
  const int hidden = heads * head_dim;
  with_thread_counts([&] {
    // Sized after the thread count is set (the CPU backend's per-thread scratch).
    LLC_BACKEND_OP(backend.reserve_attention(workspace_seq_len, head_dim));
    std::vector<float> out(batch * seq_len * hidden, 77.0f), lse(batch * heads * seq_len, 77.0f);
    Mirror mout(backend, out), mlse(backend, lse);
    Mirror mqkv(backend, qkv);
    LLC_BACKEND_OP(backend.attention_forward(mout.data(), mlse.data(), mqkv.data(), batch, seq_len, heads, head_dim));
    mout.back(), mlse.back();
    EXPECT_LE(max_relative_error(out, expected), kOpTolerance);
    EXPECT_LE(max_relative_error(lse, expected_lse), kOpTolerance);
    std::vector<float> d_qkv(qkv.size(), 99.0f);
    Mirror md_qkv(backend, d_qkv);
    Mirror md_out(backend, d_out);
    LLC_BACKEND_OP(backend.attention_backward(md_qkv.data(), md_out.data(), mout.data(), mlse.data(), mqkv.data(),
                                              batch, seq_len, heads, head_dim));
    md_qkv.back();
    EXPECT_LE(max_relative_error(d_qkv, d_expected), kOpTolerance);
  });
}

TEST_P(OpsTest, AttentionForwardAndBackward) {
  // seq_len 67 spans two query blocks (kQueryBlock = 64), the second partial.
  const int batch = 2, seq_len = 67, heads = 2, head_dim = 4;
  static_assert(ops::kQueryBlock < 67, "the test must cross a query-block boundary");
  const int width = 3 * heads * head_dim, hidden = heads * head_dim;
  const auto qkv = random_normal(batch * seq_len * width, 51, 1.5f);
  const auto d_out = random_normal(batch * seq_len * hidden, 52);
  std::vector<double> expected_lse;
  const auto expected = attention_reference(to_double(qkv), batch, seq_len, heads, head_dim, &expected_lse);
  // Central differences one (sequence, head) at a time: its q, k, v only
  // reach its own outputs, so each perturbation needs one head's attention.
  std::vector<double> d_expected(qkv.size());
  for (int b = 0; b < batch; ++b)
    for (int h = 0; h < heads; ++h) {
      auto column = [&](int t, int c) {
        return static_cast<std::size_t>((b * seq_len + t) * width + h * 3 * head_dim + c);
      };
      std::vector<double> slice, weights;  // (T, 3d) of this head; d_out of this head (T, d)
      for (int t = 0; t < seq_len; ++t)
        for (int c = 0; c < 3 * head_dim; ++c) slice.push_back(qkv[column(t, c)]);
      for (int t = 0; t < seq_len; ++t)
        for (int c = 0; c < head_dim; ++c) weights.push_back(d_out[(b * seq_len + t) * hidden + h * head_dim + c]);
      const auto gradient = central_difference_gradient(
          // The slice is laid out as the qkv of one sequence with one head.
          [&](const std::vector<double>& p) { return attention_reference(p, 1, seq_len, 1, head_dim); }, slice,
          weights);
      for (int t = 0; t < seq_len; ++t)
        for (int c = 0; c < 3 * head_dim; ++c) d_expected[column(t, c)] = gradient[t * 3 * head_dim + c];
    }
  expect_attention_matches(backend(), qkv, d_out, expected, expected_lse, d_expected, batch, seq_len, heads, head_dim,
                           seq_len);
}

TEST(Ops, AttentionWithShorterSequenceThanWorkspace) {
  const int batch = 1, seq_len = 5, heads = 3, head_dim = 2;
  ops::AttentionWorkspace workspace(100);
  auto qkv = random_normal(batch * seq_len * 3 * heads * head_dim, 53);
  std::vector<float> out(batch * seq_len * heads * head_dim), lse(batch * heads * seq_len);
  ops::attention_forward(out.data(), lse.data(), qkv.data(), batch, seq_len, heads, head_dim, workspace);
  EXPECT_LE(max_relative_error(out, attention_reference(to_double(qkv), batch, seq_len, heads, head_dim)),
            kOpTolerance);
}

// Analytic gradient of attention_reference in double (dS = P ⊙ (dP − rowsum(P ⊙ dP))),
// for shapes too large for central differences. AttentionForwardAndBackward
// checks the same formulas against central differences at a small shape.
std::vector<double> attention_backward_reference(const std::vector<double>& qkv, const std::vector<double>& d_out,
                                                 int batch, int seq_len, int heads, int head_dim) {
  const int width = 3 * heads * head_dim, hidden = heads * head_dim;
  std::vector<double> d_qkv(qkv.size(), 0.0);
  const double scale = 1.0 / std::sqrt(static_cast<double>(head_dim));
  std::vector<double> p(seq_len), dp(seq_len);
  for (int b = 0; b < batch; ++b)
    for (int h = 0; h < heads; ++h) {
      auto at = [&](int t, int part) {
        return static_cast<std::size_t>((b * seq_len + t) * width + h * 3 * head_dim + part * head_dim);
      };
      for (int i = 0; i < seq_len; ++i) {
        double max_score = -INFINITY;
        for (int j = 0; j <= i; ++j) {
          double dot = 0.0;
          for (int c = 0; c < head_dim; ++c) dot += qkv[at(i, 0) + c] * qkv[at(j, 1) + c];
          p[j] = dot * scale;
          max_score = std::max(max_score, p[j]);
        }
        double sum = 0.0;
        for (int j = 0; j <= i; ++j) sum += (p[j] = std::exp(p[j] - max_score));
        const double* d_o = d_out.data() + (b * seq_len + i) * hidden + h * head_dim;
        double row_dot = 0.0;
        for (int j = 0; j <= i; ++j) {
          p[j] /= sum;
          double dot = 0.0;
          for (int c = 0; c < head_dim; ++c) dot += d_o[c] * qkv[at(j, 2) + c];
          dp[j] = dot;
          row_dot += p[j] * dp[j];
        }
        for (int j = 0; j <= i; ++j) {
          const double ds = p[j] * (dp[j] - row_dot) * scale;
          for (int c = 0; c < head_dim; ++c) {
            d_qkv[at(i, 0) + c] += ds * qkv[at(j, 1) + c];
            d_qkv[at(j, 1) + c] += ds * qkv[at(i, 0) + c];
            d_qkv[at(j, 2) + c] += p[j] * d_o[c];
          }
        }
      }
    }
  return d_qkv;
}

// Head sizes that exercise the kernels' column chunks (d = 32: 2 + 2 vectors;
// 40: 3 + 2; 12: a zero-padded vector) and sequences that are not whole
// vectors and cross two query-block boundaries.
TEST_P(OpsTest, AttentionMatchesAnalyticReferenceAtLargerHeads) {
  struct Shape {
    int batch, seq_len, heads, head_dim;
  };
  for (const Shape shape : {Shape{2, 131, 2, 32}, Shape{1, 70, 3, 40}, Shape{3, 9, 2, 12}, Shape{1, 1, 1, 8}}) {
    const auto [batch, seq_len, heads, head_dim] = shape;
    SCOPED_TRACE(testing::Message() << "T " << seq_len << " d " << head_dim);
    const int width = 3 * heads * head_dim, hidden = heads * head_dim;
    const auto qkv = random_normal(batch * seq_len * width, 54, 1.5f);
    const auto d_out = random_normal(batch * seq_len * hidden, 55);
    std::vector<double> expected_lse;
    const auto expected = attention_reference(to_double(qkv), batch, seq_len, heads, head_dim, &expected_lse);
    const auto d_expected =
        attention_backward_reference(to_double(qkv), to_double(d_out), batch, seq_len, heads, head_dim);
    expect_attention_matches(backend(), qkv, d_out, expected, expected_lse, d_expected, batch, seq_len, heads, head_dim,
                             seq_len + 5);
  }
}

// The work split must not change any bit: output, log-sum-exp and gradients
// with 1 and with 3 OpenMP threads are identical (each (sequence, head) is
// computed start to finish by one thread in a fixed order).
TEST(Ops, AttentionIsBitIdenticalAcrossThreadCounts) {
  const int batch = 3, seq_len = 150, heads = 3, head_dim = 24;
  const int width = 3 * heads * head_dim, hidden = heads * head_dim;
  const auto qkv = random_normal(batch * seq_len * width, 56, 1.5f);
  const auto d_out = random_normal(batch * seq_len * hidden, 57);
  const int saved = omp_get_max_threads();
  std::vector<std::vector<float>> results[2];
  for (int index : {0, 1}) {
    omp_set_num_threads(index == 0 ? 1 : 3);
    ops::AttentionWorkspace workspace(seq_len, head_dim);
    std::vector<float> out(batch * seq_len * hidden), lse(batch * heads * seq_len), d_qkv(qkv.size());
    ops::attention_forward(out.data(), lse.data(), qkv.data(), batch, seq_len, heads, head_dim, workspace);
    ops::attention_backward(d_qkv.data(), d_out.data(), out.data(), lse.data(), qkv.data(), batch, seq_len, heads,
                            head_dim, workspace);
    results[index] = {out, lse, d_qkv};
  }
  omp_set_num_threads(saved);
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(results[0][i].size(), results[1][i].size());
    EXPECT_EQ(std::memcmp(results[0][i].data(), results[1][i].data(), results[0][i].size() * sizeof(float)), 0)
        << "result " << i << " differs between 1 and 3 threads";
  }
}

// ------------------------------------------------------------------ GELU

double gelu_reference(double x, ops::GeluKind kind) {
  if (kind == ops::GeluKind::Erf) return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
  return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
}

TEST_P(OpsTest, GeluForwardAndBackward) {
  with_thread_counts([&] {
    auto x = random_normal(3000, 61, 2.0f);  // crosses the 2048-element chunk
    for (float special : {0.0f, 4.0f, -4.0f, 6.0f, -6.0f, 12.0f, -12.0f, 1e-3f}) x.push_back(special);
    for (ops::GeluKind kind : {ops::GeluKind::Erf, ops::GeluKind::Tanh}) {
      SCOPED_TRACE(kind == ops::GeluKind::Erf ? "erf" : "tanh");
      std::vector<float> y(x.size());
      Mirror my(backend(), y), mx(backend(), x);
      LLC_BACKEND_OP(backend().gelu_forward(my.data(), mx.data(), static_cast<std::int64_t>(x.size()), kind));
      my.back();
      std::vector<double> expected(x.size());
      for (std::size_t i = 0; i < x.size(); ++i) expected[i] = gelu_reference(x[i], kind);
      EXPECT_LE(max_relative_error(y, expected), kOpTolerance);

      auto d_y = random_normal(x.size(), 62);
      // Element-wise op: the central difference of each entry on its own
      // (same step and error analysis as central_difference_gradient).
      std::vector<double> d_expected(x.size());
      const double step = 1e-4;
      for (std::size_t i = 0; i < x.size(); ++i)
        d_expected[i] = d_y[i] * (gelu_reference(x[i] + step, kind) - gelu_reference(x[i] - step, kind)) / (2 * step);
      // In place, as the model calls it.
      Mirror md_y(backend(), d_y);
      LLC_BACKEND_OP(
          backend().gelu_backward(md_y.data(), md_y.data(), mx.data(), static_cast<std::int64_t>(x.size()), kind));
      md_y.back();
      EXPECT_LE(max_relative_error(d_y, d_expected), kOpTolerance);
    }
  });
}

TEST(Ops, GeluKindFromName) {
  EXPECT_EQ(ops::gelu_kind_from_name("gelu"), ops::GeluKind::Erf);
  EXPECT_EQ(ops::gelu_kind_from_name("gelu_new"), ops::GeluKind::Tanh);
  EXPECT_EQ(ops::gelu_kind_from_name("gelu_pytorch_tanh"), ops::GeluKind::Tanh);
  EXPECT_EQ(ops::gelu_kind_from_name("gelu_fast"), ops::GeluKind::Tanh);
  EXPECT_FALSE(ops::gelu_kind_from_name("relu").has_value());
}

// ------------------------------------------------------------------ cross-entropy

std::vector<double> cross_entropy_reference(const std::vector<double>& logits, const std::vector<std::int32_t>& targets,
                                            int rows, int vocab) {
  std::vector<double> losses(rows);
  for (int r = 0; r < rows; ++r) {
    const double* x = logits.data() + static_cast<std::size_t>(r) * vocab;
    const double max_logit = *std::max_element(x, x + vocab);
    double sum = 0.0;
    for (int v = 0; v < vocab; ++v) sum += std::exp(x[v] - max_logit);
    losses[r] = max_logit + std::log(sum) - x[targets[r]];
  }
  return losses;
}

TEST_P(OpsTest, CrossEntropyForwardAndBackward) {
  const int rows = 5, vocab = 1100;  // crosses the 1024-entry exp-sum segment
  auto logits_initial = random_normal(rows * vocab, 71, 3.0f);
  for (int v = 0; v < vocab; ++v) logits_initial[3 * vocab + v] += 500.0f;  // exp overflows without the max shift
  // The online log-sum-exp rescales its running sum when a later segment holds
  // a larger maximum (row 1) and the segment sum when an earlier one does (row 2).
  logits_initial[1 * vocab + 1050] = 40.0f;
  logits_initial[2 * vocab + 5] = 40.0f;
  const std::vector<std::int32_t> targets = {0, 1099, 17, 512, 17};
  const auto expected = cross_entropy_reference(to_double(logits_initial), targets, rows, vocab);
  // Rows are independent: central differences row by row.
  std::vector<double> d_expected;
  for (int r = 0; r < rows; ++r) {
    const std::vector<double> row(logits_initial.begin() + r * vocab, logits_initial.begin() + (r + 1) * vocab);
    const auto gradient = central_difference_gradient(
        [&](const std::vector<double>& p) { return cross_entropy_reference(p, {targets[r]}, 1, vocab); }, row,
        {1.0 / rows});
    d_expected.insert(d_expected.end(), gradient.begin(), gradient.end());
  }
  with_thread_counts([&] {
    auto logits = logits_initial;
    std::vector<float> losses(rows), lse(rows);
    Mirror mlosses(backend(), losses), mlse(backend(), lse), mlogits(backend(), logits);
    Mirror mtargets(backend(), targets);
    double mean = 0;
    LLC_BACKEND_OP(mean = backend().cross_entropy_forward(mlosses.data(), mlse.data(), mlogits.data(), mtargets.data(),
                                                          rows, vocab));
    mlosses.back();
    EXPECT_LE(max_relative_error(losses, expected), kOpTolerance);
    EXPECT_NEAR(mean, std::accumulate(expected.begin(), expected.end(), 0.0) / rows,
                kOpTolerance * *std::max_element(expected.begin(), expected.end()));
    // In place over the logits, as the model calls it.
    LLC_BACKEND_OP(backend().cross_entropy_backward(mlogits.data(), mlogits.data(), mlse.data(), mtargets.data(),
                                                    1.0f / rows, rows, vocab));
    mlogits.back();
    EXPECT_LE(max_relative_error(logits, d_expected), kOpTolerance);
  });
}

LLC_INSTANTIATE_BACKEND_TESTS(OpsTest);

}  // namespace
}  // namespace llcpress
