// The method table and the methods themselves. Every method starts from a
// copy of the reference weights and changes only its own tensors, so
// evaluating points in any order gives the same results.
#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include "compress/method.h"
#include "compress/prune.h"
#include "compress/quantizer.h"
#include "compress/svd.h"
#include "core/check.h"
#include "core/log.h"
#include "core/rng.h"
#include "core/timer.h"

namespace llcpress::compress {

// method_lattice.cpp (needs src/lattice).
std::unique_ptr<CompressionMethod> make_lattice_method(MethodInfo info, const MethodOptions& options);

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
    apply(oracle.working(), oracle.reference(), parameter, draw);
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

namespace {

void copy_reference(std::span<float> out, std::span<const float> reference) {
  LLC_REQUIRE(out.size() == reference.size(), "{} vs {}", out.size(), reference.size());
  std::copy(reference.begin(), reference.end(), out.begin());
}

std::vector<const ParameterView*> require_selection(const MethodOptions& options, const ParameterTable& table,
                                                    const std::string& method) {
  auto views = options.tensors.select(table);
  LLC_CHECK(!views.empty(), ConfigError, "tensors", "select roles the model has, e.g. --tensors linear",
            "{}: the selection '{}' matches no tensor of the model", method, options.tensors.to_string());
  return views;
}

// [rows, cols] of a tensor as the quantizer sees it: a matrix keeps its rows
// (output channels), anything else is one row.
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

// ---------------------------------------------------------------- quantization

class QuantMethod final : public CompressionMethod {
 public:
  QuantMethod(MethodInfo info, MethodOptions options, ClipRule rule, bool loss_search)
      : CompressionMethod(std::move(info), std::move(options)), rule_(rule), loss_search_(loss_search) {
    LLC_CHECK(!loss_search_ || options_.clip_search_evaluations >= 1, ConfigError, "clip-search-evaluations",
              "use at least 1 (1 = the weight-MSE clip only)", "got {}", options_.clip_search_evaluations);
  }

  void prepare(const ParameterTable& table, std::span<const float> reference) override {
    views_ = require_selection(options_, table, info_.name);
    reference_ = reference;
    clips_.clear();
  }

  SearchAxis axis() const override {
    // 2 levels (1 bit) to 65536 (16 bits), bisected in log2(levels); the
    // start, 16 levels, is near the critical counts seen for small models.
    return {
        .least = 65536, .most = 2, .integer = true, .log_scale = true, .start = 16, .initial_step = 1, .resolution = 1};
  }

  void apply(std::span<float> out, std::span<const float> reference, double parameter, int) const override {
    apply_scaled(out, reference, parameter, 1.0);
  }

  double bits_per_weight(double parameter) const override { return std::log2(parameter); }

  EvaluatedPoint evaluate(double parameter, LossOracle& oracle) const override {
    if (!loss_search_) return CompressionMethod::evaluate(parameter, oracle);
    EvaluatedPoint point;
    point.parameter = parameter;
    point.effective_parameter = parameter;
    point.bits_per_weight = bits_per_weight(parameter);
    auto trial = [&](double log_scale) {
      Stopwatch watch;
      apply_scaled(oracle.working(), oracle.reference(), parameter, std::exp(log_scale));
      point.seconds_apply += watch.seconds();
      watch.reset();
      double loss = oracle.loss();
      point.seconds_loss += watch.seconds();
      point.clip_trials.push_back({std::exp(log_scale), loss});
      return loss;
    };
    // Compass search on ln(clip scale) from the weight-MSE clip (scale 1):
    // try a step either side, move to an improvement, halve the step when
    // neither side improves. The loss is close to unimodal in the clip, and
    // the result is never worse than the MSE seed. The first step, a factor
    // e^0.3 ≈ 1.35, spans the usual gap between the MSE and loss optima.
    double best_log = 0, best = trial(0.0);
    double step = 0.3;
    int used = 1;
    while (used < options_.clip_search_evaluations) {
      bool improved = false;
      for (double sign : {1.0, -1.0}) {
        if (used >= options_.clip_search_evaluations) break;
        double candidate = best_log + sign * step;
        double loss = trial(candidate);
        ++used;
        if (better(loss, best)) {
          best = loss, best_log = candidate, improved = true;
          break;
        }
      }
      if (!improved) step *= 0.5;
    }
    point.loss = best;
    point.clip_scale = std::exp(best_log);
    point.loss_evaluations = used;
    point.draw_losses = {best};
    return point;
  }

  std::size_t compressed_count() const override {
    std::size_t total = 0;
    for (const ParameterView* view : views_) total += view->size;
    return total;
  }

