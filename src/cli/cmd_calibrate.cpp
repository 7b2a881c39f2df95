// llcpress calibrate --model normal-crossing|monomial|rrr [model keys] [sampler keys] [--grid] [--json]
// The LLC estimator on a model whose learning coefficient is known: λ̂ ± std
// against the true λ; with --grid a sweep over ε (and nβ) that shows where the
// estimate is stable — the place to choose ε before running on a language model.
#include <omp.h>

#include <iostream>
#include <sstream>

#include "cli/subcommand.h"
#include "cli/tune_options.h"
#include "core/check.h"
#include "core/log.h"
#include "core/version.h"
#include "io/hdf5.h"
#include "io/provenance.h"
#include "pipeline/task_options.h"
#include "slt/calibration.h"
#include "slt/host_model_on_backend.h"
#include "slt/llc_output.h"

namespace llcpress::cli {
namespace {

// The model the sampler runs on: the reference model itself on the CPU; with --device cuda its parameters on
// the GPU, so the CUDA sampler step is what is checked against the known λ (the closed-form loss stays on the
// host: slt/host_model_on_backend.h).
std::unique_ptr<LossModel> on_compute_backend(slt::ReferenceModel& reference) {
  backend::Backend& compute = backend::compute_backend();
  if (&compute == &backend::default_backend()) return std::unique_ptr<LossModel>(reference.model.release());
  spdlog::info("calibrate: the sampler runs on {} (the reference model's loss on the host)", compute.description());
  return std::make_unique<slt::HostModelOnBackend>(std::move(reference.model), compute);
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
      "out", po::value<std::string>()->default_value(""), "--grid: write the grid to this HDF5 file")(
      "json", po::bool_switch(), "print the result as JSON on stdout");
  add_grid_options(options);
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
    const slt::LlcResult result = slt::estimate_llc(*on_compute_backend(reference), config);
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

  // --grid: the hyperparameter selection of `llc --grid` on a model whose λ is known.
  const slt::TuneGrid grid = read_grid_options(vm, config);
  config.progress = false;
  slt::ReferenceModel reference = slt::make_reference_model(spec);
  slt::TuneResult tune = slt::tune_llc(*on_compute_backend(reference), config, grid, slt::HealthRules{});
  tune.true_lambda = reference.truth.lambda;
  const std::string out = vm["out"].as<std::string>();
  if (!out.empty()) {
    io::File file = io::File::create_atomic(out);
    io::write_provenance(file.root(), resolved.dump());
    file.root().set_attribute("model", reference.description);
    io::Group group = file.root().require_group("tune");
    slt::write_tune(group, tune);
    file.commit();
    spdlog::info("calibrate: wrote {} (figures: python3 analysis/tune_figures.py {})", out, out);
  }
  if (json) {
    nlohmann::json points = nlohmann::json::array();
    for (const auto& p : tune.points)
      points.push_back({{"epsilon", p.epsilon},
                        {"nbeta", p.nbeta},
                        {"gamma", p.gamma},
                        {"llc_mean", finite_or_null(p.result.llc_mean)},
                        {"llc_late_mean", finite_or_null(p.health.llc_late_mean)},
                        {"llc_late_standard_error", finite_or_null(p.health.llc_late_standard_error)},
                        {"mala_acceptance", finite_or_null(p.health.mean_mala_acceptance)},
                        {"fraction_below_init", finite_or_null(p.health.fraction_below_init)},
                        {"thirds_difference", finite_or_null(p.health.thirds.difference)},
                        {"thirds_standard_error", finite_or_null(p.health.thirds.standard_error)},
                        {"chains_diverged", p.health.chains_diverged},
                        {"healthy", p.verdict.healthy},
                        {"reasons", p.verdict.reasons}});
    print_json({{"model", reference.description},
                {"true_lambda", reference.truth.lambda},
                {"points", points},
                {"recommended", tune.recommended},
                {"recommended_burn_in", tune.recommended_burn_in},
                {"resolved_config", resolved}});
    return 0;
  }
  std::cout << reference.description << "\n"
            << fmt::format("true lambda {:.4f} (multiplicity {}, {})\n", reference.truth.lambda,
                           reference.truth.multiplicity, reference.truth.formula)
            << slt::format_tune(tune);
  return 0;
}

}  // namespace

LLCPRESS_SUBCOMMAND("calibrate", "LLC estimator on a model with known λ (normal crossing, monomials, RRR); ε sweep",
                    run_calibrate)

}  // namespace llcpress::cli
