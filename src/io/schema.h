// Names and version of the llcpress HDF5 layout (docs/hdf5-schema.md).
// Bump schema_version whenever a reader of the previous version would
// misread a new file; readers refuse files newer than themselves.
#pragma once

#include <cstdint>

namespace llcpress::io {

// 2: λ̂ is llc_mean / llc_std / llc_standard_error everywhere (the results tables said lambda_*).
// 3: a sweep's /result tables take the results tables' names (eps, critical_amount, bits_per_weight,
//    predicted_bits, amount, effective_amount; attributes eps, llc_mean).
inline constexpr std::int64_t schema_version = 3;
// Sweep shards older than this use the retired names; gather and run treat them as bad (rerun them).
inline constexpr std::int64_t sweep_shard_min_version = 3;

// Attribute names shared by every output file.
namespace attribute_name {
inline constexpr const char* units = "units";              // on every dataset
inline constexpr const char* description = "description";  // on every dataset and table
inline constexpr const char* schema_version = "schema_version";
inline constexpr const char* git_revision = "git_revision";
inline constexpr const char* llcpress_version = "llcpress_version";
inline constexpr const char* host = "host";
inline constexpr const char* created_utc = "created_utc";
inline constexpr const char* config_json = "config_json";
inline constexpr const char* gemm_library = "gemm_library";
// The device the process computed on (core/device.h): "cpu" or one line naming
// the GPU, its driver and the CUDA runtime and cuBLAS versions; on a GPU also
// one attribute per field.
inline constexpr const char* compute_device = "compute_device";
inline constexpr const char* cuda_device_name = "cuda_device_name";
inline constexpr const char* cuda_compute_capability = "cuda_compute_capability";
inline constexpr const char* cuda_driver = "cuda_driver";
inline constexpr const char* cuda_driver_cuda_version = "cuda_driver_cuda_version";
inline constexpr const char* cuda_runtime_version = "cuda_runtime_version";
inline constexpr const char* cublas_version = "cublas_version";
// Tables (io/hdf5.h write_table).
inline constexpr const char* table_columns = "columns";
inline constexpr const char* table_column_units = "column_units";
inline constexpr const char* table_num_rows = "num_rows";
inline constexpr const char* layout = "layout";  // "table" on a table group
}  // namespace attribute_name

}  // namespace llcpress::io
