#include "gateway/protocol.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace pgpulse::gateway {
namespace {

// The ProtocolError that `text` raises.
ProtocolError error_of(std::string_view text) {
  try {
    parse_client_message(text);
  } catch (const ProtocolError& e) {
    return e;
  }
  return ProtocolError("none", "(no error)");
}

SubscribeRequest subscribe(std::string_view text) {
  return std::get<SubscribeRequest>(parse_client_message(text));
}

boost::json::object parse_object(std::string_view text) {
  return boost::json::parse(text).as_object();
}

TEST(ProtocolParse, SubscribeWithEveryFieldIsReadAsGiven) {
  auto request = subscribe(R"({"type":"subscribe","id":"s1","table":"messages","schema":"chat",
      "ops":["INSERT","UPDATE"],"filter":"room=eq.5","columns":["id","body"],"from":"1.3.4"})");
  EXPECT_EQ(request.id, "s1");
  EXPECT_EQ(request.table, "messages");
  EXPECT_EQ(request.schema, "chat");
  EXPECT_EQ(request.ops, (std::vector<Op>{Op::kInsert, Op::kUpdate}));
  EXPECT_EQ(request.filter, "room=eq.5");
  EXPECT_EQ(request.columns, (std::vector<std::string>{"id", "body"}));
  EXPECT_EQ(request.from, "1.3.4");
}

TEST(ProtocolParse, SubscribeDefaultsToPublicSchemaAllOpsNoFilterEveryColumnFromNow) {
  auto request = subscribe(R"({"type":"subscribe","id":"s1","table":"messages"})");
  EXPECT_EQ(request.schema, "public");
  EXPECT_EQ(request.ops, (std::vector<Op>{Op::kInsert, Op::kUpdate, Op::kDelete, Op::kTruncate}));
  EXPECT_EQ(request.filter, "");
  EXPECT_TRUE(request.columns.empty());
  EXPECT_FALSE(request.from.has_value());
}

TEST(ProtocolParse, NullOptionalFieldsCountAsAbsent) {
  auto request = subscribe(R"({"type":"subscribe","id":"s1","table":"t","schema":null,
      "ops":null,"filter":null,"columns":null,"from":null})");
  EXPECT_EQ(request.schema, "public");
  EXPECT_EQ(request.ops.size(), 4u);
  EXPECT_FALSE(request.from.has_value());
}

TEST(ProtocolParse, UnknownFieldsAreIgnored) {
  auto request =
      subscribe(R"({"type":"subscribe","id":"s1","table":"t","future":{"x":[1,2]},"v":2})");
  EXPECT_EQ(request.table, "t");
  EXPECT_NO_THROW(parse_client_message(R"({"type":"ping","extra":true})"));
}

TEST(ProtocolParse, RepeatedOpsAreKeptOnce) {
  auto request =
      subscribe(R"({"type":"subscribe","id":"s1","table":"t","ops":["DELETE","INSERT","DELETE"]})");
  EXPECT_EQ(request.ops, (std::vector<Op>{Op::kDelete, Op::kInsert}));
}

TEST(ProtocolParse, FromAcceptsNowBeginningAndEventIds) {
  for (auto from : {"now", "beginning", "1.3", "1.3.4"}) {
    auto request = subscribe(std::string(R"({"type":"subscribe","id":"s","table":"t","from":")") +
                             from + "\"}");
    EXPECT_EQ(request.from, from);
  }
}

TEST(ProtocolParse, IdMayBeSixtyFourBytesButNoMore) {
  std::string id(kMaxIdBytes, 'x');
  auto request = subscribe(R"({"type":"subscribe","table":"t","id":")" + id + "\"}");
  EXPECT_EQ(request.id, id);
  auto error = error_of(R"({"type":"subscribe","table":"t","id":")" + id + "x\"}");
  EXPECT_EQ(error.code(), "invalid_message");
  EXPECT_STREQ(error.what(), R"(field "id" must be 1 to 64 bytes long)");
  EXPECT_EQ(error.id(), "");
}

TEST(ProtocolParse, UnsubscribeNeedsAnId) {
  auto message = parse_client_message(R"({"type":"unsubscribe","id":"s1"})");
  EXPECT_EQ(std::get<UnsubscribeRequest>(message).id, "s1");
  auto error = error_of(R"({"type":"unsubscribe"})");
  EXPECT_EQ(error.code(), "invalid_message");
  EXPECT_STREQ(error.what(), R"(missing field "id")");
}

