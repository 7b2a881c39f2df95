// llcpress make-suite --out DIR — the embedded demo suite: a synthetic corpus
// and tiny GPT-NeoX models trained on it with checkpoints at Pythia-style steps.
#include <omp.h>

#include <iostream>
#include <sstream>

#include "cli/device_option.h"
#include "cli/subcommand.h"
#include "core/check.h"
#include "train/demo_suite.h"

namespace llcpress::cli {
namespace {

std::vector<int> parse_sizes(const std::string& text) {
  std::vector<int> sizes;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    std::size_t used = 0;
    int value = 0;
    try {
      value = std::stoi(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    LLC_CHECK(used == item.size() && !item.empty() && value > 0, ConfigError, "make-suite --sizes",
              "give hidden sizes as a comma-separated list, e.g. 32,64,96", "'{}' is not a positive integer", item);
    sizes.push_back(value);
  }
  return sizes;
}

int make_suite_main(int argc, char** argv) {
  DemoSuiteConfig suite;
  po::options_description options("make-suite options");
  options.add_options()("out", po::value<std::string>()->required(), "output directory")(
      "sizes", po::value<std::string>()->default_value("32,64,96"),
      "hidden sizes of the models, comma-separated (H / heads must be a multiple of 8)")(
      "layers", po::value<int>()->default_value(suite.layers), "transformer layers per model")(
      "heads", po::value<int>()->default_value(suite.heads), "attention heads per model")(
      "vocab", po::value<int>()->default_value(suite.vocab_size),
      "vocabulary of the corpus and the models (Pythia: 50304)")(
      "steps", po::value<std::int64_t>()->default_value(suite.steps), "training steps per model")(
      "batch", po::value<int>()->default_value(suite.batch), "sequences per step")(
      "seq-len", po::value<int>()->default_value(suite.seq_len), "tokens per training window (T)")(
      "lr", po::value<double>()->default_value(suite.peak_learning_rate), "peak learning rate")(
      "checkpoint-interval", po::value<std::int64_t>()->default_value(suite.checkpoint_interval),
      "checkpoints at 0, powers of two below this, then its multiples (Pythia: 1000)")(
      "seed", po::value<std::uint64_t>()->default_value(suite.seed), "corpus and initialisation seed")(
      "threads", po::value<int>()->default_value(0), "threads (0 = OpenMP default)")("json", po::bool_switch(),
                                                                                     "print suite.json on stdout");
  add_device_option(options);
  auto values =
      parse_options("make-suite", "--out DIR [--sizes 32,64,96] [--steps N] [--seq-len T] [--seed S] [--threads N]",
                    options, argc, argv);
  if (!values) return 0;
  const auto& v = *values;
  // The demo models are trained by train/trainer.cpp, whose AdamW updates the parameters in host memory: a
  // GPU is named here (so a missing one is still reported first) but the training stays on the CPU.
  const DeviceInfo device = read_device_option(v);
  LLC_CHECK(device.kind == DeviceKind::Cpu, ConfigError, "--device",
            "use --device cpu (the demo models train in seconds on the CPU); llc, sweep, eval and run compute on cuda",
            "make-suite trains on the CPU only (its AdamW optimizer updates host memory), not on {}",
            device.description());
  suite.output_directory = v["out"].as<std::string>();
  suite.hidden_sizes = parse_sizes(v["sizes"].as<std::string>());
  suite.layers = v["layers"].as<int>();
  suite.heads = v["heads"].as<int>();
  suite.vocab_size = v["vocab"].as<int>();
  suite.steps = v["steps"].as<std::int64_t>();
  suite.batch = v["batch"].as<int>();
  suite.seq_len = v["seq-len"].as<int>();
  suite.peak_learning_rate = v["lr"].as<double>();
  suite.checkpoint_interval = v["checkpoint-interval"].as<std::int64_t>();
  suite.seed = v["seed"].as<std::uint64_t>();
  const int threads = v["threads"].as<int>();
  LLC_CHECK(threads >= 0, ConfigError, "make-suite --threads", "use 0 (default) or a positive count",
            "--threads {} is negative", threads);
  if (threads > 0) omp_set_num_threads(threads);

  const nlohmann::json document = build_demo_suite(suite);
  if (v["json"].as<bool>()) {
    print_json(document);
    return 0;
  }
  // Held-out loss per step (rows) and model (columns).
  const auto& models = document["models"];
  std::cout << fmt::format("demo suite in {} ({:.1f} s)\n\n{:>8}", suite.output_directory,
                           document["seconds"].get<double>(), "step");
  for (const auto& model : models) std::cout << fmt::format(" {:>12}", model["name"].get<std::string>());
  std::cout << "\n";
  const auto& first = models[0]["checkpoints"];
  for (std::size_t row = 0; row < first.size(); ++row) {
    std::cout << fmt::format("{:>8}", first[row]["step"].get<std::int64_t>());
    for (const auto& model : models) {
      const auto& record = model["checkpoints"][row];
      std::cout << (record["heldout_loss"].is_null() ? fmt::format(" {:>12}", "-")
                                                     : fmt::format(" {:>12.4f}", record["heldout_loss"].get<double>()));
    }
    std::cout << "\n";
  }
  return 0;
}

}  // namespace

LLCPRESS_SUBCOMMAND("make-suite", "build the embedded demo suite: synthetic corpus + tiny GPT-NeoX checkpoints",
                    make_suite_main)

}  // namespace llcpress::cli
