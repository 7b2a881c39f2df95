#include "pipeline/fit_results.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <tuple>

#include "core/check.h"
#include "io/provenance.h"

namespace llcpress {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// A numeric column as doubles, whatever integer or float type gather stored.
std::vector<double> numeric_column(const io::Table& table, std::string_view name, std::string_view table_name) {
  if (!table.has(name))
    LLC_THROW(InputError, std::string(table_name),
              "rerun `llcpress gather OUT` with this build so the tables carry every column",
              "results table {} has no column '{}'", table_name, name);
  return std::visit(
      [&](const auto& values) -> std::vector<double> {
        using Element = typename std::decay_t<decltype(values)>::value_type;
        if constexpr (std::is_same_v<Element, std::string>) {
          LLC_THROW(InputError, std::string(table_name), "the results file does not follow docs/hdf5-schema.md",
                    "column '{}' of {} holds strings, numbers expected", name, table_name);
        } else {
          return std::vector<double>(values.begin(), values.end());
        }
      },
      table.column(name).values);
}

const std::vector<std::string>& string_column(const io::Table& table, std::string_view name,
                                              std::string_view table_name) {
  if (!table.has(name))
    LLC_THROW(InputError, std::string(table_name),
              "rerun `llcpress gather OUT` with this build so the tables carry every column",
              "results table {} has no column '{}'", table_name, name);
  return table.values<std::string>(name);
}

std::vector<std::string> optional_string_column(const io::Table& table, std::string_view name, std::size_t rows,
                                                const std::string& fallback) {
  if (!table.has(name)) return std::vector<std::string>(rows, fallback);
  return table.values<std::string>(name);
}

std::vector<double> optional_numeric_column(const io::Table& table, std::string_view name, std::size_t rows,
                                            std::string_view table_name) {
  if (!table.has(name)) return std::vector<double>(rows, kNaN);
  return numeric_column(table, name, table_name);
}

struct LlcPoint {
  double mean = kNaN, standard_error = kNaN;
};

// (model, step) -> λ̂ and the standard error of its mean over chains, the
// uncertainty the bootstrap propagates into the slope.
std::map<std::pair<std::string, std::int64_t>, LlcPoint> llc_by_checkpoint(const io::Table& llc,
                                                                           std::vector<std::string>& skipped) {
  const std::size_t rows = static_cast<std::size_t>(llc.num_rows());
  // Tables gathered before chain health have no status: every row was done.
  const auto status = optional_string_column(llc, "status", rows, "done");
  const auto reason = optional_string_column(llc, "failure_reason", rows, "");
  const auto& model = string_column(llc, "model", "/tables/llc");
  const auto step = numeric_column(llc, "step", "/tables/llc");
  const auto mean = numeric_column(llc, "llc_mean", "/tables/llc");
  const auto std_dev = numeric_column(llc, "llc_std", "/tables/llc");
  // The standard error of λ̂'s mean is std/√chains. Without a chain count the
  // std itself is used: a wider, conservative interval rather than a narrow one.
  std::vector<double> standard_error = optional_numeric_column(llc, "llc_standard_error", rows, "/tables/llc");
  if (!llc.has("llc_standard_error") && llc.has("chains_used")) {
    const auto chains = numeric_column(llc, "chains_used", "/tables/llc");
    for (std::size_t i = 0; i < rows; ++i) standard_error[i] = std_dev[i] / std::sqrt(std::max(1.0, chains[i]));
  } else if (!llc.has("llc_standard_error")) {
    standard_error = std_dev;
  }
  std::map<std::pair<std::string, std::int64_t>, LlcPoint> points;
  for (std::size_t i = 0; i < rows; ++i) {
    const auto key = std::make_pair(model[i], static_cast<std::int64_t>(step[i]));
    if (status[i] != "done") {  // a failed estimate is not a point of any fit
      skipped.push_back(fmt::format("{} step {}: LLC shard {}: {}", model[i], key.second, status[i], reason[i]));
      continue;
    }
    if (!points.emplace(key, LlcPoint{mean[i], standard_error[i]}).second)
      LLC_THROW(InputError, "/tables/llc",
                "each checkpoint must have one LLC shard; check the job's model patterns for duplicates",
                "/tables/llc has two rows for model {} step {}", model[i], key.second);
  }
  return points;
}

BootstrapFit not_fitted() {
  BootstrapFit fit;
  fit.point.slope = fit.point.intercept = fit.point.r_squared = kNaN;
  fit.point.pearson = fit.point.spearman = fit.point.slope_standard_error = kNaN;
  fit.slope = fit.intercept = fit.r_squared = Interval{kNaN, kNaN};
  return fit;
}

bool has_spread(const std::vector<double>& values) {
  return std::any_of(values.begin(), values.end(), [&](double v) { return v != values.front(); });
}

}  // namespace

