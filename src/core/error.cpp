#include "core/error.h"

#include <atomic>

namespace llcpress {

namespace {
std::atomic<int> g_rank{-1};
}

void set_process_rank(int rank) { g_rank.store(rank); }
int process_rank() { return g_rank.load(); }

const char* error_kind_name(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::InvalidInput: return "invalid input";
    case ErrorKind::Config: return "configuration error";
    case ErrorKind::Io: return "I/O error";
    case ErrorKind::Numerical: return "numerical error";
    case ErrorKind::Backend: return "backend error";
    case ErrorKind::Internal: return "internal error";
  }
  return "error";
}

Error::Error(ErrorKind kind, std::string what, std::string where, std::string hint)
    : std::runtime_error(what), kind_(kind), message_(std::move(what)), where_(std::move(where)),
      hint_(std::move(hint)) {
  rebuild(nullptr, 0);
}

Error& Error::at(const char* file, int line) {
  rebuild(file, line);
  return *this;
}

void Error::rebuild(const char* file, int line) {
  full_.clear();
  if (!where_.empty()) full_ += where_ + ": ";
  full_ += message_;
  if (!hint_.empty()) full_ += " (hint: " + hint_ + ")";
  if (file != nullptr || process_rank() >= 0) {
    full_ += " [";
    if (file != nullptr) full_ += fmt::format("{}:{}", file, line);
    if (process_rank() >= 0) full_ += fmt::format("{}rank {}", file != nullptr ? ", " : "", process_rank());
    full_ += "]";
  }
  static_cast<std::runtime_error&>(*this) = std::runtime_error(full_);
}

}  // namespace llcpress
