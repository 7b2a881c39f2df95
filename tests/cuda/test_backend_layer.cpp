// One GPT-NeoX layer with its loss head, forward and backward, composed from
// the Backend ops and run on the CPU backend and on the CUDA backend with the
// same random weights at the Pythia-14m and Pythia-160m layer shapes, in each
// GEMM precision. What this checks beyond the per-op tests: the ops compose
// on one stream (buffer reuse, in-place steps, accumulations) and the CUDA
// GEMMs (cuBLASLt) agree with the CPU's inside a real layer.
//
// GPU only (GEMMs are library calls, out of the emulation's reach). Until the
// model runs on a Backend& (the seam's GptNeox commit), this is the
// model-level comparison; the full-model loss/gradient test on the same shapes
// is wired once GptNeox takes a backend.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "backend/backend.h"
// Before any CUDA header: Random123 defines its host sincospif only when
// CUDART_VERSION is not yet defined.
#include "core/rng.h"
#include "cuda/cuda_backend.h"
#include "kernel_test_support.h"
#include "model/ops/rotary.h"

namespace llcpress::cuda::test {
namespace {

struct LayerShape {
  const char* name;
  int hidden, heads, rotary_dims, intermediate, vocab;
};
constexpr LayerShape kPythia14m{"pythia14m", 128, 4, 8, 512, 50304};
constexpr LayerShape kPythia160m{"pythia160m", 768, 12, 16, 3072, 50304};
constexpr std::int64_t kBatch = 2;
constexpr int kSeqLen = 64;

// Host copies of everything the comparison reads.
struct LayerResult {
  double loss = 0;
  std::vector<float> d_table, d_qkv_weight, d_dense_weight, d_up_weight, d_down_weight, d_unembed_weight, d_ln1_weight;
};

// A device (or host) float buffer of a backend, freed with it.
class Floats {
 public:
  Floats(backend::Backend& b, std::size_t count) : backend_(&b), count_(count) {
    data_ = static_cast<float*>(b.allocate(count * sizeof(float)));
  }
  Floats(backend::Backend& b, const std::vector<float>& host) : Floats(b, host.size()) {
    b.upload(data_, host.data(), host.size() * sizeof(float));
  }
  ~Floats() { backend_->deallocate(data_, count_ * sizeof(float)); }
  Floats(const Floats&) = delete;
  Floats& operator=(const Floats&) = delete;
  float* get() const { return data_; }
  std::vector<float> host() const {
    std::vector<float> out(count_);
    backend_->download(out.data(), data_, count_ * sizeof(float));
    return out;
  }