TEST(ProtocolParse, PingIdIsOptional) {
  EXPECT_EQ(std::get<PingRequest>(parse_client_message(R"({"type":"ping","id":"p1"})")).id, "p1");
  EXPECT_EQ(std::get<PingRequest>(parse_client_message(R"({"type":"ping"})")).id, "");
  EXPECT_EQ(error_of(R"({"type":"ping","id":7})").code(), "invalid_message");
}

TEST(ProtocolParse, TextThatIsNotJsonIsInvalidJson) {
  for (auto text : {"", "{", "subscribe", R"({"type":"ping",})", "{\"type\":\"ping\"} x"}) {
    SCOPED_TRACE(text);
    auto error = error_of(text);
    EXPECT_EQ(error.code(), "invalid_json");
    EXPECT_TRUE(std::string_view(error.what()).starts_with("the message is not valid JSON: "));
  }
}

TEST(ProtocolParse, DeeplyNestedJsonIsRefusedNotRecursedInto) {
  std::string deep =
      R"({"type":"ping","x":)" + std::string(100000, '[') + std::string(100000, ']') + "}";
  EXPECT_EQ(error_of(deep).code(), "invalid_json");
}

TEST(ProtocolParse, JsonThatIsNotAnObjectIsInvalidMessage) {
  for (auto text : {"[]", "42", R"("subscribe")", "null"}) {
    SCOPED_TRACE(text);
    auto error = error_of(text);
    EXPECT_EQ(error.code(), "invalid_message");
    EXPECT_STREQ(error.what(), "a message must be a JSON object");
  }
}

TEST(ProtocolParse, TypeMustBeAKnownString) {
  auto missing = error_of(R"({"id":"s1"})");
  EXPECT_EQ(missing.code(), "invalid_message");
  EXPECT_STREQ(missing.what(), R"(missing field "type")");
  EXPECT_EQ(missing.id(), "s1");
  auto not_string = error_of(R"({"type":1})");
  EXPECT_EQ(not_string.code(), "invalid_message");
  EXPECT_STREQ(not_string.what(), R"(field "type" must be a string)");
  auto unknown = error_of(R"({"type":"publish","id":"x"})");
  EXPECT_EQ(unknown.code(), "unknown_type");
  EXPECT_STREQ(unknown.what(),
               R"(unknown message type "publish" (expected subscribe, unsubscribe or ping))");
  EXPECT_EQ(unknown.id(), "x");
  EXPECT_EQ(error_of(R"({"type":"Subscribe","id":"x","table":"t"})").code(), "unknown_type");
}

// One subscribe message with `fields` added to a valid id and, unless given, table.
ProtocolError subscribe_error(std::string_view fields) {
  std::string text = R"({"type":"subscribe","id":"s9")";
  if (fields.find("\"table\"") == std::string_view::npos) text += R"(,"table":"t")";
  if (!fields.empty()) text += ",";
  text += fields;
  text += "}";
  return error_of(text);
}

TEST(ProtocolParse, SubscribeFieldErrorsNameTheFieldAndCarryTheId) {
  struct Case {
    std::string_view fields;
    std::string_view message;
  };
  const Case cases[] = {
      {R"("table":null)", R"(missing field "table")"},
      {R"("table":"")", R"(field "table" must not be empty)"},
      {R"("table":5)", R"(field "table" must be a string)"},
      {R"("schema":"")", R"(field "schema" must not be empty)"},
      {R"("schema":["public"])", R"(field "schema" must be a string)"},
      {R"("ops":"INSERT")", R"(field "ops" must be an array of strings)"},
      {R"("ops":[1])", R"(field "ops" must be an array of strings)"},
      {R"("ops":[])", R"(field "ops" must not be an empty array)"},
      {R"("ops":["insert"])",
       R"(unknown op "insert" in field "ops" (expected INSERT, UPDATE, DELETE or TRUNCATE))"},
      {R"("ops":[""])", R"(field "ops" must not contain "")"},
      {R"("columns":"id")", R"(field "columns" must be an array of strings)"},
      {R"("columns":["id",null])", R"(field "columns" must be an array of strings)"},
      {R"("columns":[])", R"(field "columns" must not be an empty array)"},
      {R"("columns":["id",""])", R"(field "columns" must not contain "")"},
      {R"("columns":["id","body","id"])", R"(field "columns" lists "id" twice)"},
      {R"("filter":5)", R"(field "filter" must be a string)"},
      {R"("from":1)", R"(field "from" must be a string)"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.fields);
    auto error = subscribe_error(c.fields);
    EXPECT_EQ(error.code(), "invalid_message");
    EXPECT_EQ(error.what(), c.message);
    EXPECT_EQ(error.id(), "s9");
  }
}

