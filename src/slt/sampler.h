// SGLD and RMSprop-preconditioned SGLD (REFERENCE.md §3) as one fused loop
// over the flat parameter buffer.
//
// Target: p(w) ∝ exp(−nβ·L(w) − (γ/2)‖w − w*‖² − (λ_wd/2)‖w‖²), sampled with
//   drift  d = nβ·g + γ(w − w*) + λ_wd·w          (g = ∇ of the mean minibatch loss)
//   SGLD   w ← w − (ε/2)·d + √ε·σ·ξ
//   pSGLD  V ← αV + (1−α)·g⊙g (raw loss gradient, V₀ = 0, updated before use)
//          P = 1/(√V + eps_p);  w ← w − (ε/2)·P⊙d + √ε·√P⊙σ·ξ
// with ξ ~ N(0, I) drawn from Philox keyed by (seed, noise stream, element)
// (slt/noise.h: core/rng.h's Philox words, vectorized Box–Muller): element e
// of the flat buffer always gets the same variate for a given step, however
// many threads run the loop. Optional bounding box: after the step,
// w is clamped to [w* − b, w* + b].
//
// Only the sampled elements (SampledRanges, from a mask) move; every other
// parameter keeps its value bit for bit. The sampler owns, per sampled
// element, V (pSGLD) and optionally the MALA displacement (see mala_log_ratio
// below), in its backend's memory; w* is the model's one copy, which the
// sampler only reads. The step itself is the backend's sampler_step op
// (backend/backend.h; the element update is backend/elementwise.h's).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "backend/backend.h"
#include "backend/sampler_step.h"

namespace llcpress::slt {

enum class SamplerKind : std::uint8_t { Sgld, RmspropSgld };

const char* sampler_kind_name(SamplerKind kind);  // "sgld", "rmsprop-sgld"
// Accepts "sgld", "rmsprop-sgld" (and "rmsprop_sgld", "psgld"); ConfigError otherwise.
SamplerKind parse_sampler_kind(std::string_view name);

struct SamplerConfig {
  SamplerKind kind = SamplerKind::Sgld;
  double epsilon = 1e-4;        // step size ε
  double nbeta = 0.0;           // nβ; 0 means "not set" (the estimator resolves it to b/ln b)
  double localization = 100.0;  // γ (REFERENCE §3: 100–300 for language models)
  double weight_decay = 0.0;    // λ_wd
  double noise_scale = 1.0;     // σ (1 samples the stated target; anything else tempers it by σ²)
  double rmsprop_alpha = 0.99;
  double rmsprop_eps = 0.1;   // eps_p
  double bounding_box = 0.0;  // b > 0 clamps to w* ± b; 0 = no box

  // These defaults are the `llc` option table's (pipeline/task_options.cpp): stated here only.
  // ConfigError naming the key when a value is out of range (ε ≤ 0, nβ < 0, ...).
  void validate() const;
};

// The parts of the flat buffer the sampler moves: sorted, disjoint, non-empty
// [begin, end) ranges. compact_offset is where a range starts in the
// sampler's own per-element buffers (w*, V, MALA displacement).
struct SampledRange {
  std::size_t begin = 0, end = 0, compact_offset = 0;
};

class SampledRanges {
 public:
  SampledRanges() = default;
  // Everything: one range [0, total).
  static SampledRanges all(std::size_t total);
  // Merges adjacent/overlapping ranges; drops empty ones. Each range must lie in [0, total).
  static SampledRanges from_ranges(std::vector<std::pair<std::size_t, std::size_t>> ranges, std::size_t total);

  const std::vector<SampledRange>& ranges() const { return ranges_; }
  std::size_t count() const { return count_; }  // sampled elements
  std::size_t total() const { return total_; }  // size of the flat buffer
  bool contains(std::size_t element) const;

 private:
  std::vector<SampledRange> ranges_;
  std::size_t count_ = 0, total_ = 0;
};

// Sums over the sampled elements for one step, in a fixed order (float lanes
// per sub-block of 1024 elements, folded into double per chunk, then chunks in
// order; see backend/cpu_sampler_step.cpp), so they do not depend on the
// thread count either. Defined with the backend op that returns them.
using StepSums = backend::StepSums;

// What a step should compute besides the update.
struct StepOptions {
  std::uint64_t seed = 0;
  std::uint64_t noise_stream = 0;  // Philox stream of this step's noise
  bool open_mala = false;          // store δ = w_new − w and the opening sums
  bool close_mala = false;         // use the stored δ of the previous step for the closing sums
  bool diagnostics = true;         // the norm sums (always on when a MALA flag is set)
  bool apply = true;               // false: compute the sums only, change nothing (closing a final transition)
};

// Owns the per-element sampler state for one model's flat buffer and applies
// steps to it. Chains reuse one Sampler: reset() restores the start.
class Sampler {
 public:
  // `center` is w* (size ranges.total(), in `backend`'s memory, indexed like
  // the parameters): the model's one copy (LossModel::reference()), NOT
  // copied, so it must outlive the sampler and stay unchanged.
  // `track_mala` allocates the displacement buffer the MALA estimate needs.
  Sampler(const SamplerConfig& config, SampledRanges ranges, std::span<const float> center, bool track_mala,
          backend::Backend& backend = backend::default_backend());

  const SamplerConfig& config() const { return config_; }
  const SampledRanges& ranges() const { return ranges_; }

  // Writes w* back into the sampled elements and zeroes V.
  void reset(std::span<float> parameters);

  // One step: reads `gradient` (the mean minibatch-loss gradient at `parameters`),
  // updates the sampled elements of `parameters` in place. Both in the
  // backend's memory.
  StepSums step(std::span<float> parameters, std::span<const float> gradient, const StepOptions& options);

  // Bytes the sampler holds in its own buffers (V, displacement).
  std::size_t state_bytes() const;

  std::span<const float> center() const { return center_; }  // w*, as given (not owned)

 private:
  SamplerConfig config_;
  SampledRanges ranges_;
  backend::Backend* backend_;
  std::span<const float> center_;              // (total) w*, the model's copy
  backend::Buffer<float> square_avg_;          // (sampled) V, pSGLD only
  backend::Buffer<float> displacement_;        // (sampled) δ of the last opened MALA transition
  std::vector<backend::SamplerChunk> chunks_;  // fixed work split: the reduction order
};

// The float scalars of one step as every backend's sampler_step receives them.
backend::SamplerStepScalars step_scalars(const SamplerConfig& config, const StepOptions& options);

// The log Metropolis–Hastings ratio of one Langevin transition w → w'
// (see docs/llc.md, "MALA acceptance estimate"):
//   log α = [U(w) − U(w') + ½δᵀ(∇U(w) + ∇U(w')) + (ε/8)(‖∇U(w)‖²_P − ‖∇U(w')‖²_P)] / σ²
// with U = nβ·L_batch + (γ/2)‖w − w*‖² + (λ_wd/2)‖w‖², δ = w' − w, P the
// preconditioner the proposal used. potential_* are U at both ends.
double mala_log_ratio(double potential_before, double potential_after, const StepSums& opening, const StepSums& closing,
                      double epsilon, double noise_scale);

// U = nβ·loss + (γ/2)‖w − w*‖² + (λ_wd/2)‖w‖² from a step's sums (before the update).
double sampler_potential(const SamplerConfig& config, double loss, const StepSums& sums);

}  // namespace llcpress::slt
