// Costs of a compression sweep on a GPT-NeoX model: one held-out loss
// evaluation (the unit every sweep is counted in), compressing one tensor and
// the whole model per method, and — with --sweep — full sweeps (points, loss
// evaluations, seconds per method). Random weights unless --checkpoint is
// given; sweeps on random weights barely move the loss, so count sweep
// evaluations on trained checkpoints (the demo suite).
//
//   llcpress_bench_compress --model demo|demo32|demo64|demo96|pythia14m|CONFIG.json
//                           [--checkpoint DIR] [--data PREFIX] [--sequences N]
//                           [--seq-len T] [--batch B] [--threads N]
//                           [--sweep quant,svd,...] [--json]
#include <omp.h>

#include <boost/program_options.hpp>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "compress/method.h"
#include "compress/quantizer.h"
#include "compress/sweep.h"
#include "core/log.h"
#include "core/rng.h"
#include "core/timer.h"
#include "formats/checkpoint.h"
#include "formats/megatron.h"
#include "model/gpt_neox.h"
#include "model/neox_loss_model.h"

namespace po = boost::program_options;
using namespace llcpress;

namespace {

formats::NeoxConfig named_config(const std::string& name) {
  formats::NeoxConfig config;
  config.max_position_embeddings = 2048;
  config.rotary_pct = 0.25;
  if (name == "pythia14m") {  // EleutherAI/pythia-14m
    config.hidden_size = 128, config.num_hidden_layers = 6, config.num_attention_heads = 4;
    config.intermediate_size = 512, config.vocab_size = 50304;
  } else if (name == "demo" || name == "demo32" || name == "demo64" || name == "demo96") {
    // `llcpress make-suite` default sizes (docs/demo-suite.md); "demo" is the middle one.
    int hidden = name == "demo32" ? 32 : name == "demo96" ? 96 : 64;
    config.hidden_size = hidden, config.num_hidden_layers = 2, config.num_attention_heads = 4;
    config.intermediate_size = 4 * hidden, config.vocab_size = 512;
  } else {
    return formats::NeoxConfig::load(name);
  }
  return config;
}

// Process CPU seconds (all threads): on a shared machine the wall clock
// includes time other processes held the cores; with --threads 1 the CPU time
// is what the wall time would be on an idle machine.
double cpu_seconds() {
  timespec now{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + 1e-9 * static_cast<double>(now.tv_nsec);
}

struct Timing {
  double wall = 0, cpu = 0;
};

// Medians of wall and CPU time over `repeats` runs of `body`.
template <typename Body>
Timing median_timing(int repeats, Body body) {
  std::vector<double> walls, cpus;
  for (int i = 0; i < repeats; ++i) {
    Stopwatch watch;
    const double cpu_start = cpu_seconds();
    body();
    cpus.push_back(cpu_seconds() - cpu_start);
    walls.push_back(watch.seconds());
  }
  std::sort(walls.begin(), walls.end());
  std::sort(cpus.begin(), cpus.end());
  return {walls[walls.size() / 2], cpus[cpus.size() / 2]};
}

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> parts;
  std::size_t begin = 0;
  while (begin <= text.size()) {
    std::size_t end = text.find(',', begin);
    if (end == std::string::npos) end = text.size();
    if (end > begin) parts.push_back(text.substr(begin, end - begin));
    begin = end + 1;
  }
  return parts;
}

}  // namespace

