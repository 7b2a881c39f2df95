// Encoding a set of vectors (the columns of a matrix factor) with nested-
// lattice codes, and estimating inner products between two encoded sets
// (Ordentlich & Polyanskiy's scheme, REFERENCE.md §5):
//
//   1. centre each vector: μ = mean, sent as fp32 (32 bits per vector);
//   2. describe its norm s = ‖x − μ‖ (fp32, or bf16 with norm_bits = 16);
//   3. rotate with the shared randomized Hadamard R (hadamard.h) and scale to
//      unit variance per coordinate: y = R(x − μ)·√N/s, N = rotated length;
//   4. split y into d-dimensional blocks; a segment of the blocks is coded
//      with the Voronoi code of modulus q and its scale list (nested_code.h);
//      several segments with different q time-share the rate, and a q = 0
//      segment sends nothing (decoded as 0: the time-sharing below R*);
//   5. the per-group scale indices are entropy-coded with static rANS
//      (entropy_coder.h); groups that overload at every scale are sent raw;
//   6. optionally (mmse) a gain α_k per scale class, the least-squares factor
//      Σ⟨y, ŷ⟩/Σ‖ŷ‖² over the matrix, is sent as fp32 and applied by the decoder.
//
// Rate: every bit the decoder needs is in RateBreakdown (see its fields);
// shared randomness (the rotation and dither seeds) is not counted, as usual.
// Inner products: ⟨x_i, x'_j⟩ ≈ n·μ_i·μ'_j + (s_i·s'_j/N)·⟨ŷ_i, ŷ'_j⟩ — the
// centred parts are orthogonal to 1, so the cross terms are dropped, and R is
// orthogonal, so the product is taken in the rotated domain.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lattice/entropy_coder.h"
#include "lattice/lattice.h"
#include "lattice/nested_code.h"

namespace llcpress::lattice {

struct SegmentSpec {
  int q = 0;                 // Voronoi modulus (2..256); 0: the segment is not sent
  std::vector<float> betas;  // ascending scales (unit-variance domain); empty when q = 0
  double fraction = 1.0;     // share of each vector's lattice blocks
};

struct CodecSpec {
  std::string lattice = "E8";
  std::vector<SegmentSpec> segments;  // in block order; fractions are normalised to sum to 1
  int group_blocks = 1;               // lattice blocks per scale index
  bool dither = false;                // subtractive dither (shared Philox seed)
  bool mmse = true;                   // send and apply per-class MMSE gains
  int norm_bits = 32;                 // 32: fp32 norms; 16: bf16 (8-bit mantissa)
  std::uint64_t seed = 0;             // rotation (must match between factors) and dither
  std::uint64_t dither_tag = 0;       // separates the dithers of the two factors
};

// Every bit of one encoded matrix. bits_per_entry() divides by the number of
// ORIGINAL entries (n × vectors), so padding is paid for.
struct RateBreakdown {
  std::int64_t entries = 0;
  double lattice_index_bits = 0;        // d·log2(q) per non-escaped block (fixed-rate index)
  double scale_index_bits = 0;          // 8 × rANS stream bytes, all segments
  double frequency_table_bits = 0;      // the rANS tables (FrequencyTable::description_bits)
  double escape_bits = 0;               // 32 per coordinate of escaped groups
  double mean_bits = 0;                 // 32 per vector
  double norm_bits = 0;                 // norm_bits per vector
  double gain_bits = 0;                 // 32 per class per segment when mmse
  double codebook_bits = 0;             // 32 per β per segment (the scale lists)
  double header_bits = 0;               // sizes, q, lattice, flags: a fixed 256
  double scale_index_entropy_bits = 0;  // reported only: the empirical entropy the rANS stream approaches

  double total_bits() const {
    return lattice_index_bits + scale_index_bits + frequency_table_bits + escape_bits + mean_bits + norm_bits +
           gain_bits + codebook_bits + header_bits;
  }
  double bits_per_entry() const { return entries > 0 ? total_bits() / static_cast<double>(entries) : 0.0; }
};

struct EncodedSegment {
  SegmentSpec spec;
  std::int64_t first_block = 0, blocks = 0;  // per vector
  std::int64_t groups = 0;                   // per vector
  FrequencyTable table;                      // over num_scales + 1 symbols (the last is "escape")
  std::vector<std::uint8_t> stream;          // rANS-coded class indices [vectors][groups]
  std::vector<float> gains;                  // [num_scales + 1] MMSE gain per class (escape: 1)
  std::vector<std::int64_t> class_counts;    // [num_scales + 1] groups per class (diagnostics)
  double mean_square_error = 0;              // Σ‖y − ŷ‖² / coordinates before gains (diagnostics)
  double mean_square_error_mmse = 0;         // after gains
};

struct EncodedMatrix {
  CodecSpec spec;
  std::int64_t vectors = 0, length = 0;      // number of vectors, entries per vector (n)
  std::int64_t rotated_length = 0;           // N
  std::int64_t blocks_per_vector = 0;        // ⌈N/d⌉
  std::vector<float> means;                  // [vectors]
  std::vector<float> norms;                  // [vectors] as sent (rounded to norm_bits)
  std::vector<std::uint8_t> digits;          // [vectors][blocks_per_vector·d]
  std::vector<float> escapes;                // raw escaped values, in (vector, segment, group) order
  std::vector<std::int64_t> escape_offsets;  // [vectors + 1] start of each vector's escapes
  std::vector<EncodedSegment> segments;
  RateBreakdown rate;
};

// Encodes data[vectors][length] (each row one vector). Throws ConfigError for
// an inconsistent spec and InputError for non-finite data.
EncodedMatrix encode_vectors(const float* data, std::int64_t vectors, std::int64_t length, const CodecSpec& spec);

// ŷ for every vector in the rotated unit-variance domain, with the MMSE gains
// applied: out[vectors][rotated_length]. Validates the encoded streams.
void decode_rotated(float* out, const EncodedMatrix& encoded);

// The reconstructed vectors out[vectors][length]: μ + P⊥(s/√N · Rᵀŷ), where
// P⊥ removes the mean (the true centred vector has none).
void decode_vectors(float* out, const EncodedMatrix& encoded);

// out[left.vectors][right.vectors] ≈ ⟨x_i, x'_j⟩. Both must share length and seed.
void estimate_products(float* out, const EncodedMatrix& left, const EncodedMatrix& right);

// The same from already decoded rotated vectors (decode_rotated), so a caller
// can time decoding and the product separately.
void estimate_products_from_rotated(float* out, const EncodedMatrix& left, const float* left_rotated,
                                    const EncodedMatrix& right, const float* right_rotated);

// Group size used when none is given: about 8 coordinates per scale index.
int default_group_blocks(const LatticeInfo& lattice);

}  // namespace llcpress::lattice
