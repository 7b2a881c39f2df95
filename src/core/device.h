// Which device a process computes on, and the record of it that every output
// carries (io/provenance.h writes active_device() beside the git revision).
//
// Choosing the device is split in two so that modules without CUDA can name
// it: this header (always built) parses `device = cpu|cuda` and holds the
// process-wide record; select_device() (cuda/device_select.h, always built,
// CUDA parts only when the backend is) probes the driver and the GPU.
#pragma once

#include <string>

namespace llcpress {

enum class DeviceKind : unsigned char { Cpu, Cuda };

// "cpu" | "cuda" (ConfigError naming `where` otherwise).
DeviceKind parse_device_kind(const std::string& text, const std::string& where);
const char* device_kind_name(DeviceKind kind);

// This process's rank among the ranks of its node, from the launcher's
// environment: OMPI_COMM_WORLD_LOCAL_RANK (OpenMPI's mpiexec, and srun
// --mpi=pmix with OpenMPI), then SLURM_LOCALID (srun), then MPI_LOCALRANKID
// (MPICH/Hydra); 0 when none is set (a process started by hand).
int local_rank_from_environment();

struct DeviceInfo {
  DeviceKind kind = DeviceKind::Cpu;
  int ordinal = -1;                // CUDA device ordinal in this process (CUDA_VISIBLE_DEVICES applied)
  std::string name = "cpu";        // "NVIDIA H100 80GB HBM3"
  std::string compute_capability;  // "9.0"
  double memory_gib = 0;           // device memory
  std::string driver;              // NVIDIA driver release, "580.159.04" (/proc/driver/nvidia/version)
  std::string driver_cuda;         // CUDA version the driver supports, "13.0" (cudaDriverGetVersion)
  std::string runtime_cuda;        // CUDA runtime linked in, "13.0" (cudaRuntimeGetVersion)
  std::string cublas;              // cuBLASLt: "13.1.0" once loaded, else "13.1.0 (headers)"
  // One line: "cpu", or "cuda:0 NVIDIA H100 80GB HBM3 (sm_90, 79.1 GiB;
  // driver 580.159.04 for CUDA 13.0, runtime 13.0, cuBLAS 13.1.0)".
  std::string description() const;
};

// The device this process computes on (default: the CPU). select_device()
// sets it; the CUDA backend fills in the loaded cuBLAS version.
DeviceInfo active_device();
void set_active_device(const DeviceInfo& device);

}  // namespace llcpress
