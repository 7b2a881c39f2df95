// What an LLC estimate looks like outside the process: JSON (--json, the
// pipeline's logs), an HDF5 group (shard files, --out) and a text summary.
// The HDF5 layout is documented in docs/llc.md ("Output").
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "io/hdf5.h"
#include "slt/llc_estimator.h"

namespace llcpress::slt {

// The resolved configuration (sampler keys, chain counts, seeds, mask, range).
nlohmann::json to_json(const LlcConfig& config);
// Summary, per-chain results and (with traces) every per-draw trace.
nlohmann::json to_json(const LlcResult& result, bool traces = true);

// Writes the result into `group`: scalar datasets (llc_mean, llc_std, ...),
// per-chain datasets and a per-chain table, the (chain, draw) and (chain,
// step) traces, every dataset with units and description; the resolved
// configuration as the group attribute "llc_config_json".
void write_llc(io::Group& group, const LlcResult& result);

// A few human-readable lines: λ̂ ± std, per-chain values, diagnostics, timing.
std::string format_llc(const LlcResult& result);

}  // namespace llcpress::slt
