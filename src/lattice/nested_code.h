// Nested-lattice (Voronoi) codes Λ_c = q·Λ_f with a list of scales (REFERENCE.md §5).
//
// One "group" is `blocks` consecutive d-dimensional blocks of a rotated,
// unit-variance vector that share one scale β (the overload index). For a
// scale β and shift s, each block x is coded as
//
//   t = Q_Λ(x/β + s)        nearest fine-lattice point (closest_point.h)
//   ℓ = t mod qΛ            its coset leader, exact (reduce_mod_q); the coset is
//                           sent as the basis coordinates of t mod q: d digits
//                           in [0, q), i.e. log2(q) bits per entry
//
// and decoded as
//
//   undithered (s = −offset, fixed):  x̂ = β·(ℓ − s)
//   dithered   (s = z, shared Philox dither uniform on the Voronoi cell of Λ):
//                                     x̂ = β·((ℓ − z) mod qΛ) = β·(y − q·Q_Λ(y/q)), y = ℓ − z
//
// The block decodes correctly ("no overload") when the decoder gets back
// β·(t − s): undithered iff ℓ == t, dithered iff ℓ − q·Q_Λ(y/q) == t. The
// encoder runs exactly the decoder's arithmetic for that test, so the two can
// never disagree. For each group the encoder takes the smallest β in the list
// for which every block decodes correctly; if none does, the group "escapes"
// and its values are sent raw (fp32). The class index (0..K−1, K = escape) is
// entropy-coded by the matrix codec.
//
// The offset of the undithered code centres the codebook: for Z with even q
// the codebook is β·(Z + ½) ∩ [−q/2, q/2)·β (midpoints, symmetric); all other
// cases use offset 0.
#pragma once

#include <algorithm>
#include <cstdint>

#include "core/rng.h"
#include "lattice/closest_point.h"

