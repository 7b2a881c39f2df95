#pragma once
#include <hdf5.h>

#include "core/check.h"

// HDF5 C calls return a negative value (herr_t or hid_t) on failure. The
// library's own error stack is printed only in debug builds; the exception
// names the call so the message stays one line.
#define LLC_CHECK_HDF5(call, where)                                                          \
  ([&]() {                                                                                   \
    auto llc_h5_result_ = (call);                                                            \
    if (llc_h5_result_ < 0)                                                                  \
      LLC_THROW(::llcpress::IoError, (where),                                               \
                "check that the path is writable, the disk not full, and the file not open " \
                "in another writer; h5dump can tell whether the file is readable",           \
                "HDF5 call failed: {}", #call);                                              \
    return llc_h5_result_;                                                                   \
  }())
