// Compression methods, all in ONE table (method_table()). Each entry says
// what its parameter is (name, units), which way compression grows, whether
// the parameter is an integer, and builds the method that applies it:
// apply(out, w*, parameter) writes the compressed parameters.
//
//   name            parameter            units                          more compression
//   quant           levels               levels per tensor (or row)     fewer levels
//   quant-maxabs    levels               levels per tensor (or row)     fewer levels
//   svd             kept_fraction        fraction of singular values    smaller fraction
//   noise           sigma                weight units                   larger σ
//   noise-rel       sigma_relative       fraction of each tensor's RMS  larger σ
//   prune           pruned_fraction      fraction of selected weights   larger fraction
//   prune-heads     heads_removed        attention heads                more heads
//   prune-neurons   neurons_removed      MLP neurons                    more neurons
//   lattice         rate                 target bits per weight         smaller rate
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "compress/critical_search.h"
#include "compress/selection.h"
#include "model/parameters.h"

namespace llcpress::compress {

enum class Direction : std::uint8_t { SmallerIsMore, LargerIsMore };  // how the parameter moves with compression

struct MethodInfo {
  std::string name;
  std::string summary;
  std::string parameter;  // name of the parameter ("levels")
  std::string unit;       // short unit for HDF5 `units` attributes: "levels", "1", "bits/parameter", ...
  std::string units;      // what one unit of it is, in words
  std::string meaning;    // one sentence for output attributes
  Direction direction = Direction::LargerIsMore;
  bool integer = false;
  bool stochastic = false;         // averaged over seeded draws
  bool has_bits = false;           // the parameter determines bits per weight (quantizers)
  std::optional<double> identity;  // parameter at which apply() is exactly the identity, if any
};

// Keys shared by the methods (each uses the ones it needs).
struct MethodOptions {
  TensorSelection tensors;             // which tensors are compressed (not used by prune-heads/-neurons)
  bool per_channel = false;            // quant, quant-maxabs: one clip per output row
  int clip_search_evaluations = 7;     // quant: loss evaluations per level count for the clip search
  int noise_draws = 4;                 // noise: draws averaged per point
  std::uint64_t seed = 0x6c6c6370ull;  // noise: Philox key
  bool prune_global = false;           // prune: one magnitude ranking over all selected tensors
  int num_heads = 0;                   // prune-heads: the model's attention heads per layer
  std::string lattice = "E8";          // lattice: the lattice of the nested code (lattice/lattice.h table)
  nlohmann::json to_json() const;
};

// What the sweep's loss evaluations go through: the model's backend, its
// parameter buffer to write into and the reference weights w* (both in the
// backend's memory: hand them to the backend's ops, never dereference them
// on the host), and the held-out loss.
class LossOracle {
 public:
  virtual ~LossOracle() = default;
  virtual backend::Backend& backend() = 0;
  virtual std::span<float> working() = 0;
  virtual std::span<const float> reference() const = 0;
  virtual double loss() = 0;  // at the current working parameters
};

// One point of the loss-vs-amount curve, with how it was obtained.
struct ClipTrial {
  double clip_scale;  // multiplier of the weight-MSE-optimal clip
  double loss;
};
struct EvaluatedPoint {
  double parameter = 0;
  double effective_parameter = 0;  // see CompressionMethod::effective_parameter
  double loss = 0;                 // mean over draws; quant: the minimum over clip trials
  double loss_std = 0;             // standard deviation over draws (0 for deterministic methods)
  int loss_evaluations = 0;
  double bits_per_weight = std::numeric_limits<double>::quiet_NaN();
  double clip_scale = std::numeric_limits<double>::quiet_NaN();  // quant: the chosen multiplier
  double seconds_apply = 0;
  double seconds_loss = 0;
  std::vector<double> draw_losses;
  std::vector<ClipTrial> clip_trials;
};

class CompressionMethod {
 public:
  explicit CompressionMethod(MethodInfo info, MethodOptions options)
      : info_(std::move(info)), options_(std::move(options)) {}
  virtual ~CompressionMethod() = default;
  const MethodInfo& info() const { return info_; }
  const MethodOptions& options() const { return options_; }

  // Looks at the reference weights once (clips are cheap and per level, but
  // SVD factors, magnitude orders and unit scores are computed here).
  // `reference` is a HOST copy of w* (the sweep downloads it when the model
  // lives in device memory); it and the table must outlive the method.
  virtual void prepare(const ParameterTable& table, std::span<const float> reference) = 0;
  // Called by the sweep right after prepare() (and inside its timing) with the
  // backend every point will be applied on and w* in that backend's memory:
  // a method may move its one-off work there (svd factorises on the GPU when
  // the backend can). The default does nothing. (cuda-kernels3)
  virtual void prepare_backend(backend::Backend& backend, std::span<const float> reference) {
    (void)backend, (void)reference;
  }
  // The searched domain for the prepared model.
  virtual SearchAxis axis() const = 0;
  // out = compressed(reference) at `parameter`; tensors the method does not
  // touch are copied unchanged. `draw` picks the random draw (noise only).
  // out, reference: (total parameters) in `backend`'s memory; the method
  // changes them only through the backend's ops (copy, quantize_rows_forward,
  // noise_forward, zero_elements, zero_columns, zero), or, for the host
  // algorithms (svd, lattice), by downloading one tensor, computing on the
  // host and uploading the result.
  virtual void apply(backend::Backend& backend, std::span<float> out, std::span<const float> reference,
                     double parameter, int draw = 0) const = 0;
  // The same on host spans, with the CPU backend (tests and host callers).
  void apply(std::span<float> out, std::span<const float> reference, double parameter, int draw = 0) const {
    apply(backend::default_backend(), out, reference, parameter, draw);
  }
  virtual int draws() const { return 1; }
  virtual double bits_per_weight(double parameter) const { return std::numeric_limits<double>::quiet_NaN(); }
  // The parameter as actually realised: SVD keeps whole ranks and pruning
  // whole entries per tensor, so a kept fraction f becomes Σ k_t / Σ r_t
  // over the selected tensors. The identity for the other methods.
  virtual double effective_parameter(double parameter) const { return parameter; }
  // The loss at `parameter` as the sweep defines it: by default the mean
  // over draws of the loss after apply(); quant adds its clip search.
  virtual EvaluatedPoint evaluate(double parameter, LossOracle& oracle) const;
  // Number of parameters the method changes, and the resolved settings.
  virtual std::size_t compressed_count() const = 0;
  virtual nlohmann::json config() const;

 protected:
  MethodInfo info_;
  MethodOptions options_;
};

struct MethodEntry {
  MethodInfo info;
  std::function<std::unique_ptr<CompressionMethod>(const MethodOptions&)> make;
};

// The one table of methods.
const std::vector<MethodEntry>& method_table();
// The entry called `name`; ConfigError listing the known names otherwise.
const MethodEntry& find_method(const std::string& name);
std::string method_names(const std::string& separator = "|");
std::unique_ptr<CompressionMethod> make_method(const std::string& name, const MethodOptions& options);

}  // namespace llcpress::compress
