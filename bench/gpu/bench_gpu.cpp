// llcpress_bench_gpu [--json FILE] [--batch B] [--seq-len T] [--steps N] [--quick]
//
// What a training step of Pythia-160m and -410m costs on the GPU, per GEMM
// precision (fp32, tf32, bf16):
//   * "gemm_steps": the step's GEMMs alone — every linear layer forward,
//     d_input and d_weight (+ bias gradient), and the unembedding, through
//     cuda::linear_forward/linear_backward, bf16 weights cast once per step;
//     ~87% of a step's FLOPs and a lower bound on its time;
//   * "model_steps": GptNeox::forward_backward on the CUDA backend (what an
//     SGLD step's loss_and_grad runs: every kernel, the chunked loss head);
//   * "sgld_step": one whole SGLD step of `llc` on Pythia-160m — the model's
//     forward_backward and the fused sampler update (slt::Sampler on the same
//     backend, MALA sums on) — and the sampler update's time alone.
// FLOPs and MFU
// against the dense peak of the GPU (H100/H200 SXM: 989 TFLOP/s bf16, 494
// tf32, 67 fp32, dense, no sparsity).
#include <cuda_runtime.h>
#include <fmt/format.h>

#include <boost/program_options.hpp>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "backend/buffer.h"
#include "core/check.h"
#include "core/device.h"
#include "cuda/check_cuda.h"
#include "cuda/cuda_backend.h"
#include "cuda/cuda_context.h"
#include "cuda/device_select.h"
#include "cuda/gemm.h"
#include "model/gpt_neox.h"
#include "slt/sampler.h"

namespace po = boost::program_options;
using namespace llcpress;