TEST(ProtocolParse, SubscribeIdErrors) {
  auto missing = error_of(R"({"type":"subscribe","table":"t"})");
  EXPECT_EQ(missing.code(), "invalid_message");
  EXPECT_STREQ(missing.what(), R"(missing field "id")");
  EXPECT_STREQ(error_of(R"({"type":"subscribe","id":"","table":"t"})").what(),
               R"(field "id" must be 1 to 64 bytes long)");
  EXPECT_STREQ(error_of(R"({"type":"subscribe","id":1,"table":"t"})").what(),
               R"(field "id" must be a string)");
}

TEST(ProtocolParse, BadFilterIsInvalidFilterWithTheFilterMessage) {
  auto error = subscribe_error(R"("filter":"body=like.x")");
  EXPECT_EQ(error.code(), "invalid_filter");
  EXPECT_STREQ(error.what(), R"(unknown operator "like" in "body=like.x")");
  EXPECT_EQ(error.id(), "s9");
}

TEST(ProtocolParse, BadCursorIsInvalidCursor) {
  auto error = subscribe_error(R"("from":"yesterday")");
  EXPECT_EQ(error.code(), "invalid_cursor");
  EXPECT_EQ(error.id(), "s9");
  EXPECT_NE(std::string_view(error.what()).find("cursor"), std::string_view::npos);
}

TEST(ProtocolParse, ProtocolErrorsArePgpulseErrors) {
  EXPECT_THROW(parse_client_message("{"), pgpulse::Error);
}

TEST(ProtocolBuild, ServerMessagesAreValidJson) {
  auto check = [](const std::string& text, std::string_view expected) {
    SCOPED_TRACE(text);
    EXPECT_EQ(boost::json::parse(text), boost::json::parse(expected));
  };
  check(subscribed("s1", "1.3.4"), R"({"type":"subscribed","id":"s1","cursor":"1.3.4"})");
  check(unsubscribed("s1"), R"({"type":"unsubscribed","id":"s1"})");
  check(pong("p1"), R"({"type":"pong","id":"p1"})");
  check(pong(""), R"({"type":"pong"})");
  check(error_message("s1", "invalid_filter", "bad"),
        R"({"type":"error","id":"s1","code":"invalid_filter","message":"bad"})");
  check(error_message("", "invalid_json", "x"),
        R"({"type":"error","code":"invalid_json","message":"x"})");
  check(heartbeat(), R"({"type":"heartbeat"})");
}

TEST(ProtocolBuild, StringsAreEscaped) {
  std::string nasty = "q\"b\\n\n\x01\xC3\xA9";
  auto object = parse_object(error_message(nasty, "code", nasty));
  EXPECT_EQ(object.at("id").as_string(), nasty);
  EXPECT_EQ(object.at("message").as_string(), nasty);
  EXPECT_EQ(parse_object(subscribed(nasty, "1.2")).at("id").as_string(), nasty);
  EXPECT_EQ(parse_object(pong(nasty)).at("id").as_string(), nasty);
  EXPECT_EQ(parse_object(unsubscribed(nasty)).at("id").as_string(), nasty);
}

TEST(ProtocolBuild, EventPrefixAndSuffixWrapTheSharedEventJson) {
  std::string event = R"({"id":"1.3.4","op":"INSERT","new":{"id":1},"old":null})";
  auto message = event_prefix("s\"1") + event + std::string(kEventSuffix);
  auto object = parse_object(message);
  EXPECT_EQ(object.at("type").as_string(), "event");
  EXPECT_EQ(object.at("sub").as_string(), "s\"1");
  EXPECT_EQ(object.at("event"), boost::json::parse(event));
  EXPECT_EQ(event_prefix("s1"), R"({"type":"event","sub":"s1","event":)");
}

const std::string kUpdate =
    R"#({"id":"1.3.4","op":"UPDATE","schema":"public","table":"messages","xid":735,)#"
    R"#("commit_time":"2026-11-24T07:42:31.052509Z",)#"
    R"#("new":{"id":2,"room":1,"author":"linus","body":"message 2 (edited)","n":1.10},)#"
    R"#("old":{"id":2,"room":1,"author":"linus","body":"message 2","n":1.10}})#";

