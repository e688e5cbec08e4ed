// Table names with dots: a."b.c" (schema a, table b.c) and "a.b".c (schema a.b, table c) are two
// tables. Both were the key "a.b.c", so a token granted one read the other, and events of one
// were routed to subscribers of the other.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "gateway_client.hpp"
#include "gateway_fixture.hpp"
#include "pgpulse/capture.hpp"
#include "tokens.hpp"

namespace pgpulse::test {
namespace {

namespace json = boost::json;

class GatewayTableNamesTest : public GatewayTest {
 protected:
  void SetUp() override {
    GatewayTest::SetUp();
    sql(R"(CREATE SCHEMA a; CREATE SCHEMA "a.b";
           CREATE TABLE a."b.c" (id int PRIMARY KEY);
           CREATE TABLE "a.b".c (id int PRIMARY KEY);)");
    install_capture(url_, {R"(a."b.c")", R"("a.b".c)"});
  }
};

TEST_F(GatewayTableNamesTest, ATokenGrantingATableWithADotReadsOnlyThatTable) {
  Gateway gateway(url_, {"--jwt-secret", kSecret});
  auto token = sign(R"({"tables":["a.\"b.c\""],"exp":)" + std::to_string(unix_now() + 600) + "}");
  WsClient ws(gateway.port(), "/ws?token=" + token);
  Inbox inbox(ws);
  auto refused = inbox.subscribe("other", "c", {{"schema", "a.b"}});
  EXPECT_EQ(text_of(refused.at("type")), "error");
  EXPECT_EQ(text_of(refused.at("code")), "forbidden") << json::serialize(refused);
  auto granted = inbox.subscribe("granted", "b.c", {{"schema", "a"}});
  ASSERT_EQ(text_of(granted.at("type")), "subscribed") << json::serialize(granted);

  auto sse = http_get(gateway.port(), "/sse?schema=a.b&table=c&token=" + token);
  EXPECT_EQ(sse.status, 403) << sse.body;

  sql(R"(INSERT INTO "a.b".c VALUES (1))");
  sql(R"(INSERT INTO a."b.c" VALUES (2))");
  sql(R"(INSERT INTO "a.b".c VALUES (3))");
  sql(R"(INSERT INTO a."b.c" VALUES (4))");  // the fence: all before it was delivered
  ASSERT_TRUE(inbox.wait_events("granted", 2));
  std::vector<std::string> tables;
  for (const auto& event : inbox.events["granted"]) {
    tables.push_back(text_of(event.at("schema")) + "|" + text_of(event.at("table")));
  }
  EXPECT_EQ(row_ids(inbox.events["granted"]), (std::vector<int>{2, 4}));
  EXPECT_EQ(tables, (std::vector<std::string>{"a|b.c", "a|b.c"}));
  EXPECT_EQ(inbox.events.count("other"), 0u);
}

TEST_F(GatewayTableNamesTest, EachSubscriptionGetsTheEventsOfItsOwnTableOnly) {
  Gateway gateway(url_);
  WsClient ws(gateway.port());
  Inbox inbox(ws);
  ASSERT_EQ(text_of(inbox.subscribe("dotted_table", "b.c", {{"schema", "a"}}).at("type")),
            "subscribed");
  ASSERT_EQ(text_of(inbox.subscribe("dotted_schema", "c", {{"schema", "a.b"}}).at("type")),
            "subscribed");
  sql(R"(INSERT INTO "a.b".c VALUES (1))");
  sql(R"(INSERT INTO a."b.c" VALUES (2))");
  ASSERT_TRUE(inbox.wait_events("dotted_table", 1));
  ASSERT_TRUE(inbox.wait_events("dotted_schema", 1));
  sql(R"(INSERT INTO a."b.c" VALUES (3))");
  sql(R"(INSERT INTO "a.b".c VALUES (4))");
  ASSERT_TRUE(inbox.wait_events("dotted_table", 2));
  ASSERT_TRUE(inbox.wait_events("dotted_schema", 2));
  EXPECT_EQ(row_ids(inbox.events["dotted_table"]), (std::vector<int>{2, 3}));
  EXPECT_EQ(row_ids(inbox.events["dotted_schema"]), (std::vector<int>{1, 4}));
}

TEST_F(GatewayTableNamesTest, ACatchUpOfASchemaWithADotReadsThatTable) {
  // The catch-up re-quoted "a.b.c" by splitting at the first dot: a."b.c", the other table.
  Gateway gateway(url_, {"--ring-events", "1"});
  sql(R"(INSERT INTO "a.b".c VALUES (1))");
  sql(R"(INSERT INTO a."b.c" VALUES (2))");
  sql(R"(INSERT INTO "a.b".c VALUES (3))");
  WsClient ws(gateway.port());
  Inbox inbox(ws);
  auto answer = inbox.subscribe("s", "c", {{"schema", "a.b"}, {"from", "beginning"}});
  ASSERT_EQ(text_of(answer.at("type")), "subscribed") << json::serialize(answer);
  ASSERT_TRUE(inbox.wait_events("s", 2));
  EXPECT_EQ(row_ids(inbox.events["s"]), (std::vector<int>{1, 3}));
  for (const auto& event : inbox.events["s"]) EXPECT_EQ(text_of(event.at("schema")), "a.b");
}

}  // namespace
}  // namespace pgpulse::test
