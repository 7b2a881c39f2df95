// Inner products straight from the codes, for small codebooks: a table of
// ⟨c_i + offset, c_j + offset⟩ over all pairs of coset leaders of the Voronoi
// code (lattice, q). For D3 with q = 6 there are 6³ = 216 codewords with
// integer leaders of norm² ≤ 36, so the table is 216² int8 entries = 45.6 KB
// (fits in 64 KB, i.e. in L1/L2). An inner product of two encoded vectors is
// then Σ_groups w_i·w_j·Σ_blocks LUT[c_i][c_j] with w = gain·β of the group's
// class — no decoding and no floating-point work per block.
#pragma once

#include <cstdint>
#include <vector>

#include "lattice/lattice.h"
#include "lattice/matrix_codec.h"

namespace llcpress::lattice {

class CodebookLut {
 public:
  // Throws ConfigError unless q^d ≤ 4096.
  CodebookLut(const LatticeInfo& lattice, int q);

  int codewords() const { return codewords_; }
  int q() const { return q_; }
  // Codeword number of a block's digits: Σ digit_i·q^i.
  int index(const std::uint8_t* digits) const {
    int value = 0;
    for (int i = dimension_ - 1; i >= 0; --i) value = value * q_ + digits[i];
    return value;
  }
  // ⟨codeword i, codeword j⟩ = entry(i, j) / scale().
  std::int32_t entry(int i, int j) const {
    return narrow_.empty() ? wide_[static_cast<std::size_t>(i) * codewords_ + j]
                           : narrow_[static_cast<std::size_t>(i) * codewords_ + j];
  }
  double scale() const { return scale_; }
  std::size_t bytes() const { return narrow_.empty() ? wide_.size() * 2 : narrow_.size(); }
  bool is_int8() const { return !narrow_.empty(); }
  const std::int8_t* int8_rows() const { return narrow_.data(); }
  const std::int16_t* int16_rows() const { return wide_.data(); }

 private:
  int dimension_, q_, codewords_;
  double scale_ = 1;  // entries are inner products × scale (4 when the offset is ½)
  std::vector<std::int8_t> narrow_;
  std::vector<std::int16_t> wide_;
};

// out[left.vectors][right.vectors] ≈ ⟨x_i, x'_j⟩ like estimate_products, from
// the LUT. Both factors: undithered, one segment with the LUT's q, same lattice,
// length and seed. Groups that escaped (or contain padding of the rotated
// length) use decoded values instead.
void estimate_products_lut(float* out, const EncodedMatrix& left, const EncodedMatrix& right, const CodebookLut& lut);

}  // namespace llcpress::lattice
