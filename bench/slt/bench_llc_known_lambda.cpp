// λ̂ against the true λ on the reference models, for quick sweeps without the
// CLI: every argument is key=value (keys below), e.g.
//   bench_llc_known_lambda model=rrr dims=3,3,3 rank=1 nbeta=1000 gamma=10 epsilon=1e-4,3e-4 chains=8 draws=2000
#include <cstdio>
#include <map>
#include <sstream>
#include <string>

#include "core/log.h"
#include "core/timer.h"
#include "slt/calibration.h"

using namespace llcpress;
using namespace llcpress::slt;

namespace {
std::vector<double> doubles(const std::string& text) {
  std::vector<double> out;
  std::stringstream s(text);
  std::string item;
  while (std::getline(s, item, ',')) out.push_back(std::stod(item));
  return out;
}
std::vector<int> ints(const std::string& text) {
  std::vector<int> out;
  for (double d : doubles(text)) out.push_back(static_cast<int>(d));
  return out;
}
}  // namespace

int main(int argc, char** argv) {
  init_logging(-1, 1, "warn");
  std::map<std::string, std::string> args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto eq = a.find('=');
    if (eq == std::string::npos) {
      std::fprintf(stderr, "arguments are key=value\n");
      return 2;
    }
    args[a.substr(0, eq)] = a.substr(eq + 1);
  }
  auto get = [&](const std::string& key, const std::string& fallback) {
    return args.count(key) ? args[key] : fallback;
  };
  ReferenceModelSpec spec;
  spec.kind = get("model", "normal-crossing");
  spec.powers = ints(get("powers", "1,2"));
  auto dims = ints(get("dims", "3,3,3"));
  spec.input_dim = dims.at(0), spec.hidden_dim = dims.at(1), spec.output_dim = dims.at(2);
  spec.rank = std::stoi(get("rank", "1"));
  spec.samples = std::stoul(get("samples", "1000"));
  spec.noise_std = std::stod(get("noise_std", "-1"));
  spec.sigma = std::stod(get("sigma", "-1"));
  spec.input_std = std::stod(get("input_std", "-1"));
  spec.data_seed = std::stoull(get("data_seed", "0"));
  LlcConfig config;
  config.sampler.kind = parse_sampler_kind(get("sampler", "sgld"));
  config.sampler.localization = std::stod(get("gamma", "1"));
  config.sampler.weight_decay = std::stod(get("weight_decay", "0"));
  config.sampler.rmsprop_eps = std::stod(get("rmsprop_eps", "0.1"));
  config.chains = std::stoi(get("chains", "8"));
  config.burn_in = std::stoi(get("burn_in", "1000"));
  config.draws = std::stoi(get("draws", "1000"));
  config.steps_between_draws = std::stoi(get("steps_between_draws", "1"));
  config.batch_size = std::stoul(get("batch", "1000"));
  config.init_batches = std::stoi(get("init_batches", "8"));
  config.seed = std::stoull(get("seed", "1"));
  config.mala = get("mala", "1") == "1";
  config.progress = false;
  Stopwatch clock;
  const auto result = calibration_grid(spec, config, doubles(get("epsilon", "1e-4")), doubles(get("nbeta", "100")));
  std::printf("%s  true lambda %.4f (m=%d, %s)\n", result.model.c_str(), result.truth.lambda, result.truth.multiplicity,
              result.truth.formula.c_str());
  std::printf("%10s %10s %10s %10s %10s %6s %8s %8s\n", "nbeta", "epsilon", "llc", "std", "stderr", "div", "mala",
              "rel.err");
  for (const auto& p : result.points)
    std::printf("%10.4g %10.3g %10.4f %10.4f %10.4f %6d %8.3f %+8.3f%s\n", p.nbeta, p.epsilon, p.llc_mean, p.llc_std,
                p.llc_standard_error, p.chains_diverged, p.mean_mala_acceptance, p.relative_error,
                p.stable ? "  stable" : "");
  std::printf("%.2f s\n", clock.seconds());
  return 0;
}
