#include "slt/sampler.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>

#include "core/check.h"
#include "core/rng.h"

namespace llcpress::slt {

namespace {

// Elements per reduction chunk. Chunk boundaries sit at absolute multiples of
// this (and at range ends), so the order of the double sums is a function of
// the ranges alone, never of the thread count. A multiple of 4 keeps Philox
// blocks (4 variates) inside one chunk.
constexpr std::size_t kChunkElements = 1u << 14;

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

Sampler::Sampler(const SamplerConfig& config, SampledRanges ranges, std::span<const float> center, bool track_mala,
                 backend::Backend& backend)
    : config_(config), ranges_(std::move(ranges)), backend_(&backend), center_(center) {
  config_.validate();
  LLC_REQUIRE(ranges_.total() == center.size(), "ranges cover {} elements, w* has {}", ranges_.total(), center.size());
  auto make = [&](backend::Buffer<float>& buffer) {
    buffer = backend::Buffer<float>(backend, ranges_.count());
    backend.zero(buffer.data(), static_cast<std::int64_t>(buffer.size()));
  };
  if (config_.kind == SamplerKind::RmspropSgld) make(square_avg_);
  if (track_mala) make(displacement_);
  for (const auto& range : ranges_.ranges()) {
    std::size_t begin = range.begin;
    while (begin < range.end) {
      const std::size_t end = std::min(range.end, (begin / kChunkElements + 1) * kChunkElements);
      chunks_.push_back({begin, end, range.compact_offset + (begin - range.begin)});
      begin = end;
    }
  }
}

void Sampler::reset(std::span<float> parameters) {
  LLC_REQUIRE(parameters.size() == ranges_.total(), "buffer size changed");
  for (const auto& range : ranges_.ranges())
    backend_->copy(parameters.data() + range.begin, center_.data() + range.begin,
                   static_cast<std::int64_t>(range.end - range.begin));
  if (!square_avg_.empty()) backend_->zero(square_avg_.data(), static_cast<std::int64_t>(square_avg_.size()));
  if (!displacement_.empty()) backend_->zero(displacement_.data(), static_cast<std::int64_t>(displacement_.size()));
}

std::size_t Sampler::state_bytes() const { return square_avg_.bytes() + displacement_.bytes(); }

backend::SamplerStepScalars step_scalars(const SamplerConfig& config, const StepOptions& options) {
  backend::SamplerStepScalars s;
  s.half_epsilon = static_cast<float>(0.5 * config.epsilon);
  s.sqrt_epsilon = static_cast<float>(std::sqrt(config.epsilon));
  s.nbeta = static_cast<float>(config.nbeta);
  s.localization = static_cast<float>(config.localization);
  s.weight_decay = static_cast<float>(config.weight_decay);
  s.noise_scale = static_cast<float>(config.noise_scale);
  s.alpha = static_cast<float>(config.rmsprop_alpha);
  s.one_minus_alpha = static_cast<float>(1.0 - config.rmsprop_alpha);
  s.rmsprop_eps = static_cast<float>(config.rmsprop_eps);
  s.box = config.bounding_box > 0 ? static_cast<float>(config.bounding_box) : std::numeric_limits<float>::infinity();
  s.rmsprop = config.kind == SamplerKind::RmspropSgld;
  // MALA needs ‖w − w*‖² and ‖w‖² for the potential, so it implies the sums.
  s.sums = options.diagnostics || options.open_mala || options.close_mala;
  s.open_mala = options.open_mala;
  s.close_mala = options.close_mala;
  s.apply = options.apply;
  s.seed = options.seed;
  s.stream = options.noise_stream;
  return s;
}

StepSums Sampler::step(std::span<float> parameters, std::span<const float> gradient, const StepOptions& options) {
  LLC_REQUIRE(parameters.size() == ranges_.total() && gradient.size() == ranges_.total(),
              "parameter/gradient sizes {} / {} differ from {}", parameters.size(), gradient.size(), ranges_.total());
  LLC_REQUIRE(!(options.open_mala || options.close_mala) || !displacement_.empty(),
              "MALA requested but the sampler was built without track_mala");
  LLC_REQUIRE(options.apply || !options.open_mala, "a step that changes nothing cannot open a MALA transition");
  return backend_->sampler_step(parameters.data(), square_avg_.empty() ? nullptr : square_avg_.data(),
                                displacement_.empty() ? nullptr : displacement_.data(), gradient.data(), center_.data(),
                                chunks_, step_scalars(config_, options));
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
