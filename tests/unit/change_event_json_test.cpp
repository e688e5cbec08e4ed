#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "pgpulse/change_event.hpp"

namespace pgpulse {
namespace {

ChangeEvent sample_update() {
  ChangeEvent e;
  e.id = Cursor::at(12, 3);
  e.schema = "public";
  e.table = "messages";
  e.op = Op::kUpdate;
  e.new_row = R"({"id":1,"body":"new"})";
  e.old_row = R"({"id":1,"body":"old"})";
  e.commit_time = "2026-11-24T07:04:37.073803Z";
  e.xid = 12;
  return e;
}

TEST(ChangeEventJson, IsOneLineWithEveryField) {
  auto line = to_json(sample_update());
  EXPECT_EQ(line.find('\n'), std::string::npos);
  auto doc = boost::json::parse(line).as_object();
  EXPECT_EQ(doc.at("id").as_string(), sample_update().id.to_string());
  EXPECT_EQ(doc.at("op").as_string(), "UPDATE");
  EXPECT_EQ(doc.at("schema").as_string(), "public");
  EXPECT_EQ(doc.at("table").as_string(), "messages");
  EXPECT_EQ(doc.at("xid").as_int64(), 12);
  EXPECT_EQ(doc.at("commit_time").as_string(), "2026-11-24T07:04:37.073803Z");
  EXPECT_EQ(doc.at("new").at("body").as_string(), "new");
  EXPECT_EQ(doc.at("old").at("body").as_string(), "old");
}

TEST(ChangeEventJson, MissingRowsAreNull) {
  auto e = sample_update();
  e.op = Op::kTruncate;
  e.new_row.reset();
  e.old_row.reset();
  auto doc = boost::json::parse(to_json(e)).as_object();
  EXPECT_EQ(doc.at("op").as_string(), "TRUNCATE");
  EXPECT_TRUE(doc.at("new").is_null());
  EXPECT_TRUE(doc.at("old").is_null());
}

TEST(ChangeEventJson, EscapesAwkwardTableNames) {
  auto e = sample_update();
  e.schema = "we\"ird\\schema";
  e.table = "tab\nle \xC3\xA9";
  auto doc = boost::json::parse(to_json(e)).as_object();
  EXPECT_EQ(doc.at("schema").as_string(), "we\"ird\\schema");
  EXPECT_EQ(doc.at("table").as_string(), "tab\nle \xC3\xA9");
}

}  // namespace
}  // namespace pgpulse