FitStageResult compute_fit_stage(const io::Table& llc, const io::Table& critical, const FitStageOptions& options) {
  LLC_CHECK(options.minimum_points >= 3, ConfigError, "--minimum-points",
            "a line through two points has R² = 1 by construction", "the fit needs at least 3 points per line, got {}",
            options.minimum_points);
  FitStageResult result;
  const auto llc_points = llc_by_checkpoint(llc, result.skipped_llc);
  for (const std::string& skipped : result.skipped_llc) spdlog::warn("fit: left out {}", skipped);
  const std::size_t rows = static_cast<std::size_t>(critical.num_rows());
  const auto& model = string_column(critical, "model", "/tables/critical");
  const auto& method = string_column(critical, "method", "/tables/critical");
  const auto step = numeric_column(critical, "step", "/tables/critical");
  const auto eps = numeric_column(critical, "eps", "/tables/critical");
  const auto amount = numeric_column(critical, "critical_amount", "/tables/critical");
  const auto status = optional_string_column(critical, "status", rows, "found");
  const auto parameter = optional_string_column(critical, "parameter", rows, "");
  // `parameter_unit` since schema_version 3; results.h5 of versions 1-2 called the column `units`.
  const auto units =
      optional_string_column(critical, critical.has("parameter_unit") ? "parameter_unit" : "units", rows, "");
  const auto measured_bits = optional_numeric_column(critical, "bits_per_weight", rows, "/tables/critical");
  const auto predicted_bits = optional_numeric_column(critical, "predicted_bits", rows, "/tables/critical");

  // Rows grouped per (method, ε) in first-seen order of methods, then by model.
  struct Group {
    std::vector<std::size_t> rows;
  };
  std::vector<std::string> method_order, model_order;
  for (std::size_t i = 0; i < rows; ++i) {
    if (std::find(method_order.begin(), method_order.end(), method[i]) == method_order.end())
      method_order.push_back(method[i]);
    if (std::find(model_order.begin(), model_order.end(), model[i]) == model_order.end())
      model_order.push_back(model[i]);
  }

  for (const std::string& method_name : method_order) {
    std::set<double> eps_values;
    for (std::size_t i = 0; i < rows; ++i)
      if (method[i] == method_name) eps_values.insert(eps[i]);
    for (const double eps_value : eps_values) {
      std::vector<std::string> scopes = model_order;
      scopes.push_back("pooled");
      for (const std::string& scope : scopes) {
        FitRow row;
        row.scope = scope;
        row.method = method_name;
        row.eps = eps_value;
        std::vector<double> x, y, x_error;
        for (std::size_t i = 0; i < rows; ++i) {
          if (method[i] != method_name || eps[i] != eps_value) continue;
          if (scope != "pooled" && model[i] != scope) continue;
          if (row.parameter.empty()) row.parameter = parameter[i], row.units = units[i];
          const auto found = llc_points.find({model[i], static_cast<std::int64_t>(step[i])});
          if (found == llc_points.end() || !std::isfinite(found->second.mean)) continue;  // no λ̂: not a point
          if (status[i] != "found" || !std::isfinite(amount[i])) {
            ++row.excluded_bounds;
            continue;
          }
          x.push_back(found->second.mean);
          y.push_back(amount[i]);
          x_error.push_back(std::isfinite(found->second.standard_error) ? found->second.standard_error : 0.0);
        }
        row.points = x.size();
        if (scope == "pooled" && model_order.size() < 2) continue;  // identical to the one model's row
        row.fitted = x.size() >= options.minimum_points && has_spread(x);
        row.fit = not_fitted();
        if (row.fitted && x.size() < options.minimum_points_for_intervals) {
          row.fit.point = fit_linear(x, y);
          row.note = fmt::format("{} points: point fit only (bootstrap intervals need at least {})", x.size(),
                                 options.minimum_points_for_intervals);
        } else if (row.fitted) {
          try {
            row.fit = bootstrap_fit(x, y, x_error, options.bootstrap);
            row.intervals = true;
          } catch (const NumericalError& error) {
            row.fit.point = fit_linear(x, y);
            row.note = error.what();
            spdlog::warn("fit {} {} ε={}: point fit only, no intervals: {}", row.scope, row.method, row.eps, row.note);
          }
        }
        result.fits.push_back(std::move(row));
      }

      // Theory against measurement, all models together.
      BitsRow bits;
      bits.method = method_name;
      bits.eps = eps_value;
      std::vector<double> measured, predicted;
      double ratio_sum = 0;
      for (std::size_t i = 0; i < rows; ++i) {
        if (method[i] != method_name || eps[i] != eps_value || status[i] != "found") continue;
        if (!std::isfinite(measured_bits[i]) || !std::isfinite(predicted_bits[i]) || !(predicted_bits[i] > 0)) continue;
        measured.push_back(measured_bits[i]);
        predicted.push_back(predicted_bits[i]);
        ratio_sum += measured_bits[i] / predicted_bits[i];
      }
      if (measured.empty()) continue;
      bits.points = measured.size();
      for (std::size_t i = 0; i < measured.size(); ++i) {
        bits.measured_mean += measured[i] / static_cast<double>(measured.size());
        bits.predicted_mean += predicted[i] / static_cast<double>(predicted.size());
      }
      bits.ratio_mean = ratio_sum / static_cast<double>(measured.size());
      bits.pearson = measured.size() >= 3 && has_spread(measured) && has_spread(predicted)
                         ? pearson_correlation(predicted, measured)
                         : kNaN;
      result.bits.push_back(bits);
    }
  }
  return result;
}

