// GPT-NeoX CPU throughput: forward and forward+backward tokens/s, achieved
// GFLOP/s, per-op timings at the model's shapes, this machine's SGEMM
// rate, and peak RSS. See bench/README.md for the commands and the FLOP count.
//
//   llcpress_bench_model --model pythia14m|demo|demo-166k|demo-58k|CONFIG.json [--batch B]
//                        [--seq-len T] [--threads N] [--iterations K] [--json]
#include <omp.h>
#include <sys/resource.h>
#include <time.h>

#include <Eigen/Core>
#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "backend/cpu_backend.h"
#include "core/rng.h"
#include "core/timer.h"
#include "core/version.h"
#include "formats/checkpoint.h"
#include "model/gpt_neox.h"
#include "model/ops/attention.h"
#include "model/ops/cross_entropy.h"
#include "model/ops/gelu.h"
#include "model/ops/gemm.h"
#include "model/ops/layernorm.h"
#include "model/ops/linear.h"
#include "model/ops/rotary.h"

namespace po = boost::program_options;
using namespace llcpress;

namespace {

formats::NeoxConfig named_config(const std::string& name) {
  formats::NeoxConfig config;
  if (name == "pythia14m") {  // EleutherAI/pythia-14m
    config.hidden_size = 128;
    config.num_hidden_layers = 6;
    config.num_attention_heads = 4;
    config.intermediate_size = 512;
    config.vocab_size = 50304;
  } else if (name == "demo" || name == "demo-322k" || name == "demo-166k" || name == "demo-58k") {
    // The default `llcpress make-suite` sizes; "demo" is the largest, demo-322k.
    config.hidden_size = name == "demo-58k" ? 32 : name == "demo-166k" ? 64 : 96;
    config.num_hidden_layers = 2;
    config.num_attention_heads = 4;
    config.intermediate_size = 4 * config.hidden_size;
    config.vocab_size = 512;
  } else {
    return formats::NeoxConfig::load(name);
  }
  config.max_position_embeddings = 2048;
  config.rotary_pct = 0.25;
  return config;
}

double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

// Timings of `repeats` calls of `body` after one warm-up call. We report the
// fastest: on a machine shared with other jobs the slower runs measure the
// neighbours (the median is kept in the JSON too).
// Also the process CPU time of the fastest call: with other jobs on the
// machine, wall time includes waiting for a core while CPU time does not
// (with one thread, CPU time is the uncontended wall time).
struct Timing {
  double best = 0, median = 0, cpu_best = 0;
};
double process_cpu_seconds() {
  timespec now{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + 1e-9 * static_cast<double>(now.tv_nsec);
}
template <typename Body>
Timing time_calls(int repeats, Body body) {
  body();
  std::vector<double> times, cpu_times;
  for (int i = 0; i < repeats; ++i) {
    const double cpu_start = process_cpu_seconds();
    Stopwatch stopwatch;
    body();
    times.push_back(stopwatch.seconds());
    cpu_times.push_back(process_cpu_seconds() - cpu_start);
  }
  std::sort(times.begin(), times.end());
  return {times.front(), times[times.size() / 2], *std::min_element(cpu_times.begin(), cpu_times.end())};
}

std::vector<float> random_buffer(std::size_t count, std::uint64_t stream, float scale = 1.0f) {
  std::vector<float> values(count);
  CounterRng(3, stream).fill_normal(values.data(), count, 0, scale);
  return values;
}

// The practical peak: SGEMM on square row-major matrices, through ops::gemm
// (OpenBLAS when built with it) and through Eigen; the faster of the two is
// the machine's practical FP32 GEMM rate the model's GEMMs are compared with.
// Wall-clock rate and the rate per process-CPU-second (with one thread the
// latter is the uncontended rate even on a shared machine).
struct GemmRate {
  double wall_gflops = 0, cpu_gflops = 0;
};
GemmRate square_sgemm_gflops(int size, bool through_eigen) {
  using Matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  Matrix a = Matrix::Random(size, size), b = Matrix::Random(size, size), c(size, size);
  const Timing timing = time_calls(3, [&] {
    if (through_eigen)
      c.noalias() = a * b;
    else
      ops::gemm(c.data(), a.data(), b.data(), size, size, size, ops::Transpose::No, ops::Transpose::No, 1.0f, 0.0f,
                size, size, size);
  });
  const double flops = 2.0 * size * size * static_cast<double>(size);
  return {flops / timing.best / 1e9, flops / timing.cpu_best / 1e9};
}

// Every op of one layer plus the head, at the model's shapes: time and, for
// the GEMMs, achieved GFLOP/s. Summed over layers this is close to the model
// time; the rest is copies and per-call overhead.
nlohmann::json op_timings(const formats::NeoxConfig& config, int batch, int seq_len, int repeats) {
  const std::int64_t rows = static_cast<std::int64_t>(batch) * seq_len;
  const int hidden = config.hidden_size, intermediate = config.intermediate_size, vocab = config.vocab_size;
  const int heads = config.num_attention_heads, head_dim = hidden / heads;
  const int rotary_dims = static_cast<int>(head_dim * config.rotary_pct);
  nlohmann::json ops_json = nlohmann::json::object();
  // Wall-clock best and process-CPU-time best of each op (see time_calls).
  auto record = [&](const std::string& name, const Timing& timing, double flops, int per_step) {
    ops_json[name] = {{"seconds", timing.best},
                      {"cpu_seconds", timing.cpu_best},
                      {"calls_per_step", per_step},
                      {"gflops", flops > 0 ? flops / timing.best / 1e9 : 0.0},
                      {"cpu_gflops", flops > 0 ? flops / timing.cpu_best / 1e9 : 0.0}};
  };
  auto linear_case = [&](const std::string& name, int in, int out, int per_step) {
    auto x = random_buffer(rows * in, 1), w = random_buffer(static_cast<std::size_t>(out) * in, 2, 0.02f);
    auto b = random_buffer(out, 3);
    std::vector<float> y(rows * out), dy = random_buffer(rows * out, 4), dx(rows * in), dw(w.size()), db(out);
    const double flops = 2.0 * rows * in * out;
    record(name + ".forward",
           time_calls(repeats, [&] { ops::linear_forward(y.data(), x.data(), w.data(), b.data(), rows, in, out); }),
           flops, per_step);
    record(name + ".backward",
           time_calls(repeats,
                      [&] {
                        ops::linear_backward(dx.data(), dw.data(), db.data(), dy.data(), x.data(), w.data(), rows, in,
                                             out);
                      }),
           2 * flops, per_step);
  };
  const int layers = config.num_hidden_layers;
  linear_case("linear_qkv", hidden, 3 * hidden, layers);
  linear_case("linear_dense", hidden, hidden, layers);
  linear_case("linear_h_to_4h", hidden, intermediate, layers);
  linear_case("linear_4h_to_h", intermediate, hidden, layers);
  linear_case("unembedding", hidden, vocab, 1);
  {
    auto qkv = random_buffer(rows * 3 * hidden, 5);
    std::vector<float> out(rows * hidden), lse(rows * heads), d_qkv(qkv.size());
    auto d_out = random_buffer(out.size(), 6);
    ops::AttentionWorkspace workspace(seq_len);
    // Useful causal FLOPs: q·kᵀ and p·v over T(T+1)/2 pairs (backward: twice that).
    const double flops = 4.0 * batch * heads * head_dim * seq_len * (seq_len + 1.0) / 2.0;
    record("attention.forward",
           time_calls(repeats,
                      [&] {
                        ops::attention_forward(out.data(), lse.data(), qkv.data(), batch, seq_len, heads, head_dim,
                                               workspace);
                      }),
           flops, layers);
    record("attention.backward",
           time_calls(repeats,
                      [&] {
                        ops::attention_backward(d_qkv.data(), d_out.data(), out.data(), lse.data(), qkv.data(), batch,
                                                seq_len, heads, head_dim, workspace);
                      }),
           2 * flops, layers);
    if (rotary_dims > 0) {
      std::vector<float> cos_table(static_cast<std::size_t>(seq_len) * rotary_dims / 2), sin_table(cos_table.size());
      ops::rotary_tables(cos_table.data(), sin_table.data(), seq_len, rotary_dims, config.rotary_emb_base);
      record("rotary.forward",
             time_calls(repeats,
                        [&] {
                          ops::rotary_forward(qkv.data(), cos_table.data(), sin_table.data(), batch, seq_len, heads,
                                              head_dim, rotary_dims);
                        }),
             0, layers);
    }
  }
  {
    auto x = random_buffer(rows * hidden, 7), w = random_buffer(hidden, 8), b = random_buffer(hidden, 9);
    std::vector<float> y(x.size()), mean(rows), rstd(rows), dx(x.size()), dw(hidden), db(hidden);
    record("layernorm.forward",
           time_calls(repeats,
                      [&] {
                        ops::layernorm_forward(y.data(), mean.data(), rstd.data(), x.data(), w.data(), b.data(), rows,
                                               hidden, 1e-5f);
                      }),
           0, 2 * layers + 1);
    record("layernorm.backward",
           time_calls(repeats,
                      [&] {
                        ops::layernorm_backward(dx.data(), dw.data(), db.data(), y.data(), x.data(), mean.data(),
                                                rstd.data(), w.data(), rows, hidden);
                      }),
           0, 2 * layers + 1);
  }
  {
    const auto kind = *ops::gelu_kind_from_name(config.hidden_act);
    auto x = random_buffer(rows * intermediate, 10);
    std::vector<float> y(x.size()), dx(x.size());
    record("gelu.forward",
           time_calls(repeats, [&] { ops::gelu_forward(y.data(), x.data(), rows * intermediate, kind); }), 0, layers);
    record("gelu.backward",
           time_calls(repeats, [&] { ops::gelu_backward(dx.data(), y.data(), x.data(), rows * intermediate, kind); }),
           0, layers);
  }
  {
    auto logits = random_buffer(static_cast<std::size_t>(rows) * vocab, 11);
    std::vector<std::int32_t> targets(rows);
    for (std::int64_t i = 0; i < rows; ++i) targets[i] = static_cast<std::int32_t>(i * 7919 % vocab);
    std::vector<float> losses(rows), lse(rows), d_logits(logits.size());
    record(
        "cross_entropy.forward",
        time_calls(
            repeats,
            [&] { ops::cross_entropy_forward(losses.data(), lse.data(), logits.data(), targets.data(), rows, vocab); }),
        0, 1);
    record("cross_entropy.backward",
           time_calls(repeats,
                      [&] {
                        ops::cross_entropy_backward(d_logits.data(), logits.data(), lse.data(), targets.data(),
                                                    1.0f / rows, rows, vocab);
                      }),
           0, 1);
  }
  return ops_json;
}

}  // namespace

// The model's activations plus the CPU backend's attention workspace (which
// the model owned before the backend seam), so the figure means what it did.
std::size_t activation_bytes(const GptNeox& model) {
  const auto* cpu = dynamic_cast<const backend::CpuBackend*>(&model.backend());
  return model.activation_bytes() + (cpu != nullptr ? cpu->workspace_bytes() : 0);
}

int main(int argc, char** argv) {
  po::options_description options("llcpress_bench_model options");
  options.add_options()("help,h", "show this help")(
      "model", po::value<std::string>()->default_value("pythia14m"),
      "pythia14m, demo (= demo-322k), demo-166k, demo-58k, or a config.json path")(
      "batch", po::value<int>()->default_value(4), "sequences per step")(
      "seq-len", po::value<int>()->default_value(512), "tokens per sequence")(
      "threads", po::value<int>()->default_value(0), "OpenMP threads (0: OMP_NUM_THREADS or all cores)")(
      "iterations", po::value<int>()->default_value(5), "timed steps (median reported) after one warm-up")(
      "ops", po::bool_switch(), "also time every op at the model's shapes")(
      "gemm-size", po::value<int>()->default_value(2048), "size of the square SGEMM that measures peak (0: skip)")(
      "json", po::bool_switch(), "print JSON only");
  po::variables_map vm;
  po::store(po::parse_command_line(argc, argv, options), vm);
  po::notify(vm);
  if (vm.count("help")) {
    std::cout << options << "\n";
    return 0;
  }
  if (vm["threads"].as<int>() > 0) omp_set_num_threads(vm["threads"].as<int>());
  const std::string model_name = vm["model"].as<std::string>();
  const int batch = vm["batch"].as<int>(), seq_len = vm["seq-len"].as<int>(), repeats = vm["iterations"].as<int>();
  const formats::NeoxConfig config = named_config(model_name);

  const double rss_start = peak_rss_mib();
  GptNeox model(config, batch, seq_len);
  model.init_random(1);
  std::vector<float> gradient(model.num_parameters());
  std::vector<std::int32_t> tokens(static_cast<std::size_t>(batch) * (seq_len + 1));
  for (std::size_t i = 0; i < tokens.size(); ++i)
    tokens[i] = static_cast<std::int32_t>(philox_uniform_at(2, 0, i) * config.vocab_size) % config.vocab_size;

  double loss = 0.0;
  const Timing forward_timing = time_calls(repeats, [&] { loss = model.forward(tokens.data(), batch, seq_len); });
  const Timing step_timing = time_calls(repeats, [&] {
    loss = model.forward(tokens.data(), batch, seq_len);
    model.backward(gradient);
  });
  const double forward_seconds = forward_timing.best, step_seconds = step_timing.best;
  const double rss_peak = peak_rss_mib();
  const double tokens_per_step = static_cast<double>(batch) * seq_len;
  const double step_flops = neox_training_flops(config, batch, seq_len);

  nlohmann::json result = {
      {"implementation", "llcpress (Eigen " + std::to_string(EIGEN_WORLD_VERSION) + "." +
                             std::to_string(EIGEN_MAJOR_VERSION) + "." + std::to_string(EIGEN_MINOR_VERSION) +
                             ", OpenMP, GEMM: " + llcpress::gemm_library() + ")"},
      {"model", model_name},
      {"hidden_size", config.hidden_size},
      {"layers", config.num_hidden_layers},
      {"heads", config.num_attention_heads},
      {"vocab_size", config.vocab_size},
      {"parameters", model.num_parameters()},
      {"batch", batch},
      {"seq_len", seq_len},
      {"threads", omp_get_max_threads()},
      {"loss", loss},
      {"forward_seconds", forward_seconds},
      {"forward_tokens_per_second", tokens_per_step / forward_seconds},
      {"forward_gflops", step_flops / 3.0 / forward_seconds / 1e9},
      {"step_seconds", step_seconds},
      {"step_tokens_per_second", tokens_per_step / step_seconds},
      {"step_gflops", step_flops / step_seconds / 1e9},
      {"step_flops", step_flops},
      {"forward_seconds_median", forward_timing.median},
      {"forward_cpu_seconds", forward_timing.cpu_best},
      {"step_cpu_seconds", step_timing.cpu_best},
      {"step_seconds_median", step_timing.median},
      {"timing", "best of iterations (median in *_median)"},
      {"parameters_mib", model.num_parameters() * 4.0 / 1048576.0},
      {"gradients_mib", model.num_parameters() * 4.0 / 1048576.0},
      {"activations_mib", activation_bytes(model) / 1048576.0},
      {"peak_rss_mib", rss_peak},
      {"rss_before_model_mib", rss_start},
  };
  if (vm["ops"].as<bool>()) result["ops"] = op_timings(config, batch, seq_len, repeats);
  if (vm["gemm-size"].as<int>() > 0) {
    const int size = vm["gemm-size"].as<int>();
    const GemmRate library = square_sgemm_gflops(size, false), eigen = square_sgemm_gflops(size, true);
    result["sgemm_size"] = size;
    result["sgemm_backend"] = llcpress::gemm_library();
    result["sgemm_library_cpu_gflops"] = library.cpu_gflops;
    result["sgemm_eigen_cpu_gflops"] = eigen.cpu_gflops;
    // The practical peak: the faster of the two.
    const GemmRate& peak = library.cpu_gflops >= eigen.cpu_gflops ? library : eigen;
    result["sgemm_gflops"] = peak.wall_gflops;
    result["sgemm_cpu_gflops"] = peak.cpu_gflops;
  }
  if (vm["json"].as<bool>()) {
    std::cout << result.dump(2) << std::endl;
    return 0;
  }
  std::printf("%s: %zu parameters, batch %d x seq %d, %d threads\n", model_name.c_str(), model.num_parameters(), batch,
              seq_len, omp_get_max_threads());
  std::printf("  forward          %8.1f ms  %9.0f tokens/s  %6.1f GFLOP/s\n", forward_seconds * 1e3,
              tokens_per_step / forward_seconds, step_flops / 3.0 / forward_seconds / 1e9);
  std::printf("  forward+backward %8.1f ms  %9.0f tokens/s  %6.1f GFLOP/s\n", step_seconds * 1e3,
              tokens_per_step / step_seconds, step_flops / step_seconds / 1e9);
  std::printf("  process CPU time: forward %.1f ms, forward+backward %.1f ms (%.0f tokens/s per CPU-second)\n",
              forward_timing.cpu_best * 1e3, step_timing.cpu_best * 1e3, tokens_per_step / step_timing.cpu_best);
  std::printf("  memory: parameters %.1f MiB, gradients %.1f MiB, activations %.1f MiB, peak RSS %.1f MiB\n",
              model.num_parameters() * 4.0 / 1048576.0, model.num_parameters() * 4.0 / 1048576.0,
              activation_bytes(model) / 1048576.0, rss_peak);
  if (result.contains("ops")) {
    std::printf("  per op (one call, at this batch):\n");
    for (const auto& [name, op] : result["ops"].items())
      std::printf("    %-24s %8.2f ms (CPU %8.2f ms)  x%-3d %7.1f GFLOP/s (per CPU-second %7.1f)\n", name.c_str(),
                  op["seconds"].get<double>() * 1e3, op["cpu_seconds"].get<double>() * 1e3,
                  op["calls_per_step"].get<int>(), op["gflops"].get<double>(), op["cpu_gflops"].get<double>());
  }
  if (result.contains("sgemm_gflops"))
    std::printf("  SGEMM %d^3 per CPU-second: ops::gemm (%s) %.1f GFLOP/s, Eigen %.1f GFLOP/s\n",
                result["sgemm_size"].get<int>(), result["sgemm_backend"].get<std::string>().c_str(),
                result["sgemm_library_cpu_gflops"].get<double>(), result["sgemm_eigen_cpu_gflops"].get<double>());
  return 0;
}