TEST(ProjectColumns, KeepsOnlyListedColumnsOfBothRowsInRowOrder) {
  std::vector<std::string> columns{"body", "id"};
  EXPECT_EQ(project_columns(kUpdate, columns),
            R"#({"id":"1.3.4","op":"UPDATE","schema":"public","table":"messages","xid":735,)#"
            R"#("commit_time":"2026-11-24T07:42:31.052509Z",)#"
            R"#("new":{"id":2,"body":"message 2 (edited)"},"old":{"id":2,"body":"message 2"}})#");
}

TEST(ProjectColumns, ValuesAreCopiedAsWrittenSoNumbersKeepTheirDigits) {
  std::vector<std::string> columns{"n"};
  auto projected = project_columns(kUpdate, columns);
  EXPECT_NE(projected.find(R"("new":{"n":1.10})"), std::string::npos);
  EXPECT_NE(projected.find(R"("old":{"n":1.10})"), std::string::npos);
}

TEST(ProjectColumns, NullRowsStayNull) {
  std::string insert = R"({"id":"1.5","op":"INSERT","new":{"id":1,"body":"x"},"old":null})";
  std::vector<std::string> columns{"id"};
  EXPECT_EQ(project_columns(insert, columns),
            R"({"id":"1.5","op":"INSERT","new":{"id":1},"old":null})");
  std::string truncate = R"({"id":"1.6","op":"TRUNCATE","new":null,"old":null})";
  EXPECT_EQ(project_columns(truncate, columns), truncate);
}

TEST(ProjectColumns, UnlistedAndMissingColumnsAreLeftOut) {
  std::vector<std::string> columns{"nope"};
  std::string event = R"({"op":"INSERT","new":{"id":1},"old":{}})";
  EXPECT_EQ(project_columns(event, columns), R"({"op":"INSERT","new":{},"old":{}})");
}

TEST(ProjectColumns, NestedJsonValuesAndTrickyStringsAreCopiedWhole) {
  std::string event =
      R"({"id":"1.7","new":{"doc":{"a":[1,{"b":"}],"}]},"s":"a\"},{\\","t":[]},"old":null})";
  std::vector<std::string> columns{"doc", "s"};
  auto projected = project_columns(event, columns);
  EXPECT_EQ(projected,
            R"({"id":"1.7","new":{"doc":{"a":[1,{"b":"}],"}]},"s":"a\"},{\\"},"old":null})");
  EXPECT_NO_THROW(boost::json::parse(projected));
}

TEST(ProjectColumns, EscapedColumnNamesAreMatchedByTheirText) {
  std::string event = R"({"new":{"say \"hi\"":1,"tab\there":2,"caf\u00e9":3,"x":4}})";
  std::vector<std::string> columns{"say \"hi\"", "tab\there", "caf\xC3\xA9"};
  EXPECT_EQ(project_columns(event, columns),
            R"({"new":{"say \"hi\"":1,"tab\there":2,"caf\u00e9":3}})");
}

TEST(ProjectColumns, WhitespaceInTheEventIsAllowed) {
  std::string event = " { \"id\" : \"1.2\" , \"new\" : { \"a\" : 1 , \"b\" : [ 1, 2 ] } } ";
  std::vector<std::string> columns{"b"};
  EXPECT_EQ(project_columns(event, columns), R"({"id":"1.2","new":{"b":[ 1, 2 ]}})");
}

TEST(ProjectColumns, TextThatIsNotAJsonObjectGivesNull) {
  std::vector<std::string> columns{"a"};
  for (auto text : {"", "[]", "{", R"({"new":{"a":1)", R"({"new":{"a":})", R"({"a":1} x)",
                    R"({"a":"unterminated})", R"({"new":{"a":[1,2})", "{} x", R"({"id":1,})",
                    R"({"new":{"a":1,}})"}) {
    SCOPED_TRACE(text);
    EXPECT_EQ(project_columns(text, columns), "null");
  }
}

TEST(ProjectColumns, TakesTheSharedEventRecord) {
  hub::EventRecord record;
  record.json = kUpdate;
  std::vector<std::string> columns{"id"};
  auto object = parse_object(project_columns(record, columns));
  EXPECT_EQ(object.at("new"), boost::json::parse(R"({"id":2})"));
  EXPECT_EQ(object.at("old"), boost::json::parse(R"({"id":2})"));
}

}  // namespace
}  // namespace pgpulse::gateway