io::Table fits_table(const FitStageResult& result) {
  std::vector<std::string> scope, method, parameter, units;
  std::vector<double> eps, slope, intercept, r_squared, pearson, spearman, slope_se;
  std::vector<double> slope_low, slope_high, intercept_low, intercept_high, r2_low, r2_high;
  std::vector<std::int64_t> points, excluded, replicates;
  std::vector<std::uint8_t> fitted, intervals;
  std::vector<std::string> notes;
  for (const FitRow& row : result.fits) {
    scope.push_back(row.scope);
    method.push_back(row.method);
    parameter.push_back(row.parameter);
    units.push_back(row.units);
    eps.push_back(row.eps);
    points.push_back(static_cast<std::int64_t>(row.points));
    excluded.push_back(static_cast<std::int64_t>(row.excluded_bounds));
    fitted.push_back(row.fitted ? 1 : 0);
    intervals.push_back(row.intervals ? 1 : 0);
    notes.push_back(row.note);
    slope.push_back(row.fit.point.slope);
    intercept.push_back(row.fit.point.intercept);
    r_squared.push_back(row.fit.point.r_squared);
    pearson.push_back(row.fit.point.pearson);
    spearman.push_back(row.fit.point.spearman);
    slope_se.push_back(row.fit.point.slope_standard_error);
    slope_low.push_back(row.fit.slope.low);
    slope_high.push_back(row.fit.slope.high);
    intercept_low.push_back(row.fit.intercept.low);
    intercept_high.push_back(row.fit.intercept.high);
    r2_low.push_back(row.fit.r_squared.low);
    r2_high.push_back(row.fit.r_squared.high);
    replicates.push_back(static_cast<std::int64_t>(row.fit.replicates_used));
  }
  io::Table table;
  table.add("scope", scope, "", "model name, or 'pooled' for all models' checkpoints together")
      .add("method", method, "", "compression method")
      .add("parameter", parameter, "", "the compression parameter fitted (levels, keep fraction, ...)")
      .add("parameter_unit", units, "", "units of the critical amount")
      .add("eps", eps, "nats/token", "loss-increase tolerance ε")
      .add("n", points, "1", "checkpoints in the fit (λ̂ known and critical amount found)")
      .add("excluded_bounds", excluded, "1", "checkpoints left out: critical amount a bound of the range or none")
      .add("fitted", fitted, "1", "1 when n >= 3 and λ̂ not constant; otherwise the statistics are NaN")
      .add("intervals", intervals, "1", "1 when the bootstrap gave intervals; 0: point fit only (see note)")
      .add("note", notes, "", "why a fitted line has no intervals (empty otherwise)")
      .add("slope", slope, "critical units (λ̂ is dimensionless)", "OLS slope of the critical amount against λ̂")
      .add("intercept", intercept, "critical units", "OLS intercept")
      .add("r_squared", r_squared, "1", "coefficient of determination of the OLS line")
      .add("pearson", pearson, "1", "Pearson correlation of λ̂ and the critical amount")
      .add("spearman", spearman, "1", "Spearman rank correlation (ties get average ranks)")
      .add("slope_standard_error", slope_se, "critical units (λ̂ is dimensionless)", "classical OLS standard error")
      .add("slope_low", slope_low, "critical units (λ̂ is dimensionless)", "bootstrap-t interval, low end")
      .add("slope_high", slope_high, "critical units (λ̂ is dimensionless)", "bootstrap-t interval, high end")
      .add("intercept_low", intercept_low, "critical units", "bootstrap percentile interval, low end")
      .add("intercept_high", intercept_high, "critical units", "bootstrap percentile interval, high end")
      .add("r_squared_low", r2_low, "1", "bootstrap percentile interval, low end")
      .add("r_squared_high", r2_high, "1", "bootstrap percentile interval, high end")
      .add("replicates_used", replicates, "1", "bootstrap resamples with non-constant λ̂");
  return table;
}

