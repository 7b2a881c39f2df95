// Magnitude pruning on the GPU (the CPU twin: compress/prune.h). The CPU
// zeroes the `count` first entries of magnitude_order (increasing |w|, ties
// in index order). That set is exactly
//   { i : |w_i| < t } ∪ { i : |w_i| = t and i ≤ i* },
// t = |w| and i* = the index of the last pruned entry, order[count − 1]; so
// once the host knows (t, i*) the device applies it in one elementwise pass.
#pragma once

#include <cstdint>

namespace llcpress::cuda {

// out: (count) device, IN PLACE. threshold = |w[last_index]|; last_index:
// order[count − 1]; a negative last_index prunes nothing (count = 0).
void prune_magnitude_apply(float* out, std::int64_t count, float threshold, std::int64_t last_index);

}  // namespace llcpress::cuda
