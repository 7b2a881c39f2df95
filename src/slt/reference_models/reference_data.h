// Shared pieces of the known-λ reference models: Philox-generated data and
// input checks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "model/loss_model.h"

namespace llcpress::slt {

// Stream ids of the reference models' data (key = data seed).
inline constexpr std::uint64_t kReferenceInputStream = 0x696e707574ull;  // "input"
inline constexpr std::uint64_t kReferenceNoiseStream = 0x6e6f697365ull;  // "noise"
inline constexpr std::uint64_t kReferenceTruthStream = 0x7472757468ull;  // "truth"

// count values std·N(0, 1) from Philox (seed, stream), in double.
std::vector<double> reference_normals(std::uint64_t seed, std::uint64_t stream, std::size_t count, double std);

// ConfigError for n = 0, non-positive input_std or sigma, negative noise_std.
void check_regression_options(std::size_t samples, double input_std, double noise_std, double sigma);

// InputError when the batch is empty or an index is outside [0, samples).
void check_batch(const Batch& batch, std::size_t samples, const char* model_name);

}  // namespace llcpress::slt