io::Table bits_table(const FitStageResult& result) {
  std::vector<std::string> method;
  std::vector<double> eps, measured, predicted, ratio, pearson;
  std::vector<std::int64_t> points;
  for (const BitsRow& row : result.bits) {
    method.push_back(row.method);
    eps.push_back(row.eps);
    points.push_back(static_cast<std::int64_t>(row.points));
    measured.push_back(row.measured_mean);
    predicted.push_back(row.predicted_mean);
    ratio.push_back(row.ratio_mean);
    pearson.push_back(row.pearson);
  }
  io::Table table;
  table.add("method", method, "", "compression method")
      .add("eps", eps, "nats/token", "loss-increase tolerance ε")
      .add("n", points, "1", "checkpoints with both measured and predicted bits")
      .add("measured_bits_mean", measured, "bits/parameter", "mean bits per weight at the critical amount")
      .add("predicted_bits_mean", predicted, "bits/parameter", "mean of (λ̂/d)·log2(1/ε)")
      .add("ratio_mean", ratio, "1", "mean of measured / predicted bits")
      .add("pearson", pearson, "1", "correlation of predicted and measured bits (NaN below 3 points)");
  return table;
}

void write_fits_into_results(const std::filesystem::path& results_path, const FitStageResult& result,
                             const FitStageOptions& options) {
  namespace fs = std::filesystem;
  if (!fs::exists(results_path))
    LLC_THROW(InputError, results_path.string(), "run `llcpress gather OUT` before `llcpress fit OUT`",
              "the results file does not exist");
  {
    // Edited in memory and renamed over the original at commit(): a crash or
    // a full disk leaves the old file, never a truncated one, and a refused
    // write is an IoError (issue 20, finding 4), not a crash in HDF5's close.
    io::File file = io::File::edit_atomic(results_path);
    io::Group& root = file.root();
    if (root.exists("fits")) root.remove("fits");
    io::Group fits = root.create_group("fits");
    fits.set_attribute("description",
                       "least-squares fits of the critical compression amount against λ̂ over checkpoints, per model "
                       "and pooled, with bootstrap intervals carrying the chains' uncertainty (llcpress fit)");
    fits.set_attribute("bootstrap_replicates", static_cast<std::int64_t>(options.bootstrap.replicates));
    fits.set_attribute("confidence", options.bootstrap.confidence);
    fits.set_attribute("llc_rows_skipped", static_cast<std::int64_t>(result.skipped_llc.size()));
    if (!result.skipped_llc.empty()) fits.set_attribute("llc_rows_skipped_why", result.skipped_llc);
    fits.set_attribute("bootstrap_seed", static_cast<std::int64_t>(options.bootstrap.seed));
    fits.set_attribute("minimum_points", static_cast<std::int64_t>(options.minimum_points));
    fits.set_attribute("created_utc", io::utc_timestamp_now());
    io::write_table(fits, "table", fits_table(result), "one row per scope (model or pooled) × method × ε");
    io::write_table(fits, "bits", bits_table(result), "predicted against measured bits per weight, per method × ε");
    file.commit();
  }
}

