// A fresh directory per test, removed afterwards; tests of one binary may run
// in parallel processes (ctest -j), so the name includes the pid.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "io/hdf5.h"

namespace llcpress::io::testing {

class ScratchDirectory : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    directory_ = std::filesystem::temp_directory_path() /
                 ("llcpress-io-" + std::to_string(::getpid()) + "-" + info->test_suite_name() + "-" + info->name());
    std::filesystem::remove_all(directory_);
    std::filesystem::create_directories(directory_);
  }
  void TearDown() override {
    // Every File, Group and Dataset of the test is gone: nothing may stay open.
    EXPECT_EQ(open_hdf5_object_count(), 0) << "an HDF5 handle leaked";
    std::filesystem::remove_all(directory_);
  }
  std::filesystem::path path(const std::string& name) const { return directory_ / name; }
  std::filesystem::path directory_;
};

}  // namespace llcpress::io::testing
