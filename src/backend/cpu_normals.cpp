#include "backend/cpu_normals.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "backend/elementwise.h"

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace llcpress::backend {

namespace {

// Blocks per inner batch: the loops below run over arrays of this length, which
// the compiler turns into SIMD code (structure of arrays, no data-dependent branches).
constexpr std::size_t kBatch = 64;

constexpr std::uint32_t kMultiplier0 = kPhiloxMultiplier0, kMultiplier1 = kPhiloxMultiplier1;
constexpr std::uint32_t kWeyl0 = kPhiloxWeyl0, kWeyl1 = kPhiloxWeyl1;

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
  // The rest (and everything without AVX2): elementwise.h's scalar Philox.
  for (; b < count; ++b) {
    std::uint32_t block[4];
    philox_block(seed, stream, first_block + b, block);
    for (int word = 0; word < 4; ++word) words[word][b] = block[word];
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
    for (std::size_t b = 0; b < count; ++b)
      block_normals(words[0][b], words[1][b], words[2][b], words[3][b], o + 4 * b);
  }
}

float block_normal_at(std::uint64_t seed, std::uint64_t stream, std::uint64_t element) {
  float block[4];
  fill_block_normals(seed, stream, element / 4, 1, block);
  return block[element % 4];
}

}  // namespace llcpress::backend
