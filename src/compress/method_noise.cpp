// The "noise" and "noise-rel" methods: Gaussian noise added to each selected
// weight (absolute σ, or σ relative to each tensor's RMS), averaged over draws.
#include <cmath>

#include "compress/method_common.h"
#include "core/check.h"
#include "core/log.h"
#include "core/rng.h"
#include "core/timer.h"

namespace llcpress::compress {

namespace {

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

  void apply(backend::Backend& backend, std::span<float> out, std::span<const float> reference, double parameter,
             int draw) const override {
    LLC_CHECK(parameter >= 0 && std::isfinite(parameter), ConfigError, info_.parameter, "use σ >= 0",
              "{}: invalid σ {}", info_.name, parameter);
    copy_reference(backend, out, reference);
    if (parameter == 0) return;
    for (std::size_t t = 0; t < views_.size(); ++t) {
      const ParameterView& view = *views_[t];
      const float sigma = static_cast<float>(relative_ ? parameter * rms_[t] : parameter);
      // One stream per (draw, tensor): every σ reuses the same standard
      // normals (common random numbers), so the averaged curve is smooth and
      // monotone in σ instead of jittering from point to point.
      backend.noise_forward(out.data() + view.offset, reference.data() + view.offset, sigma, options_.seed,
                            stream_id(kNoiseStream, static_cast<std::uint64_t>(draw), t),
                            static_cast<std::int64_t>(view.size));
    }
  }

  std::size_t compressed_count() const override { return total_size(views_); }

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

}  // namespace

std::unique_ptr<CompressionMethod> make_noise_method(MethodInfo info, const MethodOptions& options, bool relative) {
  return std::make_unique<NoiseMethod>(std::move(info), options, relative);
}

}  // namespace llcpress::compress
