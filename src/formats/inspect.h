// What `llcpress inspect PATH` reports, as JSON (the CLI prints it with --json
// or renders it as a table). PATH is a checkpoint directory, a weights file
// (.safetensors, .bin, *.index.json), or a Megatron dataset (PREFIX, PREFIX.idx
// or PREFIX.bin when PREFIX.idx exists).
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>

namespace llcpress::formats {

struct InspectOptions {
  // First N elements of each tensor upcast to fp32 (NaN / ±inf as the strings
  // "nan", "inf", "-inf", which JSON cannot spell), or the first N tokens of the
  // first few sequences of a dataset. 0: none.
  std::size_t values = 0;
  // The token range of a dataset needs a pass over its tokens: scan at most
  // this many sequences (the report says how many it scanned).
  std::size_t scan_sequences = 100000;
};

// Throws InputError / IoError naming the path when it cannot be read.
nlohmann::json inspect_path(const std::string& path, const InspectOptions& options = {});

// A human-readable rendering of inspect_path's report.
std::string format_inspect_report(const nlohmann::json& report);

}  // namespace llcpress::formats
