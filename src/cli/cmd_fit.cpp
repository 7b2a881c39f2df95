// llcpress fit OUT [--bootstrap N] [--confidence C] [--seed S] [--minimum-points K]
//                  [--no-figures] [--python PYTHON] [--json]
// The final stage (docs/analysis.md): fits the critical compression amount
// against λ̂ per model, method and ε, writes OUT/results.h5:/fits and
// OUT/report.md, then draws OUT/figures/*.png with analysis/figures.py.
#include <fmt/ranges.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <vector>

#include "cli/subcommand.h"
#include "core/check.h"
#include "core/log.h"
#include "formats/atomic_file.h"
#include "io/hdf5.h"
#include "pipeline/fit_results.h"

#ifndef LLCPRESS_SOURCE_DIR
#define LLCPRESS_SOURCE_DIR ""
#endif

namespace llcpress::cli {
namespace {

namespace fs = std::filesystem;

std::string shell_quote(const std::string& text) {
  std::string quoted = "'";
  for (const char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

// analysis/figures.py: $LLCPRESS_FIGURES_SCRIPT, else beside the build tree the
// binary came from (build/bin/llcpress → analysis/), else the source tree it
// was compiled from.
fs::path find_figures_script() {
  if (const char* from_environment = std::getenv("LLCPRESS_FIGURES_SCRIPT")) return from_environment;
  std::error_code error;
  const fs::path executable = fs::read_symlink("/proc/self/exe", error);
  if (!error) {
    for (fs::path directory = executable.parent_path(); !directory.empty() && directory != directory.root_path();
         directory = directory.parent_path()) {
      const fs::path candidate = directory / "analysis" / "figures.py";
      if (fs::exists(candidate)) return candidate;
    }
  }
  const fs::path source = fs::path(LLCPRESS_SOURCE_DIR) / "analysis" / "figures.py";
  return fs::exists(source) ? source : fs::path();
}

bool can_import_figure_packages(const std::string& python) {
  const std::string probe = shell_quote(python) + " -c 'import h5py, numpy, matplotlib' > /dev/null 2>&1";
  return std::system(probe.c_str()) == 0;
}

// Draws the figures; returns false (with the reason logged) when it could not.
// `python` empty: the first of python3 on PATH and Debian's /usr/bin/python3
// that has h5py, numpy and matplotlib (a virtualenv first on PATH often lacks them).
bool draw_figures(const fs::path& output, std::string python) {
  const fs::path script = find_figures_script();
  if (script.empty()) {
    spdlog::warn("figures skipped: analysis/figures.py not found (set LLCPRESS_FIGURES_SCRIPT to its path)");
    return false;
  }
  std::vector<std::string> candidates =
      python.empty() ? std::vector<std::string>{"python3", "/usr/bin/python3"} : std::vector<std::string>{python};
  python.clear();
  for (const std::string& candidate : candidates)
    if (can_import_figure_packages(candidate)) {
      python = candidate;
      break;
    }
  if (python.empty()) {
    spdlog::warn(
        "figures skipped: {} cannot import h5py, numpy and matplotlib. Install them with\n"
        "  sudo apt-get install python3-h5py python3-numpy python3-matplotlib\n"
        "and draw them with: python3 {} {}",
        fmt::join(candidates, " / "), script.string(), output.string());
    return false;
  }
  const std::string command =
      shell_quote(python) + " " + shell_quote(script.string()) + " " + shell_quote(output.string()) + " 1>&2";
  spdlog::info("drawing figures: {}", command);
  if (std::system(command.c_str()) != 0) {
    spdlog::warn("figures.py failed (its messages are above); the fits and report are written");
    return false;
  }
  return true;
}

nlohmann::json fit_row_json(const FitRow& row) {
  auto number = [](double value) -> nlohmann::json {
    return std::isfinite(value) ? nlohmann::json(value) : nlohmann::json(nullptr);
  };
  return {{"scope", row.scope},
          {"method", row.method},
          {"parameter", row.parameter},
          {"eps", row.eps},
          {"n", row.points},
          {"excluded_bounds", row.excluded_bounds},
          {"fitted", row.fitted},
          {"slope", number(row.fit.point.slope)},
          {"slope_interval", {number(row.fit.slope.low), number(row.fit.slope.high)}},
          {"intercept", number(row.fit.point.intercept)},
          {"intercept_interval", {number(row.fit.intercept.low), number(row.fit.intercept.high)}},
          {"r_squared", number(row.fit.point.r_squared)},
          {"r_squared_interval", {number(row.fit.r_squared.low), number(row.fit.r_squared.high)}},
          {"pearson", number(row.fit.point.pearson)},
          {"spearman", number(row.fit.point.spearman)}};
}

int run_fit_command(int argc, char** argv) {
  po::options_description options("fit options");
  options.add_options()("output", po::value<std::string>()->required(),
                        "the run's output directory (holds results.h5 from `llcpress gather`)")(
      "bootstrap", po::value<std::size_t>()->default_value(2000), "bootstrap replicates per fitted line")(
      "confidence", po::value<double>()->default_value(0.95), "confidence level of the intervals")(
      "seed", po::value<std::uint64_t>()->default_value(20240601), "Philox key of the bootstrap resamples")(
      "minimum-points", po::value<std::size_t>()->default_value(3), "fewest checkpoints a line is fitted to")(
      "minimum-points-for-intervals", po::value<std::size_t>()->default_value(8),
      "fewest checkpoints for bootstrap intervals (fewer: point fit only)")("no-figures", po::bool_switch(),
                                                                            "do not run analysis/figures.py")(
      "python", po::value<std::string>()->default_value(""),
      "the Python that draws the figures (default: python3 on PATH, else /usr/bin/python3)")(
      "json", po::bool_switch(), "print the fits as JSON on stdout");
  po::positional_options_description positional;
  positional.add("output", 1);
  auto values = parse_options("fit", "OUT [options]", options, argc, argv, &positional);
  if (!values) return 0;
  const fs::path output = (*values)["output"].as<std::string>();
  const fs::path results_path = output / "results.h5";

  FitStageOptions fit_options;
  fit_options.bootstrap.replicates = (*values)["bootstrap"].as<std::size_t>();
  fit_options.bootstrap.confidence = (*values)["confidence"].as<double>();
  fit_options.bootstrap.seed = (*values)["seed"].as<std::uint64_t>();
  fit_options.minimum_points = (*values)["minimum-points"].as<std::size_t>();
  fit_options.minimum_points_for_intervals = (*values)["minimum-points-for-intervals"].as<std::size_t>();
  LLC_CHECK(fit_options.bootstrap.replicates >= 100, ConfigError, "--bootstrap", "use at least 1000 for 95% intervals",
            "{} replicates are too few for an interval", fit_options.bootstrap.replicates);
  LLC_CHECK(fit_options.bootstrap.confidence > 0 && fit_options.bootstrap.confidence < 1, ConfigError, "--confidence",
            "e.g. 0.95", "confidence {} is not in (0, 1)", fit_options.bootstrap.confidence);
  LLC_CHECK(fs::exists(results_path), InputError, results_path.string(),
            "run `llcpress gather OUT` first (it merges OUT/shards/*.h5 into results.h5)", "no results file to fit");

  io::Table llc, critical;
  {
    const io::File results = io::File::open_read_only(results_path);
    LLC_CHECK(results.root().exists("tables/llc"), InputError, results_path.string() + ":/tables/llc",
              "the job ran no `llc` task, or gather found no finished LLC shard (see `llcpress status OUT`)",
              "no LLC table: there is nothing to fit against");
    LLC_CHECK(results.root().exists("tables/critical"), InputError, results_path.string() + ":/tables/critical",
              "the job ran no compression task, or gather found no finished one (see `llcpress status OUT`)",
              "no critical-amount table: there is nothing to fit");
    llc = io::read_table(results.root(), "tables/llc");
    critical = io::read_table(results.root(), "tables/critical");
  }
  const FitStageResult result = compute_fit_stage(llc, critical, fit_options);
  write_fits_into_results(results_path, result, fit_options);

  const std::string report = fit_report_markdown(result, llc, critical, results_path);
  {
    formats::AtomicFileWriter writer((output / "report.md").string());
    writer.write(report.data(), report.size());
    writer.commit();
  }
  std::size_t fitted = 0;
  for (const FitRow& row : result.fits) fitted += row.fitted ? 1 : 0;
  spdlog::info("fit: {} lines ({} fitted) written to {}:/fits and {}", result.fits.size(), fitted,
               results_path.string(), (output / "report.md").string());
  const bool figures =
      !(*values)["no-figures"].as<bool>() && draw_figures(output, (*values)["python"].as<std::string>());

  if ((*values)["json"].as<bool>()) {
    nlohmann::json json = {{"results", results_path.string()},
                           {"report", (output / "report.md").string()},
                           {"figures", figures ? (output / "figures").string() : ""},
                           {"fits", nlohmann::json::array()}};
    for (const FitRow& row : result.fits) json["fits"].push_back(fit_row_json(row));
    print_json(json);
  } else {
    std::cout << report;
    if (figures) std::cout << "\nfigures: " << (output / "figures").string() << "\n";
  }
  return 0;
}

}  // namespace

LLCPRESS_SUBCOMMAND("fit", "fit critical compression against λ̂ over checkpoints; report.md and figures",
                    run_fit_command)

}  // namespace llcpress::cli
