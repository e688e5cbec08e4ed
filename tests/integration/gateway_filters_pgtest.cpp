// Row filters and column lists of a subscription: exactly the matching rows for every operator,
// DELETE matched on the old row and UPDATE on the new one, malformed filters answered as errors,
// and columns that limit the fields of new and old rows.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "gateway_client.hpp"
#include "gateway_fixture.hpp"
#include "test_database.hpp"

namespace pgpulse::test {
namespace {

namespace json = boost::json;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

struct FilterRow {
  int id;
  std::optional<int> n;
  std::optional<std::string> t;
  std::optional<bool> b;
};

std::string sql_values(const FilterRow& r, int id_offset = 0) {
  return "(" + std::to_string(id_offset + r.id) + ", " + (r.n ? std::to_string(*r.n) : "NULL") +
         ", " + (r.t ? "'" + *r.t + "'" : "NULL") + ", " +
         (r.b ? (*r.b ? "true" : "false") : "NULL") + ")";
}

TEST_F(GatewayTest, FiltersDeliverExactlyTheMatchingRowsForEveryOperatorOnIntTextAndBool) {
  auto table = make_table("id int PRIMARY KEY, n int, t text, b boolean");
  auto fence = make_table("id int PRIMARY KEY");
  // Numbers that order differently as text (10 < 5), texts that order differently by case,
  // and a null in every column.
  const std::vector<FilterRow> rows = {
      {1, 1, "a", true},  {2, 5, "b", false}, {3, 9, "c", true}, {4, {}, {}, {}},
      {5, 5, "bb", true}, {6, 4, "B", false}, {7, 6, "b", {}},   {8, 10, "", false},
      {9, {}, "a", true}, {10, 5, {}, false},
  };
  struct Case {
    std::string filter;
    std::function<bool(const FilterRow&)> holds;
  };
  using R = const FilterRow&;
  const std::vector<Case> cases = {
      {"n=eq.5", [](R r) { return r.n && *r.n == 5; }},
      {"n=neq.5", [](R r) { return r.n && *r.n != 5; }},
      {"n=lt.5", [](R r) { return r.n && *r.n < 5; }},
      {"n=lte.5", [](R r) { return r.n && *r.n <= 5; }},
      {"n=gt.5", [](R r) { return r.n && *r.n > 5; }},
      {"n=gte.5", [](R r) { return r.n && *r.n >= 5; }},
      {"n=in.(1,5,10)", [](R r) { return r.n && (*r.n == 1 || *r.n == 5 || *r.n == 10); }},
      {"n=is.null", [](R r) { return !r.n; }},
      {"n=not.is.null", [](R r) { return r.n.has_value(); }},
      {"t=eq.b", [](R r) { return r.t && *r.t == "b"; }},
      {"t=neq.b", [](R r) { return r.t && *r.t != "b"; }},
      {"t=lt.b", [](R r) { return r.t && *r.t < "b"; }},
      {"t=lte.b", [](R r) { return r.t && *r.t <= "b"; }},
      {"t=gt.b", [](R r) { return r.t && *r.t > "b"; }},
      {"t=gte.b", [](R r) { return r.t && *r.t >= "b"; }},
      {"t=in.(a,bb)", [](R r) { return r.t && (*r.t == "a" || *r.t == "bb"); }},
      {"t=is.null", [](R r) { return !r.t; }},
      {"b=eq.true", [](R r) { return r.b && *r.b; }},
      {"b=neq.true", [](R r) { return r.b && !*r.b; }},
      {"b=lt.true", [](R r) { return r.b && !*r.b; }},
      {"b=lte.false", [](R r) { return r.b && !*r.b; }},
      {"b=gt.false", [](R r) { return r.b && *r.b; }},
      {"b=gte.false", [](R r) { return r.b.has_value(); }},
      {"b=in.(false)", [](R r) { return r.b && !*r.b; }},
      {"b=is.null", [](R r) { return !r.b; }},
      {"b=is.true", [](R r) { return r.b && *r.b; }},
      {"b=is.false", [](R r) { return r.b && !*r.b; }},
      {"n=gte.5&b=is.true", [](R r) { return r.n && *r.n >= 5 && r.b && *r.b; }},
  };
  Gateway gateway(url_);
  WsClient ws(gateway.port());
  Inbox inbox(ws);
  for (std::size_t i = 0; i < cases.size(); ++i) {
    auto answer = inbox.subscribe("f" + std::to_string(i), table,
                                  {{"filter", cases[i].filter}, {"ops", json::array{"INSERT"}}});
    ASSERT_EQ(text_of(answer.at("type")), "subscribed")
        << cases[i].filter << ": " << json::serialize(answer);
  }
  ASSERT_EQ(text_of(inbox.subscribe("fence", fence).at("type")), "subscribed");

  std::string values;
  for (const auto& r : rows) values += (values.empty() ? "" : ", ") + sql_values(r);
  sql("INSERT INTO " + ident(table) + " VALUES " + values);
  for (const auto& r : rows) sql("INSERT INTO " + ident(table) + " VALUES " + sql_values(r, 100));
  sql("INSERT INTO " + ident(fence) + " VALUES (1)");
  ASSERT_TRUE(inbox.wait_events("fence", 1));

  for (std::size_t i = 0; i < cases.size(); ++i) {
    std::vector<int> expected;
    for (const auto& r : rows) {
      if (cases[i].holds(r)) expected.push_back(r.id);
    }
    for (const auto& r : rows) {  // the same rows again, one transaction each
      if (cases[i].holds(r)) expected.push_back(100 + r.id);
    }
    EXPECT_THAT(row_ids(inbox.events["f" + std::to_string(i)]), ElementsAreArray(expected))
        << "filter " << cases[i].filter;
  }
}

TEST_F(GatewayTest, FiltersMatchDeleteOnTheOldRowAndUpdateOnTheNewRow) {
  auto table = make_table("id int PRIMARY KEY, room int");
  auto t = ident(table);
  Gateway gateway(url_);
  WsClient ws(gateway.port());
  Inbox inbox(ws);
  auto filtered = [&](const std::string& id, const char* op) {
    auto answer = inbox.subscribe(id, table, {{"filter", "room=eq.5"}, {"ops", json::array{op}}});
    ASSERT_EQ(text_of(answer.at("type")), "subscribed") << json::serialize(answer);
  };
  filtered("deletes", "DELETE");
  filtered("updates", "UPDATE");
  filtered("truncates", "TRUNCATE");
  ASSERT_EQ(text_of(inbox.subscribe("fence", table, {{"filter", "room=eq.99"}}).at("type")),
            "subscribed");

  sql("INSERT INTO " + t + " VALUES (1, 5), (2, 6), (3, 5)");
  sql("UPDATE " + t + " SET room = 7 WHERE id = 3");  // moves out of room 5: not delivered
  sql("UPDATE " + t + " SET room = 5 WHERE id = 2");  // moves in: delivered
  sql("DELETE FROM " + t);                            // old rows: 1 and 2 in room 5, 3 in 7
  sql("TRUNCATE " + t);
  sql("INSERT INTO " + t + " VALUES (99, 99)");
  ASSERT_TRUE(inbox.wait_events("fence", 1));

  const auto& deletes = inbox.events["deletes"];
  EXPECT_THAT(row_ids(deletes), ElementsAre(1, 2));
  for (const auto& e : deletes) {
    EXPECT_EQ(text_of(e.at("op")), "DELETE");
    EXPECT_TRUE(e.at("new").is_null());
    EXPECT_EQ(e.at("old").at("room"), 5);
  }
  ASSERT_THAT(row_ids(inbox.events["updates"]), ElementsAre(2));
  EXPECT_EQ(inbox.events["updates"][0].at("old").at("room"), 6);
  ASSERT_EQ(inbox.events["truncates"].size(), 1u);  // TRUNCATE has no row: every filter gets it
  EXPECT_EQ(text_of(inbox.events["truncates"][0].at("op")), "TRUNCATE");
}

TEST_F(GatewayTest, FiltersThatDoNotParseOrNameUnknownColumnsAreErrorsAndTheConnectionGoesOn) {
  auto table = make_table("id int PRIMARY KEY, room int, body text");
  Gateway gateway(url_);
  WsClient ws(gateway.port());
  Inbox inbox(ws);
  const std::vector<std::pair<std::string, std::string>> malformed = {
      {"body=like.x", R"(unknown operator "like" in "body=like.x")"},
      {"room=eq5", R"(missing "." after operator in "room=eq5")"},
      {"room", R"(missing "=" between column and operator in "room")"},
      {"a=is.nil", R"("is" takes null, true or false, not "nil" in "a=is.nil")"},
      {"a=in.(1,2", R"x(missing ")" at the end of the list in "a=in.(1,2")x"},
      {"room=eq.1&", R"(empty term in filter "room=eq.1&")"},
  };
  for (const auto& [filter, message] : malformed) {
    auto answer = inbox.subscribe("bad", table, {{"filter", filter}});
    EXPECT_EQ(text_of(answer.at("type")), "error") << filter;
    EXPECT_EQ(text_of(answer.at("id")), "bad") << filter;
    EXPECT_EQ(text_of(answer.at("code")), "invalid_filter") << filter;
    EXPECT_EQ(text_of(answer.at("message")), message) << filter;
  }
  auto unknown = inbox.subscribe("bad", table, {{"filter", "nope=eq.1"}});
  EXPECT_EQ(text_of(unknown.at("code")), "unknown_column") << json::serialize(unknown);
  EXPECT_THAT(text_of(unknown.at("message")), HasSubstr("\"nope\""));
  unknown = inbox.subscribe("bad", table, {{"columns", json::array{"id", "nope"}}});
  EXPECT_EQ(text_of(unknown.at("code")), "unknown_column") << json::serialize(unknown);
  unknown = inbox.subscribe("bad", "nope");
  EXPECT_EQ(text_of(unknown.at("code")), "unknown_table") << json::serialize(unknown);

  // Nothing was created, and the connection serves on.
  ws.send(R"({"type":"ping","id":"still"})");
  auto pong = inbox.reply();
  ASSERT_TRUE(pong);
  EXPECT_EQ(*pong, json::parse(R"({"type":"pong","id":"still"})"));
  ASSERT_EQ(text_of(inbox.subscribe("bad", table, {{"filter", "room=eq.1"}}).at("type")),
            "subscribed");
  sql("INSERT INTO " + ident(table) + " VALUES (1, 2, 'no'), (2, 1, 'yes')");
  ASSERT_TRUE(inbox.wait_events("bad", 1));
  EXPECT_EQ(row_id(inbox.events["bad"][0]), 2);
}

TEST_F(GatewayTest, ColumnsLimitTheFieldsOfNewAndOldRowsInTableOrder) {
  auto table = make_table("id int PRIMARY KEY, room int, body text, secret text");
  auto t = ident(table);
  Gateway gateway(url_);
  WsClient ws(gateway.port());
  Inbox inbox(ws);
  ASSERT_EQ(
      text_of(inbox.subscribe("some", table, {{"columns", json::array{"body", "id"}}}).at("type")),
      "subscribed");
  ASSERT_EQ(text_of(inbox.subscribe("all", table).at("type")), "subscribed");

  sql("INSERT INTO " + t + " VALUES (1, 5, 'hello', 's3cret')");
  sql("UPDATE " + t + " SET body = 'bye' WHERE id = 1");
  sql("DELETE FROM " + t);
  ASSERT_TRUE(inbox.wait_events("all", 3));
  ASSERT_TRUE(inbox.wait_events("some", 3));
  const auto& some = inbox.events["some"];
  const auto& all = inbox.events["all"];
  EXPECT_EQ(some[0].at("new"), json::parse(R"({"id":1,"body":"hello"})"));
  EXPECT_THAT(keys_of(some[0].at("new")), ElementsAre("id", "body"));
  EXPECT_TRUE(some[0].at("old").is_null());
  EXPECT_EQ(some[1].at("new"), json::parse(R"({"id":1,"body":"bye"})"));
  EXPECT_EQ(some[1].at("old"), json::parse(R"({"id":1,"body":"hello"})"));
  EXPECT_THAT(keys_of(some[1].at("old")), ElementsAre("id", "body"));
  EXPECT_TRUE(some[2].at("new").is_null());
  EXPECT_EQ(some[2].at("old"), json::parse(R"({"id":1,"body":"bye"})"));
  EXPECT_THAT(keys_of(all[0].at("new")), ElementsAre("id", "room", "body", "secret"));
  for (std::size_t i = 0; i < 3; ++i) {
    for (const char* field : {"id", "op", "schema", "table", "xid", "commit_time"}) {
      EXPECT_EQ(some[i].at(field), all[i].at(field)) << field;
    }
  }
}

}  // namespace
}  // namespace pgpulse::test
