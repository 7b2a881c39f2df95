// cuda::SharedLibrary (the run-time loader of cuBLASLt and cuSOLVER) and the
// cuBLASLt table loaded through it. Needs no GPU: the error messages are
// checked on libraries and symbols that do not exist, the success path on
// libm; with a CUDA build, the real table is loaded when the toolkit's
// libcublasLt is on the loader's path (it is here and in CI).
#include "cuda/shared_library.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "core/error.h"
#if defined(LLCPRESS_HAVE_CUDA)
#include "cuda/cublaslt_api.h"
#endif

using namespace llcpress;
using llcpress::cuda::SharedLibrary;

namespace {

const char* kHint = "install the thing or set LD_LIBRARY_PATH";

TEST(SharedLibrary, MissingLibraryNamesItAndGivesTheHint) {
  try {
    SharedLibrary library("libllcpress_no_such_library.so.7", kHint);
    FAIL() << "dlopen of a library that does not exist succeeded";
  } catch (const BackendError& error) {
    const std::string what = error.what();
    EXPECT_NE(what.find("libllcpress_no_such_library.so.7"), std::string::npos) << what;
    EXPECT_NE(what.find("cannot load the shared library"), std::string::npos) << what;
    EXPECT_EQ(error.hint(), kHint);
    EXPECT_NE(what.find(kHint), std::string::npos) << what;
  }
}

TEST(SharedLibrary, MissingSymbolNamesLibraryAndSymbol) {
  const SharedLibrary library("libm.so.6", kHint);
  try {
    library.address("llcpress_no_such_symbol");
    FAIL() << "dlsym of a symbol that does not exist succeeded";
  } catch (const BackendError& error) {
    const std::string what = error.what();
    EXPECT_NE(what.find("libm.so.6"), std::string::npos) << what;
    EXPECT_NE(what.find("llcpress_no_such_symbol"), std::string::npos) << what;
    EXPECT_NE(error.hint().find(kHint), std::string::npos) << error.hint();
  }
}

TEST(SharedLibrary, FoundSymbolIsTheFunction) {
  SharedLibrary library("libm.so.6", kHint);
  auto* cosine = library.symbol<double (*)(double)>("cos");
  EXPECT_EQ(cosine(0.5), std::cos(0.5));
  // A moved library keeps its handle; the moved-from one has none left.
  SharedLibrary moved = std::move(library);
  EXPECT_EQ(moved.soname(), "libm.so.6");
  EXPECT_NE(moved.address("sin"), nullptr);
  EXPECT_THROW(library.address("sin"), InternalError);  // NOLINT(bugprone-use-after-move): the point
}

#if defined(LLCPRESS_HAVE_CUDA)
TEST(CublasLtApi, LoadsTheLibraryOfTheHeadersMajorVersion) {
  EXPECT_EQ(std::string(cuda::cublaslt_soname()), "libcublasLt.so." + std::to_string(CUBLAS_VER_MAJOR));
  try {
    SharedLibrary probe(cuda::cublaslt_soname(), kHint);
  } catch (const BackendError& error) {
    GTEST_SKIP() << "no " << cuda::cublaslt_soname() << " on the loader's path here: " << error.what();
  }
  // cublasLtGetVersion needs no GPU: the library loaded is the headers' major version.
  const cuda::CublasLtApi& api = cuda::cublaslt();
  EXPECT_EQ(api.get_version() / 10000, static_cast<std::size_t>(CUBLAS_VER_MAJOR));
  EXPECT_STREQ(api.get_status_name(CUBLAS_STATUS_SUCCESS), "CUBLAS_STATUS_SUCCESS");
  EXPECT_EQ(&api, &cuda::cublaslt());  // loaded once
}
#endif

}  // namespace
