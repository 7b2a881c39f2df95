#pragma once
#include <hdf5.h>

#include <string>
#include <string_view>

#include "core/check.h"

// HDF5 C calls return a negative value (herr_t, hid_t or htri_t) on failure and
// push a stack of records, outermost (the API call) to innermost (the cause).
// src/io switches the library's stderr printing off; these macros instead put
// "<outermost description>: <innermost description> (<innermost class>)" into
// a one-line IoError, e.g.
//   "out/3.h5:/llc/draws: H5Dopen2 failed: unable to open dataset: component not found (Object not found)".
// Only translation units of src/io include this header (DESIGN.md, Boundaries).

namespace llcpress::hdf5_detail {

// Reads and clears this thread's default HDF5 error stack.
inline std::string take_error_stack_message() {
  struct Ends {
    std::string innermost, innermost_class, outermost;
  } ends;
  auto visit = [](unsigned depth, const H5E_error2_t* record, void* data) -> herr_t {
    auto* out = static_cast<Ends*>(data);
    std::string description = record->desc != nullptr ? record->desc : "";
    for (char& c : description)  // some records (H5F_open) embed a newline
      if (c == '\n' || c == '\r') c = ' ';
    if (depth == 0) {
      out->innermost = description;
      char minor[128] = "";
      if (H5Eget_msg(record->min_num, nullptr, minor, sizeof minor) > 0) out->innermost_class = minor;
    }
    out->outermost = description;  // walking upward, the last record visited is the API call
    return 0;
  };
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, visit, &ends);
  H5Eclear2(H5E_DEFAULT);
  if (ends.innermost.empty()) return "no detail on the HDF5 error stack";
  std::string message = ends.outermost;
  if (ends.outermost != ends.innermost) message += ": " + ends.innermost;
  if (!ends.innermost_class.empty() && ends.innermost.find(ends.innermost_class) == std::string::npos)
    message += " (" + ends.innermost_class + ")";
  return message;
}

// "H5Dopen2(loc, name, H5P_DEFAULT)" -> "H5Dopen2".
inline std::string_view call_name(std::string_view call_text) { return call_text.substr(0, call_text.find('(')); }

}  // namespace llcpress::hdf5_detail

#define LLC_HDF5_DEFAULT_HINT "h5ls -r FILE lists what an HDF5 file holds; h5dump -H FILE tells whether it is readable"

// LLC_CHECK_HDF5(call, where) and LLC_CHECK_HDF5_HINT(call, where, hint):
// evaluate `call` once and return its value, or throw IoError naming `where`
// (the file and object path) with the HDF5 cause.
#define LLC_CHECK_HDF5_HINT(call, where, hint)                                                                    \
  ([&]() {                                                                                                        \
    auto llc_h5_result_ = (call);                                                                                 \
    if (llc_h5_result_ < 0)                                                                                       \
      LLC_THROW(::llcpress::IoError, (where), (hint), "{} failed: {}", ::llcpress::hdf5_detail::call_name(#call), \
                ::llcpress::hdf5_detail::take_error_stack_message());                                             \
    return llc_h5_result_;                                                                                        \
  }())

#define LLC_CHECK_HDF5(call, where) LLC_CHECK_HDF5_HINT(call, where, LLC_HDF5_DEFAULT_HINT)
