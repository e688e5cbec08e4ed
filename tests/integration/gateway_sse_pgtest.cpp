// `pgpulse serve` over Server-Sent Events: filter, ops and columns from the query, and errors.
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

TEST_F(GatewayTest, SseAppliesFilterOpsAndColumnsAndReportsErrorsAsEvents) {
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

  // Errors: an error event, then the end of the response.
  auto error_event = [&](const std::string& target, const std::string& code) {
    auto response = http_get(port, target);
    EXPECT_EQ(response.status, 200) << target;
    EXPECT_THAT(response.headers["content-type"], HasSubstr("text/event-stream")) << target;
    EXPECT_THAT(response.body, HasSubstr("event: error\ndata: ")) << target;
    auto data_at = response.body.find("data: ", response.body.find("event: error"));
    auto data = response.body.substr(data_at + 6, response.body.find('\n', data_at) - data_at - 6);
    auto error = json::parse(data).as_object();
    EXPECT_EQ(text_of(error.at("type")), "error") << target;
    EXPECT_EQ(text_of(error.at("id")), "sse") << target;
    EXPECT_EQ(text_of(error.at("code")), code) << target << ": " << data;
    return error;
  };
  auto unknown = error_event("/sse?table=nope", "unknown_table");
  EXPECT_THAT(text_of(unknown.at("message")), HasSubstr("public.nope"));
  error_event("/sse?table=" + table + "&ops=INSERT,UPSERT", "invalid_request");
  error_event("/sse", "invalid_request");
  error_event("/sse?table=" + table + "&filter=room%3Dlike.5", "invalid_filter");
  error_event("/sse?table=" + table + "&columns=id,nope", "unknown_column");
  error_event("/sse?table=" + table + "&from=yesterday", "invalid_cursor");
  EXPECT_EQ(http_get(port, "/nope").status, 404);
  EXPECT_EQ(http_get(port, "/ws").status, 426);
}

}  // namespace
}  // namespace pgpulse::test
