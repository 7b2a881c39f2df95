// The commands' compute paths on a non-host backend, against the CPU backend.
//
// What the commands run once their model is built on backend::compute_backend()
// (src/cli/cmd_llc.cpp, cmd_sweep.cpp, cmd_eval.cpp, cmd_calibrate.cpp, the
// pipeline's shards): GptNeox forward/backward, slt::estimate_llc and
// slt::tune_llc on a NeoxLossModel, compress::run_sweep, and calibrate's
// reference models through slt::HostModelOnBackend. Each test runs one of
// them on the CPU backend and on the backend under test with the same
// weights, data and seeds, and compares:
//
//   * fake-device (tests/backend/fake_device_backend.h): the CPU ops on host
//     memory that is mprotect-poisoned between ops, so any host dereference
//     of backend memory on these paths crashes here, in CI, without a GPU.
//     Its ops ARE the CPU's, so every number must be equal bit for bit.
//   * cuda (fp32, and the model test in tf32 and bf16): the same paths on a
//     GPU, within tolerances derived beside each check. Without a GPU these
//     skip: "no CUDA device visible: this test runs on the GPU machine".
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "compress/method.h"
#include "compress/sweep.h"
#include "core/rng.h"
#include "fake_device_backend.h"
#include "formats/checkpoint.h"
#include "formats/megatron.h"
#include "model/gpt_neox.h"
#include "model/neox_loss_model.h"
#include "slt/calibration.h"
#include "slt/host_model_on_backend.h"
#include "slt/llc_estimator.h"
#include "slt/tune.h"

namespace llcpress {
namespace {

namespace fs = std::filesystem;
using backend::Backend;

// ---------------------------------------------------------------- the backend under test

struct Target {
  std::string backend;    // "fake-device" | "cuda"
  std::string precision;  // GEMM precision (cuda); the fake device computes in fp32
};

// gtest prints a failing case's parameter with this.
void PrintTo(const Target& target, std::ostream* out) { *out << target.backend << " " << target.precision; }

std::string target_name(const ::testing::TestParamInfo<Target>& info) {
  std::string name = info.param.backend == "fake-device" ? "FakeDevice" : "Cuda";
  return name + "_" + info.param.precision;
}

// The backend, or "" and a skip reason in `skip`.
std::unique_ptr<Backend> make_target(const Target& target, std::string& skip) {
  if (target.backend == "fake-device") return std::make_unique<backend::testing::FakeDeviceBackend>();
  for (const backend::BackendEntry& entry : backend::registered_backends()) {
    if (entry.name != "cuda") continue;
    const std::string reason = entry.unavailable_reason ? entry.unavailable_reason() : std::string();
    if (!reason.empty()) {
      skip = "no CUDA device visible: this test runs on the GPU machine (scripts/device-check.sh run); " + reason;
      return nullptr;
    }
    return backend::make_backend("cuda", backend::ComputeSettings{-1, target.precision});
  }
  skip = "this build has no CUDA backend (LLCPRESS_CUDA=OFF): this test runs on the GPU machine";
  return nullptr;
}

bool exact(const Target& target) { return target.backend == "fake-device"; }

#define LLC_MAKE_TARGET(variable)                                         \
  std::string llc_skip_;                                                  \
  std::unique_ptr<Backend> variable = make_target(GetParam(), llc_skip_); \
  if (!variable) GTEST_SKIP() << llc_skip_

// ---------------------------------------------------------------- models and data

formats::NeoxConfig tiny_config() {
  formats::NeoxConfig config;
  config.hidden_size = 32;
  config.num_hidden_layers = 2;
  config.num_attention_heads = 4;
  config.intermediate_size = 128;
  config.vocab_size = 64;
  config.max_position_embeddings = 64;
  config.rotary_pct = 0.5;
  return config;
}

// Pythia's published shapes (EleutherAI/pythia-14m and -160m config.json).
formats::NeoxConfig pythia_config(int hidden, int layers, int heads) {
  formats::NeoxConfig config;
  config.hidden_size = hidden;
  config.num_hidden_layers = layers;
  config.num_attention_heads = heads;
  config.intermediate_size = 4 * hidden;
  config.vocab_size = 50304;
  config.max_position_embeddings = 2048;
  config.rotary_pct = 0.25;
  return config;
}

std::vector<std::int32_t> random_tokens(std::size_t count, int vocab, std::uint64_t stream) {
  std::vector<std::int32_t> tokens(count);
  for (std::size_t i = 0; i < count; ++i)
    tokens[i] = static_cast<std::int32_t>(philox_uniform_at(11, stream, i) * vocab) % vocab;
  return tokens;
}

// A Megatron dataset of `sequences` random sequences of `length` tokens in a fresh directory.
class TokenFile {
 public:
  TokenFile(int sequences, int length, int vocab) {
    directory_ = fs::temp_directory_path() /
                 ("llcpress_device_paths_" + std::to_string(::getpid()) + "_" + std::to_string(counter()++));
    fs::create_directories(directory_);
    std::vector<std::vector<std::int64_t>> data;
    for (int s = 0; s < sequences; ++s) {
      const auto tokens = random_tokens(static_cast<std::size_t>(length), vocab, 100 + s);
      data.emplace_back(tokens.begin(), tokens.end());
    }
    formats::write_megatron(prefix(), data, formats::DType::U16);
    dataset_.emplace(formats::MegatronDataset::open(prefix()));
  }
  ~TokenFile() {
    std::error_code ignored;
    fs::remove_all(directory_, ignored);
  }
  std::string prefix() const { return (directory_ / "tokens").string(); }
  const formats::MegatronDataset& dataset() const { return *dataset_; }

