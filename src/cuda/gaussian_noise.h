// The noise compression method's perturbation on the GPU (the CPU loop is in
// compress/methods.cpp, NoiseMethod::apply): out[i] = reference[i] + σ·ξ_i
// with ξ_i = element i of Philox (seed, stream) through core/rng.h's
// philox_normal4 — the numbers CounterRng::fill_normal gives the CPU (equal up
// to the device's sincospif/logf vs the host libm: a few float ulps).
#pragma once

#include <cstdint>

namespace llcpress::cuda {

// out, reference: (count) device; out may alias reference.
void add_gaussian_noise(float* out, const float* reference, std::int64_t count, float sigma, std::uint64_t seed,
                        std::uint64_t stream);

}  // namespace llcpress::cuda
