// The CPU backend's sampler step (Backend::sampler_step): the fused,
// vectorised SGLD / pSGLD loop over the flat buffer, moved here unchanged
// from slt/sampler.cpp. See backend.h for the arguments.
#pragma once

#include <span>

#include "backend/sampler_step.h"

namespace llcpress::backend {

StepSums cpu_sampler_step(float* parameters, float* square_avg, float* displacement, const float* gradient,
                          const float* center, std::span<const SamplerChunk> chunks, const SamplerStepScalars& scalars);

}  // namespace llcpress::backend
