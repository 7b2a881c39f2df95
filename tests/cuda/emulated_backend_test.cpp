// The whole CUDA backend on the CPU: CudaBackend, CudaContext and the GEMMs
// of cuda/gemm.cu built as host C++ under the emulation (cuda/emulation:
// kernels as fibers, cuBLASLt as cublaslt_emulation.cpp's host implementation
// of its documented semantics), compared with CpuBackend. This is the only
// check the GEMM plumbing (row-major ↔ column-major, transposes, leading
// dimensions, epilogues, bf16 casts, the weight cache) gets without a GPU:
// a wrong transpose or leading dimension in gemm.cu gives nmse ~1 here.
// Only in test_cuda_emulated (ctest label cuda-emulated).
//
// Tolerances. A GEMM of reduction length K is within nmse_tolerance(p, K)
// of the CPU's product in precision p (kernel_test_support.h derives it).
// Through the model: one op's relative rms difference from the CPU is at most
//   c · ((function_ulps + √K) · u₃₂ + 2 · uₚ),   c = 8 (kernel_test_support.h),
// the first term the fp32 rounding of sums of K terms and of the elementary
// functions (exp, erf, tanh, log: 4 ulps), the second the rounding of both
// GEMM operands to the compute precision (uₚ = 2⁻¹¹ TF32, 2⁻⁸ BF16, 0 fp32:
// each product is off by at most 2uₚ relative, and a sum of such products by
// the same relative amount in rms). These relative differences add along the
// chain of dependent stages, S of them (each layer's attention and MLP
// paths, the embedding and the loss head: S = 2·L + 2), so a loss or a
// gradient is within (S · that)² in nmse, K the model's longest reduction.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "backend/buffer.h"
#include "backend/cpu_backend.h"
#include "compress/method.h"
#include "cuda/cuda_backend.h"
#include "cuda/gemm.h"
#include "formats/megatron.h"
#include "kernel_test_support.h"
#include "model/gpt_neox.h"
#include "model/neox_loss_model.h"
#include "slt/llc_estimator.h"

