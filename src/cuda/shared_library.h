// A shared library opened at run time (dlopen), so that a binary which may
// never use it does not pay for loading it: libcublasLt.so.13 alone is 540 MB
// and costs every process ~50 ms and ~210 MB of resident memory at start when
// it is linked, even a CPU-only llcpress run. The CUDA backend's libraries
// (cuBLASLt, cuSOLVER) are opened through this on first use instead.
//
//   SharedLibrary library("libcublasLt.so.13", "install the CUDA toolkit's cuBLAS ...");
//   auto* create = library.symbol<decltype(&cublasLtCreate)>("cublasLtCreate");
//
// Both steps throw BackendError naming the library (and the symbol) with the
// dynamic loader's own message and the hint. Knows nothing about CUDA.
#pragma once

#include <string>

namespace llcpress::cuda {

class SharedLibrary {
 public:
  // dlopen(soname, RTLD_NOW | RTLD_LOCAL): every symbol is bound now, and
  // none leaks into the global namespace (two CUDA libraries' copies of a
  // helper cannot clash). `hint` says how to make the library findable.
  SharedLibrary(std::string soname, std::string hint);
  ~SharedLibrary();
  SharedLibrary(SharedLibrary&& other) noexcept;
  SharedLibrary& operator=(SharedLibrary&& other) noexcept;
  SharedLibrary(const SharedLibrary&) = delete;
  SharedLibrary& operator=(const SharedLibrary&) = delete;

  const std::string& soname() const { return soname_; }

  // The address of `name`; throws BackendError if the library lacks it (an
  // older library than the headers this was built with, typically).
  void* address(const char* name) const;
  template <typename Function>
  Function symbol(const char* name) const {
    return reinterpret_cast<Function>(address(name));
  }

 private:
  std::string soname_;
  std::string hint_;
  void* handle_ = nullptr;
};

}  // namespace llcpress::cuda
