// Transitional: the sampler's normals moved to backend/cpu_normals.h (the CPU
// backend's batch of backend/elementwise.h's block_normal).
#pragma once

#include "backend/cpu_normals.h"

namespace llcpress::slt {
using backend::block_normal_at;
using backend::fill_block_normals;
}  // namespace llcpress::slt
