// Magnitude pruning on the GPU (the CPU twin: compress/prune.h). The CPU
// zeroes the `count` first entries of magnitude_order (increasing |w|, ties
// in index order). That set is exactly
//   { i : |w_i| < t } ∪ { i : |w_i| = t and i ≤ i* },
// t = |w| and i* = the index of the last pruned entry, order[count − 1]; so
// once the host knows (t, i*) the device applies it in one elementwise pass.
#pragma once

#include <cstddef>
#include <cstdint>

namespace llcpress::cuda {

// out: (count) device, IN PLACE. threshold = |w[last_index]|; last_index:
// order[count − 1]; a negative last_index prunes nothing (count = 0).
void prune_magnitude_apply(float* out, std::int64_t count, float threshold, std::int64_t last_index);

// Backend::zero_elements: buffer[host_indices[i]] = 0 for i < count;
// buffer: device; host_indices: (count) HOST (uploaded by the call).
void zero_elements(float* buffer, const std::size_t* host_indices, std::int64_t count);

}  // namespace llcpress::cuda
