// llcpress calibrate --model normal-crossing|monomial|rrr [model keys] [sampler keys] [--grid] [--json]
// The LLC estimator on a model whose learning coefficient is known: λ̂ ± std
// against the true λ; with --grid a sweep over ε (and nβ) that shows where the
// estimate is stable — the place to choose ε before running on a language model.
#include <omp.h>

#include <iostream>
#include <sstream>

#include "cli/subcommand.h"
#include "core/check.h"
#include "core/log.h"
#include "core/version.h"
#include "pipeline/task_options.h"
#include "slt/calibration.h"
#include "slt/llc_output.h"

namespace llcpress::cli {
namespace {

std::vector<double> parse_doubles(const std::string& text, const char* key) {
  std::vector<double> out;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    try {
      std::size_t used = 0;
      out.push_back(std::stod(item, &used));
      LLC_CHECK(used == item.size(), ConfigError, key, "write a comma-separated list of numbers", "'{}'", item);
    } catch (const std::logic_error&) {
      LLC_THROW(ConfigError, key, "write a comma-separated list of numbers", "'{}' is not a number", item);
    }
  }
  LLC_CHECK(!out.empty(), ConfigError, key, "give at least one value", "empty list");
  return out;
}

std::vector<int> parse_ints(const std::string& text, const char* key) {
  std::vector<int> out;
  for (double v : parse_doubles(text, key)) {
    LLC_CHECK(v == static_cast<int>(v), ConfigError, key, "use integers", "{} is not an integer", v);
    out.push_back(static_cast<int>(v));
  }
  return out;
}

// "LOW:HIGH:COUNT" (log-spaced) or a comma-separated list.
std::vector<double> parse_grid(const std::string& text, const char* key) {
  if (std::count(text.begin(), text.end(), ':') == 2) {
    const auto a = text.find(':'), b = text.rfind(':');
    const double low = parse_doubles(text.substr(0, a), key)[0],
                 high = parse_doubles(text.substr(a + 1, b - a - 1), key)[0];
    const int count = parse_ints(text.substr(b + 1), key)[0];
    return slt::log_grid(low, high, count);
  }
  return parse_doubles(text, key);
}

int run_calibrate(int argc, char** argv) {
  // The sampler and chain keys of `llc`, with the toy-model defaults the table lists for calibrate (and why).
  const auto& table = llc_option_table();
  po::options_description options("calibrate options");
  options.add_options()("model", po::value<std::string>()->default_value("normal-crossing"),
                        "normal-crossing | monomial | rrr")(
      "powers", po::value<std::string>()->default_value("1,2"),
      "normal crossing: exponents k_i of f = x·Π w_i^k_i; monomial: even exponents p_i of K = ½Σ w_i^p_i")(
      "dims", po::value<std::string>()->default_value("3,3,3"), "rrr: M,H,N (input, hidden, output)")(
      "rank", po::value<int>()->default_value(1), "rrr: true rank r")(
      "samples", po::value<std::size_t>()->default_value(1000), "dataset size n")(
      "input-std", po::value<double>()->default_value(-1), "std of the inputs x (default: 2 normal crossing, 1 rrr)")(
      "noise-std", po::value<double>()->default_value(0.0),
      "std of the target noise (0: noiseless targets, so L(w*) is exactly 0 on every batch; with noise use a "
      "full batch, --batch = --samples, or L_init's batch noise times nβ swamps λ)")(
      "sigma", po::value<double>()->default_value(-1),
      "likelihood scale σ: loss = (y − f)²/(2σ²) (default: 0.25 normal crossing, 1 rrr)")(
      "data-seed", po::value<std::uint64_t>()->default_value(0), "seed of the generated data")(
      "grid", po::bool_switch(), "sweep ε (and nβ) instead of one run")(
      "grid-epsilon", po::value<std::string>()->default_value(""),
      "ε values for --grid: LOW:HIGH:COUNT (log-spaced) or a list (default: --epsilon × 1/30 … 30, 7 points)")(
      "grid-nbeta", po::value<std::string>()->default_value(""), "nβ values for --grid (default: --nbeta)")(
      "json", po::bool_switch(), "print the result as JSON on stdout");
  auto parsed =
      parse_task_options("calibrate", "[--model normal-crossing|monomial|rrr] [options]", options, table, argc, argv);
  if (!parsed) return 0;
  const auto& vm = parsed->values;
  slt::LlcConfig config = parsed->settings;

  slt::ReferenceModelSpec spec;
  spec.kind = vm["model"].as<std::string>();
  if (spec.kind == "monomial" && vm["powers"].defaulted())
    spec.powers = {2, 4};
  else
    spec.powers = parse_ints(vm["powers"].as<std::string>(), "--powers");
  const auto dims = parse_ints(vm["dims"].as<std::string>(), "--dims");
  LLC_CHECK(dims.size() == 3, ConfigError, "--dims", "write --dims M,H,N", "{} sizes given", dims.size());
  spec.input_dim = dims[0], spec.hidden_dim = dims[1], spec.output_dim = dims[2];
  spec.rank = vm["rank"].as<int>();
  spec.samples = vm["samples"].as<std::size_t>();
  spec.input_std = vm["input-std"].as<double>();
  spec.noise_std = vm["noise-std"].as<double>();
  spec.sigma = vm["sigma"].as<double>();
  spec.data_seed = vm["data-seed"].as<std::uint64_t>();
  const bool json = vm["json"].as<bool>();

  nlohmann::json resolved = {{"command", "calibrate"},
                             {"model", spec.kind},
                             {"powers", spec.powers},
                             {"dims", dims},
                             {"rank", spec.rank},
                             {"samples", spec.samples},
                             {"input_std", spec.input_std},
                             {"noise_std", spec.noise_std},
                             {"sigma", spec.sigma},
                             {"data_seed", spec.data_seed},
                             {"llc", slt::to_json(config)},
                             {"threads", omp_get_max_threads()},
                             {"git_revision", git_revision()}};
  spdlog::info("calibrate: resolved configuration {}", resolved.dump());

  if (!vm["grid"].as<bool>()) {
    slt::ReferenceModel reference = slt::make_reference_model(spec);
    config.progress = !json;
    const slt::LlcResult result = slt::estimate_llc(*reference.model, config);
    const double relative = (result.llc_mean - reference.truth.lambda) / reference.truth.lambda;
    if (json) {
      print_json({{"model", reference.description},
                  {"true_lambda", reference.truth.lambda},
                  {"multiplicity", reference.truth.multiplicity},
                  {"formula", reference.truth.formula},
                  {"relative_error", relative},
                  {"result", slt::to_json(result, false)},
                  {"resolved_config", resolved}});
    } else {
      std::cout << reference.description << "\n"
                << fmt::format("true lambda {:.4f} (multiplicity {}, {})\n", reference.truth.lambda,
                               reference.truth.multiplicity, reference.truth.formula)
                << slt::format_llc(result)
                << fmt::format(
                       "relative error (llc − lambda)/lambda = {:+.3f}  (finite nβ biases singular models low; "
                       "see docs/llc.md)\n",
                       relative);
    }
    return 0;
  }

  const std::string epsilon_text = vm["grid-epsilon"].as<std::string>();
  const std::vector<double> epsilons = epsilon_text.empty()
                                           ? slt::log_grid(config.sampler.epsilon / 30, config.sampler.epsilon * 30, 7)
                                           : parse_grid(epsilon_text, "--grid-epsilon");
  const std::string nbeta_text = vm["grid-nbeta"].as<std::string>();
  const std::vector<double> nbetas =
      nbeta_text.empty() ? std::vector<double>{config.sampler.nbeta} : parse_grid(nbeta_text, "--grid-nbeta");
  config.progress = false;
  const slt::CalibrationResult grid = slt::calibration_grid(spec, config, epsilons, nbetas);
  if (json) {
    nlohmann::json points = nlohmann::json::array();
    for (const auto& p : grid.points)
      points.push_back(
          {{"epsilon", p.epsilon},
           {"nbeta", p.nbeta},
           {"llc_mean", std::isfinite(p.llc_mean) ? nlohmann::json(p.llc_mean) : nlohmann::json(nullptr)},
           {"llc_std", std::isfinite(p.llc_std) ? nlohmann::json(p.llc_std) : nlohmann::json(nullptr)},
           {"llc_standard_error",
            std::isfinite(p.llc_standard_error) ? nlohmann::json(p.llc_standard_error) : nlohmann::json(nullptr)},
           {"chains_used", p.chains_used},
           {"chains_diverged", p.chains_diverged},
           {"mean_mala_acceptance",
            std::isfinite(p.mean_mala_acceptance) ? nlohmann::json(p.mean_mala_acceptance) : nlohmann::json(nullptr)},
           {"relative_error",
            std::isfinite(p.relative_error) ? nlohmann::json(p.relative_error) : nlohmann::json(nullptr)},
           {"stable", p.stable}});
    print_json({{"model", grid.model},
                {"true_lambda", grid.truth.lambda},
                {"multiplicity", grid.truth.multiplicity},
                {"formula", grid.truth.formula},
                {"points", points},
                {"resolved_config", resolved}});
    return 0;
  }
  std::cout << grid.model << "\n"
            << fmt::format("true lambda {:.4f} (multiplicity {}, {})\n", grid.truth.lambda, grid.truth.multiplicity,
                           grid.truth.formula)
            << fmt::format("{:>10} {:>10} {:>9} {:>8} {:>8} {:>8} {:>6} {:>8}  {}\n", "nbeta", "epsilon", "llc", "std",
                           "stderr", "rel.err", "div", "MALA", "");
  for (const auto& p : grid.points)
    std::cout << fmt::format("{:>10.4g} {:>10.3g} {:>9.4f} {:>8.4f} {:>8.4f} {:>+8.3f} {:>6} {:>8.3f}  {}\n", p.nbeta,
                             p.epsilon, p.llc_mean, p.llc_std, p.llc_standard_error, p.relative_error,
                             p.chains_diverged, p.mean_mala_acceptance, p.stable ? "stable" : "");
  std::cout << "stable: no diverged chain and within 2 combined standard errors of an ε-neighbour (same nβ).\n";
  return 0;
}

}  // namespace

LLCPRESS_SUBCOMMAND("calibrate", "LLC estimator on a model with known λ (normal crossing, monomials, RRR); ε sweep",
                    run_calibrate)

}  // namespace llcpress::cli
