// GptNeox against Hugging Face transformers' GPTNeoXForCausalLM (fp32, eager
// attention) on the fixtures written by tests/model/make_reference.py: the
// same tokens must give the same logits, loss and parameter gradients.
//
// Error metric: max|ours − torch| / max|torch| per tensor (op_reference.h).
// Tolerances (the acceptance bounds, with why they hold):
//  - logits ≤ 1e-5: both sides compute in fp32 but order their reductions
//    differently (Eigen vs MKL/oneDNN GEMMs, our two-pass layer norm, our
//    blocked softmax). Each of the ~8 ops per layer adds a relative error of
//    order √n·u ≈ 1e-6 for n ≤ 512-term reductions (u = 2⁻²⁴), and these
//    random-sign errors do not grow systematically across a few layers, so
//    the expected difference is a few 1e-7 to 1e-6.
//  - loss ≤ 1e-6 relative: a mean of per-token log-sum-exps, each accurate to a
//    few u relative to the logits; averaging does not amplify that.
//  - every parameter gradient ≤ 1e-4: backward chains are twice as long and
//    pass through the softmax Jacobians, so errors of ~1e-6 to 1e-5 of the
//    tensor's largest entry are expected; 1e-4 still catches any missing term
//    (a dropped branch or wrong scale is O(1) of max|grad|).
#include <gtest/gtest.h>
#include <omp.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include "backend/backend.h"
#include "core/rng.h"
#include "formats/checkpoint.h"
#include "formats/safetensors.h"
#include "model/gpt_neox.h"
#include "op_reference.h"

