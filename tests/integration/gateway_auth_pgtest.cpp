// Tokens on the gateway (`--jwt-secret`): valid ones read, missing, expired or forged ones get
// 401, a table the token does not grant is forbidden, its forced filter is ANDed with the
// client's, and a token that expires ends the connection.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gateway_client.hpp"
#include "gateway_fixture.hpp"
#include "prometheus.hpp"
#include "test_database.hpp"
#include "tokens.hpp"

namespace pgpulse::test {
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class GatewayAuthTest : public GatewayTest {
 protected:
  std::unique_ptr<Gateway> start() {
    return std::make_unique<Gateway>(url_, std::vector<std::string>{"--jwt-secret", kSecret});
  }
};

TEST_F(GatewayAuthTest, ValidTokensReadAndMissingExpiredOrForgedTokensGet401) {
  auto table = make_table("id int PRIMARY KEY");
  auto gateway = start();
  int port = gateway->port();
  auto valid =
      sign(R"({"sub":"alice","tables":["*"],"exp":)" + std::to_string(unix_now() + 600) + "}");

  // As a query parameter, and as a bearer header.
  WsClient by_query(port, "/ws?token=" + valid);
  Inbox query_inbox(by_query);
  ASSERT_EQ(text_of(query_inbox.subscribe("s", table).at("type")), "subscribed");
  WsClient by_header(port, "/ws", {{"Authorization", "Bearer " + valid}});
  Inbox header_inbox(by_header);
  ASSERT_EQ(text_of(header_inbox.subscribe("s", table).at("type")), "subscribed");
  SseClient sse(port, "/sse?table=" + table + "&token=" + valid);
  ASSERT_EQ(sse.status(), 200);
  auto subscribed = sse.next();
  ASSERT_TRUE(subscribed);
  ASSERT_EQ(subscribed->event, "subscribed") << subscribed->data;
  insert_ids(table, 1, 1);
  ASSERT_TRUE(query_inbox.wait_events("s", 1));
  ASSERT_TRUE(header_inbox.wait_events("s", 1));
  EXPECT_THAT(row_ids(sse_changes(sse, 1)), ElementsAre(1));

  auto refused = [&](const std::string& target, const std::map<std::string, std::string>& headers,
                     const std::string& reason) {
    auto response = http_get(port, target, headers);
    EXPECT_EQ(response.status, 401) << target << ": " << response.body;
    EXPECT_THAT(response.body, HasSubstr(reason)) << target;
    try {
      WsClient ws(port, target.starts_with("/sse") ? "/ws" + target.substr(4) : target, headers);
      ADD_FAILURE() << "websocket accepted for " << target;
    } catch (const std::runtime_error& e) {
      EXPECT_THAT(e.what(), HasSubstr("HTTP 401")) << target;
      EXPECT_THAT(e.what(), HasSubstr(reason)) << target;
    }
  };
  refused("/sse?table=" + table, {}, "token is required");
  auto expired = sign(R"({"tables":["*"],"exp":)" + std::to_string(unix_now() - 3600) + "}");
  refused("/sse?table=" + table + "&token=" + expired, {}, "token expired");
  refused("/sse?table=" + table, {{"Authorization", "Bearer " + expired}}, "token expired");
  auto forged =
      sign(R"({"tables":["*"],"exp":)" + std::to_string(unix_now() + 600) + "}", kOtherSecret);
  refused("/sse?table=" + table + "&token=" + forged, {}, "invalid signature");
  auto tampered = valid;
  auto& c = tampered[tampered.size() - 10];  // inside the signature, away from its padding bits
  c = c == 'A' ? 'B' : 'A';
  refused("/sse?table=" + table + "&token=" + tampered, {}, "invalid signature");
  // The header wins over the query parameter.
  refused("/sse?table=" + table + "&token=" + valid, {{"Authorization", "Bearer " + forged}},
          "invalid signature");

  auto metrics = parse_prometheus(http_get(port, "/metrics").body);
  EXPECT_GE(metrics["pgpulse_clients_rejected_total"], 12);
}

TEST_F(GatewayAuthTest, SubscribingToATableTheTokenDoesNotGrantIsForbidden) {
  auto granted = make_table("id int PRIMARY KEY");
  auto other = make_table("id int PRIMARY KEY");
  auto gateway = start();
  auto token =
      sign(R"({"tables":[")" + granted + R"("],"exp":)" + std::to_string(unix_now() + 600) + "}");
  WsClient ws(gateway->port(), "/ws?token=" + token);
  Inbox inbox(ws);
  auto answer = inbox.subscribe("no", other);
  EXPECT_EQ(text_of(answer.at("type")), "error");
  EXPECT_EQ(text_of(answer.at("code")), "forbidden");
  EXPECT_EQ(text_of(answer.at("id")), "no");
  ASSERT_EQ(text_of(inbox.subscribe("yes", granted).at("type")), "subscribed");
  insert_ids(other, 1, 1);
  insert_ids(granted, 1, 1);
  ASSERT_TRUE(inbox.wait_events("yes", 1));
  EXPECT_EQ(inbox.events.count("no"), 0u);

  // SSE says the same with a 403 and a JSON error.
  auto refused = http_get(gateway->port(), "/sse?table=" + other + "&token=" + token);
  EXPECT_EQ(refused.status, 403);
  EXPECT_EQ(text_of(json::parse(refused.body).at("error").at("code")), "forbidden");
}

TEST_F(GatewayAuthTest, TheTokensForcedFilterIsAndedWithTheClientsFilter) {
  auto table = make_table("id int PRIMARY KEY, room int");
  auto gateway = start();
  auto token = sign(R"({"tables":["*"],"filter":"room=eq.5","exp":)" +
                    std::to_string(unix_now() + 600) + "}");
  WsClient ws(gateway->port(), "/ws?token=" + token);
  Inbox inbox(ws);
  ASSERT_EQ(text_of(inbox.subscribe("mine", table).at("type")), "subscribed");
  ASSERT_EQ(text_of(inbox.subscribe("six", table, {{"filter", "room=eq.6"}}).at("type")),
            "subscribed");
  ASSERT_EQ(text_of(inbox.subscribe("low", table, {{"filter", "id=lt.3"}}).at("type")),
            "subscribed");
  SseClient sse(gateway->port(), "/sse?table=" + table + "&token=" + token);
  ASSERT_EQ(sse.status(), 200);
  ASSERT_TRUE(sse.next());  // subscribed

  sql("INSERT INTO " + ident(table) + " VALUES (1, 4), (2, 5), (3, 6), (4, 5), (5, 6)");
  sql("UPDATE " + ident(table) + " SET room = 6 WHERE id = 2");  // leaves room 5
  sql("INSERT INTO " + ident(table) + " VALUES (6, 5)");         // the fence: room 5, last
  ASSERT_TRUE(inbox.wait_events("mine", 3));
  EXPECT_THAT(row_ids(inbox.events["mine"]), ElementsAre(2, 4, 6));
  EXPECT_THAT(row_ids(inbox.events["low"]), ElementsAre(2));
  EXPECT_EQ(inbox.events.count("six"), 0u);
  EXPECT_THAT(row_ids(sse_changes(sse, 3)), ElementsAre(2, 4, 6));
}

TEST_F(GatewayAuthTest, AnExpiringTokenClosesTheWebSocketWith1008AndEndsTheSseStream) {
  auto table = make_table("id int PRIMARY KEY");
  auto gateway = start();
  // The server allows 30 s of clock skew past `exp` (AuthConfig::leeway, which no flag sets):
  // an exp 28 s ago leaves the token about 2 s to live.
  auto token = sign(R"({"tables":["*"],"exp":)" + std::to_string(unix_now() - 28) + "}");
  auto connected = Clock::now();
  WsClient ws(gateway->port(), "/ws?token=" + token);
  SseClient sse(gateway->port(), "/sse?table=" + table + "&token=" + token);
  ASSERT_EQ(sse.status(), 200);
  Inbox inbox(ws);
  ASSERT_EQ(text_of(inbox.subscribe("s", table).at("type")), "subscribed");
  insert_ids(table, 1, 1);
  ASSERT_TRUE(inbox.wait_events("s", 1));               // alive and served until then
  EXPECT_FALSE(inbox.until([] { return false; }, 6s));  // until the connection ends
  auto lived = Clock::now() - connected;
  EXPECT_TRUE(ws.closed());
  EXPECT_EQ(ws.close_code(), 1008);
  EXPECT_THAT(ws.close_reason(), HasSubstr("expired"));
  EXPECT_GT(lived, 500ms);
  EXPECT_LT(lived, 4s);
  // SSE: the response ends (after the subscribed and change events).
  auto deadline = Clock::now() + 3s;
  while (!sse.ended() && Clock::now() < deadline) sse.next(left_until(deadline));
  EXPECT_TRUE(sse.ended());
}

}  // namespace
}  // namespace pgpulse::test
