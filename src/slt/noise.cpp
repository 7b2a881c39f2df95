#include "slt/noise.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace llcpress::slt {

namespace {

// Philox4x32-10 constants (Salmon et al. 2011, as in Random123's philox.h).
constexpr std::uint32_t kMultiplier0 = 0xD2511F53u, kMultiplier1 = 0xCD9E8D57u;
constexpr std::uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;

// Blocks per inner batch: the loops below run over arrays of this length, which
// the compiler turns into SIMD code (structure of arrays, no data-dependent branches).
constexpr std::size_t kBatch = 64;

inline float bits_to_float(std::uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}
inline std::uint32_t float_to_bits(float f) {
  std::uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  return bits;
}

// Natural log for u in (0, 1] (normal floats): u = m·2^e with m in [√½, √2),
// log u = e·log 2 + log m, log(1 + x) by the Cephes logf polynomial
// (relative error ~1e-7); log 2 split in two parts for accuracy.
inline float log_unit(float u) {
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
inline void sincos_pi(float a, float& sine, float& cosine) {
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

// r123's uneg11<float>(word) and u01<float>(word).
inline float signed_unit(std::uint32_t word) {
  return static_cast<float>(static_cast<std::int32_t>(word)) * (1.0f / 2147483648.0f) + (0.5f / 2147483648.0f);
}
inline float unit(std::uint32_t word) {
  return static_cast<float>(word) * (1.0f / 4294967296.0f) + (0.5f / 4294967296.0f);
}

// Philox4x32-10 of `count` ≤ kBatch consecutive blocks, into words[4][kBatch].
void philox_batch(std::uint64_t seed, std::uint64_t stream, std::uint64_t first_block, std::size_t count,
                  std::uint32_t (&words)[4][kBatch]) {
  std::size_t b = 0;
#if defined(__AVX2__)
  // Sixteen blocks at a time, two registers of eight blocks each (independent
  // chains that hide the multiply latency). The high half of a 32×32-bit
  // product is assembled from the 64-bit products of the even and the odd
  // lanes (vpmuludq), the low half is vpmulld; the result is the scalar
  // loop's, bit for bit.
  const __m256i multiplier0 = _mm256_set1_epi32(static_cast<int>(kMultiplier0));
  const __m256i multiplier1 = _mm256_set1_epi32(static_cast<int>(kMultiplier1));
  const __m256i stream_low = _mm256_set1_epi32(static_cast<int>(static_cast<std::uint32_t>(stream)));
  const __m256i stream_high = _mm256_set1_epi32(static_cast<int>(static_cast<std::uint32_t>(stream >> 32)));
  const __m256i lane_offsets = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  auto multiply_high = [](__m256i a, __m256i m) {
    const __m256i even = _mm256_mul_epu32(a, m);                        // lanes 0, 2, 4, 6 as 64-bit products
    const __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), m);  // lanes 1, 3, 5, 7
    return _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
  };
  for (; b + 16 <= count; b += 16) {
    __m256i c0[2], c1[2], c2[2], c3[2];
    for (int h = 0; h < 2; ++h) {
      // Counter words 0 and 1: the 64-bit block index. Eight consecutive
      // indices carry into the high word only where the low word wraps.
      const std::uint64_t index = first_block + b + 8 * h;
      const __m256i low =
          _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(static_cast<std::uint32_t>(index))), lane_offsets);
      const std::uint32_t low_start = static_cast<std::uint32_t>(index);
      // Lane k wrapped iff low_start + k < low_start as unsigned numbers (a
      // signed comparison after flipping the top bits); then high gets + 1.
      const __m256i bias = _mm256_set1_epi32(static_cast<int>(0x80000000u));
      const __m256i wrapped = _mm256_cmpgt_epi32(_mm256_xor_si256(_mm256_set1_epi32(static_cast<int>(low_start)), bias),
                                                 _mm256_xor_si256(low, bias));  // all ones where wrapped
      const __m256i high =
          _mm256_sub_epi32(_mm256_set1_epi32(static_cast<int>(static_cast<std::uint32_t>(index >> 32))), wrapped);
      c0[h] = low;
      c1[h] = high;
      c2[h] = stream_low;
      c3[h] = stream_high;
    }
    std::uint32_t key0 = static_cast<std::uint32_t>(seed), key1 = static_cast<std::uint32_t>(seed >> 32);
    for (int round = 0; round < 10; ++round) {
      if (round > 0) key0 += kWeyl0, key1 += kWeyl1;
      const __m256i k0 = _mm256_set1_epi32(static_cast<int>(key0)), k1 = _mm256_set1_epi32(static_cast<int>(key1));
      for (int h = 0; h < 2; ++h) {
        const __m256i high0 = multiply_high(c0[h], multiplier0);
        const __m256i high1 = multiply_high(c2[h], multiplier1);
        const __m256i low0 = _mm256_mullo_epi32(c0[h], multiplier0);
        const __m256i low1 = _mm256_mullo_epi32(c2[h], multiplier1);
        c0[h] = _mm256_xor_si256(_mm256_xor_si256(high1, c1[h]), k0);
        c2[h] = _mm256_xor_si256(_mm256_xor_si256(high0, c3[h]), k1);
        c1[h] = low1;
        c3[h] = low0;
      }
    }
    for (int h = 0; h < 2; ++h) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(words[0] + b + 8 * h), c0[h]);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(words[1] + b + 8 * h), c1[h]);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(words[2] + b + 8 * h), c2[h]);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(words[3] + b + 8 * h), c3[h]);
    }
  }
