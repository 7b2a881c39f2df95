// The method table and what the methods share. Every method (one file each:
// method_quantize.cpp, method_svd.cpp, method_noise.cpp, method_prune.cpp,
// method_lattice.cpp) starts from a copy of the reference weights and changes
// only its own tensors, so evaluating points in any order gives the same results.
#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include "compress/method_common.h"
#include "core/check.h"
#include "core/log.h"
#include "core/rng.h"
#include "core/timer.h"

namespace llcpress::compress {

nlohmann::json MethodOptions::to_json() const {
  return {{"tensors", tensors.to_string()},
          {"per_channel", per_channel},
          {"clip_search_evaluations", clip_search_evaluations},
          {"noise_draws", noise_draws},
          {"seed", seed},
          {"prune_scope", prune_global ? "global" : "tensor"},
          {"num_heads", num_heads},
          {"lattice", lattice}};
}

nlohmann::json CompressionMethod::config() const {
  nlohmann::json json = options_.to_json();
  json["method"] = info_.name;
  return json;
}

EvaluatedPoint CompressionMethod::evaluate(double parameter, LossOracle& oracle) const {
  EvaluatedPoint point;
  point.parameter = parameter;
  point.effective_parameter = effective_parameter(parameter);
  for (int draw = 0; draw < draws(); ++draw) {
    Stopwatch watch;
    apply(oracle.backend(), oracle.working(), oracle.reference(), parameter, draw);
    point.seconds_apply += watch.seconds();
    watch.reset();
    point.draw_losses.push_back(oracle.loss());
    point.seconds_loss += watch.seconds();
  }
  point.loss_evaluations = draws();
  point.bits_per_weight = bits_per_weight(parameter);  // after apply(): the lattice reports what it spent
  const double count = static_cast<double>(point.draw_losses.size());
  point.loss = std::accumulate(point.draw_losses.begin(), point.draw_losses.end(), 0.0) / count;
  if (point.draw_losses.size() > 1) {
    double squares = 0;
    for (double loss : point.draw_losses) squares += (loss - point.loss) * (loss - point.loss);
    point.loss_std = std::sqrt(squares / (count - 1));
  }
  return point;
}

std::size_t total_size(const std::vector<const ParameterView*>& views) {
  std::size_t total = 0;
  for (const ParameterView* view : views) total += view->size;
  return total;
}

void copy_reference(backend::Backend& backend, std::span<float> out, std::span<const float> reference) {
  LLC_REQUIRE(out.size() == reference.size(), "{} vs {}", out.size(), reference.size());
  if (out.data() == reference.data()) return;
  backend.copy(out.data(), reference.data(), static_cast<std::int64_t>(out.size()));
}

std::vector<float> download_slice(backend::Backend& backend, std::span<const float> slice) {
  std::vector<float> host(slice.size());
  backend.download(host.data(), slice.data(), slice.size_bytes());
  return host;
}

std::vector<const ParameterView*> require_selection(const MethodOptions& options, const ParameterTable& table,
                                                    const std::string& method) {
  auto views = options.tensors.select(table);
  LLC_CHECK(!views.empty(), ConfigError, "tensors", "select roles the model has, e.g. --tensors linear",
            "{}: the selection '{}' matches no tensor of the model", method, options.tensors.to_string());
  return views;
}

std::pair<std::int64_t, std::int64_t> rows_and_columns(const ParameterView& view) {
  if (view.shape.size() >= 2 && view.rows() > 0) {
    std::int64_t rows = view.rows();
    return {rows, static_cast<std::int64_t>(view.size) / rows};
  }
  return {1, static_cast<std::int64_t>(view.size)};
}

bool better(double candidate, double incumbent) {
  return !std::isnan(candidate) && (std::isnan(incumbent) || candidate < incumbent);
}

namespace {

std::vector<MethodEntry> build_table() {
  std::vector<MethodEntry> table;
  auto add = [&](MethodInfo info, auto make) {
    MethodInfo copy = info;
    table.push_back({std::move(info), [copy, make](const MethodOptions& options) { return make(copy, options); }});
  };
  add({.name = "quant",
       .summary = "uniform n_q levels on [-m, m], m minimising the held-out loss (seeded by the weight-MSE clip)",
       .parameter = "levels",
       .unit = "levels",
       .units = "quantization levels per tensor (per row with --per-channel)",
       .meaning = "smallest level count whose loss stays within L0 + eps is critical",
       .direction = Direction::SmallerIsMore,
       .integer = true,
       .has_bits = true,
       .identity = std::nullopt},
      [](MethodInfo info, const MethodOptions& options) -> std::unique_ptr<CompressionMethod> {
        return make_quant_method(std::move(info), options, ClipRule::MseOptimal, true);
      });
  add({.name = "quant-maxabs",
       .summary = "uniform n_q levels on [-max|w|, max|w|]",
       .parameter = "levels",
       .unit = "levels",
       .units = "quantization levels per tensor (per row with --per-channel)",
       .meaning = "smallest level count whose loss stays within L0 + eps is critical",
       .direction = Direction::SmallerIsMore,
       .integer = true,
       .has_bits = true,
       .identity = std::nullopt},
      [](MethodInfo info, const MethodOptions& options) -> std::unique_ptr<CompressionMethod> {
        return make_quant_method(std::move(info), options, ClipRule::MaxAbs, false);
      });
  add({.name = "svd",
       .summary = "truncated SVD of each selected matrix keeping a fraction of its singular values",
       .parameter = "kept_fraction",
       .unit = "1",
       .units = "fraction of each matrix's singular values kept (rank = round(f * min(rows, cols)))",
       .meaning = "smallest kept fraction whose loss stays within L0 + eps is critical",
       .direction = Direction::SmallerIsMore,
       .integer = false,
       .identity = 1.0},
      [](MethodInfo info, const MethodOptions& options) -> std::unique_ptr<CompressionMethod> {
        return make_svd_method(std::move(info), options);
      });
  add({.name = "noise",
       .summary = "Gaussian noise N(0, sigma^2) added to each selected weight, averaged over seeded draws",
       .parameter = "sigma",
       .unit = "weight units",
       .units = "weight units (absolute standard deviation)",
       .meaning = "largest sigma whose mean loss stays within L0 + eps is critical",
       .direction = Direction::LargerIsMore,
       .integer = false,
       .stochastic = true,
       .identity = 0.0},
      [](MethodInfo info, const MethodOptions& options) -> std::unique_ptr<CompressionMethod> {
        return make_noise_method(std::move(info), options, false);
      });
  add({.name = "noise-rel",
       .summary = "Gaussian noise with sigma relative to each tensor's RMS, averaged over seeded draws",
       .parameter = "sigma_relative",
       .unit = "1",
       .units = "fraction of each tensor's root-mean-square weight",
       .meaning = "largest relative sigma whose mean loss stays within L0 + eps is critical",
       .direction = Direction::LargerIsMore,
       .integer = false,
       .stochastic = true,
       .identity = 0.0},
      [](MethodInfo info, const MethodOptions& options) -> std::unique_ptr<CompressionMethod> {
        return make_noise_method(std::move(info), options, true);
      });
  add({.name = "prune",
       .summary = "unstructured magnitude pruning (per tensor, or global with --prune-scope global)",
       .parameter = "pruned_fraction",
       .unit = "1",
       .units = "fraction of the selected weights set to zero",
       .meaning = "largest pruned fraction whose loss stays within L0 + eps is critical",
       .direction = Direction::LargerIsMore,
       .integer = false,
       .identity = 0.0},
      [](MethodInfo info, const MethodOptions& options) -> std::unique_ptr<CompressionMethod> {
        return make_prune_method(std::move(info), options);
      });
  add({.name = "prune-heads",
       .summary = "structured pruning of whole attention heads, least important first (global ranking)",
       .parameter = "heads_removed",
       .unit = "heads",
       .units = "attention heads removed, out of layers * heads",
       .meaning = "most heads removed with the loss within L0 + eps is critical",
       .direction = Direction::LargerIsMore,
       .integer = true,
       .identity = 0.0},
      [](MethodInfo info, const MethodOptions& options) -> std::unique_ptr<CompressionMethod> {
        return make_structured_prune_method(std::move(info), options, true);
      });
  add({.name = "prune-neurons",
       .summary = "structured pruning of whole MLP neurons, least important first (global ranking)",
       .parameter = "neurons_removed",
       .unit = "neurons",
       .units = "MLP neurons removed, out of layers * intermediate size",
       .meaning = "most neurons removed with the loss within L0 + eps is critical",
       .direction = Direction::LargerIsMore,
       .integer = true,
       .identity = 0.0},
      [](MethodInfo info, const MethodOptions& options) -> std::unique_ptr<CompressionMethod> {
        return make_structured_prune_method(std::move(info), options, false);
      });
  add({.name = "lattice",
       .summary = "nested-lattice (Voronoi) code of each selected tensor's rows at a target rate (src/lattice)",
       .parameter = "rate",
       .unit = "bits/parameter",
       .units = "target bits per weight (bits_per_weight records what the coder spent)",
       .meaning = "smallest rate whose loss stays within L0 + eps is critical",
       .direction = Direction::SmallerIsMore,
       .integer = false,
       .has_bits = true,
       .identity = std::nullopt},
      [](MethodInfo info, const MethodOptions& options) { return make_lattice_method(std::move(info), options); });
  return table;
}

}  // namespace

const std::vector<MethodEntry>& method_table() {
  static const std::vector<MethodEntry> table = build_table();
  return table;
}

std::string method_names(const std::string& separator) {
  std::string names;
  for (const MethodEntry& entry : method_table()) names += (names.empty() ? "" : separator) + entry.info.name;
  return names;
}

const MethodEntry& find_method(const std::string& name) {
  for (const MethodEntry& entry : method_table())
    if (entry.info.name == name) return entry;
  LLC_THROW(ConfigError, "method", "choose one of " + method_names(", "), "unknown compression method '{}'", name);
}

std::unique_ptr<CompressionMethod> make_method(const std::string& name, const MethodOptions& options) {
  return find_method(name).make(options);
}

}  // namespace llcpress::compress
