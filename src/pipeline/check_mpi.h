#pragma once
#include <mpi.h>

#include "core/check.h"

#define LLC_CHECK_MPI(call)                                                                      \
  do {                                                                                           \
    int llc_mpi_status_ = (call);                                                                \
    if (llc_mpi_status_ != MPI_SUCCESS) {                                                        \
      char llc_mpi_text_[MPI_MAX_ERROR_STRING];                                                  \
      int llc_mpi_len_ = 0;                                                                      \
      MPI_Error_string(llc_mpi_status_, llc_mpi_text_, &llc_mpi_len_);                           \
      LLC_THROW(::llcpress::BackendError, #call,                                                 \
                "check that every rank reached this call and that mpiexec/srun launched them all", \
                "MPI call failed: {}", std::string(llc_mpi_text_, llc_mpi_len_));                \
    }                                                                                            \
  } while (0)