  nlohmann::json config() const override {
    nlohmann::json json = CompressionMethod::config();
    json["clip_rule"] = rule_ == ClipRule::MaxAbs ? "max_abs" : "weight_mse_optimal";
    json["clip_search"] = loss_search_ ? "compass search on ln(clip scale) minimising the held-out loss" : "none";
    return json;
  }

 private:
  int levels_of(double parameter) const {
    LLC_CHECK(parameter >= 2 && parameter == std::round(parameter) && parameter <= (1 << 24), ConfigError, "levels",
              "use a whole number of levels in [2, 2^24]", "{}: invalid level count {}", info_.name, parameter);
    return static_cast<int>(parameter);
  }

  // Clips per selected tensor for a level count, computed once per count.
  const std::vector<std::vector<float>>& clips_for(int levels) const {
    auto found = clips_.find(levels);
    if (found != clips_.end()) return found->second;
    std::vector<std::vector<float>> clips;
    for (const ParameterView* view : views_) {
      auto [rows, cols] = rows_and_columns(*view);
      clips.push_back(
          choose_clips(reference_.subspan(view->offset, view->size), rows, cols, options_.per_channel, levels, rule_));
    }
    return clips_.emplace(levels, std::move(clips)).first->second;
  }

  void apply_scaled(std::span<float> out, std::span<const float> reference, double parameter, double scale) const {
    LLC_REQUIRE(reference.data() == reference_.data() || reference.size() == reference_.size(),
                "apply() on a different model than prepare()");
    const int levels = levels_of(parameter);
    const auto& clips = clips_for(levels);
    copy_reference(out, reference);
    for (std::size_t t = 0; t < views_.size(); ++t) {
      const ParameterView& view = *views_[t];
      auto [rows, cols] = rows_and_columns(view);
      quantize_tensor_forward(out.subspan(view.offset, view.size), reference.subspan(view.offset, view.size),
                              options_.per_channel ? rows : 1, options_.per_channel ? cols : view.size, levels,
                              clips[t], scale);
    }
  }

  ClipRule rule_;
  bool loss_search_;
  std::vector<const ParameterView*> views_;
  std::span<const float> reference_;
  mutable std::map<int, std::vector<std::vector<float>>> clips_;
};

// ---------------------------------------------------------------- truncated SVD

class SvdMethod final : public CompressionMethod {
 public:
  using CompressionMethod::CompressionMethod;

  void prepare(const ParameterTable& table, std::span<const float> reference) override {
    factors_.clear();
    matrices_.clear();
    max_rank_ = 1;
    Stopwatch watch;
    for (const ParameterView* view : require_selection(options_, table, info_.name)) {
      // Vectors (biases, norms) have no rank to truncate: left as they are.
      if (view->shape.size() != 2 || view->rows() < 2 || view->cols() < 2) continue;
      matrices_.push_back(view);
      factors_.emplace_back(reference.subspan(view->offset, view->size), view->rows(), view->cols());
      max_rank_ = std::max(max_rank_, factors_.back().full_rank());
    }
    LLC_CHECK(!matrices_.empty(), ConfigError, "tensors", "select linear weights (--tensors linear)",
              "svd: the selection '{}' contains no matrix", options_.tensors.to_string());
    spdlog::debug("svd: factorised {} matrices in {:.2f} s", matrices_.size(), watch.seconds());
  }

  SearchAxis axis() const override {
    // Resolution half a rank step of the largest matrix: the bisection ends
    // on the exact rank at which the loss crosses the threshold.
    return {.least = 1,
            .most = 0,
            .integer = false,
            .log_scale = false,
            .start = 0.5,
            .initial_step = 0.125,
            .resolution = 0.5 / static_cast<double>(max_rank_)};
  }

  void apply(std::span<float> out, std::span<const float> reference, double parameter, int) const override {
    LLC_CHECK(parameter >= 0 && parameter <= 1, ConfigError, "kept_fraction", "use a fraction in [0, 1]",
              "svd: kept fraction {} is out of range", parameter);
    copy_reference(out, reference);
    for (std::size_t t = 0; t < matrices_.size(); ++t) {
      const ParameterView& view = *matrices_[t];
      std::int64_t rank = kept_rank(parameter, factors_[t].full_rank());
      if (rank == factors_[t].full_rank()) continue;  // exact identity (the copy)
      factors_[t].reconstruct(out.subspan(view.offset, view.size), rank);
    }
  }

  double effective_parameter(double parameter) const override {
    double kept = 0, total = 0;
    for (const TruncatedSvd& factors : factors_) {
      kept += static_cast<double>(kept_rank(parameter, factors.full_rank()));
      total += static_cast<double>(factors.full_rank());
    }
    return kept / total;
  }

  std::size_t compressed_count() const override {
    std::size_t total = 0;
    for (const ParameterView* view : matrices_) total += view->size;
    return total;
  }

