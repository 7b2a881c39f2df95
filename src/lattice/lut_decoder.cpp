#include "lattice/lut_decoder.h"

#include <cmath>

#include "core/check.h"
#include "lattice/nested_code.h"

namespace llcpress::lattice {

CodebookLut::CodebookLut(const LatticeInfo& lattice, int q) : dimension_(lattice.dimension), q_(q) {
  double count = std::pow(static_cast<double>(q), lattice.dimension);
  LLC_CHECK(q >= 2 && count <= 4096, ConfigError, "LUT decoder",
            "use a small codebook (q^d ≤ 4096, e.g. D3 with q ≤ 16)", "{}^{} = {} codewords", q, lattice.dimension,
            count);
  codewords_ = static_cast<int>(count);
  const int d = dimension_;
  const float offset = voronoi_offset(lattice.is_integer_lattice(), q);
  // Leaders (plus offset) are integers or half-integers: ×2 per coordinate, ×4 per product.
  std::vector<std::int32_t> doubled(static_cast<std::size_t>(codewords_) * d);
  bool integral = offset == 0;
  std::vector<std::uint8_t> digits(d);
  std::vector<float> coordinates(d), point(d), leader(d);
  for (int c = 0; c < codewords_; ++c) {
    int rest = c;
    for (int i = 0; i < d; ++i) {
      digits[i] = static_cast<std::uint8_t>(rest % q);
      rest /= q;
      coordinates[i] = digits[i];
    }
    lattice.from_coordinates(point.data(), coordinates.data());
    lattice.reduce_mod_q(leader.data(), point.data(), q);
    for (int i = 0; i < d; ++i) {
      float value = 2.0f * (leader[i] + offset);
      doubled[static_cast<std::size_t>(c) * d + i] = static_cast<std::int32_t>(value);
      if (static_cast<std::int32_t>(value) % 2 != 0) integral = false;
    }
  }
  // Integral leaders: store ⟨·,·⟩ itself (divide the doubled product by 4).
  scale_ = integral ? 1.0 : 4.0;
  std::vector<std::int32_t> table(static_cast<std::size_t>(codewords_) * codewords_);
  std::int32_t largest = 0;
  for (int i = 0; i < codewords_; ++i)
    for (int j = 0; j < codewords_; ++j) {
      std::int32_t product = 0;
      for (int t = 0; t < d; ++t)
        product += doubled[static_cast<std::size_t>(i) * d + t] * doubled[static_cast<std::size_t>(j) * d + t];
      product = integral ? product / 4 : product;
      table[static_cast<std::size_t>(i) * codewords_ + j] = product;
      largest = std::max(largest, std::abs(product));
    }
  LLC_CHECK(largest <= 32767, ConfigError, "LUT decoder", "use a smaller q", "inner products up to {} need > 16 bits",
            largest);
  if (largest <= 127) {
    narrow_.assign(table.begin(), table.end());
  } else {
    wide_.assign(table.begin(), table.end());
  }
}

namespace {

struct CodedFactor {
  std::vector<std::uint16_t> codeword;  // [vectors][blocks]
  std::vector<float> weight;            // [vectors][groups] gain·β, or NaN: use the decoded values
  std::vector<float> decoded;           // [vectors][rotated_length] (only if some group of either factor needs it)
  bool any_decoded = false;
};

CodedFactor prepare(const EncodedMatrix& encoded, const CodebookLut& lut) {
  const auto& lattice = find_lattice(encoded.spec.lattice);
  const int d = lattice.dimension;
  LLC_CHECK(!encoded.spec.dither && encoded.segments.size() == 1 && encoded.segments[0].spec.q == lut.q(), ConfigError,
            "LUT decoder", "encode without dither, with one segment of the LUT's q",
            "the encoded matrix does not match the LUT (q {} vs {})",
            encoded.segments.empty() ? 0 : encoded.segments[0].spec.q, lut.q());
  const auto& segment = encoded.segments[0];
  const std::int64_t blocks = encoded.blocks_per_vector, groups = segment.groups;
  const int group_blocks = encoded.spec.group_blocks;
  const int num_scales = static_cast<int>(segment.spec.betas.size());
  CodedFactor factor;
  std::vector<std::uint8_t> classes(encoded.vectors * groups);
  rans_decode(classes.data(), classes.size(), segment.stream, segment.table);
  factor.codeword.resize(encoded.vectors * blocks);
  factor.weight.resize(encoded.vectors * groups);
  for (std::int64_t v = 0; v < encoded.vectors; ++v) {
    for (std::int64_t b = 0; b < blocks; ++b)
      factor.codeword[v * blocks + b] =
          static_cast<std::uint16_t>(lut.index(encoded.digits.data() + (v * blocks + b) * d));
    for (std::int64_t g = 0; g < groups; ++g) {
      int k = classes[v * groups + g];
      // A group reaching past the rotated length holds padding the float path zeroes.
      bool padded = std::min<std::int64_t>((g + 1) * group_blocks, blocks) * d > encoded.rotated_length;
      if (k == num_scales || padded) {
        factor.weight[v * groups + g] = std::nanf("");
        factor.any_decoded = true;
      } else {
        factor.weight[v * groups + g] = segment.gains[k] * segment.spec.betas[k];
      }
    }
  }
  return factor;
}

}  // namespace

void estimate_products_lut(float* out, const EncodedMatrix& left, const EncodedMatrix& right, const CodebookLut& lut) {
  LLC_CHECK(left.spec.lattice == right.spec.lattice && left.length == right.length &&
                left.spec.seed == right.spec.seed && left.spec.group_blocks == right.spec.group_blocks,
            ConfigError, "LUT decoder", "encode both factors with the same lattice, length, seed and group size",
            "factors do not match");
  const int d = find_lattice(left.spec.lattice).dimension;
  CodedFactor a = prepare(left, lut), b = prepare(right, lut);
  if (a.any_decoded || b.any_decoded) {
    a.decoded.resize(left.vectors * left.rotated_length);
    b.decoded.resize(right.vectors * right.rotated_length);
    decode_rotated(a.decoded.data(), left);
    decode_rotated(b.decoded.data(), right);
  }
  const std::int64_t blocks = left.blocks_per_vector, groups = left.segments[0].groups;
  const int group_blocks = left.spec.group_blocks;
  const std::int64_t n_rotated = left.rotated_length;
  const double inverse_scale = 1.0 / lut.scale();
  const double inverse_rotated = 1.0 / static_cast<double>(n_rotated), n = static_cast<double>(left.length);
#pragma omp parallel for schedule(dynamic, 4)
  for (std::int64_t i = 0; i < left.vectors; ++i) {
    const std::uint16_t* ci = a.codeword.data() + i * blocks;
    for (std::int64_t j = 0; j < right.vectors; ++j) {
      const std::uint16_t* cj = b.codeword.data() + j * blocks;
      double total = 0;
      for (std::int64_t g = 0; g < groups; ++g) {
        const float wi = a.weight[i * groups + g], wj = b.weight[j * groups + g];
        const std::int64_t first = g * group_blocks, last = std::min<std::int64_t>(first + group_blocks, blocks);
        if (std::isnan(wi) || std::isnan(wj)) {
          // Escaped or padded group: use the decoded values of both sides.
          const float* xi = a.decoded.data() + i * n_rotated;
          const float* xj = b.decoded.data() + j * n_rotated;
          double dot = 0;
          for (std::int64_t t = first * d; t < std::min<std::int64_t>(last * d, n_rotated); ++t)
            dot += static_cast<double>(xi[t]) * xj[t];
          total += dot;
          continue;
        }
        std::int32_t sum = 0;
        if (lut.is_int8()) {
          const std::int8_t* table = lut.int8_rows();
          for (std::int64_t blk = first; blk < last; ++blk)
            sum += table[static_cast<std::size_t>(ci[blk]) * lut.codewords() + cj[blk]];
        } else {
          const std::int16_t* table = lut.int16_rows();
          for (std::int64_t blk = first; blk < last; ++blk)
            sum += table[static_cast<std::size_t>(ci[blk]) * lut.codewords() + cj[blk]];
        }
        total += static_cast<double>(wi) * wj * sum * inverse_scale;
      }
      double scale = static_cast<double>(left.norms[i]) * right.norms[j] * inverse_rotated;
      out[i * right.vectors + j] = static_cast<float>(scale * total + n * left.means[i] * right.means[j]);
    }
  }
}

}  // namespace llcpress::lattice
