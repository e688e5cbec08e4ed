#include "hub/event_record.hpp"

#include <gtest/gtest.h>

namespace pgpulse::hub {
namespace {

using namespace std::chrono;

ChangeEvent event_at(std::string commit_time) {
  ChangeEvent e;
  e.id = Cursor::at(7, 2);
  e.op = Op::kInsert;
  e.schema = "public";
  e.table = "messages";
  e.commit_time = std::move(commit_time);
  e.new_row = R"({"id":1,"room":5})";
  return e;
}

TEST(EventRecord, CommitTimeIsTheUtcInstantWithMicroseconds) {
  auto record = make_record(event_at("2026-11-24T07:42:31.052509Z"));
  // date -u -d 2026-11-24T07:42:31Z +%s
  EXPECT_EQ(duration_cast<microseconds>(record->commit_time.time_since_epoch()).count(),
            1795506151052509LL);
}

TEST(EventRecord, CommitTimeWithFewerFractionDigitsOrNoneIsScaled) {
  auto tenths = make_record(event_at("2024-02-29T23:59:59.5Z"));
  EXPECT_EQ(duration_cast<microseconds>(tenths->commit_time.time_since_epoch()).count(),
            1709251199500000LL);
  auto whole = make_record(event_at("1970-01-01T00:00:01Z"));
  EXPECT_EQ(duration_cast<microseconds>(whole->commit_time.time_since_epoch()).count(), 1000000);
}

TEST(EventRecord, KeepsTheCursorTextAndParsesTheRowForFilters) {
  auto record = make_record(event_at("2026-11-24T07:42:31.052509Z"));
  EXPECT_EQ(record->id_text, "1.7.2");
  EXPECT_EQ(record->filter_row().at("room").as_int64(), 5);
  EXPECT_EQ(record->table, (TableName{"public", "messages"}));
}

}  // namespace
}  // namespace pgpulse::hub
