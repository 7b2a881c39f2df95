// The fused SGLD / RMSprop-SGLD step kernel and its launchers (C++17: this
// header is included by the .cu, which nvcc compiles as C++17). The class
// cuda::Sampler (cuda/sampler.h) owns the buffers and calls these.
#pragma once

#include <cstdint>

namespace llcpress::cuda {

// One chunk of the flat buffer: [begin, end) and where it starts in the
// sampler's compact per-element buffers. The CPU twin's chunks.
struct SamplerChunk {
  std::uint64_t begin, end, compact;
};

// Per chunk, the partial sums in this order (the two counts as doubles,
// exact below 2⁵³).
enum SamplerSlot : int {
  kSlotDistance,
  kSlotWeight,
  kSlotGradient,
  kSlotDriftGradient,
  kSlotDriftLocalization,
  kSlotDriftDecay,
  kSlotNoise,
  kSlotDistanceAfter,
  kSlotOpenDot,
  kSlotOpenDriftSq,
  kSlotCloseDot,
  kSlotCloseDriftSq,
  kSlotNonfinite,
  kSlotClamped,
  kSamplerSlots
};

// Scalars of one step, in float as the CPU twin computes the update.
struct SamplerStepScalars {
  float half_epsilon, sqrt_epsilon, nbeta, localization, weight_decay, noise_scale;
  float alpha, one_minus_alpha, rmsprop_eps, box;  // box = +∞ without a bounding box
  bool apply;
  std::uint64_t seed, stream;
};

// parameters, gradient: (total) device; square_avg (pSGLD), displacement
// (MALA), center: (sampled) device; chunks: (chunk_count) device;
// chunk_sums: (chunk_count, kSamplerSlots) device, WRITTEN.
void sampler_step_launch(bool rmsprop, bool with_sums, bool open_mala, bool close_mala, float* parameters,
                         float* square_avg, float* displacement, double* chunk_sums, const float* gradient,
                         const float* center, const SamplerChunk* chunks, int chunk_count,
                         const SamplerStepScalars& scalars);

// totals: (kSamplerSlots) device, WRITTEN: column sums of chunk_sums in a
// fixed order.
void sampler_sum_chunks(double* totals, const double* chunk_sums, int chunk_count);

}  // namespace llcpress::cuda
