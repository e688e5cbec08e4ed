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

TEST(Cursor, PositionsRoundTripThroughTheirText) {
  for (auto cursor : {Cursor::at(1), Cursor::at(42, 7), Cursor::at(9'000'000'000, 123456789)}) {
    EXPECT_EQ(Cursor::parse(cursor.to_string()), cursor) << cursor.to_string();
  }
  EXPECT_EQ(Cursor::at(5).seq(), Cursor::kWholeTransaction);
}

TEST(Cursor, TextIsShortAndNeedsNoEscapingInUrlsOrHeaders) {
  auto text = Cursor::at(9'000'000'000, 123456789).to_string();
  for (char c : text) EXPECT_TRUE(std::isdigit(static_cast<unsigned char>(c)) || c == '.') << text;
  EXPECT_LE(text.size(), 25u);
}

TEST(Cursor, RejectsDamagedText) {
  for (const char* bad : {"", "later", "1.", "2.5", "1.x", "1.5.", "1.5.x", "1.-3", "1.5.6.7"}) {
    EXPECT_THROW(static_cast<void>(Cursor::parse(bad)), InvalidCursor) << bad;
  }
}

}  // namespace
}  // namespace pgpulse
