// The "lattice" method: each selected tensor is coded row by row with the
// nested-lattice weight quantizer of src/lattice at a target rate R bits per
// weight (lattice/weight_quantizer.h); the sweep finds the critical R.
#include <cmath>
#include <map>
#include <mutex>

#include "compress/method_common.h"
#include "core/check.h"
#include "core/rng.h"
#include "lattice/weight_quantizer.h"

namespace llcpress::compress {

namespace {

class LatticeMethod final : public CompressionMethod {
 public:
  using CompressionMethod::CompressionMethod;

  void prepare(const ParameterTable& table, std::span<const float> reference) override {
    views_ = options_.tensors.select(table);
    LLC_CHECK(!views_.empty(), ConfigError, "tensors", "select roles the model has, e.g. --tensors linear",
              "lattice: the selection '{}' matches no tensor of the model", options_.tensors.to_string());
    spent_bits_.clear();
  }

  SearchAxis axis() const override {
    // 0 to 8 bits per weight, linear in R; resolution 1/32 bit, below the
    // rate-to-rate spread of what the coder actually spends.
    return {.least = 8,
            .most = 0,
            .integer = false,
            .log_scale = false,
            .start = 3,
            .initial_step = 0.5,
            .resolution = 1.0 / 32};
  }

  // The lattice coder is a host algorithm: each selected tensor of w* is
  // downloaded, coded in a host array and uploaded over its slice of `out`.
  void apply(backend::Backend& backend, std::span<float> out, std::span<const float> reference, double parameter,
             int) const override {
    LLC_CHECK(parameter >= 0 && std::isfinite(parameter), ConfigError, "rate", "use a rate >= 0 bits per weight",
              "lattice: invalid rate {}", parameter);
    LLC_REQUIRE(out.size() == reference.size(), "sizes");
    copy_reference(backend, out, reference);
    double bits = 0, weights = 0;
    for (std::size_t t = 0; t < views_.size(); ++t) {
      const ParameterView& view = *views_[t];
      const bool matrix = view.shape.size() >= 2 && view.rows() > 0;
      const std::int64_t rows = matrix ? view.rows() : 1;
      const std::int64_t cols = static_cast<std::int64_t>(view.size) / rows;
      lattice::LatticeWeightOptions lattice_options;
      lattice_options.lattice = options_.lattice;
      // One rotation/dither key per tensor, a function of the seed and the
      // tensor's place in the table only.
      lattice_options.seed = stream_id(options_.seed, kLatticeStream, t);
      std::vector<float> host = download_slice(backend, reference.subspan(view.offset, view.size));  // (rows, cols)
      auto coded = lattice::quantize_weights_lattice(host.data(), rows, cols, parameter, lattice_options);
      backend.upload(out.data() + view.offset, host.data(), view.size * sizeof(float));
      bits += coded.bits_per_weight * static_cast<double>(view.size);
      weights += static_cast<double>(view.size);
    }
    std::lock_guard<std::mutex> lock(mutex_);
    spent_bits_[parameter] = bits / weights;
  }

  // What the coder actually spent at this target rate (after apply()).
  double bits_per_weight(double parameter) const override {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = spent_bits_.find(parameter);
    return found == spent_bits_.end() ? std::nan("") : found->second;
  }

  std::size_t compressed_count() const override { return total_size(views_); }

  nlohmann::json config() const override {
    nlohmann::json json = CompressionMethod::config();
    json["coder"] =
        "lattice/weight_quantizer.h: rows coded as vectors (randomized Hadamard, nested-lattice code, "
        "rate time-shared to the target)";
    json["rotation_seed"] = "stream_id(seed, 0x6c6174, tensor index)";
    return json;
  }

 private:
  static constexpr std::uint64_t kLatticeStream = 0x6c6174ull;  // "lat"
  std::vector<const ParameterView*> views_;
  mutable std::mutex mutex_;
  mutable std::map<double, double> spent_bits_;
};

}  // namespace

std::unique_ptr<CompressionMethod> make_lattice_method(MethodInfo info, const MethodOptions& options) {
  return std::make_unique<LatticeMethod>(std::move(info), options);
}

}  // namespace llcpress::compress
