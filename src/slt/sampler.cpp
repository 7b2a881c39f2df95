#include "slt/sampler.h"

#include <algorithm>
#include <cmath>

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

// The fused update of one chunk. kRmsprop selects pSGLD; kSums turns the
// diagnostic sums on (the update is the same either way).
template <bool kRmsprop, bool kSums>
void update_chunk(float* parameters, const float* gradient, const float* center, float* square_avg, float* displacement,
                  std::size_t begin, std::size_t end, std::size_t compact, const StepScalars& s, StepSums& sums) {
  alignas(64) float normals[kNoiseBlockElements + 4];
  for (std::size_t sub_begin = begin; sub_begin < end;) {
    const std::size_t first_block = sub_begin / 4;
    const std::size_t sub_end = std::min(end, first_block * 4 + kNoiseBlockElements);
    fill_block_normals(s.seed, s.stream, first_block, (sub_end - 1) / 4 - first_block + 1, normals);
    const std::size_t normals_origin = first_block * 4;  // normals[i - normals_origin] is element i's normal
    for (std::size_t i = sub_begin; i < sub_end; ++i) {
      const std::size_t c = compact + (i - begin);
      const float w = parameters[i];
      const float g = gradient[i];
      const float w0 = center[c];
      float precondition = 1.0f, sqrt_precondition = 1.0f, previous_precondition = 1.0f;
      if constexpr (kRmsprop) {
        const float v_old = square_avg[c];
        if (s.close_mala) previous_precondition = 1.0f / (std::sqrt(v_old) + s.rmsprop_eps);
        const float v = s.alpha * v_old + s.one_minus_alpha * g * g;
        if (s.apply) square_avg[c] = v;
        precondition = 1.0f / (std::sqrt(v) + s.rmsprop_eps);
        sqrt_precondition = std::sqrt(precondition);
      }
      const float diff = w - w0;
      const float scaled_gradient = s.nbeta * g;
      const float localization = s.localization * diff;
      const float decay = s.weight_decay * w;
      const float drift = scaled_gradient + localization + decay;
      const float step_scale = s.half_epsilon * precondition;
      const float noise = s.sqrt_epsilon * sqrt_precondition * s.noise_scale * normals[i - normals_origin];
      float updated = w - step_scale * drift + noise;
      if (s.use_box) {
        const float low = w0 - s.box, high = w0 + s.box;
        if (updated < low || updated > high) {
          updated = std::clamp(updated, low, high);
          if constexpr (kSums) ++sums.clamped;
        }
      }
      if (s.apply) parameters[i] = updated;
      if (!std::isfinite(updated)) ++sums.nonfinite;
      if (s.close_mala) {
        const double previous_step = displacement[c];
        sums.close_displacement_dot_drift += previous_step * drift;
        sums.close_drift_sq_preconditioned += double(previous_precondition) * double(drift) * drift;
      }
      if (s.open_mala) {
        const float step = updated - w;
        if (s.apply) displacement[c] = step;
        sums.open_displacement_dot_drift += double(step) * drift;
        sums.open_drift_sq_preconditioned += double(precondition) * double(drift) * drift;
      }
      if constexpr (kSums) {
        const double drift_gradient = double(step_scale) * scaled_gradient;
        const double drift_localization = double(step_scale) * localization;
        const double drift_decay = double(step_scale) * decay;
        const double after = double(updated) - w0;
        sums.distance_sq += double(diff) * diff;
        sums.weight_sq += double(w) * w;
        sums.gradient_sq += double(g) * g;
        sums.drift_gradient_sq += drift_gradient * drift_gradient;
        sums.drift_localization_sq += drift_localization * drift_localization;
        sums.drift_weight_decay_sq += drift_decay * drift_decay;
        sums.noise_sq += double(noise) * noise;
        sums.distance_after_sq += after * after;
      }
    }
    sub_begin = sub_end;
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
  LLC_THROW(ConfigError, "sampler", "use --sampler sgld or --sampler rmsprop-sgld", "unknown sampler '{}'", name);
}

void SamplerConfig::validate() const {
  auto positive_finite = [](double x) { return std::isfinite(x) && x > 0; };
  auto nonnegative_finite = [](double x) { return std::isfinite(x) && x >= 0; };
  LLC_CHECK(positive_finite(epsilon), ConfigError, "epsilon", "the step size ε must be a positive number (1e-6…1e-2)",
            "epsilon = {} is not a positive finite number", epsilon);
  LLC_CHECK(nonnegative_finite(nbeta), ConfigError, "nbeta", "nβ must be ≥ 0 (0 selects the default b/ln b)",
            "nbeta = {} is negative or not finite", nbeta);
  LLC_CHECK(nonnegative_finite(localization), ConfigError, "gamma", "the localization γ must be ≥ 0",
            "gamma = {} is negative or not finite", localization);
  LLC_CHECK(nonnegative_finite(weight_decay), ConfigError, "weight-decay", "weight decay must be ≥ 0",
            "weight-decay = {} is negative or not finite", weight_decay);
  LLC_CHECK(nonnegative_finite(noise_scale), ConfigError, "noise-scale", "σ must be ≥ 0 (1 samples the target)",
            "noise-scale = {} is negative or not finite", noise_scale);
  LLC_CHECK(std::isfinite(rmsprop_alpha) && rmsprop_alpha >= 0 && rmsprop_alpha < 1, ConfigError, "rmsprop-alpha",
            "α must lie in [0, 1) (default 0.99)", "rmsprop-alpha = {} is outside [0, 1)", rmsprop_alpha);
  LLC_CHECK(positive_finite(rmsprop_eps), ConfigError, "rmsprop-eps", "eps_p must be > 0 (default 0.1)",
            "rmsprop-eps = {} is not a positive finite number", rmsprop_eps);
  LLC_CHECK(nonnegative_finite(bounding_box), ConfigError, "bounding-box",
            "the bounding box half-width must be ≥ 0 (0 = no box)", "bounding-box = {} is negative or not finite",
            bounding_box);
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
  s.box = static_cast<float>(config_.bounding_box);
  s.use_box = config_.bounding_box > 0;
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
  auto run_chunk = [&](std::ptrdiff_t k) {
    const Chunk& chunk = chunks_[k];
    StepSums local;
    if (rmsprop) {
      if (with_sums)
        update_chunk<true, true>(w, g, center_.data(), v, d, chunk.begin, chunk.end, chunk.compact, s, local);
      else
        update_chunk<true, false>(w, g, center_.data(), v, d, chunk.begin, chunk.end, chunk.compact, s, local);
    } else {
      if (with_sums)
        update_chunk<false, true>(w, g, center_.data(), v, d, chunk.begin, chunk.end, chunk.compact, s, local);
      else
        update_chunk<false, false>(w, g, center_.data(), v, d, chunk.begin, chunk.end, chunk.compact, s, local);
    }
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
