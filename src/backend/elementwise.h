// Element-wise math shared by every backend: the CPU loops call these inline
// functions, and the CUDA kernels call the very same ones (LLC_HOST_DEVICE is
// __host__ __device__ under nvcc), so the code the CPU tests check is the
// code the GPU runs. What lives here:
//   * Philox4x32-10 of one block and the vectorisable Box–Muller transform of
//     its four words into four normals (the sampler's noise, slt/noise.h);
//   * the SGLD / pSGLD update of one element (the sampler step);
//   * the uniform quantizer of one value (compression);
//   * GELU of one value and its derivative (the reference form; see the note).
//
// Rules for this header: C++17 (nvcc's dialect here), no exceptions, no
// std::numeric_limits or other non-constexpr library calls that device code
// cannot make; only <cmath> functions CUDA also provides (sqrt, fabs, floor,
// erf, tanh, exp) and integer/float arithmetic.
#pragma once

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "backend/sampler_step.h"
#include "core/host_device.h"

namespace llcpress::backend {

// ---------------------------------------------------------------- bit casts

LLC_HOST_DEVICE inline float bits_to_float(std::uint32_t bits) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(bits);
#else
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
#endif
}
LLC_HOST_DEVICE inline std::uint32_t float_to_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  std::uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  return bits;
#endif
}

// ---------------------------------------------------------------- Philox normals
// Normal e of (seed, stream) is made from Philox block e/4 — the four words of
// core/rng.h's philox_bits(seed, stream, e/4), bit for bit — by Random123's
// Box–Muller (words 0, 1 → elements 4k, 4k+1; words 2, 3 → 4k+2, 4k+3):
//   r·sin(π·a), r·cos(π·a),  a = signed_unit(even word), r = √(−2·log unit(odd word)),
// with log and sin/cos evaluated by branch-free polynomials (the Cephes
// single-precision ones) so loops vectorize. Values agree with
// philox_normal4's libm-based ones to within a few float ulps (tested).

inline constexpr std::uint32_t kPhiloxMultiplier0 = 0xD2511F53u, kPhiloxMultiplier1 = 0xCD9E8D57u;
inline constexpr std::uint32_t kPhiloxWeyl0 = 0x9E3779B9u, kPhiloxWeyl1 = 0xBB67AE85u;

// Philox4x32-10 of block `index` of `stream` under key `seed`: words[0..3].
LLC_HOST_DEVICE inline void philox_block(std::uint64_t seed, std::uint64_t stream, std::uint64_t index,
                                         std::uint32_t words[4]) {
  std::uint32_t c0 = static_cast<std::uint32_t>(index), c1 = static_cast<std::uint32_t>(index >> 32);
  std::uint32_t c2 = static_cast<std::uint32_t>(stream), c3 = static_cast<std::uint32_t>(stream >> 32);
  std::uint32_t key0 = static_cast<std::uint32_t>(seed), key1 = static_cast<std::uint32_t>(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    if (round > 0) key0 += kPhiloxWeyl0, key1 += kPhiloxWeyl1;
    const std::uint64_t p0 = static_cast<std::uint64_t>(kPhiloxMultiplier0) * c0;
    const std::uint64_t p1 = static_cast<std::uint64_t>(kPhiloxMultiplier1) * c2;
    const std::uint32_t n0 = static_cast<std::uint32_t>(p1 >> 32) ^ c1 ^ key0;
    const std::uint32_t n2 = static_cast<std::uint32_t>(p0 >> 32) ^ c3 ^ key1;
    c1 = static_cast<std::uint32_t>(p1);
    c3 = static_cast<std::uint32_t>(p0);
    c0 = n0;
    c2 = n2;
  }
  words[0] = c0;
  words[1] = c1;
  words[2] = c2;
  words[3] = c3;
}

// r123's uneg11<float>(word): a signed word to (−1, 1).
LLC_HOST_DEVICE inline float signed_unit(std::uint32_t word) {
  return static_cast<float>(static_cast<std::int32_t>(word)) * (1.0f / 2147483648.0f) + (0.5f / 2147483648.0f);
}
// r123's u01<float>(word): a word to (0, 1].
LLC_HOST_DEVICE inline float unit(std::uint32_t word) {
  return static_cast<float>(word) * (1.0f / 4294967296.0f) + (0.5f / 4294967296.0f);
}

