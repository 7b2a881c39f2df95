// The pruning methods: "prune" (unstructured, by magnitude, per tensor or
// global) and "prune-heads" / "prune-neurons" (whole structural units).
#include <algorithm>
#include <cmath>

#include "compress/method_common.h"
#include "compress/prune.h"
#include "core/check.h"
#include "core/log.h"
#include "core/timer.h"

namespace llcpress::compress {

namespace {

// ---------------------------------------------------------------- magnitude pruning

class PruneMethod final : public CompressionMethod {
 public:
  using CompressionMethod::CompressionMethod;

  void prepare(const ParameterTable& table, std::span<const float> reference) override {
    views_ = require_selection(options_, table, info_.name);
    orders_.clear();
    global_order_.clear();
    if (!options_.prune_global) {
      // Each tensor's order as flat buffer offsets, the indices the backend's
      // zero_elements takes.
      for (const ParameterView* view : views_) {
        const std::vector<std::uint32_t> order = magnitude_order(reference.subspan(view->offset, view->size));
        std::vector<std::size_t> offsets(order.size());
        for (std::size_t i = 0; i < order.size(); ++i) offsets[i] = view->offset + order[i];
        orders_.push_back(std::move(offsets));
      }
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

  void apply(backend::Backend& backend, std::span<float> out, std::span<const float> reference, double parameter,
             int) const override {
    LLC_CHECK(parameter >= 0 && parameter <= 1, ConfigError, "pruned_fraction", "use a fraction in [0, 1]",
              "prune: fraction {} is out of range", parameter);
    copy_reference(backend, out, reference);
    if (options_.prune_global) {
      const std::size_t count = pruned_count(parameter, global_order_.size());
      backend.zero_elements(out.data(), global_order_.data(), static_cast<std::int64_t>(count));
      return;
    }
    for (std::size_t t = 0; t < views_.size(); ++t) {
      const std::size_t count = pruned_count(parameter, views_[t]->size);
      LLC_REQUIRE(count <= orders_[t].size(), "count {} of {}", count, orders_[t].size());
      backend.zero_elements(out.data(), orders_[t].data(), static_cast<std::int64_t>(count));
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

  std::size_t compressed_count() const override { return total_size(views_); }

 private:
  static std::size_t pruned_count(double fraction, std::size_t size) {
    return static_cast<std::size_t>(std::llround(fraction * static_cast<double>(size)));
  }
  std::vector<const ParameterView*> views_;
  std::vector<std::vector<std::size_t>> orders_;  // per tensor: flat offsets, smallest |w| first
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

  void apply(backend::Backend& backend, std::span<float> out, std::span<const float> reference, double parameter,
             int) const override {
    LLC_CHECK(parameter >= 0 && parameter <= static_cast<double>(units_.size()) && parameter == std::round(parameter),
              ConfigError, info_.parameter, "use a whole number of units", "{}: cannot remove {} of {} units",
              info_.name, parameter, units_.size());
    copy_reference(backend, out, reference);
    for (std::size_t i = 0; i < static_cast<std::size_t>(parameter); ++i) zero_unit(backend, out, units_[i]);
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

}  // namespace

std::unique_ptr<CompressionMethod> make_prune_method(MethodInfo info, const MethodOptions& options) {
  return std::make_unique<PruneMethod>(std::move(info), options);
}

std::unique_ptr<CompressionMethod> make_structured_prune_method(MethodInfo info, const MethodOptions& options,
                                                                bool heads) {
  return std::make_unique<StructuredPruneMethod>(std::move(info), options, heads);
}

}  // namespace llcpress::compress
