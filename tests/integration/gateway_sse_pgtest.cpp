// `pgpulse serve` over Server-Sent Events: filter, ops and columns from the query, and refusals.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "gateway_client.hpp"
#include "gateway_fixture.hpp"
#include "test_database.hpp"

namespace pgpulse::test {
namespace {

namespace json = boost::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST_F(GatewayTest, SseAppliesFilterOpsAndColumns) {
  auto table = make_table("id int PRIMARY KEY, room int, body text");
  auto t = ident(table);
  Gateway gateway(url_);
  int port = gateway.port();

  SseClient sse(port,
                "/sse?table=" + table + "&filter=room%3Deq.5&ops=INSERT,DELETE&columns=id,room");
  ASSERT_EQ(sse.status(), 200);
  EXPECT_THAT(sse.headers().at("content-type"), HasSubstr("text/event-stream"));
  EXPECT_EQ(sse.headers().at("cache-control"), "no-cache");
  auto subscribed = sse.next();
  ASSERT_TRUE(subscribed);
  EXPECT_EQ(subscribed->event, "subscribed");
  auto subscribed_data = json::parse(subscribed->data).as_object();
  EXPECT_EQ(text_of(subscribed_data.at("type")), "subscribed");
  EXPECT_EQ(text_of(subscribed_data.at("id")), "sse");

  sql("INSERT INTO " + t + " VALUES (1, 5, 'a'), (2, 6, 'b'), (3, 5, 'c')");
  sql("UPDATE " + t + " SET body = 'd' WHERE id = 1");  // room 5 but not an asked op
  sql("DELETE FROM " + t + " WHERE id IN (2, 3)");      // only 3 was in room 5
  sql("INSERT INTO " + t + " VALUES (4, 5, 'fence')");
  auto events = sse_changes(sse, 4);
  ASSERT_EQ(events.size(), 4u);
  EXPECT_THAT(row_ids(events), ElementsAre(1, 3, 3, 4));
  std::vector<std::string> ops;
  for (const auto& e : events) ops.push_back(text_of(e.at("op")));
  EXPECT_THAT(ops, ElementsAre("INSERT", "INSERT", "DELETE", "INSERT"));
  EXPECT_EQ(events[0].at("new"), json::parse(R"({"id":1,"room":5})"));
  EXPECT_EQ(events[2].at("old"), json::parse(R"({"id":3,"room":5})"));
  expect_ids_increase(events);
}

// A refused request answers with a 4xx status and a JSON body, never 200 and an error event:
// a browser's EventSource stops on a 4xx, where it reconnects after every ended 200, forever.
TEST_F(GatewayTest, SseRefusesABadRequestWithA4xxStatusAndAJsonError) {
  auto table = make_table("id int PRIMARY KEY, room int, body text");
  Gateway gateway(url_);
  int port = gateway.port();
  auto refused = [&](const std::string& target, int status, const std::string& code) {
    auto response = http_get(port, target);
    EXPECT_EQ(response.status, status) << target << ": " << response.body;
    EXPECT_THAT(response.headers["content-type"], HasSubstr("application/json")) << target;
    json::object error;
    try {
      error = json::parse(response.body).as_object().at("error").as_object();
    } catch (const std::exception& e) {
      ADD_FAILURE() << target << ": body " << response.body;
      return error;
    }
    EXPECT_EQ(text_of(error.at("code")), code) << target << ": " << response.body;
    EXPECT_FALSE(text_of(error.at("message")).empty()) << target;
    return error;
  };
  auto unknown = refused("/sse?table=nope", 404, "unknown_table");
  EXPECT_THAT(text_of(unknown.at("message")), HasSubstr("public.nope"));
  refused("/sse?table=" + table + "&schema=nope", 404, "unknown_table");
  refused("/sse?table=" + table + "&ops=INSERT,UPSERT", 400, "invalid_request");
  refused("/sse", 400, "invalid_request");
  refused("/sse?table=" + table + "&filter=room%3Dlike.5", 400, "invalid_filter");
  refused("/sse?table=" + table + "&columns=id,nope", 400, "unknown_column");
  refused("/sse?table=" + table + "&from=yesterday", 400, "invalid_cursor");
  EXPECT_EQ(http_get(port, "/nope").status, 404);
  EXPECT_EQ(http_get(port, "/ws").status, 426);
}

}  // namespace
}  // namespace pgpulse::test