int main(int argc, char** argv) {
  po::options_description options("llcpress_bench_compress");
  options.add_options()("help", "show help")("model", po::value<std::string>()->default_value("demo"),
                                             "demo|demo32|demo64|demo96|pythia14m|CONFIG.json")(
      "checkpoint", po::value<std::string>()->default_value(""), "load these weights (overrides --model)")(
      "data", po::value<std::string>()->default_value(""), "held-out Megatron prefix (default: random tokens)")(
      "sequences", po::value<int>()->default_value(16), "held-out sequences per loss evaluation")(
      "seq-len", po::value<int>()->default_value(128), "tokens per sequence")(
      "batch", po::value<int>()->default_value(8), "sequences per forward pass")(
      "threads", po::value<int>()->default_value(0), "OpenMP threads (0: default)")(
      "repeats", po::value<int>()->default_value(3), "timings are medians of this many runs")(
      "sweep", po::value<std::string>()->default_value(""), "run full sweeps of these methods (comma list)")(
      "json", po::bool_switch(), "print JSON");
  po::variables_map vm;
  po::store(po::parse_command_line(argc, argv, options), vm);
  po::notify(vm);
  if (vm.count("help")) {
    std::cout << options << "\n";
    return 0;
  }
  init_logging(-1, 1, "warn");
  if (vm["threads"].as<int>() > 0) omp_set_num_threads(vm["threads"].as<int>());
  const int sequences = vm["sequences"].as<int>(), seq_len = vm["seq-len"].as<int>();
  const int batch = std::min(vm["batch"].as<int>(), sequences), repeats = vm["repeats"].as<int>();

  std::unique_ptr<formats::Checkpoint> checkpoint;
  std::unique_ptr<GptNeox> model;
  std::string model_name = vm["model"].as<std::string>();
  if (!vm["checkpoint"].as<std::string>().empty()) {
    checkpoint = std::make_unique<formats::Checkpoint>(formats::Checkpoint::open(vm["checkpoint"].as<std::string>()));
    model = GptNeox::from_checkpoint(*checkpoint, batch, seq_len);
    model_name = vm["checkpoint"].as<std::string>();
  } else {
    model = std::make_unique<GptNeox>(named_config(model_name), batch, seq_len);
    model->init_random(1);
  }
  const formats::NeoxConfig& config = model->config();

  // Held-out tokens: the given dataset, or uniform random tokens in a temporary one.
  std::string prefix = vm["data"].as<std::string>();
  std::filesystem::path temporary;
  if (prefix.empty()) {
    temporary = std::filesystem::temp_directory_path() / ("llcpress_bench_compress_" + std::to_string(getpid()));
    std::filesystem::create_directories(temporary);
    prefix = (temporary / "tokens").string();
    std::vector<std::vector<std::int64_t>> rows(static_cast<std::size_t>(sequences));
    for (int s = 0; s < sequences; ++s)
      for (int t = 0; t <= seq_len; ++t)
        rows[s].push_back(static_cast<std::int64_t>(philox_uniform_at(5, s, t) * (config.vocab_size - 1)));
    formats::write_megatron(prefix, rows, formats::DType::U16);
  }
  const formats::MegatronDataset dataset = formats::MegatronDataset::open(prefix);
  NeoxLossModel loss_model(*model, dataset, seq_len);
  std::vector<std::int64_t> samples(static_cast<std::size_t>(sequences));
  for (int s = 0; s < sequences; ++s) samples[s] = s;

  nlohmann::json report;
  report["model"] = model_name;
  report["parameters"] = model->num_parameters();
  report["threads"] = omp_get_max_threads();
  report["held_out"] = {{"sequences", sequences}, {"seq_len", seq_len}, {"batch", batch}};

  // 1. One held-out loss evaluation.
  double loss = 0;
  compress::HeldOutLoss oracle(loss_model, samples, static_cast<std::size_t>(batch));
  oracle.loss();  // warm-up
  const Timing loss_timing = median_timing(repeats, [&] { loss = oracle.loss(); });
  const double loss_seconds = loss_timing.wall;
  report["loss_evaluation"] = {{"seconds", loss_seconds},
                               {"cpu_seconds", loss_timing.cpu},
                               {"evaluations_per_second", 1.0 / loss_seconds},
                               {"tokens_per_second", double(sequences) * seq_len / loss_seconds},
                               {"loss", loss}};

  // 2. One tensor: the largest linear weight, and the embedding.
  const ParameterTable& table = model->parameter_table();
  const ParameterView* largest = nullptr;
  for (const ParameterView& view : table.views())
    if (view.role == TensorRole::Linear && (!largest || view.size > largest->size)) largest = &view;
  nlohmann::json tensors = nlohmann::json::array();
  for (const ParameterView* view : {largest, table.find("gpt_neox.embed_in.weight")}) {
    if (!view) continue;
    auto weights = oracle.reference().subspan(view->offset, view->size);
    std::vector<float> out(view->size);
    std::vector<float> clips;
    const Timing clip_timing = median_timing(repeats, [&] {
      clips = compress::choose_clips(weights, view->rows(), view->cols(), false, 16, compress::ClipRule::MseOptimal);
    });
    const Timing quantize_timing = median_timing(repeats, [&] {
      compress::quantize_tensor_forward(out, weights, 1, static_cast<std::int64_t>(view->size), 16, clips);
    });
    tensors.push_back(
        {{"tensor", view->name},
         {"shape", view->shape},
         {"mse_clip_search_seconds", clip_timing.wall},
         {"quantize_seconds", quantize_timing.wall},
         {"mse_clip_search_cpu_seconds", clip_timing.cpu},
         {"quantize_cpu_seconds", quantize_timing.cpu},
         {"loss_evaluations_per_quantization", (clip_timing.cpu + quantize_timing.cpu) / loss_timing.cpu}});
  }
  report["one_tensor_16_levels"] = tensors;

  // 3. Whole model per method: prepare once, then apply at the middle of its range.
  nlohmann::json methods = nlohmann::json::array();
  for (const compress::MethodEntry& entry : compress::method_table()) {
    compress::MethodOptions method_options;
    method_options.num_heads = config.num_attention_heads;
    auto method = entry.make(method_options);
    Stopwatch watch;
    method->prepare(table, oracle.reference());
    const double prepare_seconds = watch.seconds();
    compress::SearchAxis axis = method->axis();
    double parameter = axis.integer ? std::round(axis.from_position(0.5)) : axis.from_position(0.5);
    std::vector<float> out(oracle.reference().size());
    watch.reset();
    method->apply(out, oracle.reference(), parameter);  // first call: quant computes its clips here
    const double first_apply = watch.seconds();
    const Timing apply_timing = median_timing(repeats, [&] { method->apply(out, oracle.reference(), parameter); });
    const double apply_seconds = apply_timing.wall;
    methods.push_back({{"method", entry.info.name},
                       {"parameter", parameter},
                       {"prepare_seconds", prepare_seconds},
                       {"first_apply_seconds", first_apply},
                       {"apply_seconds", apply_seconds},
                       {"apply_cpu_seconds", apply_timing.cpu},
                       {"apply_over_loss_evaluation", apply_timing.cpu / loss_timing.cpu}});
  }
  report["whole_model"] = methods;

  // 4. Full sweeps.
  nlohmann::json sweeps = nlohmann::json::array();
  for (const std::string& name : split(vm["sweep"].as<std::string>())) {
    compress::SweepConfig sweep;
    sweep.method = name;
    sweep.options.num_heads = config.num_attention_heads;
    compress::SweepResult result = compress::run_sweep(loss_model, sweep, samples, static_cast<std::size_t>(batch));
    nlohmann::json criticals = nlohmann::json::array();
    for (const auto& c : result.criticals)
      criticals.push_back({{"eps", c.search.epsilon},
                           {"status", compress::critical_status_name(c.search.status)},
                           {"critical_amount", c.search.critical},
                           {"new_evaluations", c.search.new_evaluations}});
    sweeps.push_back({{"method", name},
                      {"points", result.points.size()},
                      {"loss_evaluations", result.loss_evaluations},
                      {"seconds", result.seconds_total},
                      {"seconds_loss", result.seconds_loss},
                      {"seconds_apply", result.seconds_apply},
                      {"seconds_prepare", result.seconds_prepare},
                      {"criticals", criticals}});
  }
  if (!sweeps.empty()) report["sweeps"] = sweeps;
  if (!temporary.empty()) std::filesystem::remove_all(temporary);

  if (vm["json"].as<bool>()) {
    std::cout << report.dump(2) << "\n";
    return 0;
  }
  std::printf("model %s: %zu parameters, %d threads; held-out %d x %d tokens, batch %d\n", model_name.c_str(),
              model->num_parameters(), omp_get_max_threads(), sequences, seq_len, batch);
  std::printf(
      "loss evaluation: %.4f s wall, %.4f s CPU (%.2f evaluations/s, %.0f tokens/s by wall; %.2f / %.0f by CPU)\n",
      loss_seconds, loss_timing.cpu, 1 / loss_seconds, double(sequences) * seq_len / loss_seconds, 1 / loss_timing.cpu,
      double(sequences) * seq_len / loss_timing.cpu);
  for (const auto& t : tensors)
    std::printf("tensor %-45s MSE clip %.5f s CPU, quantize %.6f s CPU (= %.4f loss evaluations)\n",
                t["tensor"].get<std::string>().c_str(), t["mse_clip_search_cpu_seconds"].get<double>(),
                t["quantize_cpu_seconds"].get<double>(), t["loss_evaluations_per_quantization"].get<double>());
  std::printf("%-14s %10s %12s %14s %12s %12s %10s\n", "method", "parameter", "prepare s", "first apply s", "apply s",
              "apply CPU s", "apply/loss");
  for (const auto& m : methods)
    std::printf("%-14s %10.4g %12.5f %14.5f %12.6f %12.6f %10.4f\n", m["method"].get<std::string>().c_str(),
                m["parameter"].get<double>(), m["prepare_seconds"].get<double>(),
                m["first_apply_seconds"].get<double>(), m["apply_seconds"].get<double>(),
                m["apply_cpu_seconds"].get<double>(), m["apply_over_loss_evaluation"].get<double>());
  for (const auto& s : sweeps) {
    std::printf("sweep %-14s %3zu points %4d loss evaluations %8.2f s (loss %.2f s, apply %.2f s, prepare %.2f s)\n",
                s["method"].get<std::string>().c_str(), s["points"].get<std::size_t>(),
                s["loss_evaluations"].get<int>(), s["seconds"].get<double>(), s["seconds_loss"].get<double>(),
                s["seconds_apply"].get<double>(), s["seconds_prepare"].get<double>());
  }
  return 0;
}
