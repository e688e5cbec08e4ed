#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "util/json_text.hpp"

namespace pgpulse::json_text {
namespace {

std::string as_json(std::string_view text) {
  std::string out;
  append_string(out, text);
  return out;
}

TEST(JsonText, PlainTextIsOnlyQuoted) {
  EXPECT_EQ(as_json("hello world"), "\"hello world\"");
}

TEST(JsonText, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(as_json("a\"b\\c\nd\te\x01"), R"("a\"b\\c\nd\te\u0001")");
}

TEST(JsonText, EveryByteStringRoundTripsThroughAJsonParser) {
  std::string all;
  for (int c = 1; c < 0x80; ++c) all += static_cast<char>(c);
  all += "\xC3\xA9\xE2\x82\xAC";  // UTF-8 passes through as is
  EXPECT_EQ(boost::json::parse(as_json(all)).as_string(), all);
}

}  // namespace
}  // namespace pgpulse::json_text

namespace pgpulse::json_text {
namespace {

TEST(JsonText, MatchesBoostJsonOnRandomStringsOfEveryLength) {
  std::uint32_t seed = 12345;
  auto next = [&] { return seed = seed * 1103515245u + 12345u; };
  const char alphabet[] = "ab\"\\\n\x01\x1f \x7f\xC3\xA9{}:,";
  for (int length = 0; length < 70; ++length) {
    for (int round = 0; round < 20; ++round) {
      std::string text;
      for (int i = 0; i < length; ++i) text += alphabet[(next() >> 16) % (sizeof alphabet - 1)];
      std::string ours;
      append_string(ours, text);
      EXPECT_EQ(ours, boost::json::serialize(boost::json::string(text))) << length;
    }
  }
}

}  // namespace
}  // namespace pgpulse::json_text