namespace llcpress::lattice {

// Largest group, in coordinates (blocks × d), the kernels accept.
inline constexpr int kMaxGroupCoordinates = 64;

struct GroupCode {
  int q = 0;
  float inverse_q = 0;
  int num_scales = 0;
  const float* betas = nullptr;          // [num_scales], ascending
  const float* inverse_betas = nullptr;  // [num_scales]
  const float* offset = nullptr;         // [d] undithered offset (reconstruction is β·(ℓ + offset))
};

// The undithered offset for lattice `dimension`/name and q (see header comment).
inline float voronoi_offset(bool is_integer_lattice, int q) { return is_integer_lattice && q % 2 == 0 ? 0.5f : 0.0f; }

// Basis coordinates of lattice point t reduced mod q, as digits in [0, q).
template <typename L>
inline void digits_of_point(std::uint8_t* digits, const float* point, int q, float inverse_q) {
  float coordinates[L::kDim];
  L::coordinates(coordinates, point);
  const float qf = static_cast<float>(q);
  for (int i = 0; i < L::kDim; ++i) {
    float quotient = exact_floor_div(coordinates[i], qf, inverse_q);
    digits[i] = static_cast<std::uint8_t>(coordinates[i] - qf * quotient);
  }
}

// The coset leader of the coset named by `digits`.
template <typename L>
inline void leader_of_digits(float* leader, const std::uint8_t* digits, int q) {
  float coordinates[L::kDim], point[L::kDim];
  for (int i = 0; i < L::kDim; ++i) coordinates[i] = digits[i];
  L::from_coordinates(point, coordinates);
  L::reduce_mod_q(leader, point, q);
}

// Dithered reconstruction y − q·Q(y/q), y = ℓ − z (in units of β); `wrap`
// returns q·Q(y/q) so the encoder can test for overload.
template <typename L>
inline void dithered_reconstruction(float* reconstruction, float* wrap, const float* leader, const float* dither, int q,
                                    float inverse_q) {
  float y[L::kDim], scaled[L::kDim], nearest[L::kDim];
  for (int i = 0; i < L::kDim; ++i) {
    y[i] = leader[i] - dither[i];
    scaled[i] = y[i] * inverse_q;
  }
  L::closest_point(nearest, scaled);
  for (int i = 0; i < L::kDim; ++i) {
    wrap[i] = static_cast<float>(q) * nearest[i];
    reconstruction[i] = y[i] - wrap[i];
  }
}

// Encodes one group x[blocks·d]. Returns the class k < num_scales, or
// num_scales for an escape (digits then unspecified, reconstruction = x).
// reconstruction[blocks·d] receives x̂ (the decoder's output, unit domain).
// dither[blocks·d] is the shared dither, or nullptr for the undithered code.
template <typename L>
int encode_group(std::uint8_t* digits, float* reconstruction, const float* x, int blocks, const GroupCode& code,
                 const float* dither) {
  constexpr int d = L::kDim;
  float points[kMaxGroupCoordinates];
  for (int k = 0; k < code.num_scales; ++k) {
    const float inverse_beta = code.inverse_betas[k];
    bool decodes = true;
    for (int b = 0; b < blocks && decodes; ++b) {
      float shifted[d], leader[d];
      float* t = points + b * d;
      const float* block = x + b * d;
      if (dither) {
        for (int i = 0; i < d; ++i) shifted[i] = block[i] * inverse_beta + dither[b * d + i];
      } else {
        for (int i = 0; i < d; ++i) shifted[i] = block[i] * inverse_beta - code.offset[i];
      }
      L::closest_point(t, shifted);
      L::reduce_mod_q(leader, t, code.q);
      if (dither) {
        float wrap[d];
        dithered_reconstruction<L>(reconstruction + b * d, wrap, leader, dither + b * d, code.q, code.inverse_q);
        for (int i = 0; i < d; ++i) decodes &= (leader[i] - wrap[i] == t[i]);
      } else {
        for (int i = 0; i < d; ++i) decodes &= (leader[i] == t[i]);
      }
    }
    if (!decodes) continue;
    const float beta = code.betas[k];
    for (int b = 0; b < blocks; ++b) {
      digits_of_point<L>(digits + b * d, points + b * d, code.q, code.inverse_q);
      float* out = reconstruction + b * d;
      if (dither) {
        for (int i = 0; i < d; ++i) out[i] *= beta;
      } else {
        for (int i = 0; i < d; ++i) out[i] = beta * (points[b * d + i] + code.offset[i]);
      }
    }
    return k;
  }
  for (int i = 0; i < blocks * d; ++i) reconstruction[i] = x[i];
  return code.num_scales;
}

// Decodes one non-escaped group of class k into out[blocks·d], times `gain`.
template <typename L>
void decode_group(float* out, const std::uint8_t* digits, int blocks, int k, const GroupCode& code, const float* dither,
                  float gain) {
  constexpr int d = L::kDim;
  const float scale = code.betas[k] * gain;
  for (int b = 0; b < blocks; ++b) {
    float leader[d];
    leader_of_digits<L>(leader, digits + b * d, code.q);
    if (dither) {
      float reconstruction[d], wrap[d];
      dithered_reconstruction<L>(reconstruction, wrap, leader, dither + b * d, code.q, code.inverse_q);
      for (int i = 0; i < d; ++i) out[b * d + i] = scale * reconstruction[i];
    } else {
      for (int i = 0; i < d; ++i) out[b * d + i] = scale * (leader[i] + code.offset[i]);
    }
  }
}

// The shared dither of one block: uniform on the fundamental parallelepiped of
// the generator, folded into the Voronoi cell (z − Q(z)), which keeps it
// uniform on the cell. A pure function of (seed, stream, block).
template <typename L>
void make_dither(float* dither, std::uint64_t seed, std::uint64_t stream, std::uint64_t block) {
  constexpr int d = L::kDim;
  double uniforms[d];
  for (int i = 0; i < d; i += 4) {
    Float4 u = philox_uniform4(seed, stream, block * ((d + 3) / 4) + i / 4);
    for (int j = 0; j < 4 && i + j < d; ++j) uniforms[i + j] = u.v[j];
  }
  double point[d] = {};
  for (int r = 0; r < d; ++r) {
    double row[d];
    L::generator_row(row, r);
    for (int i = 0; i < d; ++i) point[i] += uniforms[r] * row[i];
  }
  double nearest[d];
  L::closest_point(nearest, point);
  for (int i = 0; i < d; ++i) dither[i] = static_cast<float>(point[i] - nearest[i]);
}

}  // namespace llcpress::lattice