namespace {

formats::NeoxConfig pythia(int layers, int hidden, int heads) {
  formats::NeoxConfig config;
  config.hidden_size = hidden;
  config.num_hidden_layers = layers;
  config.num_attention_heads = heads;
  config.intermediate_size = 4 * hidden;
  config.vocab_size = 50304;
  return config;
}

// Peak dense TFLOP/s of the GPU per precision; 0 when the GPU is not known.
double peak_tflops(const std::string& name, cuda::Precision precision) {
  const bool hopper_sxm = name.find("H100") != std::string::npos || name.find("H200") != std::string::npos;
  if (!hopper_sxm) return 0;
  switch (precision) {
    case cuda::Precision::Fp32:
      return 67;
    case cuda::Precision::Tf32:
      return 494;
    case cuda::Precision::Bf16:
      return 989;
  }
  return 0;
}

struct Device {
  std::vector<float*> buffers;
  ~Device() {
    for (float* buffer : buffers) cudaFree(buffer);
  }
  // Filled with small values (1/64): GEMM speed does not depend on them, and no overflow can occur.
  float* allocate(std::size_t count) {
    float* buffer = nullptr;
    LLC_CHECK_CUDA(cudaMalloc(&buffer, count * sizeof(float)));
    buffers.push_back(buffer);
    std::vector<float> fill(count, 1.0f / 64);
    LLC_CHECK_CUDA(cudaMemcpy(buffer, fill.data(), count * sizeof(float), cudaMemcpyHostToDevice));
    return buffer;
  }
};

struct Layer {
  float *qkv_w, *qkv_b, *dense_w, *dense_b, *up_w, *up_b, *down_w, *down_b;                  // parameters
  float *d_qkv_w, *d_qkv_b, *d_dense_w, *d_dense_b, *d_up_w, *d_up_b, *d_down_w, *d_down_b;  // gradients
};

nlohmann::json gemm_step(const formats::NeoxConfig& config, int batch, int seq_len, cuda::Precision precision,
                         int steps, const std::string& gpu) {
  const std::int64_t rows = std::int64_t(batch) * seq_len;
  const int h = config.hidden_size, inner = config.intermediate_size, v = config.vocab_size;
  Device device;
  cuda::CudaContext context(0, precision);
  std::vector<Layer> layers(config.num_hidden_layers);
  for (Layer& layer : layers) {
    layer = Layer{device.allocate(3 * h * h),
                  device.allocate(3 * h),
                  device.allocate(h * h),
                  device.allocate(h),
                  device.allocate(std::size_t(inner) * h),
                  device.allocate(inner),
                  device.allocate(std::size_t(h) * inner),
                  device.allocate(h),
                  device.allocate(3 * h * h),
                  device.allocate(3 * h),
                  device.allocate(h * h),
                  device.allocate(h),
                  device.allocate(std::size_t(inner) * h),
                  device.allocate(inner),
                  device.allocate(std::size_t(h) * inner),
                  device.allocate(h)};
  }
  float* unembed = device.allocate(std::size_t(v) * h);     // (V, H)
  float* d_unembed = device.allocate(std::size_t(v) * h);   // (V, H)
  float* x = device.allocate(rows * h);                     // (rows, H) normed input of a layer
  float* qkv = device.allocate(rows * 3 * h);               // (rows, 3H)
  float* attention = device.allocate(rows * h);             // (rows, H) attention output before dense
  float* up = device.allocate(rows * inner);                // (rows, I)
  float* out = device.allocate(rows * h);                   // (rows, H) residual stream
  float* logits = device.allocate(rows * std::int64_t(v));  // (rows, V), reused as d_logits
  float* d_x = device.allocate(rows * h);                   // (rows, H)
  float* d_qkv = device.allocate(rows * 3 * h);             // (rows, 3H)
  float* d_up = device.allocate(rows * inner);              // (rows, I)
  float* d_attention = device.allocate(rows * h);           // (rows, H)

  auto step = [&] {
    context.mark_weights_changed();  // an SGLD step moved every weight: bf16 copies recast once
    for (Layer& layer : layers) {
      cuda::linear_forward(context, qkv, x, layer.qkv_w, layer.qkv_b, rows, h, 3 * h);
      cuda::linear_forward(context, out, attention, layer.dense_w, layer.dense_b, rows, h, h, true);
      cuda::linear_forward(context, up, x, layer.up_w, layer.up_b, rows, h, inner);
      cuda::linear_forward(context, out, up, layer.down_w, layer.down_b, rows, inner, h, true);
    }
    cuda::linear_forward(context, logits, out, unembed, nullptr, rows, h, v);
    cuda::linear_backward(context, d_x, d_unembed, nullptr, logits, out, unembed, rows, h, v);
    for (auto layer = layers.rbegin(); layer != layers.rend(); ++layer) {
      cuda::linear_backward(context, d_up, layer->d_down_w, layer->d_down_b, d_x, up, layer->down_w, rows, inner, h);
      cuda::linear_backward(context, d_x, layer->d_up_w, layer->d_up_b, d_up, x, layer->up_w, rows, h, inner);
      cuda::linear_backward(context, d_attention, layer->d_dense_w, layer->d_dense_b, d_x, attention, layer->dense_w,
                            rows, h, h);
      cuda::linear_backward(context, d_x, layer->d_qkv_w, layer->d_qkv_b, d_qkv, x, layer->qkv_w, rows, h, 3 * h);
    }
  };
  for (int i = 0; i < 2; ++i) step();  // warm-up: heuristics, workspace, bf16 copies allocated
  cudaEvent_t start, stop;
  LLC_CHECK_CUDA(cudaEventCreate(&start));
  LLC_CHECK_CUDA(cudaEventCreate(&stop));
  LLC_CHECK_CUDA(cudaEventRecord(start, context.stream()));
  for (int i = 0; i < steps; ++i) step();
  LLC_CHECK_CUDA(cudaEventRecord(stop, context.stream()));
  LLC_CHECK_CUDA(cudaEventSynchronize(stop));
  float milliseconds = 0;
  LLC_CHECK_CUDA(cudaEventElapsedTime(&milliseconds, start, stop));
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  const double seconds = milliseconds / 1e3 / steps;
  // 6 FLOPs per weight per token (forward 2, d_input 2, d_weight 2) over the linear layers and the unembedding.
  const double gemm_flops =
      6.0 * (double(config.num_hidden_layers) * (4.0 * h * h + 2.0 * h * inner) + double(v) * h) * double(rows);
  const double model_flops = neox_training_flops(config, batch, seq_len);
  const double peak = peak_tflops(gpu, precision);
  return {{"precision", cuda::precision_name(precision)},
          {"what", "the step's GEMMs only (linear layers + unembedding, forward, d_input, d_weight, d_bias)"},
          {"seconds_per_step", seconds},
          {"gemm_tflops", gemm_flops / seconds / 1e12},
          {"gemm_flops_per_step", gemm_flops},
          {"model_flops_per_step", model_flops},
          {"gemm_share_of_model_flops", gemm_flops / model_flops},
          {"tokens_per_second_upper_bound", double(rows) / seconds},
          {"gemm_mfu", peak > 0 ? nlohmann::json(gemm_flops / seconds / 1e12 / peak) : nlohmann::json(nullptr)},
          {"peak_tflops", peak},
          {"weight_casts_per_step", double(context.weight_casts()) / (steps + 2)}};
}

// Seconds per call of `body` on `backend`'s stream, `steps` calls after one warm-up.
template <typename Body>
double time_on_stream(cuda::CudaBackend& backend, int steps, Body body) {
  body();
  backend.synchronize();
  cudaEvent_t start, stop;
  LLC_CHECK_CUDA(cudaEventCreate(&start));
  LLC_CHECK_CUDA(cudaEventCreate(&stop));
  LLC_CHECK_CUDA(cudaEventRecord(start, backend.context().stream()));
  for (int i = 0; i < steps; ++i) body();
  LLC_CHECK_CUDA(cudaEventRecord(stop, backend.context().stream()));
  LLC_CHECK_CUDA(cudaEventSynchronize(stop));
  float milliseconds = 0;
  LLC_CHECK_CUDA(cudaEventElapsedTime(&milliseconds, start, stop));
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return milliseconds / 1e3 / steps;
}

// The whole model step (GptNeox::forward_backward on the CUDA backend). An op
// the backend lacked would throw UnsupportedOp naming it: reported, not hidden.
nlohmann::json model_step(const formats::NeoxConfig& config, int batch, int seq_len, cuda::Precision precision,
                          int steps, const std::string& gpu) {
  try {
    cuda::CudaBackend backend(0, precision);
    GptNeox model(config, batch, seq_len, backend);
    model.init_random(1);
    backend::Buffer<float> gradient(backend, model.num_parameters());      // (parameters)
    std::vector<std::int32_t> tokens(std::size_t(batch) * (seq_len + 1));  // (batch, seq_len + 1)
    for (std::size_t i = 0; i < tokens.size(); ++i)
      tokens[i] = static_cast<std::int32_t>((i * 7919) % config.vocab_size);
    auto step = [&] {
      // What an SGLD step's parameter write does: the bf16 weights are recast every step.
      backend.mark_weights_changed();
      model.forward_backward(tokens.data(), batch, seq_len, std::span<float>(gradient.data(), gradient.size()));
    };
    const double seconds = time_on_stream(backend, steps, step), flops = neox_training_flops(config, batch, seq_len);
    const double peak = peak_tflops(gpu, precision);
    return {{"ran", true},
            {"precision", cuda::precision_name(precision)},
            {"seconds_per_step", seconds},
            {"tokens_per_second", double(batch) * seq_len / seconds},
            {"tflops", flops / seconds / 1e12},
            {"mfu", peak > 0 ? nlohmann::json(flops / seconds / 1e12 / peak) : nlohmann::json(nullptr)},
            {"activation_bytes", model.activation_bytes()},
            {"loss_chunk_rows", model.loss_chunk_rows()}};
  } catch (const backend::UnsupportedOp& missing) {
    return {{"ran", false}, {"precision", cuda::precision_name(precision)}, {"why", missing.what()}};
  }
}

// One SGLD step of `llc` (slt/llc_estimator.cpp's chain loop without the
// batch drawing): forward_backward, then the fused sampler update with the
// diagnostic and MALA sums, on the CUDA backend in fp32 (the λ̂ reference
// precision). Also the sampler update alone. The same step as devinterp's
// (bench_torch_gpu.py times that one on the same model, batch and length).
nlohmann::json sgld_step(const formats::NeoxConfig& config, int batch, int seq_len, int steps) {
  try {
    cuda::CudaBackend backend(0, cuda::Precision::Fp32);
    GptNeox model(config, batch, seq_len, backend);
    model.init_random(1);
    model.hold_reference();
    const std::size_t count = model.num_parameters();
    backend::Buffer<float> gradient(backend, count);  // (parameters)
    std::vector<std::int32_t> tokens(std::size_t(batch) * (seq_len + 1));
    for (std::size_t i = 0; i < tokens.size(); ++i)
      tokens[i] = static_cast<std::int32_t>((i * 7919) % config.vocab_size);
    slt::SamplerConfig sampler_config;
    sampler_config.epsilon = 1e-5;
    sampler_config.nbeta = 10;
    slt::Sampler sampler(sampler_config, slt::SampledRanges::all(count), {model.reference_data(), count},
                         /*track_mala=*/true, backend);
    std::span<float> parameters(model.parameter_buffer().data(), count);
    std::uint64_t step_index = 0;
    auto update = [&] {
      slt::StepOptions options;
      options.seed = 7;
      options.noise_stream = step_index++;
      options.open_mala = true;
      sampler.step(parameters, {gradient.data(), count}, options);  // returns its sums to the host: waits
    };
    const double model_seconds = time_on_stream(backend, steps, [&] {
      model.forward_backward(tokens.data(), batch, seq_len, {gradient.data(), count});
    });
    const double sampler_seconds = time_on_stream(backend, steps, update);
    const double step_seconds = time_on_stream(backend, steps, [&] {
      model.forward_backward(tokens.data(), batch, seq_len, {gradient.data(), count});
      update();
    });
    return {{"ran", true},
            {"precision", "fp32"},
            {"batch", batch},
            {"seq_len", seq_len},
            {"parameters", count},
            {"seconds_per_step", step_seconds},
            {"model_seconds", model_seconds},
            {"sampler_seconds", sampler_seconds},
            {"sampler_share", sampler_seconds / step_seconds}};
  } catch (const backend::UnsupportedOp& missing) {
    return {{"ran", false}, {"why", missing.what()}};
  }
}

}  // namespace