namespace {

std::string format_value(double value, int digits = 4) {
  if (!std::isfinite(value)) return "–";
  return fmt::format("{:.{}g}", value, digits);
}

// The middle of the ε values a method was swept at (the lower middle for an
// even count): the headline reports that ε.
double middle_eps(const std::vector<double>& values) {
  std::vector<double> sorted = values;
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  return sorted.empty() ? kNaN : sorted[(sorted.size() - 1) / 2];
}

std::string interval_text(double value, const Interval& interval, int digits) {
  return fmt::format("{} [{}, {}]", format_value(value, digits), format_value(interval.low, digits),
                     format_value(interval.high, digits));
}

// The rule of the per-model sentence, fixed before any fit was seen: a
// method's relation is "linear within the intervals" when the slope's 95%
// interval excludes 0 and the lower end of R²'s 95% interval is at least
// kLinearRSquaredLow, i.e. even the pessimistic end of the interval leaves
// at most 10% of the critical amount's variance to curvature and noise.
constexpr double kLinearRSquaredLow = 0.9;

// Per model (not pooled) and method at the middle ε: slope and R² with their
// intervals and n, then one sentence per model.
std::string headline_markdown(const FitStageResult& result) {
  std::map<std::string, std::vector<double>> eps_by_method;
  for (const FitRow& row : result.fits) eps_by_method[row.method].push_back(row.eps);
  std::vector<std::string> models;
  for (const FitRow& row : result.fits)
    if (row.scope != "pooled" && std::find(models.begin(), models.end(), row.scope) == models.end())
      models.push_back(row.scope);
  std::string out =
      "Per model, at each method's middle ε: critical amount = intercept + slope·λ̂ over the checkpoints whose "
      "search found the critical amount (n). 95% bootstrap intervals (slope: bootstrap-t carrying λ̂'s chain "
      "standard error; R²: percentile). A relation counts as *linear within the intervals* when the slope "
      "interval excludes 0 and the R² interval's lower end is ≥ 0.9 (rule fixed in src/pipeline/fit_results.cpp "
      "before any fit was seen).\n\n";
  out += "| model | method | ε | n | slope [95% CI] | R² [95% CI] | linear within the intervals |\n";
  out += "|---|---|---|---|---|---|---|\n";
  std::map<std::string, std::vector<std::string>> linear, not_linear;
  for (const std::string& model : models)
    for (const FitRow& row : result.fits) {
      if (row.scope != model || row.eps != middle_eps(eps_by_method[row.method])) continue;
      std::string verdict;
      if (!row.fitted) {
        verdict = "no fit (too few points or constant λ̂)";
        not_linear[model].push_back(row.method + " (no fit)");
      } else if (!row.intervals) {
        verdict = "no intervals (" + std::to_string(row.points) + " points)";
        not_linear[model].push_back(row.method + " (no intervals)");
      } else {
        const bool excludes_zero = row.fit.slope.low > 0 || row.fit.slope.high < 0;
        const bool high = row.fit.r_squared.low >= kLinearRSquaredLow;
        verdict = excludes_zero && high ? "yes"
                  : !excludes_zero      ? "no: slope interval contains 0"
                                        : "no: R² interval reaches below 0.9";
        (excludes_zero && high ? linear : not_linear)[model].push_back(
            excludes_zero && high ? row.method
                                  : fmt::format("{} (R² ≥ {})", row.method, format_value(row.fit.r_squared.low, 2)));
      }
      out += fmt::format("| {} | {} | {:g} | {} | {} | {} | {} |\n", model, row.method, row.eps, row.points,
                         row.fitted ? interval_text(row.fit.point.slope, row.fit.slope, 3) : "–",
                         row.fitted ? interval_text(row.fit.point.r_squared, row.fit.r_squared, 3) : "–", verdict);
    }
  out += "\n";
  auto join = [](const std::vector<std::string>& items) {
    std::string text;
    for (std::size_t i = 0; i < items.size(); ++i) text += (i ? ", " : "") + items[i];
    return text;
  };
  for (const std::string& model : models) {
    const auto& yes = linear[model];
    const auto& no = not_linear[model];
    if (no.empty())
      out += fmt::format("- **{}**: linear within the intervals for every method ({}).\n", model, join(yes));
    else if (yes.empty())
      out += fmt::format("- **{}**: not linear within the intervals for any method ({}).\n", model, join(no));
    else
      out += fmt::format("- **{}**: linear within the intervals for {}; not for {}.\n", model, join(yes), join(no));
  }
  return out + "\n";
}

// What the demo's design promises, per model: checkpoints with a found
// critical amount for every method at the middle ε, distinct critical
// quantization levels, and λ̂'s largest standard error against its range.
std::string resolvability_markdown(const io::Table& llc, const io::Table& critical) {
  const std::size_t rows = static_cast<std::size_t>(critical.num_rows());
  if (rows == 0 || llc.num_rows() == 0) return "";
  const auto& model = critical.values<std::string>("model");
  const auto& method = critical.values<std::string>("method");
  const auto step = numeric_column(critical, "step", "/tables/critical");
  const auto eps = numeric_column(critical, "eps", "/tables/critical");
  const auto amount = numeric_column(critical, "critical_amount", "/tables/critical");
  const auto status = optional_string_column(critical, "status", rows, "found");
  std::map<std::string, std::vector<double>> eps_by_method;
  for (std::size_t i = 0; i < rows; ++i) eps_by_method[method[i]].push_back(eps[i]);
  std::vector<std::string> skipped;  // failed LLC rows: named in the fits section, left out here too
  const auto points = llc_by_checkpoint(llc, skipped);
  std::vector<std::string> models;
  for (const auto& [key, point] : points)
    if (std::find(models.begin(), models.end(), key.first) == models.end()) models.push_back(key.first);
  std::string out =
      "### Resolvability (per model)\n\n"
      "Checkpoints with a found critical amount for every method at its middle ε (of the model's checkpoints); "
      "distinct critical quantization levels at the middle ε over those checkpoints; λ̂'s largest standard error "
      "over the checkpoints against its range (largest − smallest λ̂).\n\n"
      "| model | checkpoints all found / all | steps all found | distinct quant levels | max se(λ̂) / range(λ̂) |\n"
      "|---|---|---|---|---|\n";
  for (const std::string& name : models) {
    std::map<std::int64_t, std::pair<int, int>> per_step;  // step -> (found, rows at middle ε)
    std::set<double> levels;
    for (std::size_t i = 0; i < rows; ++i) {
      if (model[i] != name || eps[i] != middle_eps(eps_by_method[method[i]])) continue;
      auto& [found, total] = per_step[static_cast<std::int64_t>(step[i])];
      ++total;
      if (status[i] == "found") ++found;
    }
    std::vector<std::int64_t> all_found;
    for (const auto& [s, counts] : per_step)
      if (counts.second == static_cast<int>(eps_by_method.size()) && counts.first == counts.second)
        all_found.push_back(s);
    for (std::size_t i = 0; i < rows; ++i)
      if (model[i] == name && method[i] == "quant" && eps[i] == middle_eps(eps_by_method["quant"]) &&
          status[i] == "found" &&
          std::find(all_found.begin(), all_found.end(), static_cast<std::int64_t>(step[i])) != all_found.end())
        levels.insert(amount[i]);
    double low = INFINITY, high = -INFINITY, largest_se = 0;
    for (const auto& [key, point] : points) {
      if (key.first != name) continue;
      low = std::min(low, point.mean), high = std::max(high, point.mean);
      largest_se = std::max(largest_se, point.standard_error);
    }
    std::string steps_text;
    if (!all_found.empty()) steps_text = fmt::format("{} … {}", all_found.front(), all_found.back());
    out += fmt::format("| {} | {} / {} | {} | {} | {} |\n", name, all_found.size(), per_step.size(),
                       steps_text.empty() ? "–" : steps_text,
                       eps_by_method.count("quant") ? std::to_string(levels.size()) : "–",
                       high > low ? fmt::format("{:.1f}%", 100 * largest_se / (high - low)) : "–");
  }
  return out + "\n";
}

}  // namespace

