#include "core/version.h"

#include "git_revision.h"  // generated at build time by cmake/git_revision.cmake

namespace llcpress {
const char* git_revision() { return LLCPRESS_GIT_REVISION; }
const char* version_string() { return LLCPRESS_VERSION; }
}  // namespace llcpress
