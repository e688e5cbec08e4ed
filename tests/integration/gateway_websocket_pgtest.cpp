// `pgpulse serve` over WebSocket: every kind of change with its rows and increasing ids, many
// messages per frame for a client that asks for batches, several subscriptions on one
// connection until unsubscribed, and ping.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "gateway_client.hpp"
#include "gateway_fixture.hpp"
#include "pgpulse/cursor.hpp"
#include "test_database.hpp"

namespace pgpulse::test {
namespace {

namespace json = boost::json;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;

TEST_F(GatewayTest, WebSocketDeliversInsertUpdateDeleteAndTruncateWithRowsAndIncreasingIds) {
  auto table = make_table("id int PRIMARY KEY, body text");
  auto t = ident(table);
  Gateway gateway(url_);
  WsClient ws(gateway.port());
  Inbox inbox(ws);
  auto answer = inbox.subscribe("all", table);
  ASSERT_EQ(text_of(answer.at("type")), "subscribed") << json::serialize(answer);
  EXPECT_EQ(text_of(answer.at("id")), "all");
  EXPECT_NO_THROW(static_cast<void>(Cursor::parse(text_of(answer.at("cursor")))));

  sql("INSERT INTO " + t + " VALUES (1, 'one'), (2, 'two')");
  sql("UPDATE " + t + " SET body = 'uno' WHERE id = 1");
  sql("DELETE FROM " + t + " WHERE id = 2");
  sql("TRUNCATE " + t);
  ASSERT_TRUE(inbox.wait_events("all", 5));
  const auto& e = inbox.events["all"];
  std::vector<std::string> ops;
  for (const auto& event : e) {
    ops.push_back(text_of(event.at("op")));
    EXPECT_EQ(text_of(event.at("schema")), "public");
    EXPECT_EQ(text_of(event.at("table")), table);
    EXPECT_TRUE(event.at("xid").is_number());
    EXPECT_TRUE(event.at("commit_time").is_string());
  }
  EXPECT_THAT(ops, ElementsAre("INSERT", "INSERT", "UPDATE", "DELETE", "TRUNCATE"));
  EXPECT_EQ(e[0].at("new"), json::parse(R"({"id":1,"body":"one"})"));
  EXPECT_TRUE(e[0].at("old").is_null());
  EXPECT_EQ(e[1].at("new"), json::parse(R"({"id":2,"body":"two"})"));
  EXPECT_EQ(e[2].at("new"), json::parse(R"({"id":1,"body":"uno"})"));
  EXPECT_EQ(e[2].at("old"), json::parse(R"({"id":1,"body":"one"})"));
  EXPECT_TRUE(e[3].at("new").is_null());
  EXPECT_EQ(e[3].at("old"), json::parse(R"({"id":2,"body":"two"})"));
  EXPECT_TRUE(e[4].at("new").is_null());
  EXPECT_TRUE(e[4].at("old").is_null());
  EXPECT_EQ(e[0].at("xid"), e[1].at("xid"));  // one transaction
  EXPECT_NE(e[1].at("xid"), e[2].at("xid"));
  expect_ids_increase(e);
  EXPECT_TRUE(id_after(text_of(e[0].at("id")), text_of(answer.at("cursor"))));
}

TEST_F(GatewayTest, ABatchingClientGetsManyMessagesPerFrameInOrderAndOthersOnePerFrame) {
  auto table = make_table("id int PRIMARY KEY, body text");
  Gateway gateway(url_);
  WsClient batched(gateway.port(), "/ws?batch=1");
  WsClient plain(gateway.port());
  Inbox batched_inbox(batched);
  Inbox plain_inbox(plain);
  ASSERT_EQ(text_of(batched_inbox.subscribe("s", table).at("type")), "subscribed");
  ASSERT_EQ(text_of(plain_inbox.subscribe("s", table).at("type")), "subscribed");
  auto frames_before = batched.frames();

  constexpr int kRows = 2000;
  sql("INSERT INTO " + ident(table) + " SELECT i, 'row ' || i FROM generate_series(1, " +
      std::to_string(kRows) + ") AS i");
  ASSERT_TRUE(batched_inbox.wait_events("s", kRows));
  ASSERT_TRUE(plain_inbox.wait_events("s", kRows));
  EXPECT_THAT(row_ids(batched_inbox.events["s"]), ElementsAreArray(range(1, kRows)));
  EXPECT_THAT(row_ids(plain_inbox.events["s"]), ElementsAreArray(range(1, kRows)));
  expect_ids_increase(batched_inbox.events["s"]);
  // One transaction's changes arrive together: far fewer frames than events.
  EXPECT_LT(batched.frames() - frames_before, std::size_t{kRows / 4});
  EXPECT_GE(plain.frames(), std::size_t{kRows});
}

TEST_F(GatewayTest, WebSocketServesTwoSubscriptionsOnOneConnectionUntilUnsubscribed) {
  auto table = make_table("id int PRIMARY KEY, body text");
  auto t = ident(table);
  Gateway gateway(url_);
  WsClient ws(gateway.port());
  Inbox inbox(ws);
  ASSERT_EQ(text_of(inbox.subscribe("everything", table).at("type")), "subscribed");
  ASSERT_EQ(text_of(inbox.subscribe("inserts", table, {{"ops", json::array{"INSERT"}}}).at("type")),
            "subscribed");

  sql("INSERT INTO " + t + " VALUES (1, 'a')");
  sql("UPDATE " + t + " SET body = 'b' WHERE id = 1");
  // The UPDATE comes after the INSERT on the connection: by then "inserts" has all it gets.
  ASSERT_TRUE(inbox.wait_events("everything", 2));
  ASSERT_EQ(inbox.events["inserts"].size(), 1u);
  EXPECT_EQ(text_of(inbox.events["inserts"][0].at("op")), "INSERT");
  // The same change comes once per subscription, with the same id.
  EXPECT_EQ(inbox.events["inserts"][0].at("id"), inbox.events["everything"][0].at("id"));

  ws.send(R"({"type":"unsubscribe","id":"inserts"})");
  auto reply = inbox.reply();
  ASSERT_TRUE(reply);
  EXPECT_EQ(*reply, json::parse(R"({"type":"unsubscribed","id":"inserts"})"));
  sql("INSERT INTO " + t + " VALUES (2, 'c')");
  ASSERT_TRUE(inbox.wait_events("everything", 3));
  EXPECT_EQ(row_id(inbox.events["everything"][2]), 2);
  EXPECT_EQ(inbox.events["inserts"].size(), 1u);

  ws.send(R"({"type":"unsubscribe","id":"inserts"})");
  reply = inbox.reply();
  ASSERT_TRUE(reply);
  EXPECT_EQ(text_of(reply->at("code")), "unknown_subscription");
  EXPECT_EQ(text_of(reply->at("id")), "inserts");

  ws.send(R"({"type":"ping","id":"p1"})");
  reply = inbox.reply();
  ASSERT_TRUE(reply);
  EXPECT_EQ(*reply, json::parse(R"({"type":"pong","id":"p1"})"));
  ws.send(R"({"type":"ping"})");
  reply = inbox.reply();
  ASSERT_TRUE(reply);
  EXPECT_EQ(*reply, json::parse(R"({"type":"pong"})"));
}

}  // namespace
}  // namespace pgpulse::test
