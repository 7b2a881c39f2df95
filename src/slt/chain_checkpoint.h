// The chain-level checkpoint of an LLC estimate: every chain finished so far,
// complete (traces, summaries, health), in one HDF5 file that is rewritten
// atomically after each chain. A chain's result depends only on the
// configuration and its index (its streams are keyed by seed, salt, chain and
// step), so a later run with the same configuration reuses the stored chains
// instead of running them (LlcHooks::finished) and gets a bit-identical
// estimate. Layout (docs/hdf5-schema.md, "Chain checkpoint"):
//
//   /            kind = "llcpress-chain-checkpoint", key (what must match to
//                reuse), llc_config_json, written_utc, host, pid, rank
//   /chains/<c>  one group per finished chain: every trace as a float64
//                dataset, the chain's scalars as attributes
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "slt/llc_estimator.h"

namespace llcpress::slt {

struct ChainCheckpointInfo {
  std::string key;       // e.g. the resolved LLC configuration and the checkpoint's hash
  std::string host;      // who wrote it (for humans)
  std::int64_t pid = 0;  // written as an attribute, so a test or a user can find the writer
  std::int64_t rank = -1;
};

// Writes `chains` to `path` (atomically replacing an older file).
void write_chain_checkpoint(const std::filesystem::path& path, const ChainCheckpointInfo& info,
                            const std::vector<ChainResult>& chains);

struct LoadedChains {
  std::vector<ChainResult> chains;
  std::string ignored_because;  // non-empty when a file exists but cannot be reused (other key, unreadable)
};

// The chains stored in `path` when its key equals `key`; none (and the reason)
// when the file is missing, unreadable or was written for other settings.
LoadedChains read_chain_checkpoint(const std::filesystem::path& path, const std::string& key);

}  // namespace llcpress::slt
