// The parsers of the sweep's command-line values (run under ASan/UBSan too).
#include <gtest/gtest.h>

#include "compress/selection.h"
#include "compress/sweep.h"
#include "core/error.h"

namespace llcpress::compress {
namespace {

TEST(Parse, RangesAndTolerances) {
  EXPECT_EQ(parse_sample_range("3:6"), (std::vector<std::int64_t>{3, 4, 5}));
  for (const char* bad : {"", "3", "6:3", "3:3", "a:5", "1:5x", "-1:4", ":4"})
    EXPECT_THROW(parse_sample_range(bad), ConfigError) << bad;
  EXPECT_EQ(parse_epsilons("0.7, 0.3,0.5,0.3"), (std::vector<double>{0.3, 0.5, 0.7}));
  for (const char* bad : {"", "0", "-0.1", "0.3,x", "nan", "0.3;0.5"})
    EXPECT_THROW(parse_epsilons(bad), ConfigError) << bad;
}

TEST(Parse, TensorSelections) {
  EXPECT_EQ(TensorSelection().to_string(), "linear");
  EXPECT_EQ(TensorSelection::parse("norm, all").to_string(), "linear,embedding,unembedding,norm,bias");
  EXPECT_EQ(TensorSelection::parse("embedding,,unembedding").to_string(), "embedding,unembedding");
  for (const char* bad : {"", ",", "linear,weights", "Linear", "all;norm"})
    EXPECT_THROW(TensorSelection::parse(bad), ConfigError) << bad;
}

}  // namespace
}  // namespace llcpress::compress