 private:
  std::vector<const ParameterView*> matrices_;
  std::vector<TruncatedSvd> factors_;
  std::int64_t max_rank_ = 1;
};

// ---------------------------------------------------------------- Gaussian noise

class NoiseMethod final : public CompressionMethod {
 public:
  NoiseMethod(MethodInfo info, MethodOptions options, bool relative)
      : CompressionMethod(std::move(info), std::move(options)), relative_(relative) {
    LLC_CHECK(options_.noise_draws >= 1, ConfigError, "noise-draws", "use at least 1 draw", "got {}",
              options_.noise_draws);
  }

  void prepare(const ParameterTable& table, std::span<const float> reference) override {
    views_ = require_selection(options_, table, info_.name);
    rms_.clear();
    for (const ParameterView* view : views_) {
      double squares = 0;
      for (float w : reference.subspan(view->offset, view->size)) squares += double(w) * w;
      rms_.push_back(std::sqrt(squares / static_cast<double>(view->size)));
    }
  }

  SearchAxis axis() const override {
    // σ in log2 steps from a start near typical critical values; the
    // resolution is 2 % in σ. Absolute σ is in weight units, where language
    // models have RMS ~ 0.02; relative σ is a fraction of each tensor's RMS.
    if (relative_)
      return {.least = 1e-4,
              .most = 16,
              .integer = false,
              .log_scale = true,
              .start = 0.1,
              .initial_step = 1,
              .resolution = std::log2(1.02)};
    return {.least = 1e-6,
            .most = 1,
            .integer = false,
            .log_scale = true,
            .start = 2e-3,
            .initial_step = 1,
            .resolution = std::log2(1.02)};
  }

  int draws() const override { return options_.noise_draws; }

  void apply(std::span<float> out, std::span<const float> reference, double parameter, int draw) const override {
    LLC_CHECK(parameter >= 0 && std::isfinite(parameter), ConfigError, info_.parameter, "use σ >= 0",
              "{}: invalid σ {}", info_.name, parameter);
    copy_reference(out, reference);
    if (parameter == 0) return;
    for (std::size_t t = 0; t < views_.size(); ++t) {
      const ParameterView& view = *views_[t];
      const float sigma = static_cast<float>(relative_ ? parameter * rms_[t] : parameter);
      // One stream per (draw, tensor): every σ reuses the same standard
      // normals (common random numbers), so the averaged curve is smooth and
      // monotone in σ instead of jittering from point to point.
      CounterRng rng(options_.seed, stream_id(kNoiseStream, static_cast<std::uint64_t>(draw), t));
      auto slice = out.subspan(view.offset, view.size);
      rng.fill_normal(slice.data(), slice.size());
      auto source = reference.subspan(view.offset, view.size);
      for (std::size_t i = 0; i < slice.size(); ++i) slice[i] = source[i] + sigma * slice[i];
    }
  }

  std::size_t compressed_count() const override {
    std::size_t total = 0;
    for (const ParameterView* view : views_) total += view->size;
    return total;
  }

  nlohmann::json config() const override {
    nlohmann::json json = CompressionMethod::config();
    json["sigma_scale"] = relative_ ? "relative to each tensor's RMS" : "absolute";
    json["noise_stream"] = "Philox(seed, stream_id(0x6e6f697365, draw, tensor index)), element i of the tensor";
    return json;
  }

 private:
  static constexpr std::uint64_t kNoiseStream = 0x6e6f697365ull;  // "noise"
  bool relative_;
  std::vector<const ParameterView*> views_;
  std::vector<double> rms_;
};

// ---------------------------------------------------------------- magnitude pruning

class PruneMethod final : public CompressionMethod {
 public:
  using CompressionMethod::CompressionMethod;

  void prepare(const ParameterTable& table, std::span<const float> reference) override {
    views_ = require_selection(options_, table, info_.name);
    orders_.clear();
    global_order_.clear();
    if (!options_.prune_global) {
      for (const ParameterView* view : views_)
        orders_.push_back(magnitude_order(reference.subspan(view->offset, view->size)));
      return;
    }
    // One ranking over all selected entries, as flat buffer offsets.
    for (const ParameterView* view : views_)
      for (std::size_t i = 0; i < view->size; ++i) global_order_.push_back(view->offset + i);
    std::stable_sort(global_order_.begin(), global_order_.end(),
                     [&](std::size_t a, std::size_t b) { return std::fabs(reference[a]) < std::fabs(reference[b]); });
  }

  SearchAxis axis() const override {
    return {.least = 0,
            .most = 1,
            .integer = false,
            .log_scale = false,
            .start = 0.5,
            .initial_step = 0.125,
            .resolution = 1.0 / 1024};
  }

