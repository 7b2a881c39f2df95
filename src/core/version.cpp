#include "core/version.h"

namespace llcpress {
const char* git_revision() { return LLCPRESS_GIT_REVISION; }
const char* version_string() { return LLCPRESS_VERSION; }
}  // namespace llcpress