#endif
  // The rest (and everything without AVX2): scalar Philox, which the compiler vectorizes as it can.
  for (; b < count; ++b) {
    const std::uint64_t index = first_block + b;
    std::uint32_t c0 = static_cast<std::uint32_t>(index), c1 = static_cast<std::uint32_t>(index >> 32);
    std::uint32_t c2 = static_cast<std::uint32_t>(stream), c3 = static_cast<std::uint32_t>(stream >> 32);
    std::uint32_t key0 = static_cast<std::uint32_t>(seed), key1 = static_cast<std::uint32_t>(seed >> 32);
    for (int round = 0; round < 10; ++round) {
      if (round > 0) key0 += kWeyl0, key1 += kWeyl1;
      const std::uint64_t p0 = static_cast<std::uint64_t>(kMultiplier0) * c0;
      const std::uint64_t p1 = static_cast<std::uint64_t>(kMultiplier1) * c2;
      const std::uint32_t n0 = static_cast<std::uint32_t>(p1 >> 32) ^ c1 ^ key0;
      const std::uint32_t n2 = static_cast<std::uint32_t>(p0 >> 32) ^ c3 ^ key1;
      c1 = static_cast<std::uint32_t>(p1);
      c3 = static_cast<std::uint32_t>(p0);
      c0 = n0;
      c2 = n2;
    }
    words[0][b] = c0;
    words[1][b] = c1;
    words[2][b] = c2;
    words[3][b] = c3;
  }
}

}  // namespace

void fill_block_normals(std::uint64_t seed, std::uint64_t stream, std::uint64_t first_block, std::size_t blocks,
                        float* out) {
  std::uint32_t words[4][kBatch];
  for (std::size_t done = 0; done < blocks; done += kBatch) {
    const std::size_t count = std::min(kBatch, blocks - done);
    philox_batch(seed, stream, first_block + done, count, words);
    float* o = out + 4 * done;
    for (std::size_t b = 0; b < count; ++b) {
      float s0, c0, s1, c1;
      sincos_pi(signed_unit(words[0][b]), s0, c0);
      sincos_pi(signed_unit(words[2][b]), s1, c1);
      const float r0 = std::sqrt(-2.0f * log_unit(unit(words[1][b])));
      const float r1 = std::sqrt(-2.0f * log_unit(unit(words[3][b])));
      o[4 * b + 0] = s0 * r0;
      o[4 * b + 1] = c0 * r0;
      o[4 * b + 2] = s1 * r1;
      o[4 * b + 3] = c1 * r1;
    }
  }
}

float block_normal_at(std::uint64_t seed, std::uint64_t stream, std::uint64_t element) {
  float block[4];
  fill_block_normals(seed, stream, element / 4, 1, block);
  return block[element % 4];
}

}  // namespace llcpress::slt
