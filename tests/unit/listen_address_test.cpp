#include "gateway/listen_address.hpp"

#include <gtest/gtest.h>

#include "pgpulse/error.hpp"

namespace pgpulse::gateway {
namespace {

TEST(ListenAddress, ParsesIpv4AndBracketedIpv6) {
  auto v4 = parse_listen_address("127.0.0.1:8080");
  EXPECT_EQ(v4.address().to_string(), "127.0.0.1");
  EXPECT_EQ(v4.port(), 8080);
  auto v6 = parse_listen_address("[::1]:65535");
  EXPECT_EQ(v6.address().to_string(), "::1");
  EXPECT_EQ(v6.port(), 65535);
  EXPECT_EQ(parse_listen_address("0.0.0.0:1").port(), 1);
}

TEST(ListenAddress, RefusesAPortWithTrailingCharacters) {
  EXPECT_THROW((void)parse_listen_address("127.0.0.1:8080x"), Error);
  EXPECT_THROW((void)parse_listen_address("127.0.0.1:80 "), Error);
  EXPECT_THROW((void)parse_listen_address("127.0.0.1:8o80"), Error);
}

TEST(ListenAddress, RefusesAPortOutOfRangeOrSigned) {
  EXPECT_THROW((void)parse_listen_address("127.0.0.1:0"), Error);
  EXPECT_THROW((void)parse_listen_address("127.0.0.1:65536"), Error);
  EXPECT_THROW((void)parse_listen_address("127.0.0.1:99999999999"), Error);
  EXPECT_THROW((void)parse_listen_address("127.0.0.1:-1"), Error);
  EXPECT_THROW((void)parse_listen_address("127.0.0.1:+80"), Error);
  EXPECT_THROW((void)parse_listen_address("127.0.0.1:"), Error);
}

TEST(ListenAddress, RefusesAHostThatIsNotAnAddress) {
  EXPECT_THROW((void)parse_listen_address("localhost:8080"), Error);
  EXPECT_THROW((void)parse_listen_address("8080"), Error);
}

}  // namespace
}  // namespace pgpulse::gateway
