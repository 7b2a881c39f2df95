// Parameterisation over the registered backends (backend::registered_backends):
// TEST_P(BackendTest, ...) runs once per backend; a backend that cannot run
// in this process skips with its reason, and an op it lacks (UnsupportedOp)
// skips with the backend's message — never a silent pass.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "backend/backend.h"

namespace llcpress::backend::testing {

class BackendTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    for (const BackendEntry& entry : registered_backends()) {
      if (entry.name != GetParam()) continue;
      const std::string reason = entry.unavailable_reason ? entry.unavailable_reason() : std::string();
      if (!reason.empty()) GTEST_SKIP() << GetParam() << " backend unavailable: " << reason;
      backend_ = entry.make();
    }
    ASSERT_NE(backend_, nullptr) << "no backend named " << GetParam();
  }
  Backend& backend() { return *backend_; }
  // Host vector → a new buffer of this backend, and back.
  Buffer<float> upload(const std::vector<float>& host) {
    Buffer<float> buffer(*backend_, host.size());
    buffer.upload(host);
    return buffer;
  }
  std::vector<float> download(const Buffer<float>& buffer) {
    std::vector<float> host(buffer.size());
    buffer.download(host);
    return host;
  }
  std::unique_ptr<Backend> backend_;
};

// Runs `body`; an UnsupportedOp becomes a skip naming the op.
#define LLC_BACKEND_OP(body)                              \
  try {                                                   \
    body;                                                 \
  } catch (const ::llcpress::backend::UnsupportedOp& e) { \
    GTEST_SKIP() << e.what();                             \
  }

inline std::string backend_test_name(const ::testing::TestParamInfo<std::string>& info) { return info.param; }

}  // namespace llcpress::backend::testing

#define LLC_INSTANTIATE_BACKEND_TESTS(Suite)                                                           \
  INSTANTIATE_TEST_SUITE_P(Backends, Suite, ::testing::ValuesIn(::llcpress::backend::backend_names()), \
                           ::llcpress::backend::testing::backend_test_name)
