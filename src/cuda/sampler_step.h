// One SGLD / RMSprop-SGLD step on the GPU: Backend::sampler_step
// (backend/backend.h) for device buffers, as one fused kernel. The update of
// an element is backend/elementwise.h's sgld_update_element and its noise the
// block transform of the same header (the CPU backend's very functions), so
// a CUDA chain and a CPU chain with one seed see the same ξ (up to the FMA
// contractions each compiler chooses: a few float ulps).
//
// Work split: the caller's chunks (the CPU's: 16384 elements at absolute
// multiples, split at range ends), one thread block per chunk; a thread takes
// whole Philox blocks (4 elements), so a block of normals is made once. Sums:
// per thread in float over its ≤ 16 Philox blocks (≤ 64 terms; the CPU's
// lanes add 128), per chunk in double by one fixed tree, over chunks in double
// by a second kernel in a fixed order — deterministic, no atomics; they agree
// with the CPU's sums to the rounding of the float terms, not bit for bit.
#pragma once

#include <cstddef>

#include "backend/sampler_step.h"

namespace llcpress::cuda {

// parameters, gradient, center: (total) device, center indexed like
// parameters; square_avg (pSGLD), displacement (MALA): (sampled) device,
// compact, or nullptr; chunks: (chunk_count) HOST, in order. Returns the sums
// (waits for the stream).
backend::StepSums sampler_step(float* parameters, float* square_avg, float* displacement, const float* gradient,
                               const float* center, const backend::SamplerChunk* chunks, std::size_t chunk_count,
                               const backend::SamplerStepScalars& scalars);

}  // namespace llcpress::cuda