int main(int argc, char** argv) try {
  po::options_description options("llcpress_bench_gpu options");
  options.add_options()("help", "this text")("json", po::value<std::string>()->default_value(""),
                                             "write the results as JSON to this file")(
      "batch", po::value<int>()->default_value(4), "sequences per step")(
      "seq-len", po::value<int>()->default_value(2048), "tokens per sequence")(
      "steps", po::value<int>()->default_value(5), "timed steps per configuration")(
      "quick", po::bool_switch(), "Pythia-160m only, 2 timed steps (a smoke run)");
  po::variables_map vm;
  po::store(po::parse_command_line(argc, argv, options), vm);
  po::notify(vm);
  if (vm.count("help")) {
    std::cout << options;
    return 0;
  }
  const DeviceInfo device = select_device(DeviceKind::Cuda, local_rank_from_environment(), "llcpress_bench_gpu");
  const int batch = vm["batch"].as<int>(), seq_len = vm["seq-len"].as<int>();
  const bool quick = vm["quick"].as<bool>();
  const int steps = quick ? 2 : vm["steps"].as<int>();
  nlohmann::json results = nlohmann::json::array();
  std::vector<std::pair<std::string, formats::NeoxConfig>> models = {{"pythia-160m", pythia(12, 768, 12)}};
  if (!quick) models.emplace_back("pythia-410m", pythia(24, 1024, 16));
  for (const auto& [name, config] : models)
    for (cuda::Precision precision : {cuda::Precision::Fp32, cuda::Precision::Tf32, cuda::Precision::Bf16}) {
      nlohmann::json entry = gemm_step(config, batch, seq_len, precision, steps, device.name);
      entry["model"] = name;
      entry["batch"] = batch;
      entry["seq_len"] = seq_len;
      std::cout << fmt::format("{:12} {:5} GEMMs of a step: {:8.2f} ms, {:7.1f} TFLOP/s, MFU(GEMMs) {}\n", name,
                               entry["precision"].get<std::string>(), 1e3 * entry["seconds_per_step"].get<double>(),
                               entry["gemm_tflops"].get<double>(), entry["gemm_mfu"].dump());
      results.push_back(entry);
    }
  nlohmann::json model_steps = nlohmann::json::array();
  for (const auto& [name, config] : models)
    for (cuda::Precision precision : {cuda::Precision::Fp32, cuda::Precision::Tf32, cuda::Precision::Bf16}) {
      nlohmann::json entry = model_step(config, batch, seq_len, precision, steps, device.name);
      entry["model"] = name;
      std::cout << fmt::format(
          "{:12} {:5} model step: {}\n", name, cuda::precision_name(precision),
          entry["ran"].get<bool>()
              ? fmt::format("{:.2f} ms, {:.0f} tokens/s, MFU {}", 1e3 * entry["seconds_per_step"].get<double>(),
                            entry["tokens_per_second"].get<double>(), entry["mfu"].dump())
              : "not run: " + entry["why"].get<std::string>());
      model_steps.push_back(entry);
      if (!entry["ran"].get<bool>()) break;  // the same op is missing in every precision
    }
  nlohmann::json sgld = sgld_step(models.front().second, batch, seq_len, steps);
  sgld["model"] = models.front().first;
  std::cout << fmt::format("{:12} fp32  SGLD step: {}\n", models.front().first,
                           sgld["ran"].get<bool>() ? fmt::format("{:.2f} ms (sampler update {:.2f} ms)",
                                                                 1e3 * sgld["seconds_per_step"].get<double>(),
                                                                 1e3 * sgld["sampler_seconds"].get<double>())
                                                   : "not run: " + sgld["why"].get<std::string>());
  nlohmann::json report = {{"device", active_device().description()},
                           {"gemm_steps", results},
                           {"model_steps", model_steps},
                           {"sgld_step", sgld}};
  const std::string path = vm["json"].as<std::string>();
  if (!path.empty()) std::ofstream(path) << report.dump(2) << "\n";
  return 0;
} catch (const std::exception& error) {
  std::cerr << "llcpress_bench_gpu: " << error.what() << "\n";
  return 1;
}
