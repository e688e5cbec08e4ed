// Malformed client messages are errors on the connection; binary and oversized frames close only
// their own connection.
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

TEST_F(GatewayTest, MalformedMessagesAreErrorsAndBadFramesCloseOnlyTheirConnection) {
  auto table = make_table("id int PRIMARY KEY");
  Gateway gateway(url_, {"--max-message-bytes", "1024"});
  WsClient bystander(gateway.port());
  Inbox bystander_inbox(bystander);
  ASSERT_EQ(text_of(bystander_inbox.subscribe("s", table).at("type")), "subscribed");

  WsClient ws(gateway.port());
  Inbox inbox(ws);
  auto expect_error = [&](const std::string& text, const std::string& code, bool with_id) {
    ws.send(text);
    auto reply = inbox.reply();
    ASSERT_TRUE(reply) << text;
    EXPECT_EQ(text_of(reply->at("type")), "error") << text;
    EXPECT_EQ(text_of(reply->at("code")), code) << text << " -> " << json::serialize(*reply);
    EXPECT_FALSE(text_of(reply->at("message")).empty());
    EXPECT_EQ(reply->contains("id"), with_id) << text << " -> " << json::serialize(*reply);
  };
  expect_error("{not json", "invalid_json", false);
  expect_error("", "invalid_json", false);
  expect_error("[1,2]", "invalid_message", false);
  expect_error(R"({"id":"x"})", "invalid_message", true);
  expect_error(R"({"type":5})", "invalid_message", false);
  expect_error(R"({"type":"hello","id":"x"})", "unknown_type", true);
  expect_error(R"({"type":"subscribe","id":"x"})", "invalid_message", true);
  expect_error(R"({"type":"subscribe","id":"x","table":")" + table + R"(","ops":["UPSERT"]})",
               "invalid_message", true);
  expect_error(R"({"type":"subscribe","id":"x","table":")" + table + R"(","from":"yesterday"})",
               "invalid_cursor", true);
  // Unknown fields are ignored, and null counts as absent.
  ws.send(R"({"type":"ping","id":"ok","future":[1,2,3],"from":null})");
  auto pong = inbox.reply();
  ASSERT_TRUE(pong);
  EXPECT_EQ(*pong, json::parse(R"({"type":"pong","id":"ok"})"));

  WsClient binary(gateway.port());
  binary.send_binary(std::string("\x01\x02\x03", 3));
  EXPECT_FALSE(binary.next(3s));
  EXPECT_TRUE(binary.closed());
  EXPECT_EQ(binary.close_code(), 1003);

  WsClient big(gateway.port());
  big.send(R"({"type":"ping","pad":")" + std::string(2000, 'x') + "\"}");
  EXPECT_FALSE(big.next(3s));
  EXPECT_TRUE(big.closed());
  EXPECT_EQ(big.close_code(), 1009);

  // The others go on.
  insert_ids(table, 1, 1);
  ASSERT_TRUE(bystander_inbox.wait_events("s", 1));
  ws.send(R"({"type":"ping","id":"after"})");
  pong = inbox.reply();
  ASSERT_TRUE(pong);
  EXPECT_EQ(text_of(pong->at("type")), "pong");
}

}  // namespace
}  // namespace pgpulse::test
