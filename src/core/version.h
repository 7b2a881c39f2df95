#pragma once
namespace llcpress {
// The git revision the binary was built from, recorded in every output file.
const char* git_revision();
const char* version_string();
// The library behind the model's GEMMs (src/model/ops/gemm.h): OpenBLAS's own
// configuration string (version, the kernel it picked for this CPU) or
// "Eigen <version>". Results differ between GEMM libraries in the last bits,
// so outputs record it next to the git revision.
const char* gemm_library();
}  // namespace llcpress