  void apply(std::span<float> out, std::span<const float> reference, double parameter, int) const override {
    LLC_CHECK(parameter >= 0 && parameter <= 1, ConfigError, "pruned_fraction", "use a fraction in [0, 1]",
              "prune: fraction {} is out of range", parameter);
    copy_reference(out, reference);
    if (options_.prune_global) {
      const std::size_t count = pruned_count(parameter, global_order_.size());
      for (std::size_t i = 0; i < count; ++i) out[global_order_[i]] = 0.0f;
      return;
    }
    for (std::size_t t = 0; t < views_.size(); ++t) {
      const ParameterView& view = *views_[t];
      prune_smallest(out.subspan(view.offset, view.size), orders_[t], pruned_count(parameter, view.size));
    }
  }

  double effective_parameter(double parameter) const override {
    if (options_.prune_global) return pruned_count(parameter, global_order_.size()) / double(global_order_.size());
    double pruned = 0, total = 0;
    for (const ParameterView* view : views_) {
      pruned += static_cast<double>(pruned_count(parameter, view->size));
      total += static_cast<double>(view->size);
    }
    return pruned / total;
  }

  std::size_t compressed_count() const override {
    std::size_t total = 0;
    for (const ParameterView* view : views_) total += view->size;
    return total;
  }

 private:
  static std::size_t pruned_count(double fraction, std::size_t size) {
    return static_cast<std::size_t>(std::llround(fraction * static_cast<double>(size)));
  }
  std::vector<const ParameterView*> views_;
  std::vector<std::vector<std::uint32_t>> orders_;
  std::vector<std::size_t> global_order_;
};

// ---------------------------------------------------------------- structured pruning

class StructuredPruneMethod final : public CompressionMethod {
 public:
  StructuredPruneMethod(MethodInfo info, MethodOptions options, bool heads)
      : CompressionMethod(std::move(info), std::move(options)), heads_(heads) {}

  void prepare(const ParameterTable& table, std::span<const float> reference) override {
    units_ = heads_ ? attention_heads(table, reference, options_.num_heads) : mlp_neurons(table, reference);
    order_by_score(units_);
    count_ = 0;
    for (const StructuredUnit& unit : units_) {
      for (const RowBlock& block : unit.rows)
        count_ += block.count * (block.view->shape.size() >= 2 ? block.view->cols() : 1);
      for (const RowBlock& block : unit.columns) count_ += block.count * block.view->rows();
    }
  }

  SearchAxis axis() const override {
    const double total = static_cast<double>(units_.size());
    return {.least = 0,
            .most = total,
            .integer = true,
            .log_scale = false,
            .start = std::round(total / 4),
            .initial_step = std::max(1.0, std::round(total / 16)),
            .resolution = 1};
  }

  void apply(std::span<float> out, std::span<const float> reference, double parameter, int) const override {
    LLC_CHECK(parameter >= 0 && parameter <= static_cast<double>(units_.size()) && parameter == std::round(parameter),
              ConfigError, info_.parameter, "use a whole number of units", "{}: cannot remove {} of {} units",
              info_.name, parameter, units_.size());
    copy_reference(out, reference);
    for (std::size_t i = 0; i < static_cast<std::size_t>(parameter); ++i) zero_unit(out, units_[i]);
  }

  std::size_t compressed_count() const override { return count_; }

  nlohmann::json config() const override {
    nlohmann::json json = CompressionMethod::config();
    json["units"] = units_.size();
    json["ranking"] = heads_ ? "global, by ||W_V,h||_F * ||W_O,h||_F (value rows with bias, output columns)"
                             : "global, by ||(W_in,j, b_j)|| * ||W_out[:, j]||";
    std::vector<std::string> order;
    for (std::size_t i = 0; i < std::min<std::size_t>(units_.size(), 64); ++i) order.push_back(units_[i].label);
    json["first_removed"] = order;
    return json;
  }

  // Removal order (for tests and output).
  const std::vector<StructuredUnit>& units() const { return units_; }

 private:
  bool heads_;
  std::vector<StructuredUnit> units_;
  std::size_t count_ = 0;
};

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
        return std::make_unique<QuantMethod>(std::move(info), options, ClipRule::MseOptimal, true);
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
        return std::make_unique<QuantMethod>(std::move(info), options, ClipRule::MaxAbs, false);
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
        return std::make_unique<SvdMethod>(std::move(info), options);
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
        return std::make_unique<NoiseMethod>(std::move(info), options, false);
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
        return std::make_unique<NoiseMethod>(std::move(info), options, true);
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
        return std::make_unique<PruneMethod>(std::move(info), options);
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
        return std::make_unique<StructuredPruneMethod>(std::move(info), options, true);
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
        return std::make_unique<StructuredPruneMethod>(std::move(info), options, false);
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
