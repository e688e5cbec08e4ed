// Graceful shutdown: SIGTERM closes every WebSocket with 1001 and the gateway exits 0 quickly.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "gateway_client.hpp"
#include "gateway_fixture.hpp"

namespace pgpulse::test {
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

TEST_F(GatewayTest, SigtermClosesEveryWebSocketWith1001AndExitsZeroWithinASecond) {
  auto table = make_table("id int PRIMARY KEY");
  Gateway gateway(url_);
  WsClient a(gateway.port());
  WsClient b(gateway.port());
  ASSERT_EQ(text_of(a.subscribe("s", table).at("type")), "subscribed");
  ASSERT_EQ(text_of(b.subscribe("s", table).at("type")), "subscribed");
  auto start = Clock::now();
  int code = gateway.terminate(5s);
  auto took = Clock::now() - start;
  EXPECT_EQ(code, 0) << gateway.process().stderr_text();
  EXPECT_LT(took, 1s) << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                      << " ms";
  for (auto* ws : {&a, &b}) {
    EXPECT_FALSE(ws->next(2s));
    EXPECT_TRUE(ws->closed());
    EXPECT_EQ(ws->close_code(), 1001);
    EXPECT_EQ(ws->close_reason(), "server shutting down");
  }
}

}  // namespace
}  // namespace pgpulse::test
