#include <gtest/gtest.h>

#include "pgpulse/cursor.hpp"
#include "pgpulse/error.hpp"

namespace pgpulse {
namespace {

TEST(Cursor, NowAndBeginningRoundTripAsWords) {
  EXPECT_EQ(Cursor::parse("now").kind(), Cursor::Kind::kNow);
  EXPECT_EQ(Cursor::parse("beginning").kind(), Cursor::Kind::kBeginning);
  EXPECT_EQ(Cursor::now().to_string(), "now");
  EXPECT_EQ(Cursor::beginning().to_string(), "beginning");
}

TEST(Cursor, LogPositionRoundTripsThroughItsText) {
  auto cursor = Cursor::in_log(Snapshot{1000, 1010, {1002, 1005}},
                               Snapshot{1005, 1030, {1005, 1020, 1029}}, 1007, 123456789);
  auto text = cursor.to_string();
  EXPECT_EQ(Cursor::parse(text), cursor);
}

TEST(Cursor, BatchBoundaryHasNoPositionAndRoundTrips) {
  auto cursor = Cursor::in_log(Snapshot{7, 7, {}}, Snapshot{7, 7, {}}, 0, 0);
  EXPECT_EQ(Cursor::parse(cursor.to_string()), cursor);
}

TEST(Cursor, TextNeedsNoEscapingInUrlsOrHeaders) {
  auto text = Cursor::in_log(Snapshot{5000000000, 5000000100, {5000000001}},
                             Snapshot{5000000050, 5000000200, {5000000150}}, 5000000170, 42)
                  .to_string();
  for (char c : text) {
    EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-') << text;
  }
  EXPECT_LT(text.size(), 60u) << "deltas keep large xids short: " << text;
}

TEST(Cursor, RejectsDamagedText) {
  for (const char* bad : {"", "later", "1.", "1.5.0..0.0", "2.5.0..0.0...", "1.x.0..0.0...",
                          "1.5.0..0.0..3.", "1.5.0.9.0.0...", "1.5.3..0.0...7"}) {
    EXPECT_THROW(Cursor::parse(bad), InvalidCursor) << bad;
  }
}

TEST(Snapshot, ParsesPostgresTextForm) {
  auto s = Snapshot::parse("724:730:725,728");
  EXPECT_EQ(s, (Snapshot{724, 730, {725, 728}}));
  EXPECT_EQ(s.to_string(), "724:730:725,728");
  EXPECT_EQ(Snapshot::parse("5:5:").xip.size(), 0u);
}

}  // namespace
}  // namespace pgpulse
