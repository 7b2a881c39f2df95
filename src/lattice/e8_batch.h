// A batched encoder for the undithered E8 Voronoi code: eight blocks at a time,
// one block per SIMD lane (AVX2), so the closest-point search, the exact coset
// reduction and the scale search are all lane-parallel with no horizontal
// operations. It computes exactly what encode_segment<LatticeE8> computes —
// same float operations in the same order (the library is built without FMA
// contraction), the same tie rules — and the tests compare the two bit for bit.
// Without AVX2 it falls back to the reference kernel.
#pragma once

#include "lattice/nested_code.h"

namespace llcpress::lattice {

// Same contract as encode_segment<LatticeE8>; dithered jobs and groups of more
// than one block go to the reference kernel.
void encode_segment_e8_batched(SegmentJob& job);

// Same contract as decode_segment<LatticeE8>.
void decode_segment_e8_batched(float* out, SegmentJob& job, const float* gains);

// The reference kernels encode_segment<LatticeE8> / decode_segment<LatticeE8>,
// compiled in the library (without FMA contraction), for comparisons.
void encode_segment_e8_reference(SegmentJob& job);
void decode_segment_e8_reference(float* out, SegmentJob& job, const float* gains);

// True when this build has the AVX2 path.
bool e8_batched_is_vectorized();

}  // namespace llcpress::lattice
