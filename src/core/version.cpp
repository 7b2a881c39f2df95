#include "core/version.h"

#include "git_revision.h"  // generated at build time by cmake/git_revision.cmake

#if LLCPRESS_HAVE_CBLAS
#include <cblas.h>
#else
#include <Eigen/Core>
#endif

namespace llcpress {
const char* git_revision() { return LLCPRESS_GIT_REVISION; }
const char* version_string() { return LLCPRESS_VERSION; }
const char* gemm_library() {
#if LLCPRESS_HAVE_CBLAS
  return openblas_get_config();
#else
#define LLCPRESS_STRINGIFY_INNER(x) #x
#define LLCPRESS_STRINGIFY(x) LLCPRESS_STRINGIFY_INNER(x)
  return "Eigen " LLCPRESS_STRINGIFY(EIGEN_WORLD_VERSION) "." LLCPRESS_STRINGIFY(
      EIGEN_MAJOR_VERSION) "." LLCPRESS_STRINGIFY(EIGEN_MINOR_VERSION);
#endif
}
}  // namespace llcpress
