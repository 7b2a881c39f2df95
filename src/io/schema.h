// Names and version of the llcpress HDF5 layout (docs/hdf5-schema.md).
// Bump schema_version whenever a reader of the previous version would
// misread a new file; readers refuse files newer than themselves.
#pragma once

#include <cstdint>

namespace llcpress::io {

// 2: λ̂ is llc_mean / llc_std / llc_standard_error everywhere (the results tables said lambda_*).
inline constexpr std::int64_t schema_version = 2;

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
// Tables (io/hdf5.h write_table).
inline constexpr const char* table_columns = "columns";
inline constexpr const char* table_column_units = "column_units";
inline constexpr const char* table_num_rows = "num_rows";
inline constexpr const char* layout = "layout";  // "table" on a table group
}  // namespace attribute_name

}  // namespace llcpress::io