namespace llcpress {
namespace {

constexpr double kLogitsTolerance = 1e-5;
constexpr double kLossTolerance = 1e-6;
constexpr double kGradientTolerance = 1e-4;

// ---------------------------------------------------------------- hashed weights (make_reference.py)

constexpr std::uint64_t kHashSeed = 20240611;
constexpr int kGradientSamples = 256;

std::uint64_t hash_bits(std::uint64_t tensor_index, std::uint64_t element, std::uint64_t salt) {
  return stream_id(kHashSeed + salt, tensor_index, element);
}

bool ends_with(const std::string& text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// hash_weights() of make_reference.py, bit for bit: k/2²³ scaled by powers of two.
void fill_hash_weights(GptNeox& model) {
  const auto& views = model.parameter_table().views();
  std::vector<float> host(model.num_parameters());  // filled here, then written to the model's backend
  for (std::size_t index = 0; index < views.size(); ++index) {
    const ParameterView& view = views[index];
    float* values = host.data() + view.offset;
    for (std::size_t i = 0; i < view.size; ++i) {
      const std::int64_t k = static_cast<std::int64_t>(hash_bits(index, i, 0) >> 40) - (1 << 23);
      const float u = static_cast<float>(k) * 0x1p-23f;
      if (ends_with(view.name, "layernorm.weight"))
        values[i] = 1.0f + u * 0.125f;
      else if (ends_with(view.name, "attention.dense.weight") || ends_with(view.name, "dense_4h_to_h.weight") ||
               ends_with(view.name, ".bias"))
        values[i] = u * 0x1p-5f;
      else
        values[i] = u * 0x1p-4f;
    }
  }
  model.write_parameters(host);
}

// ---------------------------------------------------------------- fixture access

std::vector<float> read_f32(const formats::SafetensorsFile& file, const std::string& name) {
  return file.tensor(name).to_f32();
}

double read_f64_scalar(const formats::SafetensorsFile& file, const std::string& name) {
  const formats::TensorView view = file.tensor(name);
  EXPECT_EQ(view.info.dtype, formats::DType::F64);
  double value = 0.0;
  std::memcpy(&value, view.bytes.data(), sizeof(double));
  return value;
}

struct ParityResult {
  double logits_error = 0, loss_error = 0, worst_gradient_error = 0;
  std::string worst_gradient_tensor;
};

ParityResult run_parity(const std::string& name, backend::Backend& backend) {
  const std::string directory = std::string(LLCPRESS_FIXTURE_DIR) + "/model_" + name;
  const auto reference = formats::SafetensorsFile::open(directory + "/reference.safetensors");
  const formats::TensorView tokens_view = reference.tensor("tokens");
  EXPECT_EQ(tokens_view.info.dtype, formats::DType::I32);
  const int batch = static_cast<int>(tokens_view.info.shape.at(0));
  const int seq_len = static_cast<int>(tokens_view.info.shape.at(1)) - 1;
  std::vector<std::int32_t> tokens(static_cast<std::size_t>(tokens_view.info.numel()));
  std::memcpy(tokens.data(), tokens_view.bytes.data(), tokens.size() * sizeof(std::int32_t));

  const bool hashed = !std::filesystem::exists(directory + "/model.safetensors");
  std::unique_ptr<GptNeox> model;
  if (hashed) {
    model = std::make_unique<GptNeox>(formats::NeoxConfig::load(directory + "/config.json"), batch, seq_len, backend);
    fill_hash_weights(*model);
  } else {
    model = GptNeox::from_checkpoint(formats::Checkpoint::open(directory), batch, seq_len, backend);
  }

  ParityResult result;
  const double loss = model->forward(tokens.data(), batch, seq_len);
  const double reference_loss = read_f64_scalar(reference, "loss");
  result.loss_error = std::abs(loss - reference_loss) / std::abs(reference_loss);
  std::vector<float> logits(static_cast<std::size_t>(batch) * seq_len * model->config().vocab_size);
  model->read_logits(logits);
  result.logits_error = test::max_relative_error(logits, read_f32(reference, "logits"));

  backend::Buffer<float> device_gradient(backend, model->num_parameters());
  model->backward({device_gradient.data(), device_gradient.size()});
  std::vector<float> gradient(model->num_parameters());
  device_gradient.download(gradient);
  std::optional<formats::SafetensorsFile> sampled;
  if (hashed) sampled = formats::SafetensorsFile::open(directory + "/gradients.safetensors");
  const auto& views = model->parameter_table().views();
  for (std::size_t index = 0; index < views.size(); ++index) {
    const ParameterView& view = views[index];
    const std::span<const float> ours(gradient.data() + view.offset, view.size);
    double error = 0.0;
    if (!hashed) {
      error = test::max_relative_error(ours, std::span<const float>(read_f32(reference, "grad." + view.name)));
    } else {
      // Sampled entries relative to torch's max |gradient| over the whole
      // tensor, and that maximum itself.
      const std::vector<float> samples = read_f32(*sampled, "grad_sample." + view.name);
      const double torch_max = read_f32(*sampled, "grad_absmax." + view.name).at(0);
      EXPECT_EQ(samples.size(), static_cast<std::size_t>(kGradientSamples));
      double difference = 0.0, our_max = 0.0;
      for (std::size_t k = 0; k < samples.size(); ++k) {
        const std::size_t position = hash_bits(index, k, 1) % view.size;
        difference = std::max(difference, std::abs(static_cast<double>(ours[position]) - samples[k]));
      }
      for (float value : ours) our_max = std::max(our_max, static_cast<double>(std::abs(value)));
      error = std::max(difference, std::abs(our_max - torch_max)) / torch_max;
    }
    EXPECT_LE(error, kGradientTolerance) << name << ": gradient of " << view.name;
    if (error > result.worst_gradient_error) {
      result.worst_gradient_error = error;
      result.worst_gradient_tensor = view.name;
    }
  }
  EXPECT_LE(result.logits_error, kLogitsTolerance) << name << ": logits";
  EXPECT_LE(result.loss_error, kLossTolerance) << name << ": loss " << loss << " vs " << reference_loss;
  std::printf("[parity] %-18s threads %d  logits %.2e  loss %.2e  worst gradient %.2e (%s)\n", name.c_str(),
              omp_get_max_threads(), result.logits_error, result.loss_error, result.worst_gradient_error,
              result.worst_gradient_tensor.c_str());
  return result;
}

// (fixture, backend): every fixture on every registered backend, against
// the same transformers references and tolerances.
class Parity : public testing::TestWithParam<std::tuple<std::string, std::string>> {};

TEST_P(Parity, MatchesTransformers) {
  const auto& [fixture, backend_name] = GetParam();
  std::unique_ptr<backend::Backend> backend;
  for (const backend::BackendEntry& entry : backend::registered_backends()) {
    if (entry.name != backend_name) continue;
    const std::string reason = entry.unavailable_reason ? entry.unavailable_reason() : std::string();
    if (!reason.empty()) GTEST_SKIP() << backend_name << " backend unavailable: " << reason;
    backend = entry.make();
  }
  ASSERT_NE(backend, nullptr);
  const int saved = omp_get_max_threads();
  try {
    // The result must not depend on the thread count (3 splits work unevenly).
    for (int threads : {1, 3}) {
      omp_set_num_threads(threads);
      run_parity(fixture, *backend);
    }
  } catch (const backend::UnsupportedOp& e) {
    omp_set_num_threads(saved);
    GTEST_SKIP() << e.what();
  }
  omp_set_num_threads(saved);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Parity,
                         testing::Combine(testing::Values("small_parallel", "small_sequential", "small_rotary_full",
                                                          "small_gelu_tanh", "pythia14m"),
                                          testing::ValuesIn(backend::backend_names())),
                         [](const testing::TestParamInfo<std::tuple<std::string, std::string>>& info) {
                           return std::get<0>(info.param) + "_" + std::get<1>(info.param);
                         });

}  // namespace
}  // namespace llcpress
