// The "quant" and "quant-maxabs" methods: uniform scalar quantization of each
// selected tensor (or row), with the clip from the weight MSE or max |w| and,
// for "quant", a compass search on the clip scale minimising the held-out loss.
#include <algorithm>
#include <cmath>
#include <map>

#include "compress/method_common.h"
#include "core/check.h"
#include "core/log.h"
#include "core/timer.h"

namespace llcpress::compress {

namespace {

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
    // max |w| of each quantization group (the tensor, or each row per
    // channel): the scaled clip never goes beyond it. Computed here, on the
    // host copy of w*, so apply() needs no host access to the parameters.
    caps_.clear();
    for (const ParameterView* view : views_) {
      auto [rows, cols] = rows_and_columns(*view);
      const std::int64_t groups = options_.per_channel ? rows : 1;
      const std::size_t group = options_.per_channel ? static_cast<std::size_t>(cols) : view->size;
      std::vector<float> caps(static_cast<std::size_t>(groups));
      for (std::int64_t g = 0; g < groups; ++g)
        caps[g] = max_abs(reference.subspan(view->offset + static_cast<std::size_t>(g) * group, group));
      caps_.push_back(std::move(caps));
    }
  }

  SearchAxis axis() const override {
    // 2 levels (1 bit) to 65536 (16 bits), bisected in log2(levels); the
    // start, 16 levels, is near the critical counts seen for small models.
    return {
        .least = 65536, .most = 2, .integer = true, .log_scale = true, .start = 16, .initial_step = 1, .resolution = 1};
  }

  void apply(backend::Backend& backend, std::span<float> out, std::span<const float> reference, double parameter,
             int) const override {
    apply_scaled(backend, out, reference, parameter, 1.0);
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
      apply_scaled(oracle.backend(), oracle.working(), oracle.reference(), parameter, std::exp(log_scale));
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

  std::size_t compressed_count() const override { return total_size(views_); }

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

  // out = w* with each selected tensor quantized at `levels`, each group's
  // clip min(clip · scale, max |w|) (as quantize_tensor_forward), by the
  // backend's quantize_rows_forward on one row per group.
  void apply_scaled(backend::Backend& backend, std::span<float> out, std::span<const float> reference, double parameter,
                    double scale) const {
    LLC_REQUIRE(reference.data() == reference_.data() || reference.size() == reference_.size(),
                "apply() on a different model than prepare()");
    const int levels = levels_of(parameter);
    const auto& clips = clips_for(levels);
    copy_reference(backend, out, reference);
    std::vector<float> scaled;  // (groups) HOST: the clips handed to the backend
    for (std::size_t t = 0; t < views_.size(); ++t) {
      const ParameterView& view = *views_[t];
      auto [rows, cols] = rows_and_columns(view);
      const std::int64_t groups = options_.per_channel ? rows : 1;
      const std::int64_t group = options_.per_channel ? cols : static_cast<std::int64_t>(view.size);
      LLC_REQUIRE(clips[t].size() == static_cast<std::size_t>(groups), "{} clips for {} groups", clips[t].size(),
                  groups);
      scaled.resize(static_cast<std::size_t>(groups));
      for (std::int64_t g = 0; g < groups; ++g) {
        scaled[g] = std::min(static_cast<float>(clips[t][g] * scale), caps_[t][g]);
        LLC_REQUIRE(scaled[g] >= 0.0f && std::isfinite(scaled[g]), "tensor {} group {}: clip {}", view.name, g,
                    scaled[g]);
      }
      backend.quantize_rows_forward(out.data() + view.offset, reference.data() + view.offset, scaled.data(), groups,
                                    group, levels);
    }
  }

  ClipRule rule_;
  bool loss_search_;
  std::vector<const ParameterView*> views_;
  std::span<const float> reference_;      // HOST copy of w* (prepare's argument)
  std::vector<std::vector<float>> caps_;  // per selected tensor: max |w| per group
  mutable std::map<int, std::vector<std::vector<float>>> clips_;
};

}  // namespace

std::unique_ptr<CompressionMethod> make_quant_method(MethodInfo info, const MethodOptions& options, ClipRule rule,
                                                     bool loss_search) {
  return std::make_unique<QuantMethod>(std::move(info), options, rule, loss_search);
}

}  // namespace llcpress::compress
