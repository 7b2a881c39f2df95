// A compression sweep on one checkpoint: the reference loss L₀ on a fixed
// held-out set, then for each tolerance ε the critical amount of one method,
// all ε sharing one cache of evaluated points (the loss-vs-amount curve).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "compress/critical_search.h"
#include "compress/method.h"
#include "model/loss_model.h"

namespace llcpress::compress {

// The held-out loss: the mean per-sample loss over a fixed list of samples,
// evaluated in batches of at most batch_size (weighted by batch size, so the
// batching never changes the value beyond rounding).
class HeldOutLoss final : public LossOracle {
 public:
  // Validates the samples against model.num_samples() (InputError naming the
  // first bad one) and makes the model's current parameters its w*
  // (LossModel::hold_reference: the model's one copy, not a second one here).
  HeldOutLoss(LossModel& model, std::vector<std::int64_t> samples, std::size_t batch_size);
  // Puts w* back into the model.
  ~HeldOutLoss() override;
  HeldOutLoss(const HeldOutLoss&) = delete;
  HeldOutLoss& operator=(const HeldOutLoss&) = delete;

  std::span<float> working() override { return model_.parameters(); }
  std::span<const float> reference() const override { return model_.reference(); }
  double loss() override;
  void restore();  // working = reference

  const std::vector<std::int64_t>& samples() const { return samples_; }
  std::size_t batch_size() const { return batch_size_; }
  int evaluations() const { return evaluations_; }
  double seconds() const { return seconds_; }

 private:
  LossModel& model_;
  std::vector<std::int64_t> samples_;
  std::size_t batch_size_;
  int evaluations_ = 0;
  double seconds_ = 0;
};

// "A:B" → A, A+1, ..., B-1. ConfigError when malformed or empty.
std::vector<std::int64_t> parse_sample_range(const std::string& text, const std::string& key = "sequences");
// Comma-separated positive tolerances, returned sorted and deduplicated.
std::vector<double> parse_epsilons(const std::string& text, const std::string& key = "eps");

struct SweepConfig {
  std::string method = "quant";
  std::vector<double> epsilons{0.3, 0.5, 0.7};
  MethodOptions options;
  std::optional<double> llc;  // λ̂ of this checkpoint, for the predicted bits
  // Overrides of the method's search domain (parameter values).
  std::optional<double> least, most, start;
};

struct CriticalSummary {
  CriticalResult search;
  double critical_effective = std::numeric_limits<double>::quiet_NaN();  // effective_parameter(critical)
  double critical_bits = std::numeric_limits<double>::quiet_NaN();       // bits per weight at the critical point
  double predicted_bits = std::numeric_limits<double>::quiet_NaN();      // (λ/d)·log2(1/ε) when λ̂ is given
};

struct SweepResult {
  MethodInfo info;
  SearchAxis axis;
  nlohmann::json method_config;
  std::vector<double> epsilons;
  double reference_loss = 0;  // L₀ on the held-out set
  std::vector<std::int64_t> samples;
  std::size_t batch_size = 0;
  std::size_t parameters_total = 0;
  std::size_t parameters_compressed = 0;
  std::optional<double> llc;
  std::vector<EvaluatedPoint> points;      // sorted by parameter
  std::vector<CriticalSummary> criticals;  // one per ε, in epsilons order
  int loss_evaluations = 0;                // including L₀
  double seconds_total = 0, seconds_prepare = 0, seconds_loss = 0, seconds_apply = 0;
};

// Runs the sweep. The model's parameters are w* before and after.
SweepResult run_sweep(LossModel& model, const SweepConfig& config, std::vector<std::int64_t> samples,
                      std::size_t batch_size);

// Bits per coordinate predicted by the theory: b* = (λ/d)·log2(1/ε).
double predicted_bits(double llc, std::size_t dimension, double epsilon);

nlohmann::json to_json(const SweepResult& result);
// A fixed-width table of the criticals (for logs and the CLI).
std::string format_criticals(const SweepResult& result);

}  // namespace llcpress::compress
