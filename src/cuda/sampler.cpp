#include "cuda/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "cuda/kernel_launch.h"

namespace llcpress::cuda {

namespace {

// The CPU twin's chunk size (slt/sampler.cpp): the same chunks, so the same
// per-chunk grouping of the sums.
constexpr std::size_t kChunkElements = 1u << 14;

template <typename T>
T* device_allocate(std::size_t count) {
  T* pointer = nullptr;
  if (count > 0) LLC_CHECK_CUDA(cudaMalloc(&pointer, sizeof(T) * count));
  return pointer;
}

}  // namespace

Sampler::Sampler(const slt::SamplerConfig& config, slt::SampledRanges ranges, std::span<const float> parameters,
                 bool track_mala)
    : config_(config), ranges_(std::move(ranges)) {
  config_.validate();
  LLC_REQUIRE(ranges_.total() == parameters.size(), "ranges cover {} elements, the buffer has {}", ranges_.total(),
              parameters.size());
  std::vector<SamplerChunk> chunks;  // (chunk_count) host copy
  for (const auto& range : ranges_.ranges()) {
    std::size_t begin = range.begin;
    while (begin < range.end) {
      const std::size_t end = std::min(range.end, (begin / kChunkElements + 1) * kChunkElements);
      chunks.push_back({begin, end, range.compact_offset + (begin - range.begin)});
      begin = end;
    }
  }
  chunk_count_ = static_cast<int>(chunks.size());
  try {
    const std::size_t count = ranges_.count();
    center_ = device_allocate<float>(count);
    if (config_.kind == slt::SamplerKind::RmspropSgld) square_avg_ = device_allocate<float>(count);
    if (track_mala) displacement_ = device_allocate<float>(count);
    chunks_ = device_allocate<SamplerChunk>(chunks.size());
    chunk_sums_ = device_allocate<double>(chunks.size() * kSamplerSlots);
    totals_ = device_allocate<double>(kSamplerSlots);
    if (!chunks.empty())
      LLC_CHECK_CUDA(cudaMemcpyAsync(chunks_, chunks.data(), sizeof(SamplerChunk) * chunks.size(),
                                     cudaMemcpyHostToDevice, kernel_stream()));
    for (const auto& range : ranges_.ranges())
      LLC_CHECK_CUDA(cudaMemcpyAsync(center_ + range.compact_offset, parameters.data() + range.begin,
                                     sizeof(float) * (range.end - range.begin), cudaMemcpyDeviceToDevice,
                                     kernel_stream()));
    if (square_avg_) LLC_CHECK_CUDA(cudaMemsetAsync(square_avg_, 0, sizeof(float) * count, kernel_stream()));
    if (displacement_) LLC_CHECK_CUDA(cudaMemsetAsync(displacement_, 0, sizeof(float) * count, kernel_stream()));
    LLC_CHECK_CUDA(cudaStreamSynchronize(kernel_stream()));  // `chunks` (host) must outlive its copy
  } catch (...) {
    release();
    throw;
  }
}

Sampler::~Sampler() { release(); }

void Sampler::release() {
  // No check: this runs in the destructor, which must not throw.
  for (void* pointer : {static_cast<void*>(center_), static_cast<void*>(square_avg_), static_cast<void*>(displacement_),
                        static_cast<void*>(chunks_), static_cast<void*>(chunk_sums_), static_cast<void*>(totals_)})
    if (pointer != nullptr) cudaFree(pointer);
  center_ = square_avg_ = displacement_ = nullptr;
  chunks_ = nullptr;
  chunk_sums_ = totals_ = nullptr;
}

void Sampler::reset(std::span<float> parameters) {
  LLC_REQUIRE(parameters.size() == ranges_.total(), "buffer size changed");
  for (const auto& range : ranges_.ranges())
    LLC_CHECK_CUDA(cudaMemcpyAsync(parameters.data() + range.begin, center_ + range.compact_offset,
                                   sizeof(float) * (range.end - range.begin), cudaMemcpyDeviceToDevice,
                                   kernel_stream()));
  if (square_avg_) LLC_CHECK_CUDA(cudaMemsetAsync(square_avg_, 0, sizeof(float) * ranges_.count(), kernel_stream()));
  if (displacement_)
    LLC_CHECK_CUDA(cudaMemsetAsync(displacement_, 0, sizeof(float) * ranges_.count(), kernel_stream()));
}

std::size_t Sampler::state_bytes() const {
  const std::size_t per_element = 1 + (square_avg_ ? 1 : 0) + (displacement_ ? 1 : 0);
  return sizeof(float) * per_element * ranges_.count();
}

slt::StepSums Sampler::step(std::span<float> parameters, std::span<const float> gradient,
                            const slt::StepOptions& options) {
  LLC_REQUIRE(parameters.size() == ranges_.total() && gradient.size() == ranges_.total(),
              "parameter/gradient sizes {} / {} differ from {}", parameters.size(), gradient.size(), ranges_.total());
  LLC_REQUIRE(!(options.open_mala || options.close_mala) || displacement_ != nullptr,
              "MALA requested but the sampler was built without track_mala");
  LLC_REQUIRE(options.apply || !options.open_mala, "a step that changes nothing cannot open a MALA transition");
  slt::StepSums sums;
  if (chunk_count_ == 0) return sums;
  SamplerStepScalars s;
  s.half_epsilon = static_cast<float>(0.5 * config_.epsilon);
  s.sqrt_epsilon = static_cast<float>(std::sqrt(config_.epsilon));
  s.nbeta = static_cast<float>(config_.nbeta);
  s.localization = static_cast<float>(config_.localization);
  s.weight_decay = static_cast<float>(config_.weight_decay);
  s.noise_scale = static_cast<float>(config_.noise_scale);
  s.alpha = static_cast<float>(config_.rmsprop_alpha);
  s.one_minus_alpha = static_cast<float>(1.0 - config_.rmsprop_alpha);
  s.rmsprop_eps = static_cast<float>(config_.rmsprop_eps);
  s.box = config_.bounding_box > 0 ? static_cast<float>(config_.bounding_box) : std::numeric_limits<float>::infinity();
  s.apply = options.apply;
  s.seed = options.seed;
  s.stream = options.noise_stream;
  const bool with_sums = options.diagnostics || options.open_mala || options.close_mala;
  sampler_step_launch(config_.kind == slt::SamplerKind::RmspropSgld, with_sums, options.open_mala, options.close_mala,
                      parameters.data(), square_avg_, displacement_, chunk_sums_, gradient.data(), center_, chunks_,
                      chunk_count_, s);
  sampler_sum_chunks(totals_, chunk_sums_, chunk_count_);
  double totals[kSamplerSlots];  // (kSamplerSlots) host copy
  LLC_CHECK_CUDA(cudaMemcpyAsync(totals, totals_, sizeof totals, cudaMemcpyDeviceToHost, kernel_stream()));
  LLC_CHECK_CUDA(cudaStreamSynchronize(kernel_stream()));
  sums.distance_sq = totals[kSlotDistance];
  sums.weight_sq = totals[kSlotWeight];
  sums.gradient_sq = totals[kSlotGradient];
  sums.drift_gradient_sq = totals[kSlotDriftGradient];
  sums.drift_localization_sq = totals[kSlotDriftLocalization];
  sums.drift_weight_decay_sq = totals[kSlotDriftDecay];
  sums.noise_sq = totals[kSlotNoise];
  sums.distance_after_sq = totals[kSlotDistanceAfter];
  sums.open_displacement_dot_drift = totals[kSlotOpenDot];
  sums.open_drift_sq_preconditioned = totals[kSlotOpenDriftSq];
  sums.close_displacement_dot_drift = totals[kSlotCloseDot];
  sums.close_drift_sq_preconditioned = totals[kSlotCloseDriftSq];
  sums.nonfinite = static_cast<std::size_t>(totals[kSlotNonfinite]);
  sums.clamped = static_cast<std::size_t>(totals[kSlotClamped]);
  return sums;
}

}  // namespace llcpress::cuda
