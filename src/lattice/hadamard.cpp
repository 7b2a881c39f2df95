#include "lattice/hadamard.h"

#include <cmath>

#include "core/check.h"
#include "core/rng.h"

namespace llcpress::lattice {

namespace {
constexpr std::uint64_t kRotationPurpose = 0x524f544154494f4eull;  // "ROTATION"

bool is_power_of_two(std::int64_t x) { return x > 0 && (x & (x - 1)) == 0; }

// One butterfly pass over pairs (i, i + half) for every block of 2·half.
inline void butterfly_pass(float* data, std::int64_t length, std::int64_t half) {
  for (std::int64_t start = 0; start < length; start += 2 * half) {
    float* a = data + start;
    float* b = a + half;
    for (std::int64_t i = 0; i < half; ++i) {
      float x = a[i], y = b[i];
      a[i] = x + y;
      b[i] = x - y;
    }
  }
}
}  // namespace

void fwht(float* data, std::int64_t length) {
  LLC_REQUIRE(is_power_of_two(length), "fwht length {} is not a power of two", length);
  std::int64_t half = 1;
  // The first three passes act inside groups of 8 consecutive values; doing
  // them together keeps the short inner loops out of the vectorised passes.
  if (length >= 8) {
    for (std::int64_t start = 0; start < length; start += 8) {
      float* v = data + start;
      float a0 = v[0] + v[1], a1 = v[0] - v[1], a2 = v[2] + v[3], a3 = v[2] - v[3];
      float a4 = v[4] + v[5], a5 = v[4] - v[5], a6 = v[6] + v[7], a7 = v[6] - v[7];
      float b0 = a0 + a2, b1 = a1 + a3, b2 = a0 - a2, b3 = a1 - a3;
      float b4 = a4 + a6, b5 = a5 + a7, b6 = a4 - a6, b7 = a5 - a7;
      v[0] = b0 + b4, v[1] = b1 + b5, v[2] = b2 + b6, v[3] = b3 + b7;
      v[4] = b0 - b4, v[5] = b1 - b5, v[6] = b2 - b6, v[7] = b3 - b7;
    }
    half = 8;
  }
  for (; half < length; half *= 2) butterfly_pass(data, length, half);
}

std::int64_t rotation_length(std::int64_t n, int max_odd_factor) {
  LLC_CHECK(n >= 1, InputError, "rotation", "vectors must have at least one entry", "vector length {} < 1", n);
  std::int64_t best = -1;
  for (std::int64_t m = 1; m <= max_odd_factor; m += 2) {
    std::int64_t power = 1;
    while (m * power < n) power *= 2;
    if (best < 0 || m * power < best) best = m * power;
  }
  return best;
}

RandomizedRotation::RandomizedRotation(std::int64_t n, std::uint64_t seed) : input_length_(n) {
  rotated_length_ = rotation_length(n);
  odd_factor_ = 1;
  while (rotated_length_ % (2 * odd_factor_) == 0) odd_factor_ *= 2;
  // odd_factor_ now holds the largest power of two dividing N; swap names.
  power_of_two_ = odd_factor_;
  odd_factor_ = rotated_length_ / power_of_two_;

  const std::uint64_t stream = stream_id(kRotationPurpose, static_cast<std::uint64_t>(n));
  signs_.resize(rotated_length_);
  for (std::int64_t i = 0; i < rotated_length_; i += 128) {
    auto bits = philox_bits(seed, stream, static_cast<std::uint64_t>(i / 128));
    for (std::int64_t j = 0; j < 128 && i + j < rotated_length_; ++j)
      signs_[i + j] = (bits.v[j / 32] >> (j % 32)) & 1u ? -1.0f : 1.0f;
  }
  const std::int64_t m = odd_factor_;
  if (m > 1) {
    // Gram–Schmidt (twice, for orthogonality to double precision) on a Gaussian matrix.
    std::vector<double> basis(m * m);
    CounterRng rng(seed, stream_id(kRotationPurpose, static_cast<std::uint64_t>(n), 1));
    for (std::int64_t i = 0; i < m * m; ++i) basis[i] = rng.normal(static_cast<std::uint64_t>(i));
    for (std::int64_t row = 0; row < m; ++row) {
      double* r = &basis[row * m];
      for (int pass = 0; pass < 2; ++pass) {
        for (std::int64_t prev = 0; prev < row; ++prev) {
          const double* p = &basis[prev * m];
          double dot = 0;
          for (std::int64_t j = 0; j < m; ++j) dot += r[j] * p[j];
          for (std::int64_t j = 0; j < m; ++j) r[j] -= dot * p[j];
        }
      }
      double norm = 0;
      for (std::int64_t j = 0; j < m; ++j) norm += r[j] * r[j];
      norm = std::sqrt(norm);
      LLC_REQUIRE(norm > 1e-6, "degenerate random matrix for the odd rotation factor");
      for (std::int64_t j = 0; j < m; ++j) r[j] /= norm;
    }
    mixing_.assign(basis.begin(), basis.end());
  }
}

void RandomizedRotation::mix_rows(float* data, bool transpose) const {
  const std::int64_t m = odd_factor_, width = power_of_two_;
  if (m == 1) return;
  // Per thread, so one rotation can serve several encoding threads.
  thread_local std::vector<float> scratch;
  scratch.resize(rotated_length_);
  // out[r][c] = Σ_r' O[r][r'] · data[r'][c]   (transpose: O[r'][r])
  for (std::int64_t r = 0; r < m; ++r) {
    float* out = &scratch[r * width];
    for (std::int64_t c = 0; c < width; ++c) out[c] = 0;
    for (std::int64_t s = 0; s < m; ++s) {
      float weight = transpose ? mixing_[s * m + r] : mixing_[r * m + s];
      const float* in = data + s * width;
      for (std::int64_t c = 0; c < width; ++c) out[c] += weight * in[c];
    }
  }
  for (std::int64_t i = 0; i < rotated_length_; ++i) data[i] = scratch[i];
}

void RandomizedRotation::forward(float* rotated, const float* input, float scale) const {
  const float normalisation = scale / std::sqrt(static_cast<float>(power_of_two_));
  for (std::int64_t i = 0; i < input_length_; ++i) rotated[i] = input[i] * signs_[i] * normalisation;
  for (std::int64_t i = input_length_; i < rotated_length_; ++i) rotated[i] = 0;
  for (std::int64_t r = 0; r < odd_factor_; ++r) fwht(rotated + r * power_of_two_, power_of_two_);
  mix_rows(rotated, false);
}

void RandomizedRotation::inverse(float* output, float* rotated, float scale) const {
  const float normalisation = scale / std::sqrt(static_cast<float>(power_of_two_));
  mix_rows(rotated, true);
  for (std::int64_t r = 0; r < odd_factor_; ++r) fwht(rotated + r * power_of_two_, power_of_two_);
  for (std::int64_t i = 0; i < input_length_; ++i) output[i] = rotated[i] * signs_[i] * normalisation;
}

}  // namespace llcpress::lattice