std::string fit_report_markdown(const FitStageResult& result, const io::Table& llc, const io::Table& critical,
                                const std::filesystem::path& results_path) {
  std::string out;
  out += "# llcpress report\n\n";
  out += fmt::format("Source: `{}` (written by `llcpress fit` at {}). Every number below is read from that file;\n",
                     results_path.string(), io::utc_timestamp_now());
  out += "`llcpress query` prints any of its tables.\n\n";

  out += "## Does the LLC predict compressibility?\n\n";
  out += headline_markdown(result);
  out += resolvability_markdown(llc, critical);
  out += "### Every fit\n\n";
  out +=
      "Least-squares fit of the critical amount against λ̂ over checkpoints. Intervals: 95% bootstrap "
      "(slope: bootstrap-t carrying the chains' uncertainty in λ̂). Rows with n < 3 are not fitted. Critical "
      "amounts that are a bound of the search range (even the most compression stayed within ε, or none "
      "did) are left out of the fit and counted.\n\n";
  if (!result.skipped_llc.empty()) {
    out +=
        "Left out of every fit and prediction: checkpoints whose LLC shard failed (too few healthy chains; "
        "docs/llc.md, \"Chain health\"):\n\n";
    for (const std::string& skipped : result.skipped_llc) out += "- " + skipped + "\n";
    out += "\n";
  }
  out += "| method | ε | scope | n | bounds left out | slope [95% CI] | intercept | R² | Pearson | Spearman |\n";
  out += "|---|---|---|---|---|---|---|---|---|---|\n";
  for (const FitRow& row : result.fits) {
    const std::string slope = row.fitted
                                  ? fmt::format("{} [{}, {}]", format_value(row.fit.point.slope),
                                                format_value(row.fit.slope.low), format_value(row.fit.slope.high))
                                  : "–";
    out += fmt::format("| {} | {:g} | {} | {} | {} | {} | {} | {} | {} | {} |\n", row.method, row.eps, row.scope,
                       row.points, row.excluded_bounds, slope, format_value(row.fit.point.intercept),
                       format_value(row.fit.point.r_squared, 3), format_value(row.fit.point.pearson, 3),
                       format_value(row.fit.point.spearman, 3));
  }

  if (!result.bits.empty()) {
    out += "\n## Predicted against measured bits per weight\n\n";
    out += "Prediction b* = (λ̂/d)·log₂(1/ε); measured: bits per weight at the critical amount.\n\n";
    out += "| method | ε | n | measured (mean) | predicted (mean) | measured/predicted | Pearson |\n";
    out += "|---|---|---|---|---|---|---|\n";
    for (const BitsRow& row : result.bits)
      out += fmt::format("| {} | {:g} | {} | {} | {} | {} | {} |\n", row.method, row.eps, row.points,
                         format_value(row.measured_mean), format_value(row.predicted_mean),
                         format_value(row.ratio_mean, 3), format_value(row.pearson, 3));
  }

  // λ̂ per checkpoint, and the critical amounts at the middle ε, so the fit's
  // inputs are visible next to it.
  out += "\n## λ̂ per checkpoint\n\n| model | step | λ̂ | std | status |\n|---|---|---|---|---|\n";
  const auto llc_status = optional_string_column(llc, "status", static_cast<std::size_t>(llc.num_rows()), "done");
  const auto& llc_model = llc.values<std::string>("model");
  const auto llc_step = numeric_column(llc, "step", "/tables/llc");
  const auto llc_mean = numeric_column(llc, "llc_mean", "/tables/llc");
  const auto llc_std = numeric_column(llc, "llc_std", "/tables/llc");
  std::vector<std::size_t> order(llc_model.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return std::tie(llc_model[a], llc_step[a]) < std::tie(llc_model[b], llc_step[b]);
  });
  for (const std::size_t i : order)
    out += fmt::format("| {} | {:.0f} | {} | {} | {} |\n", llc_model[i], llc_step[i], format_value(llc_mean[i]),
                       format_value(llc_std[i], 2), llc_status[i] == "done" ? "done" : "FAILED (not used)");

  const std::size_t rows = static_cast<std::size_t>(critical.num_rows());
  if (rows > 0) {
    const auto& model = critical.values<std::string>("model");
    const auto& method = critical.values<std::string>("method");
    const auto step = numeric_column(critical, "step", "/tables/critical");
    const auto eps = numeric_column(critical, "eps", "/tables/critical");
    const auto amount = numeric_column(critical, "critical_amount", "/tables/critical");
    const auto status = optional_string_column(critical, "status", rows, "found");
    std::vector<std::size_t> critical_order(rows);
    for (std::size_t i = 0; i < rows; ++i) critical_order[i] = i;
    std::stable_sort(critical_order.begin(), critical_order.end(), [&](std::size_t a, std::size_t b) {
      return std::tie(method[a], eps[a], model[a], step[a]) < std::tie(method[b], eps[b], model[b], step[b]);
    });
    out += "\n## Critical amounts\n\n| method | ε | model | step | critical | status |\n|---|---|---|---|---|---|\n";
    for (const std::size_t i : critical_order)
      out += fmt::format("| {} | {:g} | {} | {:.0f} | {} | {} |\n", method[i], eps[i], model[i], step[i],
                         format_value(amount[i]), status[i]);
  }
  return out;
}

}  // namespace llcpress
