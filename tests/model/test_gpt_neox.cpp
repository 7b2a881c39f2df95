// GptNeox beyond numerical parity: config validation, the parameter table,
// initialisation, checkpoint round trips and load errors, input checks, a
// torch-independent finite-difference check of the whole model's gradient,
// token batches and the LossModel binding.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <numeric>

#include "core/error.h"
#include "core/rng.h"
#include "formats/checkpoint.h"
#include "formats/megatron.h"
#include "model/gpt_neox.h"
#include "model/neox_loss_model.h"
#include "model/token_batches.h"
#include "op_reference.h"

namespace llcpress {
namespace {

namespace fs = std::filesystem;

formats::NeoxConfig tiny_config(bool parallel = true, const char* activation = "gelu") {
  formats::NeoxConfig config;
  config.hidden_size = 16;
  config.num_hidden_layers = 2;
  config.num_attention_heads = 2;
  config.intermediate_size = 40;
  config.vocab_size = 23;
  config.max_position_embeddings = 64;
  config.rotary_pct = 0.5;
  config.use_parallel_residual = parallel;
  config.hidden_act = activation;
  return config;
}

std::vector<std::int32_t> random_tokens(int batch, int seq_len, int vocab, std::uint64_t stream) {
  std::vector<std::int32_t> tokens(static_cast<std::size_t>(batch) * (seq_len + 1));
  for (std::size_t i = 0; i < tokens.size(); ++i)
    tokens[i] = static_cast<std::int32_t>(philox_uniform_at(7, stream, i) * vocab) % vocab;
  return tokens;
}

class TemporaryDirectory {
 public:
  TemporaryDirectory() {
    path_ = fs::temp_directory_path() /
            ("llcpress_model_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
    fs::create_directories(path_);
  }
  ~TemporaryDirectory() { fs::remove_all(path_); }
  std::string path() const { return path_.string(); }

 private:
  fs::path path_;
  static inline int counter_ = 0;
};

// ---------------------------------------------------------------- config and table

TEST(GptNeox, RejectsConfigsItDoesNotComputeExactly) {
  auto expect_config_error = [](formats::NeoxConfig config, const char* what) {
    SCOPED_TRACE(what);
    EXPECT_THROW(GptNeox(config, 1, 4), ConfigError);
  };
  auto config = tiny_config();
  config.tie_word_embeddings = true;
  expect_config_error(config, "tied embeddings");
  config = tiny_config(true, "relu");
  expect_config_error(config, "relu");
  config = tiny_config();
  config.num_attention_heads = 3;
  expect_config_error(config, "hidden not divisible by heads");
  config = tiny_config();
  config.rotary_pct = 0.375;  // 8 · 0.375 = 3 rotary dims: odd
  expect_config_error(config, "odd rotary dims");
  config = tiny_config();
  config.attention_bias = false;
  expect_config_error(config, "attention without bias");
  config = tiny_config();
  config.raw = {{"rope_scaling", {{"rope_type", "linear"}, {"factor", 2.0}}}};
  expect_config_error(config, "rope scaling");
  EXPECT_THROW(GptNeox(tiny_config(), 0, 4), ConfigError);
}

TEST(GptNeox, ParameterTableFollowsTheCheckpointLayout) {
  const auto config = tiny_config();
  GptNeox model(config, 1, 4);
  const auto& views = model.parameter_table().views();
  ASSERT_EQ(views.size(), 1u + 12u * 2 + 3u);
  EXPECT_EQ(views.front().name, "gpt_neox.embed_in.weight");
  EXPECT_EQ(views.front().role, TensorRole::Embedding);
  EXPECT_EQ(views.back().name, "embed_out.weight");
  EXPECT_EQ(views.back().role, TensorRole::Unembedding);
  const ParameterView& qkv = model.parameter_table().at("gpt_neox.layers.1.attention.query_key_value.weight");
  EXPECT_EQ(qkv.shape, (std::vector<std::int64_t>{48, 16}));
  EXPECT_EQ(qkv.layer, 1);
  EXPECT_EQ(qkv.role, TensorRole::Linear);
  EXPECT_EQ(model.parameter_table().at("gpt_neox.layers.0.mlp.dense_4h_to_h.weight").shape,
            (std::vector<std::int64_t>{16, 40}));
  // Contiguous, in order, covering the whole buffer.
  std::size_t offset = 0;
  for (const ParameterView& view : views) {
    EXPECT_EQ(view.offset, offset) << view.name;
    offset += view.size;
  }
  const std::size_t hidden = 16, intermediate = 40, vocab = 23;
  const std::size_t per_layer = 4 * hidden + 3 * hidden * hidden + 3 * hidden + hidden * hidden + hidden +
                                2 * hidden * intermediate + intermediate + hidden;
  EXPECT_EQ(offset, 2 * vocab * hidden + 2 * per_layer + 2 * hidden);
  EXPECT_EQ(model.num_parameters(), offset);
  EXPECT_THROW(model.parameter_table().at("gpt_neox.layers.2.attention.dense.weight"), InputError);
}

// ---------------------------------------------------------------- initialisation

TEST(GptNeox, InitRandomIsAPureFunctionOfTheSeed) {
  formats::NeoxConfig config = tiny_config();
  config.hidden_size = 64;
  config.num_attention_heads = 4;
  config.intermediate_size = 256;
  config.vocab_size = 500;
  GptNeox a(config, 1, 4), b(config, 1, 4);
  a.init_random(5);
  b.init_random(5);
  EXPECT_TRUE(std::equal(a.parameters().begin(), a.parameters().end(), b.parameters().begin()));
  b.init_random(6);
  EXPECT_FALSE(std::equal(a.parameters().begin(), a.parameters().end(), b.parameters().begin()));

  // Tensor i is stream stream_id(kInitStream, i) scaled by its std.
  const auto& views = a.parameter_table().views();
  const std::size_t qkv_index = 5;
  ASSERT_EQ(views[qkv_index].name, "gpt_neox.layers.0.attention.query_key_value.weight");
  EXPECT_EQ(a.parameters()[views[qkv_index].offset + 3],
            CounterRng(5, stream_id(GptNeox::kInitStream, qkv_index)).normal(3) * 0.02f);

  auto sample_std = [&](const std::string& name) {
    const auto values = a.parameter(name);
    double sum = 0, squares = 0;
    for (float v : values) sum += v, squares += static_cast<double>(v) * v;
    const double mean = sum / values.size();
    return std::sqrt(squares / values.size() - mean * mean);
  };
  // 12 288 to 32 000 samples: the sample std is within ~1% of the true one.
  EXPECT_NEAR(sample_std("gpt_neox.embed_in.weight"), 0.02, 0.02 * 0.03);
  EXPECT_NEAR(sample_std("gpt_neox.layers.1.mlp.dense_h_to_4h.weight"), 0.02, 0.02 * 0.03);
  const double wang = 2.0 / (2 * std::sqrt(64.0));
  EXPECT_NEAR(sample_std("gpt_neox.layers.1.mlp.dense_4h_to_h.weight"), wang, wang * 0.03);
  for (float v : a.parameter("gpt_neox.layers.0.input_layernorm.weight")) ASSERT_EQ(v, 1.0f);
  for (float v : a.parameter("gpt_neox.layers.0.input_layernorm.bias")) ASSERT_EQ(v, 0.0f);
  for (float v : a.parameter("gpt_neox.layers.0.attention.dense.bias")) ASSERT_EQ(v, 0.0f);
}

// ---------------------------------------------------------------- checkpoints

TEST(GptNeox, SaveThenLoadRoundTripsExactly) {
  TemporaryDirectory directory;
  const auto config = tiny_config(false, "gelu_new");
  GptNeox model(config, 2, 5);
  model.init_random(11);
  model.save(directory.path());
  ASSERT_TRUE(fs::exists(directory.path() + "/config.json"));
  ASSERT_TRUE(fs::exists(directory.path() + "/model.safetensors"));
  const auto checkpoint = formats::Checkpoint::open(directory.path());
  EXPECT_EQ(checkpoint.config().use_parallel_residual, false);
  EXPECT_EQ(checkpoint.config().hidden_act, "gelu_new");
  EXPECT_EQ(checkpoint.config().rotary_pct, 0.5);
  auto loaded = GptNeox::from_checkpoint(checkpoint, 2, 5);
  EXPECT_TRUE(std::equal(model.parameters().begin(), model.parameters().end(), loaded->parameters().begin()));
  const auto tokens = random_tokens(2, 5, config.vocab_size, 1);
  EXPECT_EQ(model.forward(tokens.data(), 2, 5), loaded->forward(tokens.data(), 2, 5));
}

TEST(GptNeox, LoadRejectsCheckpointsOfAnotherShape) {
  const auto checkpoint = formats::Checkpoint::open(std::string(LLCPRESS_FIXTURE_DIR) + "/model_small_parallel");
  formats::NeoxConfig config = checkpoint.config();
  config.intermediate_size += 8;
  EXPECT_THROW(GptNeox(config, 1, 4).load(checkpoint), InputError);  // shape mismatch
  config = checkpoint.config();
  config.num_hidden_layers += 1;
  EXPECT_THROW(GptNeox(config, 1, 4).load(checkpoint), InputError);  // layer 2 missing
  config = checkpoint.config();
  config.use_parallel_residual = false;  // same shapes, another computation
  EXPECT_THROW(GptNeox(config, 1, 4).load(checkpoint), InputError);
  config = checkpoint.config();
  config.num_hidden_layers -= 1;
  try {
    GptNeox(config, 1, 4).load(checkpoint);
    ADD_FAILURE() << "a checkpoint with an extra layer was accepted";
  } catch (const InputError& error) {
    EXPECT_NE(std::string(error.what()).find("unexpected tensor"), std::string::npos) << error.what();
  }
}

// ---------------------------------------------------------------- inputs

TEST(GptNeox, ChecksItsInputs) {
  const auto config = tiny_config();
  GptNeox model(config, 2, 6);
  model.init_random(1);
  std::vector<float> gradient(model.num_parameters());
  EXPECT_THROW(model.backward(gradient), InputError);  // no forward yet
  auto tokens = random_tokens(3, 6, config.vocab_size, 2);
  EXPECT_THROW(model.forward(tokens.data(), 3, 6), InputError);  // batch above max_batch
  EXPECT_THROW(model.forward(tokens.data(), 1, 7), InputError);  // seq_len above max_seq_len
  tokens[4] = config.vocab_size;
  EXPECT_THROW(model.forward(tokens.data(), 2, 6), InputError);
  tokens[4] = -1;
  EXPECT_THROW(model.forward(tokens.data(), 2, 6), InputError);
  tokens[4] = 0;
  model.forward(tokens.data(), 2, 6);
  std::vector<float> short_gradient(model.num_parameters() - 1);
  EXPECT_THROW(model.backward(short_gradient), InputError);
  model.backward(gradient);
  EXPECT_THROW(model.backward(gradient), InputError);  // the logits now hold their gradient
}

TEST(GptNeox, ShorterBatchesReuseTheBuffers) {
  // A (1, 3) batch on a model built for (2, 6) equals the same batch on a model
  // built for exactly (1, 3): buffer strides must not leak into the result.
  const auto config = tiny_config();
  GptNeox big(config, 2, 6), exact(config, 1, 3);
  big.init_random(3);
  std::copy(big.parameters().begin(), big.parameters().end(), exact.parameters().begin());
  const auto tokens = random_tokens(1, 3, config.vocab_size, 3);
  big.forward(random_tokens(2, 6, config.vocab_size, 4).data(), 2, 6);  // leave other data in the buffers
  EXPECT_EQ(big.forward(tokens.data(), 1, 3), exact.forward(tokens.data(), 1, 3));
  std::vector<float> g_big(big.num_parameters()), g_exact(exact.num_parameters());
  big.backward(g_big);
  exact.backward(g_exact);
  EXPECT_EQ(g_big, g_exact);
}

// ---------------------------------------------------------------- gradient by finite differences

// Torch-independent check of backward(): for every tensor t, the central
// difference of the loss along our own gradient direction u = g_t/‖g_t‖ must
// equal ‖g_t‖ (if g_t were wrong, the true slope along u would differ from
// ‖g_t‖ unless the error were orthogonal to g_t). The step h_t = 1e-3/‖g_t‖
// changes the loss by ~1e-3; the float loss carries rounding noise of about
// 1e-7·|L| ≈ 3e-7, so the noise term of the difference quotient is ≈ 3e-4
// relative to ‖g_t‖, and the O(h²) truncation is of the same order for these
// smooth O(1)-curvature models. kDirectionalTolerance = 1e-2 leaves a wide
// margin while a gradient missing a term (errors of 10% or more) fails.
constexpr double kDirectionalTolerance = 1e-2;

void check_directional_derivatives(const formats::NeoxConfig& config) {
  const int batch = 2, seq_len = 7;
  GptNeox model(config, batch, seq_len);
  model.init_random(21, 0.3f);  // large weights: a non-trivial, non-uniform softmax
  auto params = model.parameters();
  const auto& views = model.parameter_table().views();
  // Layer norms and biases start at 1/0 in init_random; perturb them so every
  // tensor's gradient is generic.
  for (std::size_t i = 0; i < views.size(); ++i) {
    if (views[i].role != TensorRole::Norm && views[i].role != TensorRole::Bias) continue;
    CounterRng noise(99, i);
    for (std::size_t j = 0; j < views[i].size; ++j) params[views[i].offset + j] += 0.2f * noise.normal(j);
  }
  const auto tokens = random_tokens(batch, seq_len, config.vocab_size, 5);
  model.forward(tokens.data(), batch, seq_len);
  std::vector<float> gradient(model.num_parameters());
  model.backward(gradient);
  const std::vector<float> center(params.begin(), params.end());
  for (const ParameterView& view : views) {
    double norm = 0.0;
    for (std::size_t j = 0; j < view.size; ++j)
      norm += static_cast<double>(gradient[view.offset + j]) * gradient[view.offset + j];
    norm = std::sqrt(norm);
    ASSERT_GT(norm, 0.0) << view.name;
    const double step = 1e-3 / norm;
    auto loss_at = [&](double t) {
      std::copy(center.begin(), center.end(), params.begin());
      for (std::size_t j = 0; j < view.size; ++j)
        params[view.offset + j] += static_cast<float>(t * gradient[view.offset + j] / norm);
      return model.forward(tokens.data(), batch, seq_len);
    };
    const double slope = (loss_at(step) - loss_at(-step)) / (2 * step);
    EXPECT_NEAR(slope / norm, 1.0, kDirectionalTolerance) << view.name << " ‖g‖ " << norm;
  }
  std::copy(center.begin(), center.end(), params.begin());
}

TEST(GptNeox, GradientMatchesFiniteDifferencesParallelResidual) { check_directional_derivatives(tiny_config(true)); }
TEST(GptNeox, GradientMatchesFiniteDifferencesSequentialResidual) {
  check_directional_derivatives(tiny_config(false, "gelu_pytorch_tanh"));
}

// ---------------------------------------------------------------- the loss head in row chunks

// The same weights and tokens through a model whose loss head takes all rows
// at once and through one that takes 5 at a time (48 rows: 10 chunks, the
// last one short).
//   * Per-row arithmetic is the same op on fewer rows (the logits GEMM, the
//     row-wise cross-entropy), and the mean is summed in double in row order
//     either way. The BLAS may pick another kernel for a 5-row product than
//     for a 48-row one (it does here, in the last bits), so a logit, an
//     H-term dot product, moves by ≲ c·√H·2⁻²⁴ relative (c = 8): nmse ≤
//     (8·√H·2⁻²⁴)², and a row's loss, logsumexp − logit, by at most twice
//     the largest logit change. (At Pythia-160m, 1024-row chunks, `eval`
//     gave the same loss to the last bit: docs/gpu.md.)
//   * d_W_unembed is summed chunk by chunk (β = 1 GEMMs) and d_hidden comes
//     from a plain GEMM instead of linear_backward's row-parallel one: only
//     the order of fp32 sums changes. A K-term sum reordered moves by
//     ≲ c·√K·2⁻²⁴ relative (c = 8, kernel_test_support.h's derivation), and
//     the difference propagates through the backward's GEMMs (depth 4L + 3
//     = 11 here, tests/device_paths' model_tolerance): nmse ≤ (8·11·√K·2⁻²⁴)²
//     with K = 48 rows ≈ 1.9e-10. A wrong chunk offset gives nmse ~1.
TEST(GptNeox, ChunkedLossHeadMatchesTheWholeHead) {
  const auto config = tiny_config();
  constexpr int kBatch = 3, kSeqLen = 16;
  GptNeox whole(config, kBatch, kSeqLen), chunked(config, kBatch, kSeqLen, backend::default_backend(), 5);
  EXPECT_EQ(whole.loss_chunk_rows(), kBatch * kSeqLen);
  EXPECT_EQ(chunked.loss_chunk_rows(), 5);
  whole.init_random(77, 0.2f);
  std::vector<float> weights(whole.num_parameters());
  whole.read_parameters(weights);
  chunked.write_parameters(weights);
  const auto tokens = random_tokens(kBatch, kSeqLen, config.vocab_size, 4);

  const double whole_loss = whole.forward(tokens.data(), kBatch, kSeqLen);
  const double chunked_loss = chunked.forward(tokens.data(), kBatch, kSeqLen);
  std::vector<float> whole_logits(static_cast<std::size_t>(kBatch) * kSeqLen * config.vocab_size);
  std::vector<float> chunked_logits(whole_logits.size());
  whole.read_logits(whole_logits);
  chunked.read_logits(chunked_logits);
  const double logit_relative = 8.0 * std::sqrt(static_cast<double>(config.hidden_size)) * std::ldexp(1.0, -24);
  double logit_error = 0, logit_energy = 0, largest_logit = 0;
  for (std::size_t i = 0; i < whole_logits.size(); ++i) {
    logit_error += std::pow(static_cast<double>(chunked_logits[i]) - whole_logits[i], 2);
    logit_energy += std::pow(static_cast<double>(whole_logits[i]), 2);
    largest_logit = std::max(largest_logit, std::fabs(static_cast<double>(whole_logits[i])));
  }
  EXPECT_LE(logit_error / logit_energy, logit_relative * logit_relative);
  EXPECT_NEAR(chunked_loss, whole_loss, 2 * logit_relative * largest_logit);

  std::vector<float> whole_gradient(whole.num_parameters()), chunked_gradient(whole.num_parameters());
  whole.backward(whole_gradient);
  chunked.backward(chunked_gradient);  // recomputes each chunk's logits
  double error = 0, energy = 0;
  for (std::size_t i = 0; i < whole_gradient.size(); ++i) {
    error += std::pow(static_cast<double>(chunked_gradient[i]) - whole_gradient[i], 2);
    energy += std::pow(static_cast<double>(whole_gradient[i]), 2);
  }
  const double bound = std::pow(8.0 * 11 * std::sqrt(48.0) * std::ldexp(1.0, -24), 2);
  EXPECT_LE(error / energy, bound);

  // forward_backward (one pass, no recomputed logits) is forward() then backward(), bit for bit.
  std::vector<float> fused_gradient(whole.num_parameters());
  EXPECT_EQ(chunked.forward_backward(tokens.data(), kBatch, kSeqLen, fused_gradient), chunked_loss);
  EXPECT_EQ(fused_gradient, chunked_gradient);
  EXPECT_EQ(whole.forward_backward(tokens.data(), kBatch, kSeqLen, fused_gradient), whole_loss);
  EXPECT_EQ(fused_gradient, whole_gradient);
}

TEST(GptNeox, ChunkedLossHeadHoldsOnlyAChunkOfLogits) {
  auto config = tiny_config();
  config.vocab_size = 4096;
  GptNeox whole(config, 4, 32, backend::default_backend(), 128), chunked(config, 4, 32, backend::default_backend(), 16);
  // The activations shrink by exactly the logits rows that are not held: (128 − 16) · V floats.
  EXPECT_EQ(whole.activation_bytes() - chunked.activation_bytes(), (128u - 16u) * 4096u * sizeof(float));
}

// ---------------------------------------------------------------- token batches and the LossModel

class TokenDataset : public testing::Test {
 protected:
  void SetUp() override {
    // 7 sequences of 9 tokens and one of 4 (too short for seq_len 8).
    std::vector<std::vector<std::int64_t>> sequences;
    for (int s = 0; s < 8; ++s) {
      std::vector<std::int64_t> tokens(s == 7 ? 4 : 9);
      for (std::size_t t = 0; t < tokens.size(); ++t) tokens[t] = static_cast<std::int64_t>((s * 31 + t * 7) % 23);
      sequences.push_back(tokens);
    }
    prefix_ = directory_.path() + "/tokens";
    formats::write_megatron(prefix_, sequences, formats::DType::U16);
    dataset_.emplace(formats::MegatronDataset::open(prefix_));
  }
  TemporaryDirectory directory_;
  std::string prefix_;
  std::optional<formats::MegatronDataset> dataset_;
};

TEST_F(TokenDataset, TokenBatchesReadWindowsAndCheckBounds) {
  TokenBatches batches(*dataset_, 8);
  std::vector<std::int32_t> tokens(2 * 9);
  const std::vector<std::int64_t> sequences = {3, 1};
  batches.read(sequences, tokens);
  for (int t = 0; t < 9; ++t) {
    EXPECT_EQ(tokens[t], (3 * 31 + t * 7) % 23);
    EXPECT_EQ(tokens[9 + t], (1 * 31 + t * 7) % 23);
  }
  const std::vector<std::int64_t> out_of_range = {8}, negative = {-1}, too_short = {7};
  std::vector<std::int32_t> one(9);
  EXPECT_THROW(batches.read(out_of_range, one), InputError);
  EXPECT_THROW(batches.read(negative, one), InputError);
  EXPECT_THROW(batches.read(too_short, one), InputError);
  EXPECT_THROW(batches.read(sequences, one), InputError);  // buffer too small
  EXPECT_THROW(TokenBatches(*dataset_, 0), ConfigError);
}

TEST_F(TokenDataset, LossModelChunksLargeBatchesIntoTheSameMean) {
  const auto config = tiny_config();
  GptNeox model(config, 2, 8);  // at most 2 sequences per forward
  model.init_random(8, 0.2f);
  NeoxLossModel loss_model(model, *dataset_, 8);
  EXPECT_EQ(loss_model.num_samples(), 8u);
  EXPECT_EQ(loss_model.max_batch_size(), 2u);
  const std::vector<std::int64_t> samples = {0, 4, 2, 6, 5};  // chunks of 2, 2, 1
  // Reference: every sequence on its own, averaged.
  std::vector<double> mean_gradient(model.num_parameters(), 0.0);
  double mean_loss = 0.0;
  std::vector<float> gradient(model.num_parameters());
  for (std::int64_t sample : samples) {
    const std::vector<std::int64_t> one = {sample};
    mean_loss += loss_model.loss_and_grad(Batch{one}, gradient) / samples.size();
    for (std::size_t i = 0; i < gradient.size(); ++i) mean_gradient[i] += gradient[i] / samples.size();
  }
  // Float sums of a handful of terms: a few u relative.
  EXPECT_NEAR(loss_model.loss(Batch{samples}), mean_loss, 1e-6 * mean_loss);
  EXPECT_NEAR(loss_model.loss_and_grad(Batch{samples}, gradient), mean_loss, 1e-6 * mean_loss);
  EXPECT_LE(test::max_relative_error(gradient, mean_gradient), 1e-5);
  const std::vector<std::int64_t> bad = {8};
  EXPECT_THROW(loss_model.loss(Batch{bad}), InputError);
  EXPECT_THROW(NeoxLossModel(model, *dataset_, 9), ConfigError);  // above the model's max_seq_len
}

}  // namespace
}  // namespace llcpress
