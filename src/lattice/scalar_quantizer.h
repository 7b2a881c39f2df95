// The baseline of the seed paper's experiment: each vector (column) is scaled
// by its largest |entry| m (ℓ∞ normalisation, m sent as fp32) and every entry
// is quantized to the midpoint of one of 2^bits equal cells on [−m, m]. No
// rotation, no centring. Rate = bits + 32/n per entry.
#pragma once

#include <cstdint>
#include <vector>

namespace llcpress::lattice {

struct ScalarEncoded {
  int bits = 0;
  std::int64_t vectors = 0, length = 0;
  std::vector<float> max_abs;       // [vectors]
  std::vector<std::uint8_t> codes;  // [vectors][length], cell indices in [0, 2^bits)

  double total_bits() const { return static_cast<double>(bits) * vectors * length + 32.0 * vectors; }
  double bits_per_entry() const { return total_bits() / static_cast<double>(vectors * length); }
};

// data[vectors][length]; bits in 1..8.
ScalarEncoded scalar_encode(const float* data, std::int64_t vectors, std::int64_t length, int bits);
void scalar_decode(float* out, const ScalarEncoded& encoded);

}  // namespace llcpress::lattice
