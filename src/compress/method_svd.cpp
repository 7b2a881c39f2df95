// The "svd" method: truncated SVD of each selected matrix at a kept fraction
// of its singular values (factorised once in prepare()).
#include <algorithm>
#include <cmath>

#include "compress/method_common.h"
#include "compress/svd.h"
#include "core/check.h"
#include "core/log.h"
#include "core/timer.h"

namespace llcpress::compress {

namespace {

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

}  // namespace

std::unique_ptr<CompressionMethod> make_svd_method(MethodInfo info, const MethodOptions& options) {
  return std::make_unique<SvdMethod>(std::move(info), options);
}

}  // namespace llcpress::compress
