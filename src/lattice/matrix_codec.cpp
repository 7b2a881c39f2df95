#include "lattice/matrix_codec.h"

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/check.h"
#include "core/rng.h"
#include "lattice/hadamard.h"

namespace llcpress::lattice {

namespace {

constexpr std::uint64_t kDitherPurpose = 0x4449544845520000ull;  // "DITHER"
constexpr double kHeaderBits = 256;

// Round a positive float to bf16 (8-bit mantissa), nearest-even on the bits.
float round_to_bf16(float value) {
  std::uint32_t bits;
  std::memcpy(&bits, &value, 4);
  std::uint32_t rounding = 0x7fffu + ((bits >> 16) & 1u);
  bits = (bits + rounding) & 0xffff0000u;
  float out;
  std::memcpy(&out, &bits, 4);
  return out;
}

struct Layout {
  std::int64_t first_block, blocks, groups;
};

// Splits blocks_per_vector among the segments by their fractions (rounded; the
// last segment takes the remainder).
std::vector<Layout> segment_layout(const CodecSpec& spec, std::int64_t blocks_per_vector) {
  double total = 0;
  for (const auto& s : spec.segments) total += s.fraction;
  std::vector<Layout> layout;
  std::int64_t next = 0;
  for (std::size_t i = 0; i < spec.segments.size(); ++i) {
    std::int64_t blocks =
        i + 1 == spec.segments.size()
            ? blocks_per_vector - next
            : std::min<std::int64_t>(blocks_per_vector - next, std::llround(spec.segments[i].fraction / total *
                                                                            static_cast<double>(blocks_per_vector)));
    layout.push_back({next, blocks, (blocks + spec.group_blocks - 1) / spec.group_blocks});
    next += blocks;
  }
  return layout;
}

void validate_spec(const CodecSpec& spec, const LatticeInfo& lattice) {
  const std::string where = "lattice codec";
  LLC_CHECK(!spec.segments.empty(), ConfigError, where, "give at least one segment (q and scales)",
            "no segments in the codec spec");
  LLC_CHECK(spec.group_blocks >= 1 && spec.group_blocks * lattice.dimension <= kMaxGroupCoordinates, ConfigError, where,
            "use groups of 1.." + std::to_string(kMaxGroupCoordinates / lattice.dimension) + " blocks",
            "group of {} blocks of dimension {} is out of range", spec.group_blocks, lattice.dimension);
  LLC_CHECK(spec.norm_bits == 32 || spec.norm_bits == 16, ConfigError, where, "use 32 (fp32) or 16 (bf16)",
            "norm_bits = {}", spec.norm_bits);
  for (const auto& s : spec.segments) {
    LLC_CHECK(s.fraction >= 0 && std::isfinite(s.fraction), ConfigError, where, "fractions are shares in [0, 1]",
              "segment fraction {}", s.fraction);
    if (s.q == 0) continue;
    LLC_CHECK(s.q >= 2 && s.q <= 256, ConfigError, where, "q must be in 2..256 (digits are bytes)", "q = {}", s.q);
    LLC_CHECK(!s.betas.empty() && s.betas.size() <= 64, ConfigError, where, "give 1..64 scales", "{} scales for q = {}",
              s.betas.size(), s.q);
    for (std::size_t k = 0; k < s.betas.size(); ++k) {
      LLC_CHECK(s.betas[k] > 0 && std::isfinite(s.betas[k]) && (k == 0 || s.betas[k] > s.betas[k - 1]), ConfigError,
                where, "scales must be positive and strictly increasing", "scale list is not increasing at {}", k);
    }
  }
}

// Everything the kernels need for one segment (owning the arrays GroupCode points to).
struct SegmentCode {
  GroupCode code;
  std::vector<float> betas, inverse_betas, offset;
  SegmentCode(const SegmentSpec& spec, const LatticeInfo& lattice) {
    betas = spec.betas;
    for (float b : betas) inverse_betas.push_back(1.0f / b);
    offset.assign(lattice.dimension, voronoi_offset(lattice.is_integer_lattice(), spec.q));
    code.q = spec.q;
    code.inverse_q = spec.q > 0 ? 1.0f / static_cast<float>(spec.q) : 0.0f;
    code.num_scales = static_cast<int>(betas.size());
    code.betas = betas.data();
    code.inverse_betas = inverse_betas.data();
    code.offset = offset.data();
  }
};

std::uint64_t dither_stream(const CodecSpec& spec, std::int64_t vector) {
  return stream_id(kDitherPurpose, spec.dither_tag, static_cast<std::uint64_t>(vector));
}

}  // namespace

int default_group_blocks(const LatticeInfo& lattice) {
  return std::max(1, static_cast<int>(std::lround(8.0 / lattice.dimension)));
}

EncodedMatrix encode_vectors(const float* data, std::int64_t vectors, std::int64_t length, const CodecSpec& spec) {
  const LatticeInfo& lattice = find_lattice(spec.lattice);
  validate_spec(spec, lattice);
  LLC_CHECK(vectors >= 1 && length >= 1, InputError, "lattice codec", "pass a non-empty matrix",
            "matrix has {} vectors of length {}", vectors, length);
  const int d = lattice.dimension;
  RandomizedRotation rotation(length, spec.seed);

  EncodedMatrix encoded;
  encoded.spec = spec;
  encoded.vectors = vectors;
  encoded.length = length;
  encoded.rotated_length = rotation.rotated_length();
  encoded.blocks_per_vector = (encoded.rotated_length + d - 1) / d;
  const std::int64_t coded_length = encoded.blocks_per_vector * d;
  encoded.means.resize(vectors);
  encoded.norms.resize(vectors);
  encoded.digits.assign(vectors * coded_length, 0);

  const auto layout = segment_layout(spec, encoded.blocks_per_vector);
  std::vector<SegmentCode> codes;
  for (const auto& s : spec.segments) codes.emplace_back(s, lattice);
  const std::size_t num_segments = spec.segments.size();
  // Per (vector, segment): class statistics; per vector: escapes and classes.
  std::vector<std::vector<std::uint8_t>> classes(num_segments);
  std::vector<std::int64_t> stats_offset(num_segments + 1, 0);
  for (std::size_t s = 0; s < num_segments; ++s) {
    classes[s].assign(vectors * layout[s].groups, 0);
    stats_offset[s + 1] = stats_offset[s] + static_cast<std::int64_t>(spec.segments[s].betas.size()) + 1;
  }
  std::vector<double> cross(vectors * stats_offset.back(), 0.0), energy(vectors * stats_offset.back(), 0.0);
  std::vector<double> signal(vectors * num_segments, 0.0);  // Σ y² per (vector, segment)
  std::vector<std::vector<float>> vector_escapes(vectors);
  bool finite = true;

#pragma omp parallel
  {
    std::vector<float> centred(length), rotated(coded_length), escape_buffer(coded_length);
#pragma omp for schedule(static)
    for (std::int64_t v = 0; v < vectors; ++v) {
      const float* x = data + v * length;
      double sum = 0;
      for (std::int64_t i = 0; i < length; ++i) sum += x[i];
      if (!std::isfinite(sum)) {
#pragma omp atomic write
        finite = false;
        continue;
      }
      const float mean = static_cast<float>(sum / static_cast<double>(length));
      double norm_squared = 0;
      for (std::int64_t i = 0; i < length; ++i) {
        centred[i] = x[i] - mean;
        norm_squared += static_cast<double>(centred[i]) * centred[i];
      }
      float norm = static_cast<float>(std::sqrt(norm_squared));
      if (spec.norm_bits == 16) norm = round_to_bf16(norm);
      encoded.means[v] = mean;
      encoded.norms[v] = norm;
      // Normalise with the norm as sent, so the decoder's s/√N undoes it exactly.
      const float scale =
          norm > 0 ? static_cast<float>(std::sqrt(static_cast<double>(encoded.rotated_length)) / norm) : 0.0f;
      rotation.forward(rotated.data(), centred.data(), scale);
      for (std::int64_t i = encoded.rotated_length; i < coded_length; ++i) rotated[i] = 0;
      for (std::size_t s = 0; s < num_segments; ++s) {
        if (spec.segments[s].q == 0 || layout[s].blocks == 0) continue;
        double segment_energy = 0;
        for (std::int64_t i = layout[s].first_block * d; i < (layout[s].first_block + layout[s].blocks) * d; ++i)
          segment_energy += static_cast<double>(rotated[i]) * rotated[i];
        signal[v * num_segments + s] = segment_energy;
        SegmentJob job;
        job.values = rotated.data() + layout[s].first_block * d;
        job.blocks = layout[s].blocks;
        job.group_blocks = spec.group_blocks;
        job.code = &codes[s].code;
        job.dither = spec.dither;
        job.seed = spec.seed;
        job.dither_stream = dither_stream(spec, v);
        job.first_block = layout[s].first_block;
        job.digits = encoded.digits.data() + v * coded_length + layout[s].first_block * d;
        job.classes = classes[s].data() + v * layout[s].groups;
        job.cross = cross.data() + v * stats_offset.back() + stats_offset[s];
        job.energy = energy.data() + v * stats_offset.back() + stats_offset[s];
        job.escapes = escape_buffer.data();
        lattice.encode_segment(job);
        vector_escapes[v].insert(vector_escapes[v].end(), escape_buffer.begin(),
                                 escape_buffer.begin() + job.escape_count);
      }
    }
  }
  LLC_CHECK(finite, InputError, "lattice codec", "remove NaN/Inf entries before quantizing",
            "the matrix has non-finite entries");

  encoded.escape_offsets.assign(vectors + 1, 0);
  for (std::int64_t v = 0; v < vectors; ++v)
    encoded.escape_offsets[v + 1] = encoded.escape_offsets[v] + static_cast<std::int64_t>(vector_escapes[v].size());
  encoded.escapes.reserve(encoded.escape_offsets[vectors]);
  for (auto& e : vector_escapes) encoded.escapes.insert(encoded.escapes.end(), e.begin(), e.end());

  RateBreakdown& rate = encoded.rate;
  rate.entries = vectors * length;
  rate.mean_bits = 32.0 * vectors;
  rate.norm_bits = static_cast<double>(spec.norm_bits) * vectors;
  rate.header_bits = kHeaderBits;
  for (std::size_t s = 0; s < num_segments; ++s) {
    EncodedSegment segment;
    segment.spec = spec.segments[s];
    segment.first_block = layout[s].first_block;
    segment.blocks = layout[s].blocks;
    segment.groups = layout[s].groups;
    const int num_scales = static_cast<int>(segment.spec.betas.size());
    segment.gains.assign(num_scales + 1, 1.0f);
    segment.class_counts.assign(num_scales + 1, 0);
    if (segment.spec.q == 0 || segment.blocks == 0) {
      encoded.segments.push_back(std::move(segment));
      continue;
    }
    const auto& segment_classes = classes[s];
    for (auto k : segment_classes) ++segment.class_counts[k];
    // Class statistics summed over vectors in order (independent of threads).
    double error_plain = 0, error_mmse = 0;
    for (int k = 0; k <= num_scales; ++k) {
      double c = 0, e = 0;
      for (std::int64_t v = 0; v < vectors; ++v) {
        c += cross[v * stats_offset.back() + stats_offset[s] + k];
        e += energy[v * stats_offset.back() + stats_offset[s] + k];
      }
      if (spec.mmse && k < num_scales && e > 0 && c > 0) segment.gains[k] = static_cast<float>(c / e);
      double g = segment.gains[k];
      error_plain += e - 2 * c;
      error_mmse += g * g * e - 2 * g * c;
    }
    // ‖y − gŷ‖² = ‖y‖² − 2g·cross + g²·energy, summed over the segment.
    double segment_signal = 0;
    for (std::int64_t v = 0; v < vectors; ++v) segment_signal += signal[v * num_segments + s];
    const double coordinates = static_cast<double>(vectors) * segment.blocks * d;
    segment.mean_square_error = (segment_signal + error_plain) / coordinates;
    segment.mean_square_error_mmse = (segment_signal + error_mmse) / coordinates;

    segment.table = build_frequency_table(segment_classes.data(), segment_classes.size(), num_scales + 1);
    segment.stream = rans_encode(segment_classes.data(), segment_classes.size(), segment.table);
    rate.scale_index_bits += 8.0 * static_cast<double>(segment.stream.size());
    rate.frequency_table_bits += static_cast<double>(segment.table.description_bits());
    rate.scale_index_entropy_bits +=
        empirical_entropy_bits(segment_classes.data(), segment_classes.size(), num_scales + 1);
    rate.codebook_bits += 32.0 * num_scales;
    if (spec.mmse) rate.gain_bits += 32.0 * num_scales;
    // Index and escape bits, group by group (the last group of a vector may be short).
    const double bits_per_coordinate = std::log2(static_cast<double>(segment.spec.q));
    for (std::int64_t v = 0; v < vectors; ++v) {
      for (std::int64_t g = 0; g < segment.groups; ++g) {
        std::int64_t blocks = std::min<std::int64_t>(spec.group_blocks, segment.blocks - g * spec.group_blocks);
        double coordinates_here = static_cast<double>(blocks * d);
        if (segment_classes[v * segment.groups + g] == num_scales)
          rate.escape_bits += 32.0 * coordinates_here;
        else
          rate.lattice_index_bits += bits_per_coordinate * coordinates_here;
      }
    }
    encoded.segments.push_back(std::move(segment));
  }
  return encoded;
}

void decode_rotated(float* out, const EncodedMatrix& encoded) {
  const LatticeInfo& lattice = find_lattice(encoded.spec.lattice);
  const int d = lattice.dimension;
  const std::int64_t coded_length = encoded.blocks_per_vector * d;
  const std::int64_t vectors = encoded.vectors, n_rotated = encoded.rotated_length;
  LLC_CHECK(encoded.digits.size() == static_cast<std::size_t>(vectors * coded_length) &&
                encoded.escape_offsets.size() == static_cast<std::size_t>(vectors + 1) &&
                encoded.escape_offsets.back() == static_cast<std::int64_t>(encoded.escapes.size()),
            InputError, "encoded matrix", "the encoded matrix is inconsistent; re-encode it", "size mismatch");
  std::vector<std::vector<std::uint8_t>> classes(encoded.segments.size());
  std::vector<SegmentCode> codes;
  for (std::size_t s = 0; s < encoded.segments.size(); ++s) {
    const auto& segment = encoded.segments[s];
    codes.emplace_back(segment.spec, lattice);
    if (segment.spec.q == 0 || segment.blocks == 0) continue;
    classes[s].resize(vectors * segment.groups);
    rans_decode(classes[s].data(), classes[s].size(), segment.stream, segment.table);
  }
  bool consistent = true;
#pragma omp parallel
  {
    std::vector<float> decoded(coded_length);
#pragma omp for schedule(static)
    for (std::int64_t v = 0; v < vectors; ++v) {
      std::fill(decoded.begin(), decoded.end(), 0.0f);
      std::int64_t escape_position = encoded.escape_offsets[v];
      for (std::size_t s = 0; s < encoded.segments.size(); ++s) {
        const auto& segment = encoded.segments[s];
        if (segment.spec.q == 0 || segment.blocks == 0) continue;
        SegmentJob job;
        job.blocks = segment.blocks;
        job.group_blocks = encoded.spec.group_blocks;
        job.code = &codes[s].code;
        job.dither = encoded.spec.dither;
        job.seed = encoded.spec.seed;
        job.dither_stream = dither_stream(encoded.spec, v);
        job.first_block = segment.first_block;
        job.digits = const_cast<std::uint8_t*>(encoded.digits.data()) + v * coded_length + segment.first_block * d;
        job.classes = classes[s].data() + v * segment.groups;
        // Escaped coordinates of this vector must fit in its share of `escapes`.
        std::int64_t needed = 0;
        for (std::int64_t g = 0; g < segment.groups; ++g)
          if (job.classes[g] == job.code->num_scales)
            needed += std::min<std::int64_t>(job.group_blocks, segment.blocks - g * job.group_blocks) * d;
        if (escape_position + needed > encoded.escape_offsets[v + 1]) {
#pragma omp atomic write
          consistent = false;
          continue;
        }
        job.escapes = const_cast<float*>(encoded.escapes.data()) + escape_position;
        lattice.decode_segment(decoded.data() + segment.first_block * d, job, segment.gains.data());
        escape_position += job.escape_count;
      }
      std::copy(decoded.begin(), decoded.begin() + n_rotated, out + v * n_rotated);
    }
  }
  LLC_CHECK(consistent, InputError, "encoded matrix", "the encoded matrix is inconsistent; re-encode it",
            "escape values do not match the escape indices");
}

void decode_vectors(float* out, const EncodedMatrix& encoded) {
  const std::int64_t n = encoded.length, n_rotated = encoded.rotated_length;
  std::vector<float> rotated(encoded.vectors * n_rotated);
  decode_rotated(rotated.data(), encoded);
  RandomizedRotation rotation(n, encoded.spec.seed);
#pragma omp parallel for schedule(static)
  for (std::int64_t v = 0; v < encoded.vectors; ++v) {
    float* y = out + v * n;
    const float scale = encoded.norms[v] / static_cast<float>(std::sqrt(static_cast<double>(n_rotated)));
    rotation.inverse(y, rotated.data() + v * n_rotated, scale);
    double sum = 0;
    for (std::int64_t i = 0; i < n; ++i) sum += y[i];
    const float correction = encoded.means[v] - static_cast<float>(sum / static_cast<double>(n));
    for (std::int64_t i = 0; i < n; ++i) y[i] += correction;
  }
}

void estimate_products_from_rotated(float* out, const EncodedMatrix& left, const float* left_rotated,
                                    const EncodedMatrix& right, const float* right_rotated) {
  LLC_CHECK(
      left.length == right.length && left.spec.seed == right.spec.seed && left.rotated_length == right.rotated_length,
      ConfigError, "matrix product", "encode both factors with the same length and seed (shared rotation)",
      "factors have lengths {} / {} and seeds {} / {}", left.length, right.length, left.spec.seed, right.spec.seed);
  using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const std::int64_t n_rotated = left.rotated_length;
  Eigen::Map<const RowMatrix> a(left_rotated, left.vectors, n_rotated);
  Eigen::Map<const RowMatrix> b(right_rotated, right.vectors, n_rotated);
  Eigen::Map<RowMatrix> c(out, left.vectors, right.vectors);
  c.noalias() = a * b.transpose();
  const double n = static_cast<double>(left.length);
  const double inverse_rotated = 1.0 / static_cast<double>(n_rotated);
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < left.vectors; ++i) {
    for (std::int64_t j = 0; j < right.vectors; ++j) {
      double scale = static_cast<double>(left.norms[i]) * right.norms[j] * inverse_rotated;
      c(i, j) = static_cast<float>(scale * c(i, j) + n * left.means[i] * right.means[j]);
    }
  }
}

void estimate_products(float* out, const EncodedMatrix& left, const EncodedMatrix& right) {
  std::vector<float> a(left.vectors * left.rotated_length), b(right.vectors * right.rotated_length);
  decode_rotated(a.data(), left);
  decode_rotated(b.data(), right);
  estimate_products_from_rotated(out, left, a.data(), right, b.data());
}

}  // namespace llcpress::lattice
