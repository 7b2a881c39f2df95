#include "cuda/shared_library.h"

#include <dlfcn.h>

#include <utility>

#include "core/check.h"

namespace llcpress::cuda {

SharedLibrary::SharedLibrary(std::string soname, std::string hint)
    : soname_(std::move(soname)), hint_(std::move(hint)) {
  dlerror();  // clear a stale message
  handle_ = dlopen(soname_.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle_ == nullptr) {
    const char* reason = dlerror();
    LLC_THROW(BackendError, soname_, hint_, "cannot load the shared library {}: {}", soname_,
              reason != nullptr ? reason : "unknown dlopen error");
  }
}

SharedLibrary::~SharedLibrary() {
  if (handle_ != nullptr) dlclose(handle_);
}

SharedLibrary::SharedLibrary(SharedLibrary&& other) noexcept
    : soname_(std::move(other.soname_)),
      hint_(std::move(other.hint_)),
      handle_(std::exchange(other.handle_, nullptr)) {}

SharedLibrary& SharedLibrary::operator=(SharedLibrary&& other) noexcept {
  if (this != &other) {
    if (handle_ != nullptr) dlclose(handle_);
    soname_ = std::move(other.soname_);
    hint_ = std::move(other.hint_);
    handle_ = std::exchange(other.handle_, nullptr);
  }
  return *this;
}

void* SharedLibrary::address(const char* name) const {
  LLC_REQUIRE(handle_ != nullptr, "symbol {} looked up in a moved-from SharedLibrary", name);
  dlerror();
  void* address = dlsym(handle_, name);
  if (address == nullptr) {
    const char* reason = dlerror();
    LLC_THROW(BackendError, soname_ + ":" + name,
              hint_ + " (the library found is older than the headers llcpress was built with?)",
              "the shared library {} has no symbol {}: {}", soname_, name,
              reason != nullptr ? reason : "the symbol's address is null");
  }
  return address;
}

}  // namespace llcpress::cuda
