// The one family of check macros. Each throws an llcpress::Error carrying the
// source file, line and MPI rank, and a hint on how to fix the problem.
//
//   LLC_CHECK(cond, ErrorType, where, hint, fmt, args...)   any condition
//   LLC_REQUIRE(cond, fmt, args...)                          internal invariant
//   LLC_CHECK_CUDA(call)    cuda/check_cuda.h   (only CUDA translation units)
//   LLC_CHECK_CUBLASLT(call) cuda/check_cuda.h
//   LLC_CHECK_MPI(call)     pipeline/check_mpi.h (pipeline only)
//   LLC_CHECK_HDF5(call)    io/check_hdf5.h     (io only)
#pragma once

#include "core/error.h"

#define LLC_THROW(ErrorType, where, hint, ...) \
  throw ::llcpress::located(ErrorType(fmt::format(__VA_ARGS__), (where), (hint)), __FILE__, __LINE__)

#define LLC_CHECK(cond, ErrorType, where, hint, ...)      \
  do {                                                    \
    if (!(cond)) LLC_THROW(ErrorType, where, hint, __VA_ARGS__); \
  } while (0)

#define LLC_REQUIRE(cond, ...)                                                                  \
  do {                                                                                          \
    if (!(cond))                                                                                \
      LLC_THROW(::llcpress::InternalError, "", "this is a bug in llcpress; please report it", \
                "invariant failed: " #cond ": " __VA_ARGS__);                                   \
  } while (0)
