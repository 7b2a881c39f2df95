// The noise compression method's perturbation on the GPU (the CPU loop is in
// compress/methods.cpp, NoiseMethod::apply): out[i] = reference[i] + σ·ξ_i
// with ξ_i = element i of Philox (seed, stream) through core/rng.h's
// philox_normal4 — the numbers CounterRng::fill_normal gives the CPU (equal up
// to the device's sincospif/logf vs the host libm: a few float ulps).
#pragma once

#include <cstdint>

namespace llcpress::cuda {

// Backend::noise_forward: out: (count), WRITTEN = in + sigma·ξ; in: (count)
// device, may alias out.
void noise_forward(float* out, const float* in, float sigma, std::uint64_t seed, std::uint64_t stream,
                   std::int64_t count);

}  // namespace llcpress::cuda
