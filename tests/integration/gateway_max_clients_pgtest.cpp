// `--max-clients`: connections over the limit get 503 until one closes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gateway_client.hpp"
#include "gateway_fixture.hpp"

namespace pgpulse::test {
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;
using ::testing::HasSubstr;

TEST_F(GatewayTest, ConnectionsOverMaxClientsGet503UntilOneCloses) {
  auto table = make_table("id int PRIMARY KEY");
  Gateway gateway(url_, {"--max-clients", "2"});
  auto first = std::make_unique<WsClient>(gateway.port());
  SseClient second(gateway.port(), "/sse?table=" + table);
  ASSERT_EQ(second.status(), 200);
  try {
    WsClient third(gateway.port());
    ADD_FAILURE() << "a third client was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("HTTP 503"));
  }
  EXPECT_EQ(http_get(gateway.port(), "/sse?table=" + table).status, 503);
  EXPECT_EQ(http_get(gateway.port(), "/healthz").status, 200);  // not a client

  first->close();
  first.reset();
  std::unique_ptr<WsClient> next;
  auto deadline = Clock::now() + 5s;
  while (!next && Clock::now() < deadline) {
    try {
      next = std::make_unique<WsClient>(gateway.port());
    } catch (const std::runtime_error& e) {
      EXPECT_THAT(e.what(), HasSubstr("HTTP 503"));
      std::this_thread::sleep_for(20ms);
    }
  }
  ASSERT_TRUE(next) << "no connection got in after one closed";
  Inbox inbox(*next);
  EXPECT_EQ(text_of(inbox.subscribe("s", table).at("type")), "subscribed");
}

}  // namespace
}  // namespace pgpulse::test