// Natural log for u in (0, 1] (normal floats): u = m·2^e with m in [√½, √2),
// log u = e·log 2 + log m, log(1 + x) by the Cephes logf polynomial
// (relative error ~1e-7); log 2 split in two parts for accuracy.
LLC_HOST_DEVICE inline float log_unit(float u) {
  const std::uint32_t bits = float_to_bits(u);
  const float m = bits_to_float((bits & 0x807fffffu) | 0x3f000000u);  // in [0.5, 1)
  // m < √½: use 2m (in [1, √2)) and one less in the exponent. Written as
  // arithmetic on 0/1 so the loop stays branch-free.
  const std::uint32_t small = m < 0.707106781186547524f ? 1u : 0u;
  const int exponent = static_cast<int>((bits >> 23) & 0xffu) - 126 - static_cast<int>(small);
  const float x = bits_to_float(float_to_bits(m) + (small << 23)) - 1.0f;  // 2m = exponent + 1
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

// sin(πa), cos(πa) for a in [−1, 1]: a = q/2 + t with q = round(2a), |t| ≤ ¼,
// x = πt in [−π/4, π/4] by the Cephes sinf/cosf polynomials, then rotated by
// the quadrant q mod 4.
LLC_HOST_DEVICE inline void sincos_pi(float a, float& sine, float& cosine) {
  // Round 2a to the nearest integer by truncating 2a + 2.5 ≥ 0.5 (|2a| ≤ 2), a
  // conversion that vectorizes (ties go up; either neighbour keeps |t| ≤ ¼).
  const int quadrant_index = static_cast<int>(2.0f * a + 2.5f) - 2;
  const float q = static_cast<float>(quadrant_index);
  const float t = a - 0.5f * q;  // exact
  const float x = 3.14159265358979323846f * t;
  const float z = x * x;
  const float s = x + x * z * ((-1.9515295891e-4f * z + 8.3321608736e-3f) * z - 1.6666654611e-1f);
  const float c =
      1.0f - 0.5f * z + z * z * ((2.443315711809948e-5f * z - 1.388731625493765e-3f) * z + 4.166664568298827e-2f);
  // Quadrant k = q mod 4: (sin, cos) of x + kπ/2 is (s, c), (c, −s), (−s, −c),
  // (−c, s); selected and sign-flipped with bit masks (branch-free).
  const std::uint32_t quadrant = static_cast<std::uint32_t>(quadrant_index) & 3u;
  const std::uint32_t odd = 0u - (quadrant & 1u);  // all ones when k is odd
  const std::uint32_t s_bits = float_to_bits(s), c_bits = float_to_bits(c);
  const std::uint32_t swapped_sine = (c_bits & odd) | (s_bits & ~odd);
  const std::uint32_t swapped_cosine = (s_bits & odd) | (c_bits & ~odd);
  sine = bits_to_float(swapped_sine ^ ((quadrant & 2u) << 30));
  cosine = bits_to_float(swapped_cosine ^ (((quadrant + 1u) & 2u) << 30));
}

// The four normals of one Philox block from its four words.
LLC_HOST_DEVICE inline void block_normals(std::uint32_t word0, std::uint32_t word1, std::uint32_t word2,
                                          std::uint32_t word3, float out[4]) {
  float s0, c0, s1, c1;
  sincos_pi(signed_unit(word0), s0, c0);
  sincos_pi(signed_unit(word2), s1, c1);
  const float r0 = std::sqrt(-2.0f * log_unit(unit(word1)));
  const float r1 = std::sqrt(-2.0f * log_unit(unit(word3)));
  out[0] = s0 * r0;
  out[1] = c0 * r0;
  out[2] = s1 * r1;
  out[3] = c1 * r1;
}

// Normal `element` of (seed, stream): what the sampler adds to that element.
LLC_HOST_DEVICE inline float block_normal(std::uint64_t seed, std::uint64_t stream, std::uint64_t element) {
  std::uint32_t words[4];
  philox_block(seed, stream, element / 4, words);
  float normals[4];
  block_normals(words[0], words[1], words[2], words[3], normals);
  return normals[element % 4];
}

// ---------------------------------------------------------------- SGLD / pSGLD element

// Everything one element's update produces: the new w (and V), plus the
// terms the diagnostic and MALA sums are made of.
struct SgldElement {
  float updated;                // w after the step, clamped to the box
  float square_avg;             // V after the step (pSGLD; else the input)
  float diff;                   // w − w* before the step
  float scaled_gradient;        // nβ·g
  float localization;           // γ·(w − w*)
  float decay;                  // λ_wd·w
  float drift;                  // ∇U = nβ·g + γ(w − w*) + λ_wd·w
  float step_scale;             // (ε/2)·P
  float noise;                  // √ε·√P·σ·ξ
  float precondition;           // P = 1/(√V + eps_p) (1 for SGLD)
  float previous_precondition;  // P from V before this step's update (for closing MALA; 1 for SGLD)
  bool below, above;            // the box clamp moved w up / down
};

// The update of one element (REFERENCE §3), in float, in exactly this order:
//   pSGLD: V ← αV + (1−α)g²;  P = 1/(√V + eps_p)
//   d = nβg + γ(w − w*) + λ_wd·w;  w' = w − (ε/2)·P·d + √ε·√P·σ·ξ;
//   then w' is clamped to [w* − box, w* + box] (box = +∞ without a box).
// w: this element of w; g: of the gradient; w0: of w*; v: of V (ignored for
// SGLD); normal: ξ. kRmsprop selects pSGLD; kPrevious also computes the
// preconditioner of the V before the update (closing a MALA transition).
template <bool kRmsprop, bool kPrevious>
LLC_HOST_DEVICE inline SgldElement sgld_update_element(float w, float g, float w0, float v, float normal,
                                                       const SamplerStepScalars& s) {
  SgldElement e;
  e.precondition = 1.0f;
  float sqrt_precondition = 1.0f;
  e.previous_precondition = 1.0f;
  e.square_avg = v;
  if constexpr (kRmsprop) {
    if constexpr (kPrevious) e.previous_precondition = 1.0f / (std::sqrt(v) + s.rmsprop_eps);
    const float v_new = s.alpha * v + s.one_minus_alpha * g * g;
    e.square_avg = v_new;
    e.precondition = 1.0f / (std::sqrt(v_new) + s.rmsprop_eps);
    sqrt_precondition = std::sqrt(e.precondition);
  }
  e.diff = w - w0;
  e.scaled_gradient = s.nbeta * g;
  e.localization = s.localization * e.diff;
  e.decay = s.weight_decay * w;
  e.drift = e.scaled_gradient + e.localization + e.decay;
  e.step_scale = s.half_epsilon * e.precondition;
  e.noise = s.sqrt_epsilon * sqrt_precondition * s.noise_scale * normal;
  float updated = w - e.step_scale * e.drift + e.noise;
  const float low = w0 - s.box, high = w0 + s.box;
  e.below = updated < low;
  const float raised = e.below ? low : updated;
  e.above = raised > high;
  e.updated = e.above ? high : raised;
  return e;
}

// The squares one element adds to a step's diagnostic sums (StepSums'
// distance_sq … distance_after_sq), formed in float as every backend's
// accumulator lanes take them (the CPU loop and the CUDA kernel call this).
// w, g, w0: the element's weight before the step, gradient and w*.
struct SgldSquares {
  float distance, weight, gradient, drift_gradient, drift_localization, drift_decay, noise, distance_after;
};
LLC_HOST_DEVICE inline SgldSquares sgld_squares(const SgldElement& e, float w, float g, float w0) {
  const float drift_gradient = e.step_scale * e.scaled_gradient;
  const float drift_localization = e.step_scale * e.localization;
  const float drift_decay = e.step_scale * e.decay;
  const float after = e.updated - w0;
  return {e.diff * e.diff,
          w * w,
          g * g,
          drift_gradient * drift_gradient,
          drift_localization * drift_localization,
          drift_decay * drift_decay,
          e.noise * e.noise,
          after * after};
}

// True when x is NaN or ±∞ (counted by the step as diverged weights).
LLC_HOST_DEVICE inline bool nonfinite(float x) { return !(std::fabs(x) <= FLT_MAX); }

// ---------------------------------------------------------------- uniform quantizer

// The uniform quantizer of compress/quantizer.h: n = levels ≥ 2 equally
// spaced values (k − (n−1)/2)·step, step = 2·clip/(n−1), on [−clip, clip],
// symmetric about 0. Index arithmetic in double: with float, w/step + (n−1)/2
// keeps only 24 bits, so for thousands of levels an entry within ~1e-4 step
// of a decision boundary could round to the farther level and Q(−w) = −Q(w)
// would fail there. In double the only ties left are exact boundaries.
struct LevelMap {
  double step, inverse_step, centre, top, clip;
  LLC_HOST_DEVICE LevelMap(int levels, float clip_value)
      : step(2.0 * static_cast<double>(clip_value) / (levels - 1)),
        inverse_step(step > 0 ? 1.0 / step : 0.0),
        centre(0.5 * (levels - 1)),
        top(levels - 1),
        clip(clip_value) {}
  // Q(w): the nearest level, entries beyond ±clip going to the end levels.
  LLC_HOST_DEVICE float operator()(float w) const {
    if (step <= 0) return 0.0f;
    const double x = static_cast<double>(w);
    const double clamped = x < -clip ? -clip : (x > clip ? clip : x);
    const double raw = std::floor(clamped * inverse_step + centre + 0.5);
    const double index = raw < 0.0 ? 0.0 : (raw > top ? top : raw);
    return static_cast<float>((index - centre) * step);
  }
};

// ---------------------------------------------------------------- GELU
// The reference form of one value (transformers' "gelu" = exact erf,
// "gelu_new"/"gelu_fast"/"gelu_pytorch_tanh" = tanh approximation) and its
// derivative. The CUDA kernels evaluate these; the CPU op (ops/gelu.cpp)
// evaluates the same formulas with Eigen's vectorised erf/exp/tanh, whose
// last bits differ from libm's: the CPU op is checked against these within a
// few float ulps (tests/backend/test_elementwise.cpp).

inline constexpr float kGeluInvSqrt2 = 0.70710678118654752440f;
inline constexpr float kGeluInvSqrt2Pi = 0.39894228040143267794f;   // 1/√(2π), the normal density at 0
inline constexpr float kGeluSqrt2OverPi = 0.79788456080286535588f;  // √(2/π)
inline constexpr float kGeluTanhCubic = 0.044715f;

LLC_HOST_DEVICE inline float gelu_erf(float x) { return 0.5f * x * (1.0f + std::erf(x * kGeluInvSqrt2)); }
// d/dx xΦ(x) = Φ(x) + x·φ(x).
LLC_HOST_DEVICE inline float gelu_erf_derivative(float x) {
  return 0.5f * (1.0f + std::erf(x * kGeluInvSqrt2)) + x * kGeluInvSqrt2Pi * std::exp(-0.5f * x * x);
}
LLC_HOST_DEVICE inline float gelu_tanh(float x) {
  return 0.5f * x * (1.0f + std::tanh(kGeluSqrt2OverPi * (x + kGeluTanhCubic * x * x * x)));
}
// With u = √(2/π)(x + 0.044715x³) and t = tanh u:
// d/dx ½x(1 + t) = ½(1 + t) + ½x(1 − t²)·√(2/π)(1 + 3·0.044715x²).
LLC_HOST_DEVICE inline float gelu_tanh_derivative(float x) {
  const float t = std::tanh(kGeluSqrt2OverPi * (x + kGeluTanhCubic * x * x * x));
  return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * kGeluSqrt2OverPi * (1.0f + 3.0f * kGeluTanhCubic * x * x);
}

}  // namespace llcpress::backend
