// The sampler's Gaussian noise in device code: normal e of (seed, stream) as
// slt/noise.h defines it — Philox block e/4 (core/rng.h's philox_bits, same
// key/counter layout), Box–Muller on word pairs (0, 1) and (2, 3) giving
//   r·sin(π·a), r·cos(π·a),  a = uneg11(even word), r = √(−2·log u01(odd word)),
// with log and sin/cos by the same Cephes single-precision polynomials as the
// CPU's vectorised loop, so a CUDA chain sees the CPU chain's noise (equal up
// to the FMA contractions each compiler chooses: a few float ulps).
//
// TODO(seam): this moves to the shared host/device header src/backend/
// elementwise.h when the backend seam lands; slt/noise.cpp and these kernels
// then call one definition.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "core/rng.h"

namespace llcpress::cuda {

LLC_HOST_DEVICE inline float bits_as_float(std::uint32_t bits) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(bits);
#else
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
#endif
}

LLC_HOST_DEVICE inline std::uint32_t float_as_bits(float value) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(value);
#else
  std::uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
#endif
}

// log u for u in (0, 1] (normal floats); slt/noise.cpp's log_unit.
LLC_HOST_DEVICE inline float log_unit(float u) {
  const std::uint32_t bits = float_as_bits(u);
  const float m = bits_as_float((bits & 0x807fffffu) | 0x3f000000u);  // in [0.5, 1)
  const std::uint32_t small = m < 0.707106781186547524f ? 1u : 0u;
  const int exponent = static_cast<int>((bits >> 23) & 0xffu) - 126 - static_cast<int>(small);
  const float x = bits_as_float(float_as_bits(m) + (small << 23)) - 1.0f;
  const float z = x * x;
  float p = 7.0376836292e-2f;
  p = p * x - 1.1514610310e-1f;
  p = p * x + 1.1676998740e-1f;
  p = p * x - 1.2420140846e-1f;
  p = p * x + 1.4249322787e-1f;
  p = p * x - 1.6668057665e-1f;
  p = p * x + 2.0000714765e-1f;
  p = p * x - 2.4999993993e-1f;
  p = p * x + 3.3333331174e-1f;
  const float e = static_cast<float>(exponent);
  float y = p * x * z;
  y += -2.12194440e-4f * e;
  y += -0.5f * z;
  return x + y + 0.693359375f * e;
}

// sin(πa), cos(πa) for a in [−1, 1]; slt/noise.cpp's sincos_pi.
LLC_HOST_DEVICE inline void sincos_pi(float a, float& sine, float& cosine) {
  const int quadrant_index = static_cast<int>(2.0f * a + 2.5f) - 2;
  const float q = static_cast<float>(quadrant_index);
  const float t = a - 0.5f * q;
  const float x = 3.14159265358979323846f * t;
  const float z = x * x;
  const float s = x + x * z * ((-1.9515295891e-4f * z + 8.3321608736e-3f) * z - 1.6666654611e-1f);
  const float c =
      1.0f - 0.5f * z + z * z * ((2.443315711809948e-5f * z - 1.388731625493765e-3f) * z + 4.166664568298827e-2f);
  const std::uint32_t quadrant = static_cast<std::uint32_t>(quadrant_index) & 3u;
  const std::uint32_t odd = 0u - (quadrant & 1u);
  const std::uint32_t s_bits = float_as_bits(s), c_bits = float_as_bits(c);
  const std::uint32_t swapped_sine = (c_bits & odd) | (s_bits & ~odd);
  const std::uint32_t swapped_cosine = (s_bits & odd) | (c_bits & ~odd);
  sine = bits_as_float(swapped_sine ^ ((quadrant & 2u) << 30));
  cosine = bits_as_float(swapped_cosine ^ (((quadrant + 1u) & 2u) << 30));
}

// r123's uneg11<float>(word) and u01<float>(word).
LLC_HOST_DEVICE inline float signed_unit(std::uint32_t word) {
  return static_cast<float>(static_cast<std::int32_t>(word)) * (1.0f / 2147483648.0f) + (0.5f / 2147483648.0f);
}
LLC_HOST_DEVICE inline float unit(std::uint32_t word) {
  return static_cast<float>(word) * (1.0f / 4294967296.0f) + (0.5f / 4294967296.0f);
}

// The four normals of Philox block `block` of (seed, stream): elements
// 4·block … 4·block + 3.
LLC_HOST_DEVICE inline Float4 block_normals(std::uint64_t seed, std::uint64_t stream, std::uint64_t block) {
  const auto words = philox_bits(seed, stream, block);
  float s0, c0, s1, c1;
  sincos_pi(signed_unit(words.v[0]), s0, c0);
  sincos_pi(signed_unit(words.v[2]), s1, c1);
  const float r0 = sqrtf(-2.0f * log_unit(unit(words.v[1])));
  const float r1 = sqrtf(-2.0f * log_unit(unit(words.v[3])));
  return Float4{{s0 * r0, c0 * r0, s1 * r1, c1 * r1}};
}

}  // namespace llcpress::cuda