 private:
  backend::Backend* backend_;
  std::size_t count_;
  float* data_;
};

LayerResult run_layer(backend::Backend& b, const LayerShape& s) {
  const std::int64_t rows = kBatch * kSeqLen;
  const int h = s.hidden, d = s.hidden / s.heads, qkv = 3 * s.hidden, inter = s.intermediate, v = s.vocab;
  auto weights = [](std::size_t count, std::uint64_t stream) { return random_normal(count, stream, 0.02f); };
  auto ones_ish = [](std::size_t count, std::uint64_t stream) {
    std::vector<float> w = random_normal(count, stream, 0.1f);
    for (float& x : w) x += 1.0f;
    return w;
  };
  std::vector<std::int32_t> tokens(rows), targets(rows);
  {
    std::vector<float> u(2 * rows);
    CounterRng(11, 11).fill_uniform(u.data(), u.size());
    for (std::int64_t r = 0; r < rows; ++r) {
      tokens[r] = static_cast<std::int32_t>(u[r] * static_cast<float>(v - 1));
      targets[r] = static_cast<std::int32_t>(u[rows + r] * static_cast<float>(v - 1));
    }
  }
  std::vector<float> cos_table(static_cast<std::size_t>(kSeqLen) * (s.rotary_dims / 2)), sin_table(cos_table.size());
  ops::rotary_tables(cos_table.data(), sin_table.data(), kSeqLen, s.rotary_dims, 10000.0);

  // Parameters.
  Floats table(b, weights(std::size_t(v) * h, 100)), ln1_w(b, ones_ish(h, 101)), ln1_b(b, weights(h, 102)),
      ln2_w(b, ones_ish(h, 103)), ln2_b(b, weights(h, 104)), lnf_w(b, ones_ish(h, 105)), lnf_b(b, weights(h, 106)),
      qkv_w(b, weights(std::size_t(qkv) * h, 107)), qkv_b(b, weights(qkv, 108)),
      dense_w(b, weights(std::size_t(h) * h, 109)), dense_b(b, weights(h, 110)),
      up_w(b, weights(std::size_t(inter) * h, 111)), up_b(b, weights(inter, 112)),
      down_w(b, weights(std::size_t(h) * inter, 113)), down_b(b, weights(h, 114)),
      unembed_w(b, weights(std::size_t(v) * h, 115)), cos_buffer(b, cos_table), sin_buffer(b, sin_table);
  Floats token_buffer(b, rows), target_buffer(b, rows);  // int32 in float-sized slots
  b.upload(token_buffer.get(), tokens.data(), rows * sizeof(std::int32_t));
  b.upload(target_buffer.get(), targets.data(), rows * sizeof(std::int32_t));
  const auto* token_ids = reinterpret_cast<const std::int32_t*>(token_buffer.get());
  const auto* target_ids = reinterpret_cast<const std::int32_t*>(target_buffer.get());

  // Activations.
  Floats x(b, rows * h), ln1(b, rows * h), ln1_mean(b, rows), ln1_rstd(b, rows), qkv_act(b, rows * qkv),
      attn(b, rows * h), lse(b, kBatch * s.heads * kSeqLen), ln2(b, rows * h), ln2_mean(b, rows), ln2_rstd(b, rows),
      up(b, rows * inter), gelu_out(b, rows * inter), y(b, rows * h), lnf(b, rows * h), lnf_mean(b, rows),
      lnf_rstd(b, rows), logits(b, rows * std::size_t(v)), losses(b, rows), log_sum_exp(b, rows);
  b.reserve_attention(kSeqLen, d);
  // Forward: GPT-NeoX's parallel residual, y = x + attn(ln1(x)) + mlp(ln2(x)).
  b.embedding_forward(x.get(), token_ids, table.get(), rows, h);
  b.layernorm_forward(ln1.get(), ln1_mean.get(), ln1_rstd.get(), x.get(), ln1_w.get(), ln1_b.get(), rows, h, 1e-5f);
  b.linear_forward(qkv_act.get(), ln1.get(), qkv_w.get(), qkv_b.get(), rows, h, qkv, false);
  Floats qkv_rotated(b, rows * qkv);
  b.copy(qkv_rotated.get(), qkv_act.get(), rows * qkv);
  b.rotary_forward(qkv_rotated.get(), cos_buffer.get(), sin_buffer.get(), kBatch, kSeqLen, s.heads, d, s.rotary_dims);
  b.attention_forward(attn.get(), lse.get(), qkv_rotated.get(), kBatch, kSeqLen, s.heads, d);
  b.copy(y.get(), x.get(), rows * h);
  b.linear_forward(y.get(), attn.get(), dense_w.get(), dense_b.get(), rows, h, h, true);
  b.layernorm_forward(ln2.get(), ln2_mean.get(), ln2_rstd.get(), x.get(), ln2_w.get(), ln2_b.get(), rows, h, 1e-5f);
  b.linear_forward(up.get(), ln2.get(), up_w.get(), up_b.get(), rows, h, inter, false);
  b.gelu_forward(gelu_out.get(), up.get(), rows * inter, backend::GeluKind::Tanh);
  b.linear_forward(y.get(), gelu_out.get(), down_w.get(), down_b.get(), rows, inter, h, true);
  b.layernorm_forward(lnf.get(), lnf_mean.get(), lnf_rstd.get(), y.get(), lnf_w.get(), lnf_b.get(), rows, h, 1e-5f);
  b.linear_forward(logits.get(), lnf.get(), unembed_w.get(), nullptr, rows, h, v, false);
  LayerResult result;
  result.loss = b.cross_entropy_forward(losses.get(), log_sum_exp.get(), logits.get(), target_ids, rows, v);

  // Backward.
  Floats d_lnf(b, rows * h), d_y(b, rows * h), d_gelu(b, rows * inter), d_ln2(b, rows * h), d_attn(b, rows * h),
      d_qkv(b, rows * qkv), d_ln1(b, rows * h), d_table(b, std::size_t(v) * h), d_unembed(b, std::size_t(v) * h),
      d_lnf_w(b, h), d_lnf_b(b, h), d_down_w(b, std::size_t(h) * inter), d_down_b(b, h),
      d_up_w(b, std::size_t(inter) * h), d_up_b(b, inter), d_ln2_w(b, h), d_ln2_b(b, h),
      d_dense_w(b, std::size_t(h) * h), d_dense_b(b, h), d_qkv_w(b, std::size_t(qkv) * h), d_qkv_b(b, qkv),
      d_ln1_w(b, h), d_ln1_b(b, h);
  b.cross_entropy_backward(logits.get(), logits.get(), log_sum_exp.get(), target_ids, 1.0f / static_cast<float>(rows),
                           rows, v);
  b.linear_backward(d_lnf.get(), d_unembed.get(), nullptr, logits.get(), lnf.get(), unembed_w.get(), rows, h, v);
  b.zero(d_y.get(), rows * h);
  b.layernorm_backward(d_y.get(), d_lnf_w.get(), d_lnf_b.get(), d_lnf.get(), y.get(), lnf_mean.get(), lnf_rstd.get(),
                       lnf_w.get(), rows, h);
  // d_x = d_y (residual) + both branches, accumulated into d_y's copy.
  Floats d_x(b, rows * h);
  b.copy(d_x.get(), d_y.get(), rows * h);
  b.linear_backward(d_gelu.get(), d_down_w.get(), d_down_b.get(), d_y.get(), gelu_out.get(), down_w.get(), rows, inter,
                    h);
  b.gelu_backward(d_gelu.get(), d_gelu.get(), up.get(), rows * inter, backend::GeluKind::Tanh);
  b.linear_backward(d_ln2.get(), d_up_w.get(), d_up_b.get(), d_gelu.get(), ln2.get(), up_w.get(), rows, h, inter);
  b.layernorm_backward(d_x.get(), d_ln2_w.get(), d_ln2_b.get(), d_ln2.get(), x.get(), ln2_mean.get(), ln2_rstd.get(),
                       ln2_w.get(), rows, h);
  b.linear_backward(d_attn.get(), d_dense_w.get(), d_dense_b.get(), d_y.get(), attn.get(), dense_w.get(), rows, h, h);
  b.attention_backward(d_qkv.get(), d_attn.get(), attn.get(), lse.get(), qkv_rotated.get(), kBatch, kSeqLen, s.heads,
                       d);
  b.rotary_backward(d_qkv.get(), cos_buffer.get(), sin_buffer.get(), kBatch, kSeqLen, s.heads, d, s.rotary_dims);
  b.linear_backward(d_ln1.get(), d_qkv_w.get(), d_qkv_b.get(), d_qkv.get(), ln1.get(), qkv_w.get(), rows, h, qkv);
  b.layernorm_backward(d_x.get(), d_ln1_w.get(), d_ln1_b.get(), d_ln1.get(), x.get(), ln1_mean.get(), ln1_rstd.get(),
                       ln1_w.get(), rows, h);
  b.zero(d_table.get(), std::size_t(v) * h);
  b.embedding_backward(d_table.get(), d_x.get(), token_ids, rows, h);

  result.d_table = d_table.host();
  result.d_qkv_weight = d_qkv_w.host();
  result.d_dense_weight = d_dense_w.host();
  result.d_up_weight = d_up_w.host();
  result.d_down_weight = d_down_w.host();
  result.d_unembed_weight = d_unembed.host();
  result.d_ln1_weight = d_ln1_w.host();
  return result;
}

// Tolerance of a result that passed through `depth` GEMMs in precision p:
// a GEMM whose inputs are rounded to unit roundoff u has a relative rms error
// of about √2·u (the products' rounding errors are independent, the sum has
// random signs), the fp32 accumulation adds √K·2⁻²⁴ (K = hidden, vocab), and
// the errors of a chain of GEMMs and the ops between them add up at most
// linearly: relative rms ≤ c·depth·(√2·u + √K·2⁻²⁴), c = 8, squared for nmse.
// An indexing or wiring error gives nmse ≳ 0.1 even for bf16 (≤ 0.04 here).
double layer_tolerance(Precision precision, int depth, double reduction_length) {
  const double u = unit_roundoff(precision);
  const double relative = 8.0 * depth *
                          (std::sqrt(2.0) * (precision == Precision::Fp32 ? 0.0 : u) +
                           std::sqrt(reduction_length) * unit_roundoff(Precision::Fp32));
  return relative * relative;
}

struct LayerCase {
  LayerShape shape;
  Precision precision;
};

class CudaBackendLayer : public ::testing::TestWithParam<LayerCase> {};

TEST_P(CudaBackendLayer, LossAndGradientsMatchTheCpuBackend) {
  LLC_SKIP_WITHOUT_DEVICE();
  const LayerCase c = GetParam();
  std::unique_ptr<backend::Backend> cpu = backend::make_backend("cpu");
  const cuda::Precision precision = c.precision == Precision::Fp32   ? cuda::Precision::Fp32
                                    : c.precision == Precision::Tf32 ? cuda::Precision::Tf32
                                                                     : cuda::Precision::Bf16;
  CudaBackend gpu(0, precision);
  const LayerResult expected = run_layer(*cpu, c.shape);
  const LayerResult actual = run_layer(gpu, c.shape);
  const double vocab = c.shape.vocab;
  // The loss: 2 GEMMs deep (QKV/MLP, unembedding), a log-sum-exp over vocab.
  const double loss_tolerance = std::sqrt(layer_tolerance(c.precision, 3, vocab));
  EXPECT_NEAR(actual.loss, expected.loss, loss_tolerance * std::abs(expected.loss));
  // Gradients: the deepest (d_table, d_ln1) pass through ~8 GEMMs.
  EXPECT_LE(nmse(actual.d_unembed_weight, expected.d_unembed_weight), layer_tolerance(c.precision, 3, vocab));
  EXPECT_LE(nmse(actual.d_down_weight, expected.d_down_weight), layer_tolerance(c.precision, 5, vocab));
  EXPECT_LE(nmse(actual.d_up_weight, expected.d_up_weight), layer_tolerance(c.precision, 6, vocab));
  EXPECT_LE(nmse(actual.d_dense_weight, expected.d_dense_weight), layer_tolerance(c.precision, 5, vocab));
  EXPECT_LE(nmse(actual.d_qkv_weight, expected.d_qkv_weight), layer_tolerance(c.precision, 7, vocab));
  EXPECT_LE(nmse(actual.d_ln1_weight, expected.d_ln1_weight), layer_tolerance(c.precision, 8, vocab));
  EXPECT_LE(nmse(actual.d_table, expected.d_table), layer_tolerance(c.precision, 8, vocab));
}

// The CPU half of the comparison runs everywhere: with weights of scale 0.02
// the logits are nearly uniform, so the loss is ln V to within a few 0.01,
// and every gradient the comparison reads is finite and not all zero.
TEST(CudaBackendLayerReference, CpuLayerRunsWithNearUniformLoss) {
  std::unique_ptr<backend::Backend> cpu = backend::make_backend("cpu");
  const LayerResult result = run_layer(*cpu, kPythia14m);
  EXPECT_NEAR(result.loss, std::log(static_cast<double>(kPythia14m.vocab)), 0.05);
  for (const std::vector<float>* gradient :
       {&result.d_table, &result.d_qkv_weight, &result.d_dense_weight, &result.d_up_weight, &result.d_down_weight,
        &result.d_unembed_weight, &result.d_ln1_weight}) {
    double energy = 0;
    for (float g : *gradient) {
      ASSERT_TRUE(std::isfinite(g));
      energy += static_cast<double>(g) * g;
    }
    EXPECT_GT(energy, 0.0);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, CudaBackendLayer,
    ::testing::Values(LayerCase{kPythia14m, Precision::Fp32}, LayerCase{kPythia14m, Precision::Tf32},
                      LayerCase{kPythia14m, Precision::Bf16}, LayerCase{kPythia160m, Precision::Fp32},
                      LayerCase{kPythia160m, Precision::Tf32}, LayerCase{kPythia160m, Precision::Bf16}),
    [](const auto& info) {
      std::string name = info.param.shape.name;
      name += info.param.precision == Precision::Fp32   ? "_fp32"
              : info.param.precision == Precision::Tf32 ? "_tf32"
                                                        : "_bf16";
      return name;
    });

}  // namespace
}  // namespace llcpress::cuda::test
