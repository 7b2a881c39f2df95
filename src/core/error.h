// Typed errors. Every error says what went wrong, where (a file, a key, a
// tensor), and how to fix it; the check macros add the source location and
// the MPI rank so a message from rank 17 of 1,000 can be traced.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace llcpress {

enum class ErrorKind {
  InvalidInput,  // a user-supplied file or value is malformed
  Config,        // a job-file or command-line key is wrong
  Io,            // the operating system refused (open, read, write, rename)
  Numerical,     // NaN/Inf or a diverged computation
  Backend,       // CUDA / cuBLAS / MPI / HDF5 reported a failure
  Internal,      // a broken invariant: a bug in llcpress
};

const char* error_kind_name(ErrorKind kind);

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, std::string what, std::string where = {}, std::string hint = {});

  ErrorKind kind() const { return kind_; }
  // The file, key or object the error is about ("" when not applicable).
  const std::string& where() const { return where_; }
  const std::string& hint() const { return hint_; }
  // The bare message without the where/hint decoration.
  const std::string& message() const { return message_; }

  // Adds the source location and rank (used by the check macros).
  Error& at(const char* file, int line);

 private:
  ErrorKind kind_;
  std::string message_;
  std::string where_;
  std::string hint_;
  std::string full_;
  void rebuild(const char* file, int line);
};

// Convenience subclasses: catch sites can tell bad input from broken backends.
struct InputError : Error {
  InputError(std::string what, std::string where = {}, std::string hint = {})
      : Error(ErrorKind::InvalidInput, std::move(what), std::move(where), std::move(hint)) {}
};
struct ConfigError : Error {
  ConfigError(std::string what, std::string where = {}, std::string hint = {})
      : Error(ErrorKind::Config, std::move(what), std::move(where), std::move(hint)) {}
};
struct IoError : Error {
  IoError(std::string what, std::string where = {}, std::string hint = {})
      : Error(ErrorKind::Io, std::move(what), std::move(where), std::move(hint)) {}
};
struct NumericalError : Error {
  NumericalError(std::string what, std::string where = {}, std::string hint = {})
      : Error(ErrorKind::Numerical, std::move(what), std::move(where), std::move(hint)) {}
};
struct BackendError : Error {
  BackendError(std::string what, std::string where = {}, std::string hint = {})
      : Error(ErrorKind::Backend, std::move(what), std::move(where), std::move(hint)) {}
};
struct InternalError : Error {
  InternalError(std::string what, std::string where = {}, std::string hint = {})
      : Error(ErrorKind::Internal, std::move(what), std::move(where), std::move(hint)) {}
};

// The MPI rank used in messages; -1 before MPI starts (messages then omit it).
// Set by the pipeline once MPI is initialised; core itself never calls MPI.
void set_process_rank(int rank);
int process_rank();

// Returns `error` (its own type, not sliced) with the source location added.
template <typename ErrorType>
ErrorType located(ErrorType error, const char* file, int line) {
  error.at(file, line);
  return error;
}

}  // namespace llcpress
