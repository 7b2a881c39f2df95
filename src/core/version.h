#pragma once
namespace llcpress {
// The git revision the binary was built from, recorded in every output file.
const char* git_revision();
const char* version_string();
}  // namespace llcpress