namespace llcpress::lattice {

// One vector's share of one segment: the unit of work of the segment kernels
// (one indirect call per vector and segment; the per-block loops inline).
struct SegmentJob {
  const float* values = nullptr;  // [blocks·d] rotated unit-variance coordinates
  std::int64_t blocks = 0;        // lattice blocks in this segment
  int group_blocks = 1;           // blocks per scale index (the last group may be shorter)
  const GroupCode* code = nullptr;
  bool dither = false;
  std::uint64_t seed = 0, dither_stream = 0;  // dither of block b is make_dither(seed, dither_stream, first_block + b)
  std::int64_t first_block = 0;

  // encode outputs / decode inputs
  std::uint8_t* digits = nullptr;   // [blocks·d]
  std::uint8_t* classes = nullptr;  // [groups]
  double* cross = nullptr;          // [num_scales + 1] Σ⟨x, x̂⟩ by class (encode)
  double* energy = nullptr;         // [num_scales + 1] Σ‖x̂‖² by class (encode)
  float* escapes = nullptr;         // raw values of escaped groups, in order (encode: room for blocks·d)
  std::int64_t escape_count = 0;    // values written to / read from `escapes`
};

template <typename L>
void encode_segment(SegmentJob& job) {
  constexpr int d = L::kDim;
  const std::int64_t groups = (job.blocks + job.group_blocks - 1) / job.group_blocks;
  float dither[kMaxGroupCoordinates], reconstruction[kMaxGroupCoordinates];
  for (std::int64_t g = 0; g < groups; ++g) {
    const std::int64_t first = g * job.group_blocks;
    const int blocks = static_cast<int>(std::min<std::int64_t>(job.group_blocks, job.blocks - first));
    const float* x = job.values + first * d;
    if (job.dither) {
      for (int b = 0; b < blocks; ++b)
        make_dither<L>(dither + b * d, job.seed, job.dither_stream,
                       static_cast<std::uint64_t>(job.first_block + first + b));
    }
    int k =
        encode_group<L>(job.digits + first * d, reconstruction, x, blocks, *job.code, job.dither ? dither : nullptr);
    job.classes[g] = static_cast<std::uint8_t>(k);
    double cross = 0, energy = 0;
    for (int i = 0; i < blocks * d; ++i) {
      cross += static_cast<double>(x[i]) * reconstruction[i];
      energy += static_cast<double>(reconstruction[i]) * reconstruction[i];
    }
    job.cross[k] += cross;
    job.energy[k] += energy;
    if (k == job.code->num_scales) {
      for (int i = 0; i < blocks * d; ++i) job.escapes[job.escape_count++] = x[i];
      for (int i = 0; i < blocks * d; ++i) job.digits[first * d + i] = 0;
    }
  }
}

// Decodes into out[blocks·d]; gains[num_scales] multiply each class (MMSE).
template <typename L>
void decode_segment(float* out, SegmentJob& job, const float* gains) {
  constexpr int d = L::kDim;
  const std::int64_t groups = (job.blocks + job.group_blocks - 1) / job.group_blocks;
  float dither[kMaxGroupCoordinates];
  for (std::int64_t g = 0; g < groups; ++g) {
    const std::int64_t first = g * job.group_blocks;
    const int blocks = static_cast<int>(std::min<std::int64_t>(job.group_blocks, job.blocks - first));
    const int k = job.classes[g];
    float* target = out + first * d;
    if (k >= job.code->num_scales) {
      for (int i = 0; i < blocks * d; ++i) target[i] = job.escapes[job.escape_count++];
      continue;
    }
    if (job.dither) {
      for (int b = 0; b < blocks; ++b)
        make_dither<L>(dither + b * d, job.seed, job.dither_stream,
                       static_cast<std::uint64_t>(job.first_block + first + b));
    }
    decode_group<L>(target, job.digits + first * d, blocks, k, *job.code, job.dither ? dither : nullptr, gains[k]);
  }
}

}  // namespace llcpress::lattice
