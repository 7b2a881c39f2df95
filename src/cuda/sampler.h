// SGLD / RMSprop-SGLD on the GPU: the CPU twin's (slt/sampler.h) class, with
// the same constructor, step/reset and sums, holding its per-element state
// (w*, V, the MALA displacement) in device memory. `parameters` and
// `gradient` spans are device memory. One fused kernel per step does the
// update, the localization, the bounding box, the diagnostic and MALA sums,
// with the CPU's Philox noise (cuda/block_normals.h): a CUDA chain and a CPU
// chain with one seed see the same ξ.
//
// Work split: the CPU twin's chunks (16384 elements at absolute multiples,
// split at range ends), one thread block per chunk; each thread takes whole
// Philox blocks (4 elements) so a block of normals is generated once. Sums:
// per thread in float over its ≤ 16 Philox blocks (64 terms, the CPU lanes
// add 128), then per chunk in double by a fixed tree, then over chunks in
// double by a second kernel — deterministic, no atomics; the totals agree with
// the CPU's to float rounding of the terms, not bit for bit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "cuda/sampler_step.h"
#include "slt/sampler.h"

namespace llcpress::cuda {

class Sampler {
 public:
  // Copies w* = parameters (device) at construction (only the sampled elements).
  Sampler(const slt::SamplerConfig& config, slt::SampledRanges ranges, std::span<const float> parameters,
          bool track_mala);
  ~Sampler();
  Sampler(const Sampler&) = delete;
  Sampler& operator=(const Sampler&) = delete;

  const slt::SamplerConfig& config() const { return config_; }
  const slt::SampledRanges& ranges() const { return ranges_; }

  // Writes w* back into the sampled elements and zeroes V (and δ).
  void reset(std::span<float> parameters);

  // One step on device buffers; waits for the stream to return the sums.
  slt::StepSums step(std::span<float> parameters, std::span<const float> gradient, const slt::StepOptions& options);

  std::size_t state_bytes() const;
  std::span<const float> center() const { return {center_, ranges_.count()}; }  // w*, compact, device

 private:
  void release();  // frees the device buffers (destructor, failed constructor)

  slt::SamplerConfig config_;
  slt::SampledRanges ranges_;
  float* center_ = nullptr;         // (sampled) w*, device
  float* square_avg_ = nullptr;     // (sampled) V, pSGLD only, device
  float* displacement_ = nullptr;   // (sampled) δ of the last opened MALA transition, device
  SamplerChunk* chunks_ = nullptr;  // (chunk_count) device
  double* chunk_sums_ = nullptr;    // (chunk_count, kSamplerSlots) device
  double* totals_ = nullptr;        // (kSamplerSlots) device
  int chunk_count_ = 0;
};

}  // namespace llcpress::cuda
