// One shared randomized orthogonal rotation for the columns of both factors:
//
//   R = (O_m ⊗ H_{2^k} / √2^k) · diag(signs)       acting on ℝ^N, N = m·2^k ≥ n
//
// H is the Sylvester Hadamard matrix applied with the fast Walsh–Hadamard
// transform (O(N log N)); signs are ±1 from Philox; O_m is a random orthogonal
// m×m matrix (Gram–Schmidt on Philox normals) for the odd part m ≤ 63 of N, so
// that sizes like 6144 = 3·2^11 or 2560 = 5·2^9 are rotated without padding.
// Other n are zero-padded to the smallest such N (at most a few percent).
//
// Because R is orthogonal, ⟨Rx, Ry⟩ = ⟨x, y⟩: inner products of the two
// factors can be estimated in the rotated domain without undoing R. Both
// factors must use the same (length, seed) so they get the same R.
#pragma once

#include <cstdint>
#include <vector>

namespace llcpress::lattice {

// In-place unnormalized Walsh–Hadamard transform (Sylvester order) of
// data[length]; length must be a power of two. H·H = length·I.
void fwht(float* data, std::int64_t length);

// The smallest N = m·2^k ≥ n with m odd and m ≤ max_odd_factor.
std::int64_t rotation_length(std::int64_t n, int max_odd_factor = 63);

class RandomizedRotation {
 public:
  // n: length of the vectors; seed picks the random signs and O_m. Thread-safe after construction.
  RandomizedRotation(std::int64_t n, std::uint64_t seed);

  std::int64_t input_length() const { return input_length_; }
  std::int64_t rotated_length() const { return rotated_length_; }
  std::int64_t odd_factor() const { return odd_factor_; }
  std::int64_t power_of_two() const { return power_of_two_; }

  // rotated[N] = scale · R · (input[n] padded with zeros). rotated may not alias input.
  void forward(float* rotated, const float* input, float scale = 1.0f) const;
  // output[n] = scale · (Rᵀ · rotated[N]) restricted to the first n coordinates.
  // `rotated` is used as scratch and overwritten.
  void inverse(float* output, float* rotated, float scale = 1.0f) const;

 private:
  void mix_rows(float* data, bool transpose) const;

  std::int64_t input_length_, rotated_length_, odd_factor_, power_of_two_;
  std::vector<float> signs_;   // [N] ±1
  std::vector<float> mixing_;  // [m][m] orthogonal, row-major (empty when m = 1)
};

}  // namespace llcpress::lattice
