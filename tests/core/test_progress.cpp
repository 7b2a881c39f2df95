#include <gtest/gtest.h>

#include "core/progress.h"

using llcpress::Progress;

TEST(Progress, FormatsDurations) {
  EXPECT_EQ(Progress::format_duration(0), "00:00");
  EXPECT_EQ(Progress::format_duration(61), "01:01");
  EXPECT_EQ(Progress::format_duration(3 * 3600 + 5), "3:00:05");
}

TEST(Progress, EtaIsZeroWhenDoneAndRateCounts) {
  Progress progress("test", 10, 0);
  progress.update(10);
  EXPECT_EQ(progress.eta_seconds(), 0.0);
  EXPECT_GT(progress.rate(), 0.0);
  progress.finish();
}
