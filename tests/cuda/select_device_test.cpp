// Device selection (`device = cpu|cuda`, `--device`) and its record in every
// output's provenance. Runs in every build: without a CUDA build, a driver or
// a GPU, asking for cuda must be a ConfigError that names what is missing.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

#include "core/device.h"
#include "core/error.h"
#include "cuda/device_select.h"
#include "io/hdf5.h"
#include "io/provenance.h"

using namespace llcpress;

namespace {

// Sets (or unsets, with nullopt) an environment variable for one scope.
class ScopedEnvironment {
 public:
  ScopedEnvironment(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value)
      ::setenv(name, value->c_str(), 1);
    else
      ::unsetenv(name);
  }
  ~ScopedEnvironment() {
    if (old_)
      ::setenv(name_, old_->c_str(), 1);
    else
      ::unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// Every test leaves the process on the CPU, as it found it.
class SelectDevice : public ::testing::Test {
 protected:
  void TearDown() override { set_active_device(DeviceInfo{}); }
};

}  // namespace

TEST_F(SelectDevice, ParsesCpuAndCudaAndNamesTheKeyOtherwise) {
  EXPECT_EQ(parse_device_kind("cpu", "job.device"), DeviceKind::Cpu);
  EXPECT_EQ(parse_device_kind("cuda", "job.device"), DeviceKind::Cuda);
  try {
    parse_device_kind("gpu", "--device");
    FAIL() << "'gpu' was accepted";
  } catch (const ConfigError& error) {
    EXPECT_NE(std::string(error.what()).find("gpu"), std::string::npos) << error.what();
    EXPECT_EQ(error.where(), "--device");
  }
}

TEST_F(SelectDevice, LocalRankComesFromTheLauncher) {
  ScopedEnvironment ompi("OMPI_COMM_WORLD_LOCAL_RANK", std::nullopt), slurm("SLURM_LOCALID", std::nullopt),
      mpich("MPI_LOCALRANKID", std::nullopt);
  EXPECT_EQ(local_rank_from_environment(), 0);  // started by hand
  {
    ScopedEnvironment set("SLURM_LOCALID", "3");
    EXPECT_EQ(local_rank_from_environment(), 3);
    ScopedEnvironment first("OMPI_COMM_WORLD_LOCAL_RANK", "1");  // OpenMPI's own wins
    EXPECT_EQ(local_rank_from_environment(), 1);
  }
  ScopedEnvironment bad("MPI_LOCALRANKID", "two");
  EXPECT_THROW(local_rank_from_environment(), ConfigError);
}

TEST_F(SelectDevice, CpuIsAlwaysAvailable) {
  const DeviceInfo device = select_device(DeviceKind::Cpu, 0, "--device");
  EXPECT_EQ(device.kind, DeviceKind::Cpu);
  EXPECT_EQ(device.description(), "cpu");
  EXPECT_EQ(active_device().description(), "cpu");
}

TEST_F(SelectDevice, CudaWithoutBuildDriverOrGpuIsAClearErrorBeforeAnyWork) {
  if (visible_cuda_devices() > 0) GTEST_SKIP() << "a GPU is visible: the failure path is checked where there is none";
  try {
    select_device(DeviceKind::Cuda, 0, "job.device");
    FAIL() << "device = cuda was accepted without a GPU";
  } catch (const ConfigError& error) {
    const std::string message = error.what();
    EXPECT_EQ(error.where(), "job.device");
    // Which of the four is missing depends on the machine; the message must name one.
    const bool names_what_is_missing = cuda_backend_built()
                                           ? (message.find("no NVIDIA driver") != std::string::npos ||
                                              message.find("no CUDA device is visible") != std::string::npos ||
                                              message.find("driver supports CUDA") != std::string::npos ||
                                              message.find("too old") != std::string::npos)
                                           : message.find("built without the CUDA backend") != std::string::npos;
    EXPECT_TRUE(names_what_is_missing) << message;
    EXPECT_FALSE(error.hint().empty());
  }
  EXPECT_EQ(active_device().kind, DeviceKind::Cpu);  // nothing half-selected
}

TEST_F(SelectDevice, CudaPicksTheLocalRanksGpu) {
  if (visible_cuda_devices() == 0) GTEST_SKIP() << "no CUDA device visible (or a build without CUDA)";
  const DeviceInfo device = select_device(DeviceKind::Cuda, 0, "--device");
  EXPECT_EQ(device.kind, DeviceKind::Cuda);
  EXPECT_EQ(device.ordinal, 0);
  EXPECT_FALSE(device.name.empty());
  EXPECT_GE(std::stod(device.compute_capability), 8.0);
  EXPECT_FALSE(device.driver_cuda.empty());
  EXPECT_FALSE(device.runtime_cuda.empty());
  EXPECT_EQ(device.description().rfind("cuda:0 ", 0), 0u) << device.description();
  // A local rank beyond the visible GPUs is refused (unless a launcher gave the task exactly one).
  ScopedEnvironment all_visible("CUDA_VISIBLE_DEVICES", std::nullopt);
  EXPECT_THROW(select_device(DeviceKind::Cuda, visible_cuda_devices(), "--device"), ConfigError);
}

TEST_F(SelectDevice, ProvenanceRecordsTheDevice) {
  // A recorded GPU as select_device would leave it; the probe itself is tested above.
  DeviceInfo gpu;
  gpu.kind = DeviceKind::Cuda;
  gpu.ordinal = 0;
  gpu.name = "NVIDIA H100 80GB HBM3";
  gpu.compute_capability = "9.0";
  gpu.memory_gib = 79.1;
  gpu.driver = "580.159.04";
  gpu.driver_cuda = "13.0";
  gpu.runtime_cuda = "13.0";
  gpu.cublas = "13.1.0";
  set_active_device(gpu);
  const std::string path =
      (std::filesystem::temp_directory_path() / ("llcpress_select_device_" + std::to_string(::getpid()) + ".h5"))
          .string();
  {
    io::File file = io::File::create_atomic(path);
    io::write_provenance(file.root(), "{}");
    file.commit();
  }
  {
    io::File file = io::File::open_read_only(path);
    EXPECT_EQ(io::read_provenance(file.root()).compute_device,
              "cuda:0 NVIDIA H100 80GB HBM3 (sm_90, 79.1 GiB; driver 580.159.04 for CUDA 13.0, runtime 13.0, cuBLAS "
              "13.1.0)");
    EXPECT_EQ(file.root().attribute<std::string>("cuda_device_name"), gpu.name);
    EXPECT_EQ(file.root().attribute<std::string>("cuda_compute_capability"), "9.0");
    EXPECT_EQ(file.root().attribute<std::string>("cuda_driver"), "580.159.04");
    EXPECT_EQ(file.root().attribute<std::string>("cuda_driver_cuda_version"), "13.0");
    EXPECT_EQ(file.root().attribute<std::string>("cuda_runtime_version"), "13.0");
    EXPECT_EQ(file.root().attribute<std::string>("cublas_version"), "13.1.0");
  }
  std::filesystem::remove(path);
}
