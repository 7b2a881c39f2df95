#include <gtest/gtest.h>

#include "cuda/device_info.h"

// Runs everywhere: on a machine without a GPU or driver the query reports 0
// devices instead of failing, which is what lets the CPU backend take over.
TEST(CudaDevice, CountIsNonNegative) { EXPECT_GE(llcpress::cuda::device_count(), 0); }

TEST(CudaDevice, DescribesEachDevice) {
  int count = llcpress::cuda::device_count();
  if (count == 0) GTEST_SKIP() << "no CUDA device visible";
  for (int device = 0; device < count; ++device) {
    std::string text = llcpress::cuda::device_description(device);
    EXPECT_NE(text.find("sm_"), std::string::npos) << text;
  }
}