 private:
  static int& counter() {
    static int value = 0;
    return value;
  }
  fs::path directory_;
  std::optional<formats::MegatronDataset> dataset_;
};

// A model on `backend` with the CPU model's weights (what a command does after
// from_checkpoint: the weights are uploaded through write_parameters).
std::unique_ptr<GptNeox> copy_onto(const GptNeox& cpu_model, int max_batch, int max_seq_len, Backend& backend) {
  auto model = std::make_unique<GptNeox>(cpu_model.config(), max_batch, max_seq_len, backend);
  std::vector<float> weights(cpu_model.num_parameters());
  cpu_model.read_parameters(weights);
  model->write_parameters(weights);
  return model;
}

std::vector<float> read_all(const GptNeox& model) {
  std::vector<float> values(model.num_parameters());
  model.read_parameters(values);
  return values;
}

double nmse(const std::vector<float>& actual, const std::vector<float>& expected) {
  double error = 0, energy = 0;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const double d = static_cast<double>(actual[i]) - expected[i];
    error += d * d;
    energy += static_cast<double>(expected[i]) * expected[i];
  }
  return energy > 0 ? error / energy : error;
}

// Unit roundoff of a GEMM's inputs: fp32 2⁻²⁴, tf32 2⁻¹¹, bf16 2⁻⁸.
double unit_roundoff(const std::string& precision) {
  return precision == "bf16" ? std::ldexp(1.0, -8) : precision == "tf32" ? std::ldexp(1.0, -11) : std::ldexp(1.0, -24);
}

// The normalised-MSE tolerance of a quantity that passed through a chain of
// `depth` GEMMs (tests/cuda/test_backend_layer.cpp's layer_tolerance, and
// kernel_test_support.h's derivation): each GEMM with inputs rounded to u
// adds a relative rms error of ~√2·u, its fp32 accumulation over K terms
// ~√K·2⁻²⁴, and errors along the chain add at most linearly:
//   relative rms ≤ c·depth·(√2·u + √K·2⁻²⁴),  c = 8,  squared for nmse.
// Depth of the whole model: a layer's forward is two GEMMs deep on each
// residual branch (qkv → dense, up → down) and its backward two more, so the
// loss is 2L + 1 deep (the unembedding last) and the gradient of the
// embedding, the deepest, 2·(2L + 1) + 1 = 4L + 3. K = the vocabulary (the
// longest sum: the unembedding's backward). An indexing or wiring error
// gives nmse ≳ 0.1, above every bound here (bf16, Pythia-160m: 0.04).
double model_tolerance(const std::string& precision, int depth, double reduction_length) {
  const double u = precision == "fp32" ? 0.0 : unit_roundoff(precision);
  const double relative = 8.0 * depth * (std::sqrt(2.0) * u + std::sqrt(reduction_length) * std::ldexp(1.0, -24));
  return relative * relative;
}

// ---------------------------------------------------------------- 1. the model's loss and gradient

class ModelOnBackend : public ::testing::TestWithParam<Target> {};

void check_model(const Target& target, Backend& backend, const formats::NeoxConfig& config, int batch, int seq_len) {
  GptNeox cpu(config, batch, seq_len);
  cpu.init_random(5);
  auto device = copy_onto(cpu, batch, seq_len, backend);
  const auto tokens = random_tokens(static_cast<std::size_t>(batch) * (seq_len + 1), config.vocab_size, 3);

  const double cpu_loss = cpu.forward(tokens.data(), batch, seq_len);
  std::vector<float> cpu_gradient(cpu.num_parameters());
  cpu.backward(cpu_gradient);
  const double device_loss = device->forward(tokens.data(), batch, seq_len);
  backend::Buffer<float> gradient(backend, device->num_parameters());
  device->backward({gradient.data(), gradient.size()});
  std::vector<float> device_gradient(gradient.size());
  gradient.download(device_gradient);

  if (exact(target)) {
    EXPECT_EQ(device_loss, cpu_loss);
    EXPECT_EQ(device_gradient, cpu_gradient);
    return;
  }
  const int layers = config.num_hidden_layers;
  const double loss_tolerance = std::sqrt(model_tolerance(target.precision, 2 * layers + 1, config.vocab_size));
  EXPECT_NEAR(device_loss, cpu_loss, loss_tolerance * std::abs(cpu_loss));
  EXPECT_LE(nmse(device_gradient, cpu_gradient), model_tolerance(target.precision, 4 * layers + 3, config.vocab_size));
}

TEST_P(ModelOnBackend, TinyLossAndGradientMatchTheCpu) {
  LLC_MAKE_TARGET(backend);
  check_model(GetParam(), *backend, tiny_config(), 3, 16);
}

TEST_P(ModelOnBackend, Pythia14mShapeLossAndGradientMatchTheCpu) {
  LLC_MAKE_TARGET(backend);
  check_model(GetParam(), *backend, pythia_config(128, 6, 4), 2, 32);
}

TEST_P(ModelOnBackend, Pythia160mShapeLossAndGradientMatchTheCpu) {
  // 162 M parameters: the CPU reference takes a few seconds, so only where a GPU is compared.
  if (exact(GetParam())) GTEST_SKIP() << "the fake device runs the 14m and tiny shapes (the 160m CPU twin is slow)";
  LLC_MAKE_TARGET(backend);
  check_model(GetParam(), *backend, pythia_config(768, 12, 12), 1, 32);
}

TEST_P(ModelOnBackend, ReferenceRestoreAndParameterIoStayOnTheBackend) {
  LLC_MAKE_TARGET(backend);
  GptNeox cpu(tiny_config(), 2, 8);
  cpu.init_random(9);
  auto device = copy_onto(cpu, 2, 8, *backend);
  device->hold_reference();
  std::vector<float> moved = read_all(*device);
  for (float& value : moved) value += 1.0f;
  device->write_parameters(moved);
  EXPECT_EQ(read_all(*device), moved);
  device->restore_reference();
  EXPECT_EQ(read_all(*device), read_all(cpu));
  EXPECT_THROW(device->parameters(), backend::UnsupportedOp);  // host views refuse device memory
}

INSTANTIATE_TEST_SUITE_P(Backends, ModelOnBackend,
                         ::testing::Values(Target{"fake-device", "fp32"}, Target{"cuda", "fp32"},
                                           Target{"cuda", "tf32"}, Target{"cuda", "bf16"}),
                         target_name);

// ---------------------------------------------------------------- 2. llc: SGLD and RMSprop-SGLD chains

class LlcOnBackend : public ::testing::TestWithParam<Target> {};

slt::LlcConfig chain_config(slt::SamplerKind kind) {
  slt::LlcConfig config;
  config.sampler.kind = kind;
  config.sampler.epsilon = kind == slt::SamplerKind::Sgld ? 1e-4 : 1e-3;
  config.sampler.localization = 100;
  config.chains = 2;
  config.burn_in = 4;
  config.draws = 16;  // 20 steps per chain
  config.batch_size = 4;
  config.init_batches = 2;
  config.seed = 42;
  config.mala = true;
  config.progress = false;
  return config;
}

// What `llc` does: the checkpoint (the CPU model saved in HF layout into the
// token file's directory) loaded onto `backend` with from_checkpoint; or the
// CPU model itself when backend is null.
slt::LlcResult run_llc(GptNeox& cpu_model, Backend* backend, const TokenFile& data, const slt::LlcConfig& config,
                       int seq_len) {
  std::unique_ptr<GptNeox> copy;
  if (backend != nullptr) {
    const std::string directory = data.prefix() + "_checkpoint";
    cpu_model.save(directory);
    copy = GptNeox::from_checkpoint(formats::Checkpoint::open(directory), 4, seq_len, *backend);
  }
  GptNeox& model = copy ? *copy : cpu_model;
  NeoxLossModel loss_model(model, data.dataset(), seq_len);
  return slt::estimate_llc(loss_model, config);
}

// Tolerance of a chain on the GPU against the CPU chain with the same seed:
// both draw the same Philox noise, so they differ only by the model's
// rounding (model_tolerance: relative rms ~1e-5 for the fp32 gradient of
// this depth), amplified along the chain. The SGLD map is a contraction
// toward w* plus noise (localization γ·ε = 1e-2 per step at these settings),
// so differences grow at most ~linearly over the 20 steps: 20 × the
// per-step relative error, then ×nβ/|λ̂| ≈ 1–10 for λ̂ (a difference of two
// losses ~1e-3 apart scaled by nβ). We allow relative 1e-3 on each step
// loss and 1e-2 on λ̂: far below the spread between seeds (λ̂ moves by tens
// of percent), far above fp32 rounding.
constexpr double kChainLossTolerance = 1e-3, kChainLlcTolerance = 1e-2;

// Equal, NaN included (λ̂ is NaN when no chain is healthy, as in short tune runs).
bool same(double a, double b) { return a == b || (std::isnan(a) && std::isnan(b)); }

void compare_llc(const Target& target, const slt::LlcResult& actual, const slt::LlcResult& expected) {
  ASSERT_EQ(actual.chains.size(), expected.chains.size());
  if (exact(target)) {
    EXPECT_EQ(actual.init_loss, expected.init_loss);
    for (std::size_t c = 0; c < expected.chains.size(); ++c) {
      EXPECT_EQ(actual.chains[c].step_loss, expected.chains[c].step_loss) << "chain " << c;
      EXPECT_EQ(actual.chains[c].mala_log_ratio.size(), expected.chains[c].mala_log_ratio.size());
      for (std::size_t d = 0; d < expected.chains[c].mala_log_ratio.size(); ++d) {
        const double a = actual.chains[c].mala_log_ratio[d], e = expected.chains[c].mala_log_ratio[d];
        EXPECT_TRUE(same(a, e)) << "chain " << c << " draw " << d;
      }
      EXPECT_TRUE(same(actual.chains[c].llc, expected.chains[c].llc)) << "chain " << c;
    }
    EXPECT_TRUE(same(actual.llc_mean, expected.llc_mean)) << actual.llc_mean << " vs " << expected.llc_mean;
    EXPECT_EQ(actual.chains_used, expected.chains_used);
    return;
  }
  EXPECT_NEAR(actual.init_loss, expected.init_loss, kChainLossTolerance * std::abs(expected.init_loss));
  for (std::size_t c = 0; c < expected.chains.size(); ++c) {
    ASSERT_EQ(actual.chains[c].step_loss.size(), expected.chains[c].step_loss.size());
    for (std::size_t s = 0; s < expected.chains[c].step_loss.size(); ++s)
      EXPECT_NEAR(actual.chains[c].step_loss[s], expected.chains[c].step_loss[s],
                  kChainLossTolerance * std::abs(expected.chains[c].step_loss[s]))
          << "chain " << c << " step " << s;
  }
  EXPECT_EQ(actual.chains_used, expected.chains_used);
  if (std::isnan(expected.llc_mean)) {
    EXPECT_TRUE(std::isnan(actual.llc_mean)) << actual.llc_mean;
  } else {
    EXPECT_NEAR(actual.llc_mean, expected.llc_mean, kChainLlcTolerance * std::abs(expected.llc_mean));
  }
}

TEST_P(LlcOnBackend, SgldChainMatchesTheCpuChain) {
  LLC_MAKE_TARGET(backend);
  const TokenFile data(24, 17, 64);
  GptNeox cpu(tiny_config(), 4, 16);
  cpu.init_random(21);
  const slt::LlcConfig config = chain_config(slt::SamplerKind::Sgld);
  compare_llc(GetParam(), run_llc(cpu, backend.get(), data, config, 16), run_llc(cpu, nullptr, data, config, 16));
}

TEST_P(LlcOnBackend, RmspropSgldChainMatchesTheCpuChain) {
  LLC_MAKE_TARGET(backend);
  const TokenFile data(24, 17, 64);
  GptNeox cpu(tiny_config(), 4, 16);
  cpu.init_random(22);
  slt::LlcConfig config = chain_config(slt::SamplerKind::RmspropSgld);
  config.mask = {"layer:1"};  // a masked run: sampled ranges, not the whole buffer
  compare_llc(GetParam(), run_llc(cpu, backend.get(), data, config, 16), run_llc(cpu, nullptr, data, config, 16));
}

TEST_P(LlcOnBackend, TuneGridMatchesTheCpu) {  // llc --grid
  LLC_MAKE_TARGET(backend);
  const TokenFile data(24, 17, 64);
  GptNeox cpu(tiny_config(), 4, 16);
  cpu.init_random(23);
  slt::LlcConfig config = chain_config(slt::SamplerKind::Sgld);
  config.draws = 12;  // the fewest the tune's stationarity check accepts (4 per third)
  config.burn_in = 0;
  const slt::TuneGrid grid{{1e-4, 3e-4}, {0}, {100}};
  auto copy = copy_onto(cpu, 4, 16, *backend);
  NeoxLossModel on_target(*copy, data.dataset(), 16), on_cpu(cpu, data.dataset(), 16);
  const slt::TuneResult actual = slt::tune_llc(on_target, config, grid, slt::HealthRules{});
  const slt::TuneResult expected = slt::tune_llc(on_cpu, config, grid, slt::HealthRules{});
  ASSERT_EQ(actual.points.size(), expected.points.size());
  for (std::size_t p = 0; p < expected.points.size(); ++p)
    compare_llc(GetParam(), actual.points[p].result, expected.points[p].result);
  if (exact(GetParam())) {
    EXPECT_EQ(actual.recommended, expected.recommended);
  }
}

TEST_P(LlcOnBackend, CalibrateRunsTheSamplerOnTheBackend) {
  LLC_MAKE_TARGET(backend);
  slt::ReferenceModelSpec spec;
  spec.kind = "rrr";
  spec.input_dim = 3, spec.hidden_dim = 3, spec.output_dim = 3;
  spec.rank = 1;
  spec.samples = 200;
  slt::LlcConfig config = chain_config(slt::SamplerKind::Sgld);
  config.batch_size = 20;
  config.sampler.epsilon = 1e-3;
  slt::ReferenceModel on_cpu = slt::make_reference_model(spec), host = slt::make_reference_model(spec);
  slt::HostModelOnBackend on_target(*host.model, *backend);
  const slt::LlcResult expected = slt::estimate_llc(*on_cpu.model, config);
  const slt::LlcResult actual = slt::estimate_llc(on_target, config);
  // The loss is the host model's on both sides; only the sampler step's memory differs. On the GPU the step's
  // arithmetic is the shared sgld_update_element (bit-identical per element) but its norm sums are summed in
  // another order, which moves nothing the chain feeds back: the traces agree to the loss's rounding.
  compare_llc(GetParam(), actual, expected);
}

INSTANTIATE_TEST_SUITE_P(Backends, LlcOnBackend,
                         ::testing::Values(Target{"fake-device", "fp32"}, Target{"cuda", "fp32"}), target_name);

// ---------------------------------------------------------------- 3. sweep: each method's critical amount

class SweepOnBackend : public ::testing::TestWithParam<Target> {};

std::vector<std::string> all_methods() {
  std::vector<std::string> methods;
  std::stringstream names(compress::method_names(","));
  for (std::string name; std::getline(names, name, ',');) methods.push_back(name);
  return methods;
}

TEST_P(SweepOnBackend, EveryMethodsCriticalAmountMatchesTheCpu) {
  LLC_MAKE_TARGET(backend);
  const TokenFile data(12, 17, 64);
  GptNeox cpu(tiny_config(), 4, 16);
  cpu.init_random(31);
  auto copy = copy_onto(cpu, 4, 16, *backend);
  NeoxLossModel on_target(*copy, data.dataset(), 16), on_cpu(cpu, data.dataset(), 16);
  const std::vector<std::int64_t> samples = {0, 1, 2, 3, 4, 5, 6, 7};
  for (const std::string& method : all_methods()) {
    SCOPED_TRACE(method);
    compress::SweepConfig config;
    config.method = method;
    config.epsilons = {0.05, 0.2};
    config.options.num_heads = tiny_config().num_attention_heads;
    config.options.noise_draws = 2;
    const compress::SweepResult expected = compress::run_sweep(on_cpu, config, samples, 4);
    const compress::SweepResult actual = compress::run_sweep(on_target, config, samples, 4);
    EXPECT_EQ(read_all(*copy), read_all(cpu)) << "the sweep leaves w* in place on both";
    ASSERT_EQ(actual.criticals.size(), expected.criticals.size());
    for (std::size_t e = 0; e < expected.criticals.size(); ++e) {
      const auto& a = actual.criticals[e].search;
      const auto& x = expected.criticals[e].search;
      EXPECT_EQ(a.status, x.status) << "eps " << x.epsilon;
      if (exact(GetParam())) {
        EXPECT_EQ(actual.reference_loss, expected.reference_loss);
        EXPECT_TRUE(a.critical == x.critical || (std::isnan(a.critical) && std::isnan(x.critical)))
            << "eps " << x.epsilon << ": " << a.critical << " vs " << x.critical;
        EXPECT_EQ(actual.points.size(), expected.points.size());
      } else {
        // On the GPU the held-out losses differ from the CPU's by rounding (relative ~1e-6 in fp32), so a
        // point whose loss lies within that of L₀ + ε may fall on the other side: the critical amount is then
        // the neighbouring point of the search, i.e. critical and first_failing may swap roles. Equal, or the
        // GPU's critical is one of the CPU's two bracketing points.
        const bool same = a.critical == x.critical || (std::isnan(a.critical) && std::isnan(x.critical));
        const bool one_step = a.critical == x.first_failing || a.first_failing == x.critical;
        EXPECT_TRUE(same || one_step) << "eps " << x.epsilon << ": cuda " << a.critical << " (first failing "
                                      << a.first_failing << "), cpu " << x.critical << " (first failing "
                                      << x.first_failing << ")";
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, SweepOnBackend,
                         ::testing::Values(Target{"fake-device", "fp32"}, Target{"cuda", "fp32"}), target_name);

// The sweeps log every evaluated point at info: keep the test output to failures.
[[maybe_unused]] const bool kQuietLogs = [] {
  spdlog::set_level(spdlog::level::warn);
  return true;
}();

// ---------------------------------------------------------------- the fake device itself

TEST(FakeDeviceBackend, HostViewsOfItsBuffersAreRefused) {
  backend::testing::FakeDeviceBackend fake;
  backend::Buffer<float> buffer(fake, 16);
  EXPECT_THROW(buffer.host_span(), backend::UnsupportedOp);
  std::vector<float> values(16, 2.0f), back(16);
  buffer.upload(values);
  buffer.download(back);
  EXPECT_EQ(back, values);
  EXPECT_GT(fake.ops(), 0);
}

TEST(FakeDeviceBackend, HostDereferenceOfItsMemoryCrashes) {
  // The poisoning is what makes the tests above mean something: a host read of its memory must not pass.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        backend::testing::FakeDeviceBackend fake;
        backend::Buffer<float> buffer(fake, 16);
        volatile float value = buffer.data()[3];
        (void)value;
      },
      "host code dereferenced backend");
}

}  // namespace
}  // namespace llcpress
