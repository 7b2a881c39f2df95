// Provenance attributes carried by every llcpress output (docs/hdf5-schema.md).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "io/hdf5.h"

namespace llcpress::io {

struct Provenance {
  std::int64_t schema_version = 0;
  std::string git_revision;      // core/version.h: the revision the binary was built from
  std::string llcpress_version;  // project version, e.g. "0.1.0"
  std::string host;              // gethostname()
  std::string created_utc;       // ISO 8601, "2025-05-01T12:34:56Z"
  std::string config_json;       // the resolved configuration, as printed at start
  std::string gemm_library;  // core/version.h gemm_library(): results differ between GEMM libraries in the last bits
  std::string compute_device;  // core/device.h active_device().description(): "cpu" or the GPU and its versions
};

// Writes schema_version, git_revision, llcpress_version, host, created_utc,
// config_json, gemm_library and the compute device (core/device.h
// active_device(): compute_device, and on a GPU cuda_device_name,
// cuda_compute_capability, cuda_driver, cuda_driver_cuda_version,
// cuda_runtime_version, cublas_version) as attributes of `target` (usually the root group). Callers add
// their own (checkpoint hash, device, seeds, timings) beside them.
void write_provenance(Object& target, std::string_view resolved_config_json);

// Reads what write_provenance wrote; IoError names the first missing attribute.
Provenance read_provenance(const Object& source);

// Checks the file's schema_version attribute on `root`: IoError when it is
// missing or newer than this build understands. Returns the version.
std::int64_t check_schema_version(const Object& root);

// The current time as "YYYY-MM-DDTHH:MM:SSZ".
std::string utc_timestamp_now();

}  // namespace llcpress::io