namespace llcpress::cuda::test {
namespace {

using backend::Buffer;
using backend::CpuBackend;
using backend::GeluKind;
using ops::Transpose;

// The context's precision for the test's precision.
cuda::Precision context_precision(Precision precision) {
  switch (precision) {
    case Precision::Fp32:
      return cuda::Precision::Fp32;
    case Precision::Tf32:
      return cuda::Precision::Tf32;
    case Precision::Bf16:
      return cuda::Precision::Bf16;
  }
  return cuda::Precision::Fp32;
}

const char* precision_label(Precision precision) {
  return precision == Precision::Fp32 ? "fp32" : precision == Precision::Tf32 ? "tf32" : "bf16";
}

template <typename T>
std::vector<T> downloaded(const Buffer<T>& buffer) {
  std::vector<T> host(buffer.size());
  buffer.download(host);
  return host;
}

template <typename T>
Buffer<T> uploaded(backend::Backend& backend, const std::vector<T>& host) {
  Buffer<T> buffer(backend, host.size());
  buffer.upload(host);
  return buffer;
}

// ------------------------------------------------------------------ GEMMs

class EmulatedBackendGemm : public ::testing::TestWithParam<Precision> {};

// Every transpose combination, strided operands (ld above the minimum),
// alpha ≠ 1, and both beta = 0 over a C full of NaN (which must not be read)
// and beta ≠ 0 (accumulation).
TEST_P(EmulatedBackendGemm, GemmMatchesTheCpuBackendForEveryTransposeAndStride) {
  const Precision precision = GetParam();
  CudaBackend gpu(0, context_precision(precision));
  CpuBackend cpu;
  const std::int64_t m = 13, n = 11, k = 37;
  for (Transpose ta : {Transpose::No, Transpose::Yes})
    for (Transpose tb : {Transpose::No, Transpose::Yes})
      for (float beta : {0.0f, 0.75f}) {
        SCOPED_TRACE(::testing::Message() << "transpose a " << (ta == Transpose::Yes) << ", b "
                                          << (tb == Transpose::Yes) << ", beta " << beta);
        const std::int64_t a_rows = ta == Transpose::Yes ? k : m, a_cols = ta == Transpose::Yes ? m : k;
        const std::int64_t b_rows = tb == Transpose::Yes ? n : k, b_cols = tb == Transpose::Yes ? k : n;
        const std::int64_t lda = a_cols + 3, ldb = b_cols + 5, ldc = n + 2;
        const std::vector<float> a = random_normal(a_rows * lda, 1), b = random_normal(b_rows * ldb, 2);  // strided
        std::vector<float> c = random_normal(m * ldc, 3);                                                 // (m, ldc)
        if (beta == 0.0f)
          for (float& value : c) value = std::numeric_limits<float>::quiet_NaN();
        Buffer<float> a_gpu = uploaded(gpu, a), b_gpu = uploaded(gpu, b), c_gpu = uploaded(gpu, c);
        gpu.gemm(c_gpu.data(), a_gpu.data(), b_gpu.data(), m, n, k, ta, tb, 1.5f, beta, lda, ldb, ldc);
        std::vector<float> expected = c;
        if (beta == 0.0f) std::fill(expected.begin(), expected.end(), 0.0f);  // the CPU twin's contract is the same
        cpu.gemm(expected.data(), a.data(), b.data(), m, n, k, ta, tb, 1.5f, beta, lda, ldb, ldc);
        const std::vector<float> got = downloaded(c_gpu);
        // Compare the m × n product only; the padding columns must be untouched.
        std::vector<float> got_product, expected_product;
        for (std::int64_t i = 0; i < m; ++i)
          for (std::int64_t j = 0; j < ldc; ++j) {
            if (j < n) {
              got_product.push_back(got[i * ldc + j]);
              expected_product.push_back(expected[i * ldc + j]);
            } else if (beta != 0.0f) {
              EXPECT_EQ(got[i * ldc + j], c[i * ldc + j]) << "padding (" << i << ", " << j << ") written";
            } else {
              EXPECT_TRUE(std::isnan(got[i * ldc + j])) << "padding (" << i << ", " << j << ") written";
            }
          }
        EXPECT_LE(nmse(got_product, expected_product), nmse_tolerance(precision, k));
      }
}

// linear_forward (bias in the epilogue, without bias, accumulating) and
// linear_backward (d_input, d_weight, d_bias; and without d_input / bias).
TEST_P(EmulatedBackendGemm, LinearForwardAndBackwardMatchTheCpuBackend) {
  const Precision precision = GetParam();
  CudaBackend gpu(0, context_precision(precision));
  CpuBackend cpu;
  const int rows = 19, in = 24, out = 40;
  const std::vector<float> x = random_normal(rows * in, 10), w = random_normal(out * in, 11),
                           bias = random_normal(out, 12), dy = random_normal(rows * out, 13),
                           y0 = random_normal(rows * out, 14);
  Buffer<float> x_gpu = uploaded(gpu, x), w_gpu = uploaded(gpu, w), b_gpu = uploaded(gpu, bias),
                dy_gpu = uploaded(gpu, dy);
  for (bool with_bias : {true, false})
    for (bool accumulate : {false, true}) {
      SCOPED_TRACE(::testing::Message() << "bias " << with_bias << ", accumulate " << accumulate);
      Buffer<float> y_gpu = uploaded(gpu, y0);
      gpu.linear_forward(y_gpu.data(), x_gpu.data(), w_gpu.data(), with_bias ? b_gpu.data() : nullptr, rows, in, out,
                         accumulate);
      std::vector<float> y = y0;
      cpu.linear_forward(y.data(), x.data(), w.data(), with_bias ? bias.data() : nullptr, rows, in, out, accumulate);
      EXPECT_LE(nmse(downloaded(y_gpu), y), nmse_tolerance(precision, in));
    }
  for (bool with_input_gradient : {true, false})
    for (bool with_bias : {true, false}) {
      SCOPED_TRACE(::testing::Message() << "d_input " << with_input_gradient << ", d_bias " << with_bias);
      Buffer<float> dx_gpu(gpu, rows * in), dw_gpu(gpu, out * in), db_gpu(gpu, out);
      gpu.linear_backward(with_input_gradient ? dx_gpu.data() : nullptr, dw_gpu.data(),
                          with_bias ? db_gpu.data() : nullptr, dy_gpu.data(), x_gpu.data(), w_gpu.data(), rows, in,
                          out);
      std::vector<float> dx(rows * in), dw(out * in), db(out);
      cpu.linear_backward(with_input_gradient ? dx.data() : nullptr, dw.data(), with_bias ? db.data() : nullptr,
                          dy.data(), x.data(), w.data(), rows, in, out);
      if (with_input_gradient) {
        EXPECT_LE(nmse(downloaded(dx_gpu), dx), nmse_tolerance(precision, out));
      }
      EXPECT_LE(nmse(downloaded(dw_gpu), dw), nmse_tolerance(precision, rows));
      // The bias gradient is a column sum in fp32 whatever the GEMM precision.
      if (with_bias) {
        EXPECT_LE(nmse(downloaded(db_gpu), db), nmse_tolerance(Precision::Fp32, rows));
      }
    }
}

// The GELU epilogue (cuBLASLt's GELU_AUX_BIAS): output = gelu_tanh(x·Wᵀ + b)
// and the saved pre-activation, against the CPU's linear + tanh GELU.
TEST_P(EmulatedBackendGemm, FusedGeluEpilogueMatchesLinearThenGelu) {
  const Precision precision = GetParam();
  CudaBackend gpu(0, context_precision(precision));
  CpuBackend cpu;
  const int rows = 9, in = 20, out = 32;  // out: a multiple of 8 (cuBLASLt's aux leading dimension rule)
  const std::vector<float> x = random_normal(rows * in, 20), w = random_normal(out * in, 21, 0.3f),
                           bias = random_normal(out, 22);
  Buffer<float> x_gpu = uploaded(gpu, x), w_gpu = uploaded(gpu, w), b_gpu = uploaded(gpu, bias), y_gpu(gpu, rows * out),
                pre_gpu(gpu, rows * out);
  linear_gelu_tanh_forward(gpu.context(), y_gpu.data(), pre_gpu.data(), x_gpu.data(), w_gpu.data(), b_gpu.data(), rows,
                           in, out);
  std::vector<float> pre(rows * out), y(rows * out);
  cpu.linear_forward(pre.data(), x.data(), w.data(), bias.data(), rows, in, out, false);
  cpu.gelu_forward(y.data(), pre.data(), rows * out, GeluKind::Tanh);
  EXPECT_LE(nmse(downloaded(pre_gpu), pre), nmse_tolerance(precision, in));
  EXPECT_LE(nmse(downloaded(y_gpu), y), nmse_tolerance(precision, in, 4.0));
  // An out_features the aux rule refuses is a clear error, not a wrong product.
  EXPECT_THROW(linear_gelu_tanh_forward(gpu.context(), y_gpu.data(), pre_gpu.data(), x_gpu.data(), w_gpu.data(),
                                        b_gpu.data(), rows, in, 30),
               ConfigError);
}

INSTANTIATE_TEST_SUITE_P(Precisions, EmulatedBackendGemm,
                         ::testing::Values(Precision::Fp32, Precision::Tf32, Precision::Bf16),
                         [](const auto& info) { return std::string(precision_label(info.param)); });

// The memory ops and add_scaled (the model sums oversized batches' chunk
// gradients with it): the same bits as the CPU backend (add_scaled is a
// separately rounded product and sum on both).
TEST(EmulatedBackendMemory, TransfersCopyZeroZeroColumnsAndAddScaledMatchTheCpuBitForBit) {
  CudaBackend gpu(0, cuda::Precision::Fp32);
  CpuBackend cpu;
  const std::int64_t count = 3001;  // not a multiple of a block
  const std::vector<float> a = random_normal(count, 30), b = random_normal(count, 31);
  Buffer<float> x = uploaded(gpu, a), y = uploaded(gpu, b), z(gpu, count);
  gpu.copy(z.data(), x.data(), count);
  gpu.add_scaled(z.data(), y.data(), 0.37f, count);
  std::vector<float> expected = a;
  cpu.add_scaled(expected.data(), b.data(), 0.37f, count);
  EXPECT_EQ(downloaded(z), expected);
  gpu.zero(z.data() + 10, 20);
  std::fill(expected.begin() + 10, expected.begin() + 30, 0.0f);
  EXPECT_EQ(downloaded(z), expected);
  const std::int64_t rows = 7, cols = 11;  // zero_columns of a (rows, cols) matrix
  std::vector<float> matrix(a.begin(), a.begin() + rows * cols);
  Buffer<float> m = uploaded(gpu, matrix);
  gpu.zero_columns(m.data(), rows, cols, 3, 4);
  cpu.zero_columns(matrix.data(), rows, cols, 3, 4);
  EXPECT_EQ(downloaded(m), matrix);
}

// ------------------------------------------------------------------ the model

// A tiny GPT-NeoX: 2 layers, d = 32, 4 heads, V = 64; T = 16, B = 2.
formats::NeoxConfig tiny_neox() {
  formats::NeoxConfig config;
  config.hidden_size = 32;
  config.num_hidden_layers = 2;
  config.num_attention_heads = 4;
  config.intermediate_size = 128;
  config.vocab_size = 64;
  config.max_position_embeddings = 64;
  config.rotary_pct = 0.5;
  config.use_parallel_residual = true;
  config.hidden_act = "gelu";
  return config;
}
constexpr int kBatch = 2, kSeqLen = 16;
// init_random's weights plus N(0, 0.05²) on every parameter, so that biases
// (0 after init_random) and layer-norm parameters (1 and 0) are not special
// values that would hide a dropped bias or a swapped layer-norm operand.
void init_tiny(GptNeox& model, std::uint64_t seed) {
  model.init_random(seed, 0.2f);
  std::vector<float> parameters(model.num_parameters());
  model.read_parameters(parameters);
  const std::vector<float> perturbation = random_normal(parameters.size(), seed + 100, 0.05f);
  for (std::size_t i = 0; i < parameters.size(); ++i) parameters[i] += perturbation[i];
  model.write_parameters(parameters);
}

// S = 2·L + 2 dependent ops stages (header comment).
constexpr double kModelStages = 2 * 2 + 2;
// The longest reduction of the model: the MLP's down projection (K = 128).
constexpr double kModelReduction = 128;

std::vector<std::int32_t> tiny_tokens(std::uint64_t stream) {
  std::vector<std::int32_t> tokens(kBatch * (kSeqLen + 1));
  for (std::size_t i = 0; i < tokens.size(); ++i)
    tokens[i] = static_cast<std::int32_t>(philox_uniform_at(11, stream, i) * 64) % 64;
  return tokens;
}

// The elementary functions' ulps (header comment).
constexpr double kFunctionUlps = 4;

double model_tolerance(Precision precision) {
  const double operand_rounding = precision == Precision::Fp32 ? 0.0 : unit_roundoff(precision);
  const double relative =
      8.0 * ((kFunctionUlps + std::sqrt(kModelReduction)) * unit_roundoff(Precision::Fp32) + 2 * operand_rounding);
  return std::pow(kModelStages * relative, 2);
}

class EmulatedBackendModel : public ::testing::TestWithParam<Precision> {};

TEST_P(EmulatedBackendModel, LossAndGradientMatchTheCpuBackend) {
  const Precision precision = GetParam();
  CudaBackend gpu(0, context_precision(precision));
  CpuBackend cpu;
  GptNeox gpu_model(tiny_neox(), kBatch, kSeqLen, gpu), cpu_model(tiny_neox(), kBatch, kSeqLen, cpu);
  init_tiny(gpu_model, 5);
  init_tiny(cpu_model, 5);
  const std::vector<std::int32_t> tokens = tiny_tokens(1);
  const double gpu_loss = gpu_model.forward(tokens.data(), kBatch, kSeqLen);
  const double cpu_loss = cpu_model.forward(tokens.data(), kBatch, kSeqLen);
  Buffer<float> gpu_gradient(gpu, gpu_model.num_parameters());
  std::vector<float> cpu_gradient(cpu_model.num_parameters());
  gpu_model.backward({gpu_gradient.data(), gpu_gradient.size()});
  cpu_model.backward(cpu_gradient);
  const double loss_error = std::pow((gpu_loss - cpu_loss) / cpu_loss, 2);
  EXPECT_LE(loss_error, model_tolerance(precision)) << "loss " << gpu_loss << " vs " << cpu_loss;
  const double gradient_error = nmse(downloaded(gpu_gradient), cpu_gradient);
  EXPECT_LE(gradient_error, model_tolerance(precision));
  std::printf(
      "[ emulated ] %s model: loss %.9g vs CPU %.9g (squared relative difference %.3g), gradient nmse %.3g "
      "(tolerance %.3g)\n",
      precision_label(precision), gpu_loss, cpu_loss, loss_error, gradient_error, model_tolerance(precision));
}

// New parameters written through the interface (a checkpoint load, a
// compression method's result, a sampler step) must be what the next forward
// and backward multiply with, in bf16 too, where CudaContext caches bf16
// copies of the weights. The gradient is compared: two random models' losses
// are both near ln V, their gradients are unrelated (nmse ~2).
TEST_P(EmulatedBackendModel, GradientSeesParametersWrittenAfterAnEarlierStep) {
  const Precision precision = GetParam();
  CudaBackend gpu(0, context_precision(precision));
  CpuBackend cpu;
  GptNeox gpu_model(tiny_neox(), kBatch, kSeqLen, gpu), cpu_model(tiny_neox(), kBatch, kSeqLen, cpu);
  init_tiny(gpu_model, 5);
  const std::vector<std::int32_t> tokens = tiny_tokens(2);
  Buffer<float> gpu_gradient(gpu, gpu_model.num_parameters());
  gpu_model.forward(tokens.data(), kBatch, kSeqLen);  // caches bf16 weights in bf16 mode
  gpu_model.backward({gpu_gradient.data(), gpu_gradient.size()});
  init_tiny(cpu_model, 6);  // other weights
  std::vector<float> other(cpu_model.num_parameters());
  cpu_model.read_parameters(other);
  gpu_model.write_parameters(other);
  gpu_model.forward(tokens.data(), kBatch, kSeqLen);
  gpu_model.backward({gpu_gradient.data(), gpu_gradient.size()});
  std::vector<float> cpu_gradient(cpu_model.num_parameters());
  cpu_model.forward(tokens.data(), kBatch, kSeqLen);
  cpu_model.backward(cpu_gradient);
  EXPECT_LE(nmse(downloaded(gpu_gradient), cpu_gradient), model_tolerance(precision))
      << "the gradient after write_parameters is not the new parameters' one";
}

INSTANTIATE_TEST_SUITE_P(Precisions, EmulatedBackendModel,
                         ::testing::Values(Precision::Fp32, Precision::Tf32, Precision::Bf16),
                         [](const auto& info) { return std::string(precision_label(info.param)); });

// ------------------------------------------------------------------ LLC chains

class TemporaryTokens {
 public:
  TemporaryTokens() {
    directory_ = std::filesystem::temp_directory_path() /
                 ("llcpress_emulated_backend_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
    std::filesystem::create_directories(directory_);
    std::vector<std::vector<std::int64_t>> sequences;
    for (int s = 0; s < 8; ++s) {
      std::vector<std::int64_t> tokens(kSeqLen + 1);
      for (std::size_t t = 0; t < tokens.size(); ++t)
        tokens[t] = static_cast<std::int64_t>(philox_uniform_at(12, s, t) * 64) % 64;
      sequences.push_back(tokens);
    }
    formats::write_megatron(prefix(), sequences, formats::DType::U16);
  }
  ~TemporaryTokens() { std::filesystem::remove_all(directory_); }
  std::string prefix() const { return (directory_ / "tokens").string(); }

 private:
  std::filesystem::path directory_;
  static inline int counter_ = 0;
};

slt::LlcResult run_chain(backend::Backend& backend, const formats::MegatronDataset& dataset, slt::SamplerKind kind) {
  GptNeox model(tiny_neox(), kBatch, kSeqLen, backend);
  init_tiny(model, 9);
  NeoxLossModel loss_model(model, dataset, kSeqLen);
  slt::LlcConfig config;
  config.sampler.kind = kind;
  config.sampler.epsilon = 1e-4;
  config.sampler.localization = 100.0;
  if (kind == slt::SamplerKind::RmspropSgld) config.sampler.bounding_box = 0.05;
  config.chains = 1;
  config.draws = 20;
  config.batch_size = kBatch;
  config.init_batches = 1;
  config.seed = 31;
  config.mala = true;
  config.progress = false;
  return slt::estimate_llc(loss_model, config);
}

class EmulatedBackendChain : public ::testing::TestWithParam<slt::SamplerKind> {};

// 20 steps of SGLD / RMSprop-SGLD (with MALA) through the estimator, same
// seed on both backends: the same batches and Philox noise, so the traces
// differ only by the models' rounding. A loss is within the model tolerance
// of the CPU's (relative); the chains drift apart only through gradients
// that differ by that much, times ε·nβ per step, which stays far below it.
TEST_P(EmulatedBackendChain, TwentyStepTracesMatchTheCpuChain) {
  const slt::SamplerKind kind = GetParam();
  TemporaryTokens tokens;
  const formats::MegatronDataset dataset = formats::MegatronDataset::open(tokens.prefix());
  CudaBackend gpu(0, cuda::Precision::Fp32);
  CpuBackend cpu;
  const slt::LlcResult on_gpu = run_chain(gpu, dataset, kind), on_cpu = run_chain(cpu, dataset, kind);
  ASSERT_EQ(on_gpu.chains.size(), 1u);
  ASSERT_EQ(on_cpu.chains.size(), 1u);
  const slt::ChainResult &g = on_gpu.chains[0], &c = on_cpu.chains[0];
  ASSERT_FALSE(c.diverged) << c.divergence_reason;
  ASSERT_FALSE(g.diverged) << g.divergence_reason;
  ASSERT_EQ(g.draw_loss.size(), 20u);
  ASSERT_EQ(c.draw_loss.size(), 20u);
  const double tolerance = model_tolerance(Precision::Fp32);
  EXPECT_LE(std::pow((on_gpu.init_loss - on_cpu.init_loss) / on_cpu.init_loss, 2), tolerance);
  EXPECT_LE(nmse(g.draw_loss, c.draw_loss), tolerance);
  EXPECT_LE(nmse(g.gradient_norm, c.gradient_norm), tolerance);
  // ‖w − w*‖ is the sum of the noise (identical) and the drifts (which differ
  // by the gradient's tolerance): its relative difference is at most the gradient's.
  EXPECT_LE(nmse(std::vector<double>(g.distance.begin() + 1, g.distance.end()),
                 std::vector<double>(c.distance.begin() + 1, c.distance.end())),
            tolerance);
  // The chain moved: the comparison is not of two untouched models.
  EXPECT_GT(c.distance.back(), 0.0);
  // MALA: the log ratio is a sum of terms computed from the losses (nβ·L,
  // two of them) and from gradients and steps of comparable size, each within
  // √tolerance relative of the CPU's: |Δ log ratio| ≤ √tolerance · (4·nβ·L +
  // |log ratio|). The acceptance min(1, e^r) moves by at most as much.
  ASSERT_EQ(g.mala_log_ratio.size(), c.mala_log_ratio.size());
  const double nbeta = on_cpu.config.sampler.nbeta;
  double largest_difference = 0;
  for (std::size_t d = 0; d < c.mala_log_ratio.size(); ++d) {
    if (!std::isfinite(c.mala_log_ratio[d])) {
      EXPECT_FALSE(std::isfinite(g.mala_log_ratio[d])) << "draw " << d;
      continue;
    }
    const double bound =
        std::sqrt(tolerance) * (4 * nbeta * std::max(c.draw_loss[d], on_cpu.init_loss) + std::abs(c.mala_log_ratio[d]));
    EXPECT_NEAR(g.mala_log_ratio[d], c.mala_log_ratio[d], bound) << "draw " << d;
    EXPECT_NEAR(g.mala_acceptance[d], c.mala_acceptance[d], bound) << "draw " << d;
    largest_difference = std::max(largest_difference, std::abs(g.mala_log_ratio[d] - c.mala_log_ratio[d]));
  }
  EXPECT_GT(c.mean_mala_acceptance, 0.1) << "the chain is too hot for a meaningful comparison";
  std::printf(
      "[ emulated ] %s chain: llc %.9g vs CPU %.9g, draw-loss nmse %.3g, distance nmse %.3g, largest MALA log-ratio "
      "difference %.3g, mean acceptance %.3f (tolerance %.3g)\n",
      slt::sampler_kind_name(kind), g.llc, c.llc, nmse(g.draw_loss, c.draw_loss), nmse(g.distance, c.distance),
      largest_difference, c.mean_mala_acceptance, tolerance);
}

INSTANTIATE_TEST_SUITE_P(Samplers, EmulatedBackendChain,
                         ::testing::Values(slt::SamplerKind::Sgld, slt::SamplerKind::RmspropSgld),
                         [](const auto& info) {
                           return std::string(info.param == slt::SamplerKind::Sgld ? "Sgld" : "RmspropSgld");
                         });

// ------------------------------------------------------------------ compression

// Every compression method's apply() through the emulated CudaBackend (its
// ops: copy, quantize_rows_forward, noise_forward, zero_elements,
// zero_columns, and svd's host round trip) against the same
// method on the CPU backend, on the tiny model's weights. The kernels are
// documented bit-identical to the CPU (docs/cuda-kernels.md) and the host
// algorithms are the same code, so the outputs must agree to the last few
// ulps of an element (nmse_tolerance with K = 1 and 4 function ulps).
// lattice is left out: it is a host algorithm with svd's download/upload
// round trip, and its rate search takes 4 s of the emulated test's budget.
TEST(EmulatedBackendCompression, EveryMethodsApplyMatchesTheCpuBackend) {
  CudaBackend gpu(0, cuda::Precision::Fp32);
  CpuBackend cpu;
  GptNeox model(tiny_neox(), kBatch, kSeqLen, cpu);
  init_tiny(model, 13);
  std::vector<float> reference(model.num_parameters());
  model.read_parameters(reference);
  const Buffer<float> reference_gpu = uploaded(gpu, reference);
  const struct {
    const char* name;
    double parameter;
  } cases[] = {{"quant", 8},       {"quant-maxabs", 8}, {"svd", 0.5},       {"noise", 0.01},
               {"noise-rel", 0.1}, {"prune", 0.3},      {"prune-heads", 1}, {"prune-neurons", 16}};
  compress::MethodOptions options;
  options.num_heads = tiny_neox().num_attention_heads;
  for (const auto& [name, parameter] : cases) {
    SCOPED_TRACE(name);
    const std::unique_ptr<compress::CompressionMethod> method = compress::make_method(name, options);
    method->prepare(model.parameter_table(), reference);
    std::vector<float> on_cpu(reference.size());
    method->apply(cpu, on_cpu, reference, parameter, 1);
    Buffer<float> out_gpu(gpu, reference.size());
    method->apply(gpu, {out_gpu.data(), out_gpu.size()}, {reference_gpu.data(), reference_gpu.size()}, parameter, 1);
    const std::vector<float> on_gpu = downloaded(out_gpu);
    EXPECT_LE(nmse(on_gpu, on_cpu), nmse_tolerance(Precision::Fp32, 1, 4.0));
    EXPECT_GT(nmse(on_cpu, reference), 0.0) << "the method changed nothing: the comparison would be vacuous";
  }
}

}  // namespace
}  // namespace llcpress::cuda::test
