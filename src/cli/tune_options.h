// The hyperparameter grid shared by `llcpress llc --grid` and `llcpress
// calibrate --grid` (header-only, like llc_options.h): the grid options,
// their parsing, and the run + print + HDF5 output of slt/tune.h.
#pragma once

#include <algorithm>
#include <cmath>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cli/subcommand.h"
#include "core/check.h"
#include "slt/calibration.h"
#include "slt/tune.h"

namespace llcpress::cli {

inline std::vector<double> parse_doubles(const std::string& text, const char* key) {
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

inline std::vector<int> parse_ints(const std::string& text, const char* key) {
  std::vector<int> out;
  for (double v : parse_doubles(text, key)) {
    LLC_CHECK(v == static_cast<int>(v), ConfigError, key, "use integers", "{} is not an integer", v);
    out.push_back(static_cast<int>(v));
  }
  return out;
}

// "LOW:HIGH:COUNT" (log-spaced) or a comma-separated list.
inline std::vector<double> parse_grid(const std::string& text, const char* key) {
  if (std::count(text.begin(), text.end(), ':') == 2) {
    const auto a = text.find(':'), b = text.rfind(':');
    const double low = parse_doubles(text.substr(0, a), key)[0],
                 high = parse_doubles(text.substr(a + 1, b - a - 1), key)[0];
    const int count = parse_ints(text.substr(b + 1), key)[0];
    return slt::log_grid(low, high, count);
  }
  return parse_doubles(text, key);
}

// JSON null for NaN/Inf (JSON has no such numbers).
inline nlohmann::json finite_or_null(double value) {
  return std::isfinite(value) ? nlohmann::json(value) : nlohmann::json(nullptr);
}

// --grid, --grid-epsilon, --grid-nbeta, --grid-gamma.
inline void add_grid_options(po::options_description& options) {
  options.add_options()("grid", po::bool_switch(),
                        "choose ε, nβ, γ: short chains over the grid, each judged by the health rules, and a "
                        "recommended setting (docs/llc.md \"Choosing ε, nβ and γ\")")(
      "grid-epsilon", po::value<std::string>()->default_value(""),
      "ε values for --grid: LOW:HIGH:COUNT (log-spaced) or a list (default: --epsilon × 1/30 … 30, 7 points)")(
      "grid-nbeta", po::value<std::string>()->default_value(""), "nβ values for --grid (default: --nbeta)")(
      "grid-gamma", po::value<std::string>()->default_value(""), "γ values for --grid (default: --gamma)");
}

inline slt::TuneGrid read_grid_options(const po::variables_map& vm, const slt::LlcConfig& config) {
  slt::TuneGrid grid;
  const std::string epsilon_text = vm["grid-epsilon"].as<std::string>();
  grid.epsilons = epsilon_text.empty() ? slt::log_grid(config.sampler.epsilon / 30, config.sampler.epsilon * 30, 7)
                                       : parse_grid(epsilon_text, "--grid-epsilon");
  const std::string nbeta_text = vm["grid-nbeta"].as<std::string>();
  grid.nbetas = nbeta_text.empty() ? std::vector<double>{config.sampler.nbeta} : parse_grid(nbeta_text, "--grid-nbeta");
  const std::string gamma_text = vm["grid-gamma"].as<std::string>();
  grid.gammas =
      gamma_text.empty() ? std::vector<double>{config.sampler.localization} : parse_grid(gamma_text, "--grid-gamma");
  grid.validate();
  return grid;
}

}  // namespace llcpress::cli
