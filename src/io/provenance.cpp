#include "io/provenance.h"

#include <unistd.h>

#include <chrono>
#include <climits>
#include <ctime>

#include "core/check.h"
#include "core/device.h"
#include "core/version.h"
#include "io/schema.h"

namespace llcpress::io {

namespace {

std::string host_name() {
  char name[HOST_NAME_MAX + 1] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "unknown";
  return name;
}

}  // namespace

std::string utc_timestamp_now() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm utc{};
  ::gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

void write_provenance(Object& target, std::string_view resolved_config_json) {
  target.set_attribute(attribute_name::schema_version, schema_version);
  target.set_attribute(attribute_name::git_revision, git_revision());
  target.set_attribute(attribute_name::llcpress_version, version_string());
  target.set_attribute(attribute_name::host, host_name());
  target.set_attribute(attribute_name::created_utc, utc_timestamp_now());
  target.set_attribute(attribute_name::config_json, resolved_config_json);
  target.set_attribute(attribute_name::gemm_library, gemm_library());
  const DeviceInfo device = active_device();
  target.set_attribute(attribute_name::compute_device, device.description());
  if (device.kind == DeviceKind::Cuda) {
    target.set_attribute(attribute_name::cuda_device_name, device.name);
    target.set_attribute(attribute_name::cuda_compute_capability, device.compute_capability);
    target.set_attribute(attribute_name::cuda_driver, device.driver);
    target.set_attribute(attribute_name::cuda_driver_cuda_version, device.driver_cuda);
    target.set_attribute(attribute_name::cuda_runtime_version, device.runtime_cuda);
    target.set_attribute(attribute_name::cublas_version, device.cublas);
  }
}

Provenance read_provenance(const Object& source) {
  Provenance provenance;
  provenance.schema_version = source.attribute<std::int64_t>(attribute_name::schema_version);
  provenance.git_revision = source.attribute<std::string>(attribute_name::git_revision);
  provenance.llcpress_version = source.attribute<std::string>(attribute_name::llcpress_version);
  provenance.host = source.attribute<std::string>(attribute_name::host);
  provenance.created_utc = source.attribute<std::string>(attribute_name::created_utc);
  provenance.config_json = source.attribute<std::string>(attribute_name::config_json);
  // Files written before gemm_library was recorded (same schema version) lack it.
  if (source.has_attribute(attribute_name::gemm_library))
    provenance.gemm_library = source.attribute<std::string>(attribute_name::gemm_library);
  // Likewise compute_device (files written before it was recorded ran on the CPU).
  provenance.compute_device = source.has_attribute(attribute_name::compute_device)
                                  ? source.attribute<std::string>(attribute_name::compute_device)
                                  : "cpu";
  return provenance;
}

std::int64_t check_schema_version(const Object& root) {
  LLC_CHECK(root.has_attribute(attribute_name::schema_version), IoError, root.where(),
            "only files written by llcpress (with write_provenance) carry a schema version",
            "no '{}' attribute: not an llcpress output file", attribute_name::schema_version);
  const auto version = root.attribute<std::int64_t>(attribute_name::schema_version);
  LLC_CHECK(version >= 1 && version <= schema_version, IoError, root.where(),
            "read it with a newer llcpress (or regenerate it with this one)",
            "schema_version {} is not understood by this build (which reads 1..{})", version, schema_version);
  return version;
}

}  // namespace llcpress::io
