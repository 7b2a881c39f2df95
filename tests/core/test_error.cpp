#include <gtest/gtest.h>

#include "core/check.h"

using namespace llcpress;

TEST(Error, MessageCarriesWhereHintAndLocation) {
  try {
    LLC_CHECK(1 + 1 == 3, InputError, "model.safetensors", "regenerate the file", "header length {} past EOF", 99);
    FAIL() << "LLC_CHECK did not throw";
  } catch (const InputError& error) {
    std::string text = error.what();
    EXPECT_NE(text.find("model.safetensors: header length 99 past EOF"), std::string::npos) << text;
    EXPECT_NE(text.find("hint: regenerate the file"), std::string::npos) << text;
    EXPECT_NE(text.find("test_error.cpp:"), std::string::npos) << text;
    EXPECT_EQ(error.kind(), ErrorKind::InvalidInput);
    EXPECT_EQ(error.where(), "model.safetensors");
  }
}

TEST(Error, RankAppearsOnceSet) {
  set_process_rank(3);
  try {
    LLC_THROW(ConfigError, "llc.epsilon", "", "must be positive");
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("rank 3"), std::string::npos) << error.what();
  }
  set_process_rank(-1);
}

TEST(Error, RequireIsAnInternalError) {
  EXPECT_THROW(LLC_REQUIRE(false, "x={}", 1), InternalError);
  EXPECT_NO_THROW(LLC_REQUIRE(true, "never"));
}
