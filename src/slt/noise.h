// Gaussian noise for the sampler, many elements at a time.
//
// Normal e of (seed, stream) is made from Philox block e/4 — the same four
// 32-bit words as core/rng.h's philox_bits(seed, stream, e/4), bit for bit —
// by the Box–Muller transform of r123::boxmuller: words (0, 1) give elements
// 4k, 4k+1 and words (2, 3) give 4k+2, 4k+3 as
//   r·sin(π·a), r·cos(π·a),  a = uneg11(word even), r = √(−2·log u01(word odd)).
// What differs from philox_normal4 is only how log and sin/cos are evaluated:
// branch-free polynomials (the Cephes single-precision ones) instead of libm
// calls, so that the loops vectorize. That makes the noise about 10× cheaper
// per parameter; the values agree with philox_normal4's to within a few float
// ulps of the result (tested), and remain a pure function of (seed, stream, e).
// With AVX2 the Philox words of 16 blocks at a time are computed in vector
// registers (integer arithmetic: the same words bit for bit as the scalar
// code, which does single blocks and the rest of a batch).
#pragma once

#include <cstddef>
#include <cstdint>

namespace llcpress::slt {

// out[4·(b − first_block) + lane] = normal (4b + lane) of (seed, stream), for
// b in [first_block, first_block + blocks).
void fill_block_normals(std::uint64_t seed, std::uint64_t stream, std::uint64_t first_block, std::size_t blocks,
                        float* out);

// One normal (tests and scattered access): equals what fill_block_normals writes.
float block_normal_at(std::uint64_t seed, std::uint64_t stream, std::uint64_t element);

}  // namespace llcpress::slt
