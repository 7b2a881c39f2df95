#include "slt/sampler.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>

#include "core/check.h"
#include "core/rng.h"
#include "slt/noise.h"

namespace llcpress::slt {

namespace {

// Elements per reduction chunk. Chunk boundaries sit at absolute multiples of
// this (and at range ends), so the order of the double sums is a function of
// the ranges alone, never of the thread count. A multiple of 4 keeps Philox
// blocks (4 variates) inside one chunk.
constexpr std::size_t kChunkElements = 1u << 14;

void add_sums(StepSums& total, const StepSums& part) {
  total.distance_sq += part.distance_sq;
  total.weight_sq += part.weight_sq;
  total.gradient_sq += part.gradient_sq;
  total.drift_gradient_sq += part.drift_gradient_sq;
  total.drift_localization_sq += part.drift_localization_sq;
  total.drift_weight_decay_sq += part.drift_weight_decay_sq;
  total.noise_sq += part.noise_sq;
  total.distance_after_sq += part.distance_after_sq;
  total.open_displacement_dot_drift += part.open_displacement_dot_drift;
  total.open_drift_sq_preconditioned += part.open_drift_sq_preconditioned;
  total.close_displacement_dot_drift += part.close_displacement_dot_drift;
  total.close_drift_sq_preconditioned += part.close_drift_sq_preconditioned;
  total.nonfinite += part.nonfinite;
  total.clamped += part.clamped;
}

// Scalars of one step, in float as the update itself is computed (like the
// reference library's fp32 tensors).
struct StepScalars {
  float half_epsilon, sqrt_epsilon, nbeta, localization, weight_decay, noise_scale;
  float alpha, one_minus_alpha, rmsprop_eps, box;
  bool use_box, open_mala, close_mala, apply;
  std::uint64_t seed, stream;
};

// Normals per sub-block of a chunk: generated together (vectorized Philox and
// Box–Muller, slt/noise.h), then consumed by the update loop.
constexpr std::size_t kNoiseBlockElements = 1024;

// Accumulation lanes of the sums: element j of a sub-block adds into lane
// j mod kLanes, in order of j, and at the end of each sub-block the lanes are
// folded (in lane order, in double) into the chunk's double totals. The
// summation order is thus a function of the ranges alone, and one group of
// kLanes elements is one SIMD vector, so the compiler vectorizes the loop
// without reassociating anything.
constexpr std::size_t kLanes = 8;

// The sums, by index into Lanes::sum.
enum SumIndex : int {
  kDistance,
  kWeight,
  kGradient,
  kDriftGradient,
  kDriftLocalization,
  kDriftDecay,
  kNoise,
  kDistanceAfter,
  kOpenDot,
  kOpenDriftSq,
  kCloseDot,
  kCloseDriftSq,
  kSumCount
};

// The lanes are float: each term is formed in float (a few roundings of
// 2⁻²⁴) and a lane adds at most kNoiseBlockElements / kLanes = 128 of them
// before it is folded into double, so a sub-block's partial of a sum of
// non-negative terms is within (128 + 4)·2⁻²⁴ ≈ 7.9e-6 of its exact value
// (relative; for signed sums, relative to the sum of the terms' magnitudes),
// and the double totals add nothing of note. Rounding errors of independent
// terms mostly cancel: on the Pythia-14m shape (all sums, SGLD and pSGLD,
// with and without the box) the totals agree with the former element-by-
// element double accumulation to within 4e-7, most of them to 2e-8. Double
// lanes cost up to 1.7 ns per parameter more (bench/slt/bench_sampler_step).
// A term above ~1.8e19 (the square of a weight that has already diverged)
// overflows the float lane to +∞.
using Accumulator = float;

struct Lanes {
  alignas(64) Accumulator sum[kSumCount][kLanes];
  alignas(32) std::uint32_t nonfinite[kLanes], clamped[kLanes];
};

// One group of `count` ≤ kLanes consecutive elements of a sub-block, element
// first + l in lane l; the pointers start at the sub-block. kRmsprop selects
// pSGLD, kSums the diagnostic sums, kOpen / kClose the MALA terms (which imply
// kSums); the update itself is the same in every variant. With the bounding
// box off, s.box is +∞ and the clamp never fires.
template <bool kRmsprop, bool kSums, bool kOpen, bool kClose>
[[gnu::always_inline]] inline void update_group(float* __restrict w, const float* __restrict g,
                                                const float* __restrict center, float* __restrict v,
                                                float* __restrict d, const float* __restrict normals, std::size_t first,
                                                std::size_t count, const StepScalars& s, Lanes& lanes) {
  using A = Accumulator;
  const float half_epsilon = s.half_epsilon, sqrt_epsilon = s.sqrt_epsilon, nbeta = s.nbeta;
  const float localization_strength = s.localization, weight_decay = s.weight_decay, noise_scale = s.noise_scale;
  const float alpha = s.alpha, one_minus_alpha = s.one_minus_alpha, rmsprop_eps = s.rmsprop_eps, box = s.box;
#pragma omp simd
  for (std::size_t l = 0; l < count; ++l) {
    const std::size_t j = first + l;
    const float wj = w[j];
    const float gj = g[j];
    const float w0 = center[j];
    float precondition = 1.0f, sqrt_precondition = 1.0f, previous_precondition = 1.0f;
    if constexpr (kRmsprop) {
      const float v_old = v[j];
      if constexpr (kClose) previous_precondition = 1.0f / (std::sqrt(v_old) + rmsprop_eps);
      const float v_new = alpha * v_old + one_minus_alpha * gj * gj;
      v[j] = v_new;
      precondition = 1.0f / (std::sqrt(v_new) + rmsprop_eps);
      sqrt_precondition = std::sqrt(precondition);
    }
    const float diff = wj - w0;
    const float scaled_gradient = nbeta * gj;
    const float localization = localization_strength * diff;
    const float decay = weight_decay * wj;
    const float drift = scaled_gradient + localization + decay;
    const float step_scale = half_epsilon * precondition;
    const float noise = sqrt_epsilon * sqrt_precondition * noise_scale * normals[j];
    float updated = wj - step_scale * drift + noise;
    const float low = w0 - box, high = w0 + box;
    const bool below = updated < low;
    const float raised = below ? low : updated;
    const bool above = raised > high;
    updated = above ? high : raised;
    w[j] = updated;
    lanes.nonfinite[l] += std::fabs(updated) <= std::numeric_limits<float>::max() ? 0u : 1u;
    if constexpr (kClose) {
      const A previous_step = d[j];
      lanes.sum[kCloseDot][l] += previous_step * drift;
      lanes.sum[kCloseDriftSq][l] += A(previous_precondition) * A(drift) * drift;
    }
    if constexpr (kOpen) {
      const float step = updated - wj;
      d[j] = step;
      lanes.sum[kOpenDot][l] += A(step) * drift;
      lanes.sum[kOpenDriftSq][l] += A(precondition) * A(drift) * drift;
    }
    if constexpr (kSums) {
      lanes.clamped[l] += below || above ? 1u : 0u;
      const A drift_gradient = A(step_scale) * scaled_gradient;
      const A drift_localization = A(step_scale) * localization;
      const A drift_decay = A(step_scale) * decay;
      const A after = A(updated) - w0;
      lanes.sum[kDistance][l] += A(diff) * diff;
      lanes.sum[kWeight][l] += A(wj) * wj;
      lanes.sum[kGradient][l] += A(gj) * gj;
      lanes.sum[kDriftGradient][l] += drift_gradient * drift_gradient;
      lanes.sum[kDriftLocalization][l] += drift_localization * drift_localization;
      lanes.sum[kDriftDecay][l] += drift_decay * drift_decay;
      lanes.sum[kNoise][l] += A(noise) * noise;
      lanes.sum[kDistanceAfter][l] += after * after;
    }
  }
}

// The fused update of one chunk, sub-block by sub-block.
template <bool kRmsprop, bool kSums, bool kOpen, bool kClose>
void update_chunk(float* parameters, const float* gradient, const float* center, float* square_avg, float* displacement,
                  std::size_t begin, std::size_t end, std::size_t compact, const StepScalars& s, StepSums& sums) {
  static_assert(kSums || !(kOpen || kClose), "the MALA terms imply the sums");
  alignas(64) float normals[kNoiseBlockElements + 4];
  // A step that changes nothing (s.apply false) updates copies of w and V.
  alignas(64) float w_scratch[kNoiseBlockElements], v_scratch[kNoiseBlockElements];
  Lanes lanes;
  std::fill(std::begin(lanes.nonfinite), std::end(lanes.nonfinite), 0u);
  std::fill(std::begin(lanes.clamped), std::end(lanes.clamped), 0u);
  double totals[kSumCount] = {};
  for (std::size_t sub_begin = begin; sub_begin < end;) {
    const std::size_t first_block = sub_begin / 4;
    const std::size_t sub_end = std::min(end, first_block * 4 + kNoiseBlockElements);
    fill_block_normals(s.seed, s.stream, first_block, (sub_end - 1) / 4 - first_block + 1, normals);
    const std::size_t n = sub_end - sub_begin;
    const std::size_t c = compact + (sub_begin - begin);
    const float* xi = normals + (sub_begin - first_block * 4);  // xi[j] is element sub_begin + j's normal
    float* w = parameters + sub_begin;
    float* v = nullptr;
    if constexpr (kRmsprop) v = square_avg + c;
    float* d = nullptr;
    if constexpr (kOpen || kClose) d = displacement + c;
    if (!s.apply) {
      std::copy(w, w + n, w_scratch);
      w = w_scratch;
      if constexpr (kRmsprop) {
        std::copy(v, v + n, v_scratch);
        v = v_scratch;
      }
    }
    if constexpr (kSums)
      for (auto& lane : lanes.sum) std::fill(std::begin(lane), std::end(lane), Accumulator(0));
    std::size_t j = 0;
    for (; j + kLanes <= n; j += kLanes)
      update_group<kRmsprop, kSums, kOpen, kClose>(w, gradient + sub_begin, center + c, v, d, xi, j, kLanes, s, lanes);
    if (j < n)
      update_group<kRmsprop, kSums, kOpen, kClose>(w, gradient + sub_begin, center + c, v, d, xi, j, n - j, s, lanes);
    if constexpr (kSums) {
      for (int k = 0; k < kSumCount; ++k) {
        double part = 0;
        for (std::size_t l = 0; l < kLanes; ++l) part += double(lanes.sum[k][l]);
        totals[k] += part;
      }
    }
    sub_begin = sub_end;
  }
  for (std::size_t l = 0; l < kLanes; ++l) {
    sums.nonfinite += lanes.nonfinite[l];
    sums.clamped += lanes.clamped[l];
  }
  if constexpr (kSums) {
    sums.distance_sq = totals[kDistance];
    sums.weight_sq = totals[kWeight];
    sums.gradient_sq = totals[kGradient];
    sums.drift_gradient_sq = totals[kDriftGradient];
    sums.drift_localization_sq = totals[kDriftLocalization];
    sums.drift_weight_decay_sq = totals[kDriftDecay];
    sums.noise_sq = totals[kNoise];
    sums.distance_after_sq = totals[kDistanceAfter];
    sums.open_displacement_dot_drift = totals[kOpenDot];
    sums.open_drift_sq_preconditioned = totals[kOpenDriftSq];
    sums.close_displacement_dot_drift = totals[kCloseDot];
    sums.close_drift_sq_preconditioned = totals[kCloseDriftSq];
  }
}

}  // namespace

const char* sampler_kind_name(SamplerKind kind) {
  switch (kind) {
    case SamplerKind::Sgld:
      return "sgld";
    case SamplerKind::RmspropSgld:
      return "rmsprop-sgld";
  }
  return "?";
}

SamplerKind parse_sampler_kind(std::string_view name) {
  if (name == "sgld") return SamplerKind::Sgld;
  if (name == "rmsprop-sgld" || name == "rmsprop_sgld" || name == "psgld") return SamplerKind::RmspropSgld;
  LLC_THROW(ConfigError, "sampler", "use sgld or rmsprop-sgld", "unknown sampler '{}'", name);
}

void SamplerConfig::validate() const {
  // where() is the option's key in the option table (pipeline/task_options.cpp), which respells it
  // as the user wrote it: --weight-decay or llc.weight_decay.
  auto positive_finite = [](double x) { return std::isfinite(x) && x > 0; };
  auto nonnegative_finite = [](double x) { return std::isfinite(x) && x >= 0; };
  LLC_CHECK(positive_finite(epsilon), ConfigError, "epsilon", "the step size ε must be a positive number (1e-6…1e-2)",
            "{} is not a positive finite number", epsilon);
  LLC_CHECK(nonnegative_finite(nbeta), ConfigError, "nbeta", "nβ must be ≥ 0 (0 selects the default b/ln b)",
            "{} is negative or not finite", nbeta);
  LLC_CHECK(nonnegative_finite(localization), ConfigError, "gamma", "the localization γ must be ≥ 0",
            "{} is negative or not finite", localization);
  LLC_CHECK(nonnegative_finite(weight_decay), ConfigError, "weight_decay", "weight decay must be ≥ 0",
            "{} is negative or not finite", weight_decay);
  LLC_CHECK(nonnegative_finite(noise_scale), ConfigError, "noise_scale", "σ must be ≥ 0 (1 samples the target)",
            "{} is negative or not finite", noise_scale);
  LLC_CHECK(std::isfinite(rmsprop_alpha) && rmsprop_alpha >= 0 && rmsprop_alpha < 1, ConfigError, "rmsprop_alpha",
            "α must lie in [0, 1) (default 0.99)", "{} is outside [0, 1)", rmsprop_alpha);
  LLC_CHECK(positive_finite(rmsprop_eps), ConfigError, "rmsprop_eps", "eps_p must be > 0 (default 0.1)",
            "{} is not a positive finite number", rmsprop_eps);
  LLC_CHECK(nonnegative_finite(bounding_box), ConfigError, "bounding_box",
            "the bounding box half-width must be ≥ 0 (0 = no box)", "{} is negative or not finite", bounding_box);
}

SampledRanges SampledRanges::all(std::size_t total) { return from_ranges({{0, total}}, total); }

SampledRanges SampledRanges::from_ranges(std::vector<std::pair<std::size_t, std::size_t>> ranges, std::size_t total) {
  std::sort(ranges.begin(), ranges.end());
  SampledRanges out;
  out.total_ = total;
  for (auto [begin, end] : ranges) {
    LLC_REQUIRE(begin <= end && end <= total, "range [{}, {}) outside the buffer of {}", begin, end, total);
    if (begin == end) continue;
    if (!out.ranges_.empty() && begin <= out.ranges_.back().end) {
      out.ranges_.back().end = std::max(out.ranges_.back().end, end);
    } else {
      out.ranges_.push_back({begin, end, 0});
    }
  }
  for (auto& range : out.ranges_) {
    range.compact_offset = out.count_;
    out.count_ += range.end - range.begin;
  }
  return out;
}

bool SampledRanges::contains(std::size_t element) const {
  auto it = std::upper_bound(ranges_.begin(), ranges_.end(), element,
                             [](std::size_t e, const SampledRange& r) { return e < r.begin; });
  if (it == ranges_.begin()) return false;
  --it;
  return element < it->end;
}

Sampler::Sampler(const SamplerConfig& config, SampledRanges ranges, std::span<const float> parameters, bool track_mala)
    : config_(config), ranges_(std::move(ranges)) {
  config_.validate();
  LLC_REQUIRE(ranges_.total() == parameters.size(), "ranges cover {} elements, the buffer has {}", ranges_.total(),
              parameters.size());
  center_.resize(ranges_.count());
  if (config_.kind == SamplerKind::RmspropSgld) square_avg_.assign(ranges_.count(), 0.0f);
  if (track_mala) displacement_.assign(ranges_.count(), 0.0f);
  for (const auto& range : ranges_.ranges()) {
    std::copy(parameters.begin() + range.begin, parameters.begin() + range.end, center_.begin() + range.compact_offset);
    std::size_t begin = range.begin;
    while (begin < range.end) {
      const std::size_t end = std::min(range.end, (begin / kChunkElements + 1) * kChunkElements);
      chunks_.push_back({begin, end, range.compact_offset + (begin - range.begin)});
      begin = end;
    }
  }
  chunk_sums_.resize(chunks_.size());
}

void Sampler::reset(std::span<float> parameters) {
  LLC_REQUIRE(parameters.size() == ranges_.total(), "buffer size changed");
  for (const auto& range : ranges_.ranges())
    std::copy(center_.begin() + range.compact_offset,
              center_.begin() + range.compact_offset + (range.end - range.begin), parameters.begin() + range.begin);
  std::fill(square_avg_.begin(), square_avg_.end(), 0.0f);
  std::fill(displacement_.begin(), displacement_.end(), 0.0f);
}

std::size_t Sampler::state_bytes() const {
  return sizeof(float) * (center_.size() + square_avg_.size() + displacement_.size());
}

StepSums Sampler::step(std::span<float> parameters, std::span<const float> gradient, const StepOptions& options) {
  LLC_REQUIRE(parameters.size() == ranges_.total() && gradient.size() == ranges_.total(),
              "parameter/gradient sizes {} / {} differ from {}", parameters.size(), gradient.size(), ranges_.total());
  LLC_REQUIRE(!(options.open_mala || options.close_mala) || !displacement_.empty(),
              "MALA requested but the sampler was built without track_mala");
  const bool rmsprop = config_.kind == SamplerKind::RmspropSgld;
  StepScalars s;
  s.half_epsilon = static_cast<float>(0.5 * config_.epsilon);
  s.sqrt_epsilon = static_cast<float>(std::sqrt(config_.epsilon));
  s.nbeta = static_cast<float>(config_.nbeta);
  s.localization = static_cast<float>(config_.localization);
  s.weight_decay = static_cast<float>(config_.weight_decay);
  s.noise_scale = static_cast<float>(config_.noise_scale);
  s.alpha = static_cast<float>(config_.rmsprop_alpha);
  s.one_minus_alpha = static_cast<float>(1.0 - config_.rmsprop_alpha);
  s.rmsprop_eps = static_cast<float>(config_.rmsprop_eps);
  s.use_box = config_.bounding_box > 0;
  s.box = s.use_box ? static_cast<float>(config_.bounding_box) : std::numeric_limits<float>::infinity();
  s.open_mala = options.open_mala;
  s.close_mala = options.close_mala;
  s.apply = options.apply;
  LLC_REQUIRE(options.apply || !options.open_mala, "a step that changes nothing cannot open a MALA transition");
  s.seed = options.seed;
  s.stream = options.noise_stream;
  // MALA needs ‖w − w*‖² and ‖w‖² for the potential, so it implies the sums.
  const bool with_sums = options.diagnostics || options.open_mala || options.close_mala;

  float* w = parameters.data();
  const float* g = gradient.data();
  float* v = square_avg_.empty() ? nullptr : square_avg_.data();
  float* d = displacement_.empty() ? nullptr : displacement_.data();
  const std::ptrdiff_t chunk_count = static_cast<std::ptrdiff_t>(chunks_.size());
  using ChunkFunction = void (*)(float*, const float*, const float*, float*, float*, std::size_t, std::size_t,
                                 std::size_t, const StepScalars&, StepSums&);
  const int mala = (s.open_mala ? 1 : 0) + (s.close_mala ? 2 : 0);
  auto pick = [&]<bool kRmsprop>() -> ChunkFunction {
    if (!with_sums) return update_chunk<kRmsprop, false, false, false>;
    switch (mala) {
      case 1:
        return update_chunk<kRmsprop, true, true, false>;
      case 2:
        return update_chunk<kRmsprop, true, false, true>;
      case 3:
        return update_chunk<kRmsprop, true, true, true>;
      default:
        return update_chunk<kRmsprop, true, false, false>;
    }
  };
  const ChunkFunction update = rmsprop ? pick.template operator()<true>() : pick.template operator()<false>();
  auto run_chunk = [&](std::ptrdiff_t k) {
    const Chunk& chunk = chunks_[k];
    StepSums local;
    update(w, g, center_.data(), v, d, chunk.begin, chunk.end, chunk.compact, s, local);
    chunk_sums_[k] = local;
  };
  // Small buffers (the reference models) skip the OpenMP region: its start-up
  // costs more than their whole update.
  if (chunk_count == 1) {
    run_chunk(0);
  } else {
#pragma omp parallel for schedule(static)
    for (std::ptrdiff_t k = 0; k < chunk_count; ++k) run_chunk(k);
  }
  StepSums total;
  for (const auto& part : chunk_sums_) add_sums(total, part);
  return total;
}

double sampler_potential(const SamplerConfig& config, double loss, const StepSums& sums) {
  return config.nbeta * loss + 0.5 * config.localization * sums.distance_sq +
         0.5 * config.weight_decay * sums.weight_sq;
}

double mala_log_ratio(double potential_before, double potential_after, const StepSums& opening, const StepSums& closing,
                      double epsilon, double noise_scale) {
  const double trapezoid = 0.5 * (opening.open_displacement_dot_drift + closing.close_displacement_dot_drift);
  const double curvature =
      epsilon / 8.0 * (opening.open_drift_sq_preconditioned - closing.close_drift_sq_preconditioned);
  return (potential_before - potential_after + trapezoid + curvature) / (noise_scale * noise_scale);
}

}  // namespace llcpress::slt
