// Gaussian noise for the sampler on the CPU, many elements at a time.
//
// Normal e of (seed, stream) is backend/elementwise.h's block_normal(seed,
// stream, e): Philox block e/4 (the words of core/rng.h's philox_bits) by the
// vectorisable Box–Muller transform there (branch-free Cephes polynomials
// instead of libm calls, about 10× cheaper per parameter than philox_normal4,
// within a few float ulps of it). This file only batches it: with AVX2 the
// Philox words of 16 blocks at a time are computed in vector registers
// (integer arithmetic: the same words bit for bit as elementwise.h's scalar
// philox_block, which does single blocks and the rest of a batch), then the
// shared transform runs over arrays the compiler vectorizes.
#pragma once

#include <cstddef>
#include <cstdint>

namespace llcpress::backend {

// out[4·(b − first_block) + lane] = normal (4b + lane) of (seed, stream), for
// b in [first_block, first_block + blocks).
void fill_block_normals(std::uint64_t seed, std::uint64_t stream, std::uint64_t first_block, std::size_t blocks,
                        float* out);

// One normal (tests and scattered access): equals what fill_block_normals writes.
float block_normal_at(std::uint64_t seed, std::uint64_t stream, std::uint64_t element);

}  // namespace llcpress::backend
